# expect: does not wait for job
"""Mistake: the gate in a job of its own that does not `needs:` the tests."""

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
    """How one metric is judged against the baseline.

    `tolerance` is the largest worsening that still passes: in the metric's own units when
    `relative` is False, as a fraction of the baseline value when it is True.
    """

    higher_is_better: bool
    tolerance: float
    relative: bool = False


RULES: dict[str, Rule] = {
    "accuracy": Rule(higher_is_better=True, tolerance=0.01),
    "f1": Rule(higher_is_better=True, tolerance=0.02),
    "log_loss": Rule(higher_is_better=False, tolerance=0.05, relative=True),
    "latency_ms_p95": Rule(higher_is_better=False, tolerance=0.25, relative=True),
}


def _number(value: object) -> float | None:
    """`value` as a float when it is a finite number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def regressions(
    candidate: Mapping[str, object],
    baseline: Mapping[str, object],
    rules: Mapping[str, Rule] = RULES,
) -> dict[str, str]:
    """The metrics of `rules` that fail the gate, each with the reason, as {metric: reason}."""
    failures: dict[str, str] = {}
    for name, rule in rules.items():
        if name not in candidate:
            failures[name] = f"{name}: missing from the candidate's metrics"
            continue
        if name not in baseline:
            failures[name] = f"{name}: missing from the baseline's metrics"
            continue
        new, old = _number(candidate[name]), _number(baseline[name])
        if new is None:
            failures[name] = f"{name}: the candidate's value {candidate[name]!r} is not a number"
            continue
        if old is None:
            failures[name] = f"{name}: the baseline's value {baseline[name]!r} is not a number"
            continue
        worse = old - new if rule.higher_is_better else new - old
        allowed = rule.tolerance * abs(old) if rule.relative else rule.tolerance
        if worse > allowed:
            direction = "below" if rule.higher_is_better else "above"
            failures[name] = (
                f"{name}: {new:g} is {worse:.4g} {direction} the baseline {old:g} "
                f"(allowed: {allowed:.4g})"
            )
    return failures


class GateInputError(Exception):
    """A metrics file that cannot be read as a JSON object."""


def read_metrics(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GateInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise GateInputError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise GateInputError(f"{path} holds a {type(data).__name__}, not a JSON object")
    return data


def main(argv: list[str] | None = None) -> int:
    """Usage: python eval_gate.py [CANDIDATE [BASELINE]]; 0 passed, 1 regressed, 2 bad input."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    candidate_path = Path(args[0]) if args else CANDIDATE
    baseline_path = Path(args[1]) if len(args) > 1 else BASELINE
    try:
        candidate = read_metrics(candidate_path)
        baseline = read_metrics(baseline_path)
    except GateInputError as exc:
        print(f"eval gate: {exc}", file=sys.stderr)
        return 2
    failures = regressions(candidate, baseline, RULES)
    for reason in failures.values():
        print(f"FAIL {reason}")
    if failures:
        print(f"eval gate: {len(failures)} of {len(RULES)} metrics regressed")
        return 1
    print(f"eval gate: passed ({len(RULES)} metrics within tolerance of {baseline_path})")
    return 0


# ----- the workflow the learner writes in .github/workflows/ci.yml -------------------------------

WORKFLOW = """\
name: ci

on:
  push:
    branches: [main]
  pull_request:

permissions:
  contents: read

concurrency:
  group: ${{ github.workflow }}-${{ github.ref }}
  cancel-in-progress: true

jobs:
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
      - name: Install dependencies
        run: python -m pip install -r requirements.txt
      - name: Lint
        run: ruff check .
      - name: Type-check
        run: mypy .
      - name: Test
        run: pytest -q
  evaluate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
          cache: pip
      - run: python -m pip install -r requirements.txt
      - name: Train and evaluate
        run: python train.py
      - name: Evaluation gate
        run: python eval_gate.py metrics/candidate.json metrics/baseline.json
"""


def write_workflow(workdir: Path) -> None:
    path = workdir / ".github" / "workflows" / "ci.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(WORKFLOW, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
