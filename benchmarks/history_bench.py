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
import tracemalloc
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
    start = datetime(2025, 6, 2, 18, tzinfo=UTC)
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
        tracemalloc.start()
        started = time.perf_counter()
        data = json.loads(doc_path.read_text(encoding="utf-8"))
        with ProgressStore.open(ws.db_url) as store:
            added = store.import_json(data)
        import_s = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del data
        status_s = _median(
            lambda: subprocess.run(
                [str(exe), "status", "-w", str(ws.root)],
                check=True,
                capture_output=True,
                timeout=120,
            ),
            3,
        )
        pages: dict[str, float] = {}
        app = create_app(ws, watch=False, worker=False)
        with TestClient(app, base_url="http://127.0.0.1:8765") as client:
            for path in ("/", "/labs", "/roadmap", "/plan", "/api/summary"):
                client.get(path)  # first render

                def get(path: str = path) -> None:
                    ws.results_dir.mkdir(exist_ok=True)
                    (ws.results_dir / "touch").write_text(str(time.time()))  # defeat page cache
                    assert client.get(path).status_code == 200

                pages[path] = round(_median(get) * 1000, 1)
        return {
            "events": added,
            "import_s": round(import_s, 2),
            "import_peak_mb": round(peak / 1e6, 1),
            "status_s": round(status_s, 3),
            "pages_ms": pages,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    print(
        json.dumps(run_history_bench(int(sys.argv[1]) if len(sys.argv) > 1 else EVENTS), indent=2)
    )
