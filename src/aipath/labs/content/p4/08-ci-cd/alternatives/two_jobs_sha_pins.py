"""Alternative: a sign instead of two branches for the direction, and a workflow in two jobs
(a quality matrix, then an evaluation job that `needs:` it), actions pinned to commit SHAs,
`on:` as a list, actions/cache keyed on requirements.txt and a head_ref-based group."""

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


def regressions(
    candidate: Mapping[str, object],
    baseline: Mapping[str, object],
    rules: Mapping[str, Rule] = RULES,
) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, rule in rules.items():
        values = []
        for side, table in (("candidate", candidate), ("baseline", baseline)):
            value = table.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                out[name] = f"{name}: {side} has {value!r}, not a number"
                break
            if not math.isfinite(value):
                out[name] = f"{name}: {side} has {value}, not a finite number"
                break
            values.append(float(value))
        else:
            new, old = values
            sign = 1.0 if rule.higher_is_better else -1.0
            drop = sign * (old - new)
            limit = rule.tolerance * abs(old) if rule.relative else rule.tolerance
            if drop > limit:
                out[name] = f"{name}: {old} -> {new}, worse by {drop:.4g} (limit {limit:.4g})"
    return out


def load(path: Path) -> dict[str, object] | str:
    """The metrics in `path`, or a message saying why they cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{path} does not exist"
    except (OSError, ValueError) as exc:
        return f"{path} cannot be read: {exc}"
    return data if isinstance(data, dict) else f"{path} is not a JSON object"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 2:
        print("usage: eval_gate.py [CANDIDATE [BASELINE]]", file=sys.stderr)
        return 2
    paths = [Path(a) for a in args] + [CANDIDATE, BASELINE][len(args) :]
    tables = [load(p) for p in paths]
    for table in tables:
        if isinstance(table, str):
            print(f"error: {table}", file=sys.stderr)
            return 2
    candidate, baseline = tables
    assert isinstance(candidate, dict) and isinstance(baseline, dict)
    failures = regressions(candidate, baseline)
    for name in RULES:
        print(f"{'FAIL' if name in failures else 'ok  '} {failures.get(name, name)}")
    return 1 if failures else 0


WORKFLOW = """\
name: CI
on: [push, pull_request]

permissions:
  contents: read

concurrency:
  group: ci-${{ github.head_ref || github.ref }}
  cancel-in-progress: true

jobs:
  quality:
    name: lint, types, tests (Python ${{ matrix.python }})
    runs-on: ubuntu-24.04
    strategy:
      fail-fast: false
      matrix:
        python: ['3.11', '3.12']
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - uses: actions/setup-python@0b93645e9fea7318ecaed2b359559ac225c90a2b # v5.3.0
        with:
          python-version: ${{ matrix.python }}
      - uses: actions/cache@1bd1e32a3bdc45362d1e726936510720a7c30a57 # v4.2.0
        with:
          path: ~/.cache/pip
          key: pip-${{ runner.os }}-py${{ matrix.python }}-${{ hashFiles('requirements.txt') }}
          restore-keys: pip-${{ runner.os }}-py${{ matrix.python }}-
      - run: pip install -r requirements.txt
      - run: ruff check .
      - run: mypy .
      - run: python -m pytest

  evaluate:
    needs: quality
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - uses: actions/setup-python@0b93645e9fea7318ecaed2b359559ac225c90a2b # v5.3.0
        with:
          python-version: '3.12'
          cache: pip
      - run: pip install --requirement requirements.txt
      - run: python train.py
      - run: python eval_gate.py metrics/candidate.json metrics/baseline.json
"""


def write_workflow(workdir: Path) -> None:
    path = workdir / ".github" / "workflows" / "ci.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(WORKFLOW, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
