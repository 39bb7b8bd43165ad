"""Durations typed by the learner."""

from __future__ import annotations

import pytest

from aipath.errors import AipathError
from aipath.progress import format_minutes, parse_duration


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("90m", 90),
        ("1.5h", 90),
        ("2h30m", 150),
        ("2h 30m", 150),
        (" 2H30M ", 150),
        ("2:30", 150),
        ("45min", 45),
        ("1 hour", 60),
        ("3 hours", 180),
        (".25h", 15),
        ("0.75h", 45),
        ("24h", 1440),
    ],
)
def test_accepted(text: str, minutes: int) -> None:
    assert parse_duration(text) == minutes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2", "has no unit"),
        ("1.5", "has no unit"),
        ("", "cannot read"),
        ("abc", "cannot read"),
        ("h", "cannot read"),
        ("-1h", "cannot read"),
        ("30m2h", "cannot read"),
        ("2h2h", "cannot read"),
        ("2x", "cannot read"),
        ("2:75", "cannot read"),
        ("0m", "less than a minute"),
        ("0.001h", "less than a minute"),
        ("25h", "more than 24 hours"),
    ],
)
def test_rejected_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(AipathError, match=message) as info:
        parse_duration(text)
    assert (info.value.hint and "90m" in info.value.hint) or "--on" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("minutes", "text"), [(95, "1h35m"), (60, "1h"), (5, "5m"), (150, "2h30m")]
)
def test_format_is_the_inverse(minutes: int, text: str) -> None:
    assert format_minutes(minutes) == text
    assert parse_duration(text) == minutes
