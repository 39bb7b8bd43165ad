"""Training inside a check: seeded, single-threaded, and judged against a step budget.

A learner's model that trains badly must fail with "did not reach X within N steps" and the best
value it did reach — never with a timeout that says nothing.  Torch runs single-threaded in
checks: on a busy 2-core machine two threads made a small model eight times slower.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from aipath.checks.failure import fail
from aipath.checks.failure import fmt as _fmt

__all__ = ["assert_reaches", "run_until", "seed_everything"]


def seed_everything(seed: int = 0, *, threads: int | None = 1) -> None:
    """Seed ``random``, NumPy's global RNG and torch (when imported), and cap torch's threads."""
    import sys

    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
        if threads is not None and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def _better(value: float, target: float, higher_is_better: bool) -> bool:
    return value >= target if higher_is_better else value <= target


def assert_reaches(
    values: Iterable[Any],
    target: float,
    *,
    name: str = "validation loss",
    higher_is_better: bool = False,
    within: int | None = None,
    unit: str = "steps",
) -> int:
    """The first step at which ``values`` (one per step or per evaluation) reach ``target``.

    Fails with the best value reached and where, so the learner sees how far off training got.
    """
    history = [float(v) for v in values]
    if within is not None:
        history = history[:within]
    if not history:
        fail(f"{name}: the training returned no values to judge (an empty history)")
    for step, value in enumerate(history):
        if math.isnan(value):
            fail(
                f"{name} became NaN at step {step}: the loss diverged (learning rate too high, "
                "a log(0), or no gradient clipping)"
            )
        if _better(value, target, higher_is_better):
            return step
    best = max(history) if higher_is_better else min(history)
    where = history.index(best)
    comparison = "≥" if higher_is_better else "≤"
    fail(
        f"{name} did not reach {comparison} {_fmt(target)} within {len(history)} {unit}: "
        f"best {_fmt(best)} at step {where}, last {_fmt(history[-1])}"
    )


def run_until(
    step: Callable[[int], Any],
    reached: Callable[[float], bool],
    *,
    max_steps: int,
    target: str,
    name: str = "metric",
) -> tuple[int, float]:
    """Call ``step(i)`` (which returns the metric after step ``i``) until ``reached`` or the budget.

    Returns ``(steps taken, last value)``; fails "did not reach {target} within N steps".
    """
    last = math.nan
    best: float | None = None
    for i in range(max_steps):
        last = float(step(i))
        if math.isnan(last):
            fail(f"{name} became NaN at step {i}: training diverged")
        best = last if best is None else best
        if reached(last):
            return i + 1, last
    fail(f"{name} did not reach {target} within {max_steps} steps (last value {_fmt(last)})")
