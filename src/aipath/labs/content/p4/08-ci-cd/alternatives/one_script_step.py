"""Alternative: argparse (its SystemExit on bad arguments turned into status 2), default paths,
and a workflow whose checks run in one `run: |` script, with a matrix given by `include:`, a
manual trigger next to push and pull_request, and a cancel-in-progress expression."""

from __future__ import annotations

import argparse
import json
import math
import operator
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CANDIDATE = Path("metrics") / "candidate.json"
BASELINE = Path("metrics") / "baseline.json"


@dataclass(frozen=True)
class Rule:
    higher_is_better: bool
    tolerance: float
    relative: bool = False


RULES: dict[str, Rule] = {
    "accuracy": Rule(higher_is_better=True, tolerance=0.01),
    "f1": Rule(higher_is_better=True, tolerance=0.02),
    "log_loss": Rule(higher_is_better=False, tolerance=0.05, relative=True),
    "latency_ms_p95": Rule(higher_is_better=False, tolerance=0.25, relative=True),
}


def finite(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def regressions(
    candidate: Mapping[str, object],
    baseline: Mapping[str, object],
    rules: Mapping[str, Rule] = RULES,
) -> dict[str, str]:
    failures: dict[str, str] = {}
    for name, rule in rules.items():
        new, old = finite(candidate.get(name)), finite(baseline.get(name))
        if new is None or old is None:
            failures[name] = (
                f"{name}: cannot compare candidate={candidate.get(name)!r} "
                f"with baseline={baseline.get(name)!r}"
            )
            continue
        allowance = rule.tolerance * (abs(old) if rule.relative else 1.0)
        # the worst value that still passes, on the bad side of the baseline
        limit = old - allowance if rule.higher_is_better else old + allowance
        too_bad = operator.lt if rule.higher_is_better else operator.gt
        if too_bad(new, limit) and not math.isclose(new, limit, rel_tol=0, abs_tol=1e-12):
            failures[name] = f"{name}: {new} is past the limit {limit:.6g} (baseline {old})"
    return failures


def read(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise TypeError(f"{path} does not hold a JSON object")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fail when a metric regressed.")
    parser.add_argument("candidate", nargs="?", type=Path, default=CANDIDATE)
    parser.add_argument("baseline", nargs="?", type=Path, default=BASELINE)
    try:
        options = parser.parse_args(argv)
    except SystemExit:
        return 2
    try:
        candidate, baseline = read(options.candidate), read(options.baseline)
    except (OSError, ValueError, TypeError) as exc:
        print(f"eval_gate: {exc}", file=sys.stderr)
        return 2
    failures = regressions(candidate, baseline)
    print("\n".join(failures.values()) or "all metrics within tolerance")
    return 1 if failures else 0


WORKFLOW = """\
name: checks

on:
  push:
  pull_request:
    branches: [main]
  workflow_dispatch:

permissions:
  contents: read

concurrency:
  group: ${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}
  cancel-in-progress: ${{ github.event_name == 'pull_request' || github.ref != 'refs/heads/main' }}

jobs:
  build:
    runs-on: ubuntu-latest
    timeout-minutes: 15
    strategy:
      matrix:
        include:
          - python-version: "3.11"
          - python-version: "3.12"
    steps:
      - uses: actions/checkout@v4.2.2
      - name: Set up Python ${{ matrix.python-version }}
        uses: actions/setup-python@v5.3.0
        with:
          python-version: ${{ matrix.python-version }}
          cache: pip
          cache-dependency-path: requirements.txt
      - name: Checks, training and the gate
        run: |
          python -m pip install --upgrade pip
          python -m pip install -r requirements.txt
          # fail fast: lint, then types, then tests
          python -m ruff check .
          python -m mypy .
          python -m pytest -q
          python train.py
          python eval_gate.py
"""


def write_workflow(workdir: Path) -> None:
    path = workdir / ".github" / "workflows" / "ci.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(WORKFLOW, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
