"""The warm worker: a process that imported the heavy libraries once and forks a child per check.

It listens on a Unix socket inside the workspace (only the learner can reach it) and answers one
JSON line per request.  It never runs learner code itself: every check is a forked child with its
own limits, so a crash, hang or memory bomb ends the child, never the worker.  Requests are handled
one at a time, which is what a single learner saving a file needs.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from aipath.grader.request import CheckRequest
from aipath.grader.supervisor import run_many

MAX_REQUEST_BYTES = 1 << 20
EXIT_WORKER_RUNNING = 3
"""How a second worker for the same workspace ends (`BackgroundWorker` then waits for the first)."""


class WorkerRunning(RuntimeError):
    """Another worker holds this workspace's lock."""

    def __init__(self, lock_path: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"an aipath worker ({holder}) already serves this workspace (lock {lock_path}); "
            "stop it first, or let your checks use it"
        )
        self.pid = pid


def lock_path(socket_path: Path) -> Path:
    return socket_path.with_name(socket_path.name + ".lock")


def acquire_lock(socket_path: Path) -> int:
    """Take the workspace's worker lock for the life of this process; its descriptor.

    One worker per workspace: a second one would take over the socket, and stopping the first
    would then delete the second's.  The kernel drops an ``flock`` when its holder dies, so a
    killed worker never leaves a stale lock behind; the file only says who holds it.
    """
    path = lock_path(socket_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
        os.close(fd)
        raise WorkerRunning(path, int(text) if text.isdigit() else None) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def _read_line(conn: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if b"\n" in chunk or size > MAX_REQUEST_BYTES:
            break
    return b"".join(chunks).split(b"\n", 1)[0]


def _client_gone(conn: socket.socket) -> bool:
    """Whether the client closed its end (it waited for a check to finish, then gave up)."""
    import select

    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _handle(line: bytes, client_gone: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"ok": False, "error": f"bad request: {exc}"}
    op = message.get("op") if isinstance(message, dict) else None
    if op == "ping":
        return {"ok": True, "pid": os.getpid()}
    if op == "check":
        request = CheckRequest.model_validate(message["request"])
        result = run_many([request], mode="fork")[0]
        reply: dict[str, Any] = {"ok": True, "result": result.model_dump(mode="json")}
        url = message.get("record_url")
        if isinstance(url, str):
            from aipath.grader.service import record_to_store

            warning = record_to_store(url, result)
            reply["recorded"] = warning is None
            if warning:
                reply["warning"] = warning
        render = message.get("render")
        if isinstance(render, dict):
            reply["rendered"] = _rendered(reply["result"], render)
        return reply
    if op == "command":
        if client_gone():
            # The client ran the command itself (it does not wait behind a long check): running
            # it again here would, for `hint`, reveal a second hint nobody reads.
            return {"ok": False, "error": "the client is gone"}
        from aipath.commands.served import answer

        return answer(message)
    return {"ok": False, "error": f"unknown op {op!r}"}


def _rendered(result: dict[str, Any], render: dict[str, Any]) -> str | None:
    """The verdict panel as the client's terminal would print it (its width, colours, title).

    The quick `aipath check` then needs no Rich of its own: importing Rich and the renderer
    cost the client more than a third of its whole run.  ``None`` if the request is odd (the
    client then renders the panel itself).
    """
    import io

    from rich.console import Console

    from aipath.commands.render import verdict_panel_from_json

    width, terminal, env = render.get("width"), render.get("terminal"), render.get("env")
    title = render.get("title")
    if not isinstance(width, int) or not 20 <= width <= 1000 or not isinstance(env, dict):
        return None
    out = io.StringIO()
    console = Console(
        file=out,
        width=width,
        force_terminal=bool(terminal),
        highlight=False,
        _environ={str(k): str(v) for k, v in env.items()},
    )
    console.print(verdict_panel_from_json(result, title=title if isinstance(title, str) else None))
    return out.getvalue()


def _exit_with_parent(parent_pid: int) -> None:
    """A worker started for a watcher or dashboard must not outlive it, however it ended."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            except PermissionError:
                continue

    threading.Thread(target=watch, daemon=True, name="aipath-parent-watch").start()


def serve(
    socket_path: Path,
    *,
    preload_labs: bool = True,
    quiet: bool = False,
    parent_pid: int | None = None,
) -> None:
    """Take the lock, warm up, bind the socket, then answer requests until SIGTERM/SIGINT.

    Raises :class:`WorkerRunning` (before any warm-up) when another worker serves the workspace.
    """
    lock = acquire_lock(socket_path)
    if parent_pid is not None:
        _exit_with_parent(parent_pid)
    from aipath.grader.preload import preload

    started = time.perf_counter()
    if preload_labs:
        from aipath.labs import load_catalogue

        try:
            dirs = [lab.source_dir for lab in load_catalogue()]
        except Exception:  # a broken catalogue must not stop the worker from serving others
            dirs = []
        preload(dirs)
    else:
        preload()
    import importlib

    # The worker records check events itself and draws the quick path's verdict panel; it
    # also answers `status`, `list` and `next` (aipath.commands.served).
    for module in ("aipath.progress.store", "aipath.commands.render"):
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    with contextlib.suppress(Exception):
        from aipath.commands.served import warm_up

        warm_up()
    import gc

    gc.collect()
    gc.freeze()  # forked children then do not touch (and copy) the warm heap during collections

    socket_path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(socket_path))
    os.chmod(socket_path, 0o600)
    server.listen(16)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    if not quiet:
        print(
            f"aipath worker ready on {socket_path} (warm-up {time.perf_counter() - started:.1f} s)",
            flush=True,
        )
    try:
        while True:
            conn, _ = server.accept()
            with conn:
                try:
                    reply = _handle(_read_line(conn), functools.partial(_client_gone, conn))
                except Exception as exc:  # keep serving whatever one request did
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(reply).encode("utf-8") + b"\n")
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        with contextlib.suppress(FileNotFoundError):
            socket_path.unlink()  # ours: no other worker could bind while we hold the lock
        os.close(lock)


class BackgroundWorker:
    """A worker process owned by the watcher or the dashboard, stopped with them."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait_s: float = 60.0) -> bool:
        from aipath.grader.client import ping

        if ping(self.socket_path):
            return True  # someone else's worker already serves this workspace
        process = subprocess.Popen(
            [sys.executable, "-m", "aipath.grader.worker", str(self.socket_path), str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.process = process
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None and code != EXIT_WORKER_RUNNING:
                return False
            if ping(self.socket_path):
                return True
            if code == EXIT_WORKER_RUNNING:
                self.process = None  # another worker is warming up: wait for it, never stop it
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> BackgroundWorker:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    try:
        serve(
            Path(sys.argv[1]),
            quiet=True,
            parent_pid=int(sys.argv[2]) if len(sys.argv) > 2 else None,
        )
    except WorkerRunning as exc:
        print(exc, file=sys.stderr)
        sys.exit(EXIT_WORKER_RUNNING)
