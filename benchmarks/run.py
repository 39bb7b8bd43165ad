"""`make bench`: every benchmark of the project, printed as tables and saved as JSON.

Figures are medians measured in one run of this script on the current machine.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results.json"


def _section(name: str, module: str, function: str, **kwargs: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        fn = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        print(f"[{name}] skipped: {exc}")
        return {"skipped": str(exc)}
    data: dict[str, Any] = fn(**kwargs)
    print(f"[{name}] done in {time.perf_counter() - started:.1f} s")
    print(json.dumps(data, indent=2))
    return data


def main() -> int:
    sys.path.insert(0, str(Path(__file__).parent))
    report = {
        "checks": _section("checks", "aipath.dev.bench", "run_check_bench", runs=10),
        "lab_times": _section("lab_times", "aipath.dev.bench", "run_lab_times", runs=3),
        "dashboard": _section("dashboard", "dashboard_bench", "run_dashboard_bench"),
        "audit": _section("audit", "audit_bench", "run_audit_bench"),
        "history": _section("history", "history_bench", "run_history_bench"),
        # 200 learners x 5 submissions against 1, 2 and 4 grading processes, then fault runs.
        "cohort": _section("cohort", "cohort_bench", "run_cohort_bench", fault_learners=50),
    }
    RESULTS.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"saved {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
