"""Audit timings for `make bench`: the aipath repository itself and a 50,000-file repository.

Each figure is the median of a few runs in this process (imports and detect-secrets' plugin
loading are warmed by the first run, as they would be in the dashboard).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from aipath.portfolio.audit import audit_repository
from aipath.portfolio.synthetic import make_large_tree

REPO_ROOT = Path(__file__).resolve().parents[1]


def _time_audit(path: Path, runs: int) -> dict[str, Any]:
    seconds: list[float] = []
    report = None
    for _ in range(runs):
        started = time.perf_counter()
        report = audit_repository(path)
        seconds.append(time.perf_counter() - started)
    assert report is not None
    return {
        "median_s": round(statistics.median(seconds), 2),
        "runs_s": [round(s, 2) for s in seconds],
        "files": report.files_seen,
        "score": report.score,
        "notes": report.notes,
    }


def run_audit_bench(runs: int = 3, n_files: int = 50_000) -> dict[str, Any]:
    """Median audit time on this repository and on a generated ``n_files`` git repository."""
    result: dict[str, Any] = {"aipath_repo": _time_audit(REPO_ROOT, runs)}
    with tempfile.TemporaryDirectory(prefix="aipath-audit-bench-") as tmp:
        started = time.perf_counter()
        tree = make_large_tree(Path(tmp) / "monorepo", n_files)
        build_s = round(time.perf_counter() - started, 2)
        result["generated_tree"] = {"build_s": build_s, **_time_audit(tree, runs)}
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run_audit_bench(), indent=2))
