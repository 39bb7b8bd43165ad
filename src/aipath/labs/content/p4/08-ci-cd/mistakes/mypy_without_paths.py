# expect: names no files
"""Mistake: mypy run with no paths (pyproject sets no files): the step always fails."""

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


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value):
        return None
    return float(value)


def regressions(
    candidate: Mapping[str, object],
    baseline: Mapping[str, object],
    rules: Mapping[str, Rule] = RULES,
) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, rule in rules.items():
        if name not in candidate or name not in baseline:
            out[name] = f"{name}: missing from the candidate or the baseline"
            continue
        new = _finite(candidate[name])
        old = _finite(baseline[name])
        if new is None or old is None:
            out[name] = f"{name}: not a finite number ({candidate[name]!r} vs {baseline[name]!r})"
            continue
        worse = old - new if rule.higher_is_better else new - old
        allowed = rule.tolerance * abs(old) if rule.relative else rule.tolerance
        if worse > allowed:
            out[name] = f"{name}: {new} is worse than the baseline {old} by {worse:.4g} (allowed {allowed:.4g})"
    return out


class GateInputError(Exception):
    pass


def _load(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GateInputError(f"cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise GateInputError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise GateInputError(f"{path}: not a JSON object")
    return data


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 2:
        print("usage: eval_gate.py [CANDIDATE [BASELINE]]", file=sys.stderr)
        return 2
    cand_path = Path(args[0]) if len(args) >= 1 else CANDIDATE
    base_path = Path(args[1]) if len(args) >= 2 else BASELINE
    try:
        cand = _load(cand_path)
        base = _load(base_path)
    except GateInputError as exc:
        print(f"eval gate: {exc}")
        return 2
    failed = regressions(cand, base)
    for reason in failed.values():
        print(f"FAIL {reason}")
    if failed:
        return 1
    print("eval gate: passed")
    return 0


WORKFLOW = 'name: ci\n\non:\n  push:\n    branches: [main]\n  pull_request:\n\npermissions:\n  contents: read\n\nconcurrency:\n  group: ${{ github.workflow }}-${{ github.ref }}\n  cancel-in-progress: true\n\njobs:\n  build:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        python-version: ["3.11", "3.12"]\n    steps:\n      - uses: actions/checkout@v4\n      - uses: actions/setup-python@v5\n        with:\n          python-version: ${{ matrix.python-version }}\n          cache: pip\n      - run: pip install -r requirements.txt\n      - run: ruff check .\n      - run: mypy\n      - run: pytest -q\n      - run: python train.py\n      - run: python eval_gate.py metrics/candidate.json metrics/baseline.json\n'


def write_workflow(workdir: Path) -> None:
    path = workdir / ".github" / "workflows" / "ci.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(WORKFLOW, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
