"""Plain values the progress store hands out.

The store's rows never leave it: callers get frozen dataclasses, so nothing
outside ``aipath.progress`` can hold a live database object or write through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final, Literal, cast, get_args

from aipath.errors import AipathError

Background = Literal["beginner", "developer", "data-scientist"]
Track = Literal["nlp", "vision", "agents", "rl"]
MarkState = Literal["done", "skipped", "pending"]
EventKind = Literal["check", "hint", "solution", "study", "note", "mark", "audit"]

BACKGROUNDS: Final[tuple[str, ...]] = get_args(Background)
TRACKS: Final[tuple[str, ...]] = get_args(Track)
MARK_STATES: Final[tuple[str, ...]] = get_args(MarkState)
EVENT_KINDS: Final[tuple[str, ...]] = get_args(EventKind)


def parse_background(value: str) -> Background:
    """Validate a background name from the CLI, a file or the web form."""
    if value not in BACKGROUNDS:
        raise AipathError(
            f"unknown background {value!r}",
            hint=f"use one of: {', '.join(BACKGROUNDS)}",
        )
    return cast(Background, value)


def parse_track(value: str | None) -> Track | None:
    """Validate a specialization track; ``None`` means "not chosen yet"."""
    if value is None or value == "":
        return None
    if value not in TRACKS:
        raise AipathError(f"unknown track {value!r}", hint=f"use one of: {', '.join(TRACKS)}")
    return cast(Track, value)


def parse_mark_state(value: str) -> MarkState:
    """Validate the state a topic can be marked with."""
    if value not in MARK_STATES:
        raise AipathError(f"unknown mark {value!r}", hint=f"use one of: {', '.join(MARK_STATES)}")
    return cast(MarkState, value)


@dataclass(frozen=True)
class Profile:
    """What the planner needs to know about the learner.

    ``hours_per_week`` is the commitment, not a measurement: the measured pace
    comes from the event log and is compared against it.
    """

    start: date
    hours_per_week: float = 20.0
    background: Background = "beginner"
    track: Track | None = None

    def __post_init__(self) -> None:
        if not 1.0 <= self.hours_per_week <= 100.0:
            raise AipathError(
                f"hours per week must be between 1 and 100, got {self.hours_per_week:g}",
                hint="pass a realistic weekly commitment, e.g. --hours 20",
            )
        parse_background(self.background)
        parse_track(self.track)


@dataclass(frozen=True)
class Event:
    """One entry of the append-only log.

    ``uid`` identifies the event across stores (export/import merge on it);
    ``id`` is only the local insertion order.  Fields a kind does not use are
    ``None``; kind-specific extras live in ``data``.
    """

    id: int
    uid: str
    at: datetime
    kind: EventKind
    lab_id: str | None = None
    topic_id: str | None = None
    resource_id: str | None = None
    status: str | None = None
    duration_s: float | None = None
    tier: int | None = None
    minutes: float | None = None
    text: str | None = None
    data: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class LabState:
    """A lab's state as derived from its events.

    ``status`` is the status of the latest check (``None`` before the first
    one); ``hints_shown`` counts distinct hint tiers shown, so it is also the
    index of the next hint whichever way tiers are numbered.
    ``minutes_spent`` follows :data:`aipath.progress.derive.SESSION_GAP`.
    """

    lab_id: str
    status: str | None = None
    ever_passed: bool = False
    attempts: int = 0
    hints_shown: int = 0
    solution_revealed: bool = False
    last_checked: datetime | None = None
    first_passed: datetime | None = None
    minutes_spent: float = 0.0


@dataclass(frozen=True)
class AuditRecord:
    """One portfolio audit: the repo audited, the project kind, the score and the full report."""

    at: datetime
    path: str
    kind: str | None
    score: int
    report: dict[str, object]
