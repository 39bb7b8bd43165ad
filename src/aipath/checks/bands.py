"""Bands and margins for measured quantities (trained metrics, timings of algorithms, losses).

A trained model never reproduces one exact number across machines and library versions; a check
accepts any value in a reasonable band, or demands a margin over a baseline the check computed
itself on the same data.
"""

from __future__ import annotations

import math
from typing import Any

from aipath.checks.failure import fail, none_message
from aipath.checks.failure import fmt as _fmt

__all__ = ["assert_beats", "assert_in_band"]


def assert_in_band(
    value: Any, low: float, high: float, *, name: str = "score", unit: str = ""
) -> None:
    """For trained metrics: any value in a reasonable band passes."""
    if value is None:
        fail(none_message(name))
    number = float(value)
    if math.isnan(number) or not low <= number <= high:
        fail(f"{name} is {_fmt(number)}{unit}; expected between {_fmt(low)} and {_fmt(high)}{unit}")


def assert_beats(
    value: Any,
    baseline: float,
    *,
    margin: float = 0.0,
    higher_is_better: bool = True,
    name: str = "score",
    baseline_name: str = "the baseline",
) -> None:
    """For trained metrics: must improve on a baseline the check computed itself."""
    if value is None:
        fail(none_message(name))
    number = float(value)
    if higher_is_better:
        ok = number >= baseline + margin
        need = f"at least {_fmt(baseline + margin)}"
    else:
        ok = number <= baseline - margin
        need = f"at most {_fmt(baseline - margin)}"
    if math.isnan(number) or not ok:
        fail(
            f"{name} is {_fmt(number)}; {baseline_name} scores {_fmt(baseline)}, so it must be "
            f"{need} (margin {_fmt(margin)})"
        )
