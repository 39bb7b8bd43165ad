"""Alternative: one job per check (ruff through astral-sh/ruff-action, mypy, a pytest matrix),
training in its own job whose metrics travel to the gate's job as an artifact, the gate job
waiting for all of them through `needs:`, job-level read-only permissions, setup-python's cache
keyed on an explicit cache-dependency-path, and a gate written with comprehensions."""

from __future__ import annotations

import json
import math
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


def is_number(value: object) -> bool:
    return isinstance(value, float | int) and not isinstance(value, bool) and math.isfinite(value)


def problem(name: str, new: object, old: object, rule: Rule) -> str | None:
    if not is_number(new) or not is_number(old):
        return f"{name}: candidate {new!r} / baseline {old!r} (both must be finite numbers)"
    assert isinstance(new, int | float) and isinstance(old, int | float)
    change = new - old  # positive: the metric went up
    worse = -change if rule.higher_is_better else change
    allowed = rule.tolerance * abs(old) if rule.relative else rule.tolerance
    return f"{name}: worse by {worse:.4g}, allowed {allowed:.4g}" if worse > allowed else None


def regressions(
    candidate: Mapping[str, object],
    baseline: Mapping[str, object],
    rules: Mapping[str, Rule] = RULES,
) -> dict[str, str]:
    found = {
        name: problem(name, candidate.get(name), baseline.get(name), rule)
        for name, rule in rules.items()
    }
    return {name: text for name, text in found.items() if text is not None}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 2:
        sys.stderr.write("eval_gate.py takes at most two paths: CANDIDATE BASELINE\n")
        return 2
    paths = (Path(args[0]) if args else CANDIDATE, Path(args[1]) if len(args) == 2 else BASELINE)
    tables: list[dict[str, object]] = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            sys.stderr.write(f"cannot use {path}: {exc}\n")
            return 2
        if not isinstance(data, dict):
            sys.stderr.write(f"cannot use {path}: it holds no JSON object\n")
            return 2
        tables.append(data)
    failures = regressions(tables[0], tables[1])
    for text in failures.values():
        sys.stdout.write(f"::error::{text}\n")  # an annotation on the run's summary page
    return 1 if failures else 0


WORKFLOW = """\
name: ci
on:
  pull_request:
  push:
    branches: [main, 'release/**']
permissions:
  contents: read
concurrency:
  group: ${{ github.workflow }}-${{ github.ref }}
  cancel-in-progress: true
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: astral-sh/ruff-action@v3
        with:
          version: "0.17.6"
  types:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
          cache: pip
          cache-dependency-path: "**/requirements.txt"
      - run: pip install -r requirements.txt
      - run: mypy .
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python-version: ["3.11", "3.12"]
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: ${{ matrix.python-version }}
          cache: pip
          cache-dependency-path: "**/requirements.txt"
      - run: pip install -r requirements.txt
      - run: pytest --maxfail=5
  train:
    needs: [lint, types, test]
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
          cache: pip
      - run: pip install -r requirements.txt
      - run: python train.py
      - uses: actions/upload-artifact@v4
        with:
          name: candidate-metrics
          path: metrics/candidate.json
  gate:
    needs: train
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - uses: actions/download-artifact@v4
        with:
          name: candidate-metrics
          path: metrics
      - name: Evaluation gate
        run: python eval_gate.py ./metrics/candidate.json ./metrics/baseline.json
"""


def write_workflow(workdir: Path) -> None:
    path = workdir / ".github" / "workflows" / "ci.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(WORKFLOW, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
