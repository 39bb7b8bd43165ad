"""Real cohort stacks for tests and the benchmark: a fresh database, a server, workers.

Everything here starts real processes on the local PostgreSQL and Redis and waits on events —
a line the process prints when it is ready, a notification PostgreSQL delivers — never on a
guessed sleep.  Each stack gets its own database and its own queue, so runs never see each
other's rows or messages.
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from aipath.cohort.submissions import STARTED_CHANNEL, VERDICT_CHANNEL

DEFAULT_ADMIN_URL: Final = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL: Final = "redis://127.0.0.1:6379/0"
ENV_TEST_POSTGRES_URL: Final = "AIPATH_TEST_POSTGRES_URL"
ENV_TEST_REDIS_URL: Final = "AIPATH_TEST_REDIS_URL"


def admin_url() -> str:
    return os.environ.get(ENV_TEST_POSTGRES_URL, "").strip() or DEFAULT_ADMIN_URL


def redis_url() -> str:
    return os.environ.get(ENV_TEST_REDIS_URL, "").strip() or DEFAULT_REDIS_URL


def postgres_problem(url: str | None = None) -> str | None:
    """Why PostgreSQL cannot be used (for a skip reason), or ``None`` when it answers."""
    engine = create_engine(url or admin_url(), connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except Exception as exc:
        return f"PostgreSQL does not answer at {url or admin_url()}: {type(exc).__name__}"
    finally:
        engine.dispose()


def redis_problem(url: str | None = None) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url or redis_url(), socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis does not answer at {url or redis_url()}: {type(exc).__name__}"
    return None


@contextlib.contextmanager
def fresh_database(
    base_url: str | None = None, prefix: str = "aipath_cohort_test"
) -> Iterator[str]:
    """A new empty database on ``base_url``'s server; dropped (connections and all) afterwards."""
    base = base_url or admin_url()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    # No pool: a server restarted meanwhile (the bench does that) must not leave a dead
    # connection to drop the database with.
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = (
        src + os.pathsep + env.get("PYTHONPATH", "") if env.get("PYTHONPATH") else src
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class LineReader:
    """Reads a process's output in a thread, so a chatty process never stalls on a full pipe
    and a caller can wait for one line with a timeout (a queue, not select on a buffered
    stream, which misses lines already read into the buffer)."""

    def __init__(self, stream: IO[str], process: subprocess.Popen[str], keep: int = 400) -> None:
        self.process = process
        self.tail: collections.deque[str] = collections.deque(maxlen=keep)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._watching = True
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in stream:
                self.tail.append(line)
                if self._watching:
                    self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, needle: str, timeout_s: float) -> None:
        """Return once a line contains ``needle``; later lines are only kept in the tail."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(0.0, left))
            except queue.Empty:
                raise TimeoutError(
                    f"no {needle!r} within {timeout_s:g} s:\n" + "".join(self.tail)
                ) from None
            if line is None:
                raise RuntimeError(
                    f"process {self.process.args!r} ended ({self.process.wait()}) before "
                    f"{needle!r}:\n" + "".join(self.tail)
                )
            if needle in line:
                self._watching = False
                return


@dataclass
class Proc:
    """A started process, its output, and how to stop it."""

    process: subprocess.Popen[str]
    name: str
    reader: LineReader

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log(self) -> list[str]:
        return list(self.reader.tail)

    def stop(self, sig: int = signal.SIGTERM, wait_s: float = 20.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_process(args: list[str], env: dict[str, str] | None, name: str) -> Proc:
    """Any command in its own process group, its output read by a :class:`LineReader`."""
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(env),
        start_new_session=True,  # its own group: stopping it stops its pool processes too
    )
    assert process.stdout is not None
    return Proc(process, name, LineReader(process.stdout, process))


def _spawn(args: list[str], env: dict[str, str] | None, name: str) -> Proc:
    return start_process([sys.executable, "-m", "aipath", *args], env, name)


def start_server(
    db_url: str,
    broker: str,
    queue: str,
    *,
    sweep_after_s: float = 120.0,
    sweep_every_s: float = 15.0,
    env: dict[str, str] | None = None,
    timeout_s: float = 60.0,
) -> tuple[Proc, str]:
    """`aipath cohort serve` on a free port; returns once uvicorn says it listens."""
    port = free_port()
    proc = _spawn(
        [
            "cohort",
            "serve",
            "--db",
            db_url,
            "--broker",
            broker,
            "--queue",
            queue,
            "--port",
            str(port),
            "--sweep-after",
            str(sweep_after_s),
            "--sweep-every",
            str(sweep_every_s),
        ],
        env,
        "server",
    )
    try:
        proc.reader.wait_for("Application startup complete", timeout_s)
    except BaseException:
        proc.stop(signal.SIGKILL)
        raise
    return proc, f"http://127.0.0.1:{port}"


def start_worker(
    db_url: str,
    broker: str,
    queue: str,
    *,
    concurrency: int = 1,
    preload: str = "none",
    env: dict[str, str] | None = None,
    timeout_s: float = 120.0,
) -> Proc:
    """`aipath cohort worker`; returns once Celery says it is ready to take tasks."""
    proc = _spawn(
        [
            "cohort",
            "worker",
            "--db",
            db_url,
            "--broker",
            broker,
            "--queue",
            queue,
            "--concurrency",
            str(concurrency),
            "--pool",
            "prefork",
            "--preload-labs",
            preload,
        ],
        env,
        "worker",
    )
    try:
        proc.reader.wait_for(" ready.", timeout_s)
    except BaseException:
        proc.stop(signal.SIGKILL)
        raise
    return proc


class Notifications:
    """A LISTEN connection on the cohort database: wait for a verdict or a started attempt."""

    def __init__(self, db_url: str) -> None:
        dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute(f"LISTEN {VERDICT_CHANNEL}")
        self.conn.execute(f"LISTEN {STARTED_CHANNEL}")

    def next(self, channel: str, timeout_s: float) -> str:
        """The payload of the next notification on ``channel`` (others are skipped)."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            for note in self.conn.notifies(timeout=left, stop_after=1):
                if note.channel == channel:
                    return note.payload
        raise TimeoutError(f"no {channel} notification within {timeout_s:g} s")

    def close(self) -> None:
        self.conn.close()
