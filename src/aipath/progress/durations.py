"""Durations the learner types: ``90m``, ``1.5h``, ``2h30m``, ``2h 30m``, ``2:30``.

A bare number is refused on purpose: ``aipath log 2`` could mean two hours or
two minutes, and a wrong guess silently skews the pace the planner measures.
"""

from __future__ import annotations

import re

from aipath.errors import AipathError

_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
_UNITS = re.compile(
    rf"^(?:{_NUMBER}\s*(?:h|hr|hrs|hour|hours))?\s*(?:{_NUMBER}\s*(?:m|min|mins|minute|minutes))?$",
    re.IGNORECASE,
)
_CLOCK = re.compile(r"^(\d+):([0-5]\d)$")
_EXAMPLES = "write it like 90m, 1.5h, 2h30m or 2:30"


def parse_duration(text: str) -> int:
    """Minutes in ``text``, rounded to the minute; :class:`AipathError` for anything else."""
    raw = text
    text = text.strip()
    minutes: float
    clock = _CLOCK.match(text)
    match = _UNITS.match(text)
    if clock:
        minutes = int(clock.group(1)) * 60 + int(clock.group(2))
    elif text and match and (match.group(1) or match.group(2)):
        hours = float(match.group(1)) if match.group(1) else 0.0
        mins = float(match.group(2)) if match.group(2) else 0.0
        minutes = hours * 60 + mins
    elif re.fullmatch(_NUMBER, text):
        raise AipathError(f"{raw!r} has no unit: hours or minutes?", hint=_EXAMPLES)
    else:
        raise AipathError(f"cannot read {raw!r} as a duration", hint=_EXAMPLES)
    rounded = round(minutes)
    if rounded < 1:
        raise AipathError(f"{raw!r} is less than a minute", hint=_EXAMPLES)
    if rounded > 24 * 60:
        raise AipathError(
            f"{raw!r} is more than 24 hours in one entry",
            hint="log each day separately (aipath log … --on YYYY-MM-DD)",
        )
    return rounded


def format_minutes(minutes: float) -> str:
    """``95`` → ``1h35m``: the inverse of :func:`parse_duration` for display."""
    total = round(minutes)
    hours, mins = divmod(total, 60)
    if hours and mins:
        return f"{hours}h{mins:02d}m"
    if hours:
        return f"{hours}h"
    return f"{mins}m"
