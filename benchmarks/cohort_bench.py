"""The cohort server under a class's load, and under faults (not a timed test).

    python benchmarks/cohort_bench.py --learners 200 --submissions 5 --workers 1,2,4
    python benchmarks/cohort_bench.py --learners 20 --submissions 3 --faults-only

Every learner (one asyncio task each, all at once) submits its files one after another — a mix
of right (the lab's solution), wrong (its recorded mistakes) and broken (a syntax error) files
of fast labs — and waits for each verdict on the server's event stream; the latency is from the
start of the upload to the verdict.  Runs with 1, 2 and 4 grading processes give throughput
and p50/p95 latency.  Fault runs (two workers of one process each) then kill one worker with
SIGKILL, restart Redis, and restart PostgreSQL, each mid-run, and count: every submission must
end with exactly one verdict, of the expected status, none lost.

The bench runs its own Redis and, where ``initdb`` is found, its own PostgreSQL cluster (in a
temporary folder, on free loopback ports) so that it can restart them without touching the
machine's servers.  Without ``initdb`` it uses the local server and skips the PostgreSQL fault.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import SSEError, aconnect_sse

FAST_LABS = ("p1-numpy-vectorize", "p1-linear-algebra", "p1-information-theory")
BROKEN = "\ndef broken(:\n    pass\n"
FAULTS = ("kill-worker", "restart-redis", "restart-postgres")


# ---------------------------------------------------------------- private servers


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_postgres(args: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free port."""

    bin: Path
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    def create(cls, port: int) -> PrivatePostgres:
        bin_dir = _pg_bin()
        assert bin_dir is not None
        root = Path(tempfile.mkdtemp(prefix="aipath-bench-pg-"))
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        pg = cls(bin_dir, root, port)
        subprocess.run(
            _as_postgres(
                [str(bin_dir / "initdb"), "-D", str(pg.data), "-A", "trust", "-U", "postgres"]
            ),
            check=True,
            capture_output=True,
        )
        pg.start()
        return pg

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.root / "log"),
                    "-o",
                    options,
                    "-w",
                    *args,
                ]
            ),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PrivateRedis:
    """A redis-server with an append-only file, so a restart keeps the queue."""

    root: Path
    port: int
    proc: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def create(cls, port: int) -> PrivateRedis:
        server = cls(Path(tempfile.mkdtemp(prefix="aipath-bench-redis-")), port)
        server.start()
        return server

    def start(self) -> None:
        from aipath.cohort.testing import start_process

        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir"]
        args += [str(self.root), "--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.proc = start_process(args, None, "redis")
        self.proc.reader.wait_for("Ready to accept connections", 60)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()  # SIGTERM: Redis flushes the append-only file and exits

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------- the load


@dataclass(frozen=True)
class Planned:
    lab: str
    kind: str  # right, wrong, broken
    source: str

    def expected(self, status: str) -> bool:
        """Whether the verdict fits the file: a wrong file fails or errors, never passes."""
        if self.kind == "right":
            return status == "passed"
        if self.kind == "wrong":
            return status in ("failed", "error")
        return status == "error"


def plan_files(learners: int, per_learner: int) -> list[list[Planned]]:
    """Each learner's files: about half right, a third wrong, the rest broken."""
    from aipath.labs import load_catalogue

    catalogue = load_catalogue()
    labs = [catalogue.get(lab_id) for lab_id in FAST_LABS]
    plans = []
    for learner in range(learners):
        files = []
        for n in range(per_learner):
            lab = labs[(learner + n) % len(labs)]
            slot = (learner * per_learner + n) % 6
            if slot in (0, 1, 2):
                files.append(Planned(lab.id, "right", lab.solution.read_text()))
            elif slot in (3, 4):
                mistakes = lab.mistakes()
                files.append(Planned(lab.id, "wrong", mistakes[n % len(mistakes)].read_text()))
            else:
                files.append(Planned(lab.id, "broken", lab.solution.read_text() + BROKEN))
        plans.append(files)
    return plans


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    wrong_status: int = 0
    client_errors: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    retries: int = 0


async def _upload(
    client: httpx.AsyncClient, token: str, item: Planned, key: str, out: Outcome
) -> str:
    """Upload with the same key until the server answers (503 and dropped connections retry)."""
    deadline = time.monotonic() + 300
    while True:
        try:
            answer = await client.post(
                "/api/submissions",
                headers={"authorization": f"Bearer {token}"},
                data={"lab": item.lab, "key": key},
                files={"file": ("exercise.py", item.source.encode(), "text/x-python")},
            )
            if answer.status_code in (200, 201):
                return str(answer.json()["id"])
            if answer.status_code < 500:
                raise RuntimeError(f"upload refused: {answer.status_code} {answer.text[:200]}")
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("upload kept failing for 300 s")
        out.retries += 1
        await asyncio.sleep(0.5)  # a retry pause for the client, not a wait for an event


async def _verdict(client: httpx.AsyncClient, token: str, sid: str, out: Outcome) -> dict[str, Any]:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            async with aconnect_sse(
                client,
                "GET",
                f"/api/submissions/{sid}/events",
                headers={"authorization": f"Bearer {token}"},
            ) as source:
                if source.response.status_code != 200:  # 503 while the database restarts
                    await source.response.aread()
                    raise httpx.TransportError(f"status {source.response.status_code}")
                async for event in source.aiter_sse():
                    if event.event == "verdict":
                        data: dict[str, Any] = event.json()
                        return data
        except (httpx.TransportError, SSEError):
            out.retries += 1
            await asyncio.sleep(0.5)
    raise RuntimeError(f"no verdict for {sid} within 600 s")


async def _learner(
    base: str, token: str, files: list[Planned], out: Outcome, done: list[int]
) -> None:
    timeout = httpx.Timeout(30.0, read=None)
    async with httpx.AsyncClient(base_url=base, timeout=timeout) as client:
        for item in files:
            started = time.perf_counter()
            try:
                sid = await _upload(client, token, item, uuid.uuid4().hex, out)
                out.ids.append(sid)
                view = await _verdict(client, token, sid, out)
            except RuntimeError as exc:
                out.client_errors.append(str(exc))
                continue
            out.latencies.append(time.perf_counter() - started)
            status = view["verdict"]["status"]
            if not item.expected(status):
                out.wrong_status += 1
                out.client_errors.append(f"{item.kind} {item.lab} got {status}")
            done[0] += 1


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def _db_counts(db_url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM submissions) AS submissions,"
                    " (SELECT count(*) FROM verdicts) AS verdicts,"
                    " (SELECT count(*) FROM submissions s WHERE NOT EXISTS"
                    "   (SELECT 1 FROM verdicts v WHERE v.submission_id = s.id)) AS without_verdict,"
                    " (SELECT count(*) FROM submissions WHERE attempts > 1) AS graded_again,"
                    " (SELECT coalesce(max(attempts), 0) FROM submissions) AS max_attempts"
                )
            ).one()
    finally:
        engine.dispose()
    return dict(row._mapping)


def _parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _wait_attempt_by(db_url: str, worker_pid: int, timeout_s: float = 120.0) -> str:
    """Block until a pool process of ``worker_pid`` starts grading; that submission's id."""
    from aipath.cohort.submissions import STARTED_CHANNEL
    from aipath.cohort.testing import Notifications

    notes = Notifications(db_url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            sid, who = notes.next(STARTED_CHANNEL, max(0.1, deadline - time.monotonic())).split()
            if _parent_pid(int(who.rsplit(":", 1)[1])) == worker_pid:
                return sid
    finally:
        notes.close()


@dataclass
class Stack:
    base_pg: str
    redis: PrivateRedis
    pg: PrivatePostgres | None
    env: dict[str, str]


@contextlib.contextmanager
def private_stack(visibility_s: int) -> Iterator[Stack]:
    from aipath.cohort.settings import ENV_VISIBILITY_TIMEOUT
    from aipath.cohort.testing import admin_url, free_port

    redis = PrivateRedis.create(free_port())
    pg: PrivatePostgres | None = None
    try:
        if _pg_bin() is not None:
            try:
                pg = PrivatePostgres.create(free_port())
            except (subprocess.CalledProcessError, OSError) as exc:
                print(f"no private PostgreSQL ({exc}); using the local server", file=sys.stderr)
        yield Stack(
            pg.url if pg else admin_url(),
            redis,
            pg,
            {ENV_VISIBILITY_TIMEOUT: str(visibility_s)},
        )
    finally:
        redis.close()
        if pg is not None:
            pg.close()


def run_once(
    stack: Stack,
    *,
    learners: int,
    per_learner: int,
    workers: int,
    per_worker: int,
    fault: str | None = None,
    fault_at: float = 0.3,
) -> dict[str, Any]:
    """One run on a fresh database and queue; the fault (if any) fires at ``fault_at`` done."""
    from aipath.cohort import testing
    from aipath.cohort.accounts import create_cohort
    from aipath.cohort.db import open_engine

    queue = f"aipath-cohort-bench-{uuid.uuid4().hex[:8]}"
    with testing.fresh_database(stack.base_pg, prefix="aipath_cohort_bench") as db_url:
        engine = open_engine(db_url)
        created = create_cohort(
            engine,
            "bench",
            labs=list(FAST_LABS),
            start=date.today(),
            labs_per_week=2,
            learners=[f"learner{n:03d}" for n in range(learners)],
        )
        engine.dispose()
        server, base = testing.start_server(
            db_url, stack.redis.url, queue, sweep_after_s=20, sweep_every_s=5, env=stack.env
        )
        procs = [
            testing.start_worker(
                db_url,
                stack.redis.url,
                queue,
                concurrency=per_worker,
                preload=",".join(FAST_LABS),
                env=stack.env,
            )
            for _ in range(workers)
        ]
        plans = plan_files(learners, per_learner)
        out = Outcome()
        done = [0]
        total = learners * per_learner
        fault_log: list[str] = []

        async def inject() -> None:
            if fault is None:
                return
            while done[0] < total * fault_at:
                await asyncio.sleep(0.05)  # watching the bench's own counter, not the system
            fired = time.perf_counter()
            if fault == "kill-worker":
                # Mid-check: when a process of the first worker announces an attempt.
                await asyncio.to_thread(_wait_attempt_by, db_url, procs[0].pid)
                os.killpg(procs[0].pid, signal.SIGKILL)
            elif fault == "restart-redis":
                await asyncio.to_thread(stack.redis.restart)
            elif fault == "restart-postgres" and stack.pg is not None:
                await asyncio.to_thread(stack.pg.restart)
            fault_log.append(
                f"{fault} at {done[0]}/{total} done, took {time.perf_counter() - fired:.1f} s"
            )

        async def main() -> None:
            tokens = list(created.learner_tokens.values())
            await asyncio.gather(
                inject(),
                *(_learner(base, tokens[n], plans[n], out, done) for n in range(learners)),
            )

        started = time.perf_counter()
        try:
            asyncio.run(main())
        finally:
            wall = time.perf_counter() - started
            server.stop()
            for proc in procs:
                proc.stop()
        counts = _db_counts(db_url)
    return {
        "workers": workers,
        "processes_per_worker": per_worker,
        "submissions": total,
        "fault": fault,
        "fault_log": fault_log,
        "wall_s": round(wall, 2),
        "throughput_per_s": round(len(out.latencies) / wall, 2),
        "p50_s": _pct(out.latencies, 0.50),
        "p95_s": _pct(out.latencies, 0.95),
        "verdicts_seen_by_clients": len(out.latencies),
        "unexpected_status": out.wrong_status,
        "client_errors": out.client_errors[:5],
        "client_retries": out.retries,
        "db": counts,
        "exactly_one_verdict_each": counts["verdicts"] == counts["submissions"] == total
        and counts["without_verdict"] == 0,
    }


def run_cohort_bench(
    learners: int = 200,
    submissions: int = 5,
    workers: tuple[int, ...] = (1, 2, 4),
    faults: bool = True,
    fault_learners: int | None = None,
    load_runs: bool = True,
    visibility_s: int = 15,
    fault_names: tuple[str, ...] = FAULTS,
) -> dict[str, Any]:
    """The section `benchmarks/run.py` prints: load runs, then fault runs."""
    report: dict[str, Any] = {
        "learners": learners,
        "submissions_each": submissions,
        "load": [],
        "faults": [],
    }
    with private_stack(visibility_s) as stack:
        report["private_postgres"] = stack.pg is not None
        if load_runs:
            for processes in workers:
                result = run_once(
                    stack,
                    learners=learners,
                    per_learner=submissions,
                    workers=1,
                    per_worker=processes,
                )
                report["load"].append(result)
                print(json.dumps(result), flush=True)
        if faults:
            for fault in fault_names:
                if fault == "restart-postgres" and stack.pg is None:
                    report["faults"].append({"fault": fault, "skipped": "no private PostgreSQL"})
                    continue
                result = run_once(
                    stack,
                    learners=fault_learners or learners,
                    per_learner=submissions,
                    workers=2,
                    per_worker=1,
                    fault=fault,
                )
                report["faults"].append(result)
                print(json.dumps(result), flush=True)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--submissions", type=int, default=5)
    parser.add_argument("--workers", default="1,2,4", help="grading processes per load run")
    parser.add_argument("--fault-learners", type=int, default=None)
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--faults-only", action="store_true")
    parser.add_argument("--faults", default=",".join(FAULTS), help="which fault runs")
    parser.add_argument("--visibility", type=int, default=15, help="Redis visibility timeout (s)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()
    report = run_cohort_bench(
        learners=args.learners,
        submissions=args.submissions,
        workers=tuple(int(x) for x in args.workers.split(",") if x),
        faults=not args.no_faults,
        fault_learners=args.fault_learners,
        load_runs=not args.faults_only,
        visibility_s=args.visibility,
        fault_names=tuple(x for x in args.faults.split(",") if x),
    )
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
