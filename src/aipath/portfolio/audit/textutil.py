"""Small text helpers shared by checks: find the line of a pattern, quote a snippet."""

from __future__ import annotations

import re


def line_of(text: str, pattern: str | re.Pattern[str], *, flags: int = 0) -> int | None:
    """1-based line of the first match of ``pattern`` in ``text``, or None."""
    regex = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
    match = regex.search(text)
    if match is None:
        return None
    return text.count("\n", 0, match.start()) + 1


def snippet(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
