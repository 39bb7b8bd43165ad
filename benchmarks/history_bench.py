"""A long history: 200,000 events imported, then `aipath status` and the dashboard's pages.

The events are generated with a seed: checks of every lab spread over 18 months of evenings,
hints, study logs and marks, as a learner who checks often would leave behind.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EVENTS = 200_000


def history(count: int = EVENTS, seed: int = 0) -> dict[str, Any]:
    """An export document with ``count`` events (the format `aipath export` writes)."""
    from aipath.labs import load_catalogue
    from aipath.progress.store import EXPORT_FORMAT, EXPORT_VERSION

    rng = random.Random(seed)
    labs = load_catalogue().ids()
    # The history ends before today, as a real one does: events recorded now come after it.
    today = datetime.now(UTC).replace(hour=18, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=760)
    events: list[dict[str, Any]] = []
    per_evening = max(1, count // 540)  # about 18 months of evenings, some skipped
    evening = start
    at = start
    for index in range(count):
        if index % per_evening == 0:
            evening += timedelta(days=rng.choice((1, 1, 1, 2)))
            at = evening
        at += timedelta(seconds=rng.choice((5, 10, 20, 30, 60)))
        roll = rng.random()
        base = {"uid": uuid.UUID(int=rng.getrandbits(128)).hex, "at": at.isoformat()}
        lab = rng.choice(labs)
        if roll < 0.93:
            status = rng.choice(("failed", "failed", "passed", "error"))
            events.append(
                {
                    **base,
                    "kind": "check",
                    "lab_id": lab,
                    "status": status,
                    "duration_s": 0.2,
                    "data": {"tests_passed": 1, "tests_total": 3},
                }
            )
        elif roll < 0.97:
            events.append({**base, "kind": "hint", "lab_id": lab, "tier": rng.randint(1, 3)})
        else:
            events.append({**base, "kind": "study", "minutes": 45.0, "topic_id": "p1.python"})
    return {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "profile": None, "events": events}


def _median(fn: Any, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_history_bench(count: int = EVENTS) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from aipath.labs import load_catalogue
    from aipath.progress import ProgressStore
    from aipath.web.app import create_app
    from aipath.workspace.create import init_workspace

    root = Path(tempfile.mkdtemp(prefix="aipath-history-"))
    try:
        ws = init_workspace(root / "ws", load_catalogue()).workspace
        doc_path = root / "history.json"
        doc_path.write_text(json.dumps(history(count)), encoding="utf-8")
        exe = Path(sys.executable).with_name("aipath")
        # The import as `aipath import` runs it (the file streamed), in a process of its own:
        # its time (file read and JSON parse included) and the process's peak memory: VmHWM of
        # its own address space (ru_maxrss would carry over this big bench process's peak, as
        # Linux keeps it across fork and exec).
        probe = (
            "import json, sys, time\n"
            "from aipath.progress import ProgressStore\n"
            "started = time.perf_counter()\n"
            "from pathlib import Path\n"
            "with ProgressStore.open(sys.argv[2]) as store:\n"
            "    added = store.import_file(Path(sys.argv[1])).added\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
            "print(json.dumps({'added': added, 's': time.perf_counter() - started,\n"
            "    'peak_mb': int(hwm[0].split()[1]) / 1024}))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe, str(doc_path), ws.db_url],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
        imported = json.loads(done.stdout.strip().splitlines()[-1])
        added, import_s, peak_mb = imported["added"], imported["s"], imported["peak_mb"]

        def status() -> None:
            subprocess.run(
                [str(exe), "status", "-w", str(ws.root)],
                check=True,
                capture_output=True,
                timeout=120,
            )

        status_s = _median(status, 3)
        # The same command while a worker runs (a watcher or the dashboard keeps one): the
        # worker answers it (aipath.commands.served), so the CLI's start-up is not paid.
        from aipath.grader.worker import BackgroundWorker

        with BackgroundWorker(ws.socket_path):
            status_worker_s = _median(status, 5)
        labs = load_catalogue().ids()
        picks = random.Random(1)

        def rng_lab() -> str:
            return picks.choice(labs)

        from aipath.planner.service import status_for

        derive_times = []
        for _ in range(5):  # what `status` computes, without the CLI's start-up
            with ProgressStore.open(ws.db_url) as store:
                store.record_check(rng_lab(), "failed", 0.2)
            with ProgressStore.open(ws.db_url) as store:
                started = time.perf_counter()
                status_for(store)
                derive_times.append(time.perf_counter() - started)
        derive_ms = round(statistics.median(derive_times) * 1000, 1)

        pages: dict[str, float] = {}
        app = create_app(ws, watch=False, worker=False)
        with TestClient(app, base_url="http://127.0.0.1:8765") as client:
            for path in ("/", "/labs", "/roadmap", "/plan", "/api/summary"):
                client.get(path)  # first render

                times = []
                for _ in range(5):
                    # A save has just been checked: one new event, so the page derives again
                    # (its cache is keyed on the store) — the case a learner meets all day.
                    with ProgressStore.open(ws.db_url) as writer:
                        writer.record_check(rng_lab(), "failed", 0.2)
                    started = time.perf_counter()
                    assert client.get(path).status_code == 200
                    times.append(time.perf_counter() - started)
                pages[path] = round(statistics.median(times) * 1000, 1)
        return {
            "events": added,
            "import_s": round(import_s, 2),
            "import_peak_mb": round(peak_mb, 1),
            "status_derive_ms": derive_ms,
            "status_s": round(status_s, 3),
            "status_worker_s": round(status_worker_s, 3),
            "pages_ms": pages,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    print(
        json.dumps(run_history_bench(int(sys.argv[1]) if len(sys.argv) > 1 else EVENTS), indent=2)
    )
