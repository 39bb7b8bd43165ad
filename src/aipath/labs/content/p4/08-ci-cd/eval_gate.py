"""The evaluation gate of tinymodel's CI (lab p4-ci-cd, tasks 1 and 2).

CI trains the model (`python train.py` writes metrics/candidate.json), then runs this file:

    python eval_gate.py metrics/candidate.json metrics/baseline.json

It compares the candidate's metrics with the baseline's (the model in production) and exits
with status 0 when every metric in RULES is within its tolerance, 1 when one regressed (the CI
step fails, and so does the run), and 2 when a metrics file cannot be read.
"""

from __future__ import annotations

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

    >>> Rule(higher_is_better=True, tolerance=0.01)  # accuracy may drop by 0.01 (one point)
    Rule(higher_is_better=True, tolerance=0.01, relative=False)
    """

    higher_is_better: bool
    tolerance: float
    relative: bool = False


# The team's policy: do not change it (the checks compare it with the README's table).
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
    """The metrics of `rules` that fail the gate, as {metric: a one-line reason}.

    For each metric named in `rules` (other metrics are ignored):
    - it fails when it is missing from `candidate` or from `baseline`, or when either value is
      not a finite number (None, a string, NaN, infinity);
    - "worse" is baseline - candidate when higher is better, candidate - baseline when lower is
      better (a negative worsening is an improvement);
    - the allowance is `tolerance` when `relative` is False, `tolerance * abs(baseline)` when
      it is True; the metric fails when worse > allowance (worse == allowance passes).
    An empty dict means the gate passes. Neither argument is modified.

    >>> regressions({"accuracy": 0.85}, {"accuracy": 0.90}, {"accuracy": RULES["accuracy"]})
    {'accuracy': 'accuracy: 0.85 is 0.05 below the baseline 0.9 (allowed: 0.01)'}

    (the wording of a reason is yours; start it with the metric's name, as here)

    >>> regressions({"log_loss": 0.31}, {"log_loss": 0.30}, {"log_loss": RULES["log_loss"]})
    {}
    >>> list(regressions({}, {"f1": 0.9}, {"f1": RULES["f1"]}))
    ['f1']
    """
    # TODO (task 1)
    raise NotImplementedError


def main(argv: list[str] | None = None) -> int:
    """Usage: python eval_gate.py [CANDIDATE [BASELINE]] (defaults: metrics/candidate.json and
    metrics/baseline.json, relative to the current folder).

    Reads both files (each a JSON object of metric names to numbers), runs `regressions` with
    RULES, prints one line per failing metric that names it, and returns the exit status:
    0 when nothing regressed, 1 when something did, 2 when a file is missing, is not valid JSON
    or does not hold a JSON object (print which file and why), or when given more than two
    arguments. Return the status; do not call sys.exit() (the last line of this file does).

    >>> main(["metrics/baseline.json", "metrics/baseline.json"])  # doctest: +SKIP
    0
    """
    # TODO (task 2)
    raise NotImplementedError


if __name__ == "__main__":
    raise SystemExit(main())
