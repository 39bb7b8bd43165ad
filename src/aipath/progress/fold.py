"""Derived state as a running fold over the event log, so a long history costs nothing to read.

:mod:`aipath.progress.derive` states each rule as a pure function of all events and stays the
reference.  :class:`Fold` applies the same rules one event at a time, in log order, and can be
saved as JSON: the store keeps the fold of the events up to some id next to the log, and on a
read folds in only the events appended since (a check or two).  An event that arrives out of
order (an import of older history) makes the store fold everything again, once.
``tests/progress/test_fold.py`` holds the fold to ``derive`` on random histories.

Days are the learner's local days but times are stored in UTC, so minutes and activity are kept
per UTC quarter-hour (every time zone's offset is a multiple of 15 minutes) and mapped to local
days when asked: a few thousand numbers for years of study.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from aipath.progress.derive import PASSED, SESSION_GAP
from aipath.progress.types import LabState

QUARTER_HOUR_S = 900
FORMAT = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.date().toordinal()


def _seconds(at: datetime) -> float:
    return (at - _EPOCH).total_seconds()


def _bucket(at: datetime) -> int:
    return int(_seconds(at) // QUARTER_HOUR_S)


class _LocalDays:
    """Quarter-hour → local day, converting once per UTC hour (offsets change on the hour)."""

    def __init__(self, tz: tzinfo | None) -> None:
        self.tz = tz
        self.offsets: dict[int, float] = {}

    def __call__(self, bucket: int) -> date:
        hour = bucket // 4
        offset = self.offsets.get(hour)
        if offset is None:
            at = datetime.fromtimestamp(hour * 3600, UTC)
            local = at.astimezone(self.tz) if self.tz is not None else at.astimezone()
            offset = self.offsets[hour] = (local.utcoffset() or timedelta()).total_seconds()
        return date.fromordinal(_EPOCH_ORDINAL + int((bucket * QUARTER_HOUR_S + offset) // 86400))


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass
class LabFold:
    """One lab's running state: the fields of :class:`LabState`, plus the last check's time."""

    attempts: int = 0
    status: str | None = None
    last_checked: datetime | None = None
    first_passed: datetime | None = None
    seconds: float = 0.0
    tiers: set[int] = field(default_factory=set)
    revealed: bool = False

    def state(self, lab_id: str) -> LabState:
        return LabState(
            lab_id=lab_id,
            status=self.status,
            ever_passed=self.first_passed is not None,
            attempts=self.attempts,
            hints_shown=len(self.tiers),
            solution_revealed=self.revealed,
            last_checked=self.last_checked,
            first_passed=self.first_passed,
            minutes_spent=round(self.seconds / 60.0, 3),
        )


@dataclass
class Fold:
    """The fold of the events with ids up to ``last_id`` (``count`` of them, the newest at
    ``last_at``)."""

    last_id: int = 0
    count: int = 0
    last_at: datetime | None = None
    first_at: datetime | None = None
    labs: dict[str, LabFold] = field(default_factory=dict)
    minutes: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    active: set[int] = field(default_factory=set)
    # Answers per time zone, kept up to date by add() and carried by copy(): a page asks for
    # the same days several times, and after a new check only its quarter-hour changes
    # (mapping thousands of quarter-hours to days again cost 40 ms a page at 200,000 events).
    _daily: dict[tzinfo | None, tuple[_LocalDays, dict[date, float]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _active: dict[tzinfo | None, tuple[_LocalDays, set[date]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # The count of events in the fold last saved (or loaded): the store saves it again only
    # after many new events, not after each (saving is a JSON of the whole fold).
    saved_count: int = field(default=0, compare=False)

    def copy(self) -> Fold:
        """An independent fold to extend: a published one may be read by other threads."""
        twin = Fold(
            last_id=self.last_id,
            count=self.count,
            last_at=self.last_at,
            first_at=self.first_at,
            labs={lab_id: replace(lab, tiers=set(lab.tiers)) for lab_id, lab in self.labs.items()},
            active=set(self.active),
            saved_count=self.saved_count,
        )
        twin.minutes.update(self.minutes)
        twin._daily = {tz: (days, dict(per_day)) for tz, (days, per_day) in self._daily.items()}
        twin._active = {tz: (days, set(seen)) for tz, (days, seen) in self._active.items()}
        return twin

    def accepts(self, at: datetime) -> bool:
        """Whether an event at ``at`` comes after everything folded so far (order holds)."""
        return self.last_at is None or at >= self.last_at

    def add(
        self,
        *,
        id: int,
        at: datetime,
        kind: str,
        lab_id: str | None,
        status: str | None,
        tier: int | None,
        minutes: float | None,
    ) -> None:
        """Fold one event; events must come in ``(at, id)`` order (see :meth:`accepts`)."""
        self.last_id = max(self.last_id, id)
        self.count += 1
        self.last_at = at
        if self.first_at is None:
            self.first_at = at
        bucket = _bucket(at)
        self.active.add(bucket)
        for days, seen in self._active.values():
            seen.add(days(bucket))
        if kind == "study" and minutes:
            self._add_minutes(bucket, minutes)
        if lab_id is None:
            return
        if kind == "check":
            lab = self.labs.setdefault(lab_id, LabFold())
            if lab.last_checked is not None:
                gap = at - lab.last_checked
                if gap <= SESSION_GAP:
                    self._add_minutes(bucket, gap.total_seconds() / 60.0)
                    lab.seconds += gap.total_seconds()
            lab.attempts += 1
            lab.status = status
            lab.last_checked = at
            if status == PASSED and lab.first_passed is None:
                lab.first_passed = at
        elif kind == "hint" and tier is not None:
            self.labs.setdefault(lab_id, LabFold()).tiers.add(tier)
        elif kind == "solution":
            self.labs.setdefault(lab_id, LabFold()).revealed = True

    def _add_minutes(self, bucket: int, minutes: float) -> None:
        self.minutes[bucket] += minutes
        for days, per_day in self._daily.values():
            day = days(bucket)
            per_day[day] = per_day.get(day, 0.0) + minutes

    # -- answers ------------------------------------------------------------------------------
    def lab_states(self) -> dict[str, LabState]:
        return {lab: self.labs[lab].state(lab) for lab in sorted(self.labs)}

    def daily_minutes(self, tz: tzinfo | None = None) -> dict[date, float]:
        if tz not in self._daily:
            per_day: dict[date, float] = defaultdict(float)
            day_of = _LocalDays(tz)
            for bucket, minutes in self.minutes.items():
                if minutes:
                    per_day[day_of(bucket)] += minutes
            self._daily[tz] = (day_of, dict(per_day))
        return dict(self._daily[tz][1])

    def active_days(self, tz: tzinfo | None = None) -> set[date]:
        if tz not in self._active:
            day_of = _LocalDays(tz)
            self._active[tz] = (day_of, {day_of(bucket) for bucket in self.active})
        return set(self._active[tz][1])

    # -- persistence --------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        def when(at: datetime | None) -> str | None:
            return at.isoformat() if at is not None else None

        return {
            "format": FORMAT,
            "last_id": self.last_id,
            "count": self.count,
            "last_at": when(self.last_at),
            "first_at": when(self.first_at),
            "labs": {
                lab_id: [
                    lab.attempts,
                    lab.status,
                    when(lab.last_checked),
                    when(lab.first_passed),
                    lab.seconds,
                    sorted(lab.tiers),
                    lab.revealed,
                ]
                for lab_id, lab in self.labs.items()
            },
            "minutes": [[b, m] for b, m in self.minutes.items()],
            "active": sorted(self.active),
        }

    @classmethod
    def from_json(cls, data: Any) -> Fold | None:
        """The fold saved by :meth:`to_json`, or None when it is not one (then fold again)."""
        try:
            if data["format"] != FORMAT:
                return None
            fold = cls(
                last_id=int(data["last_id"]),
                count=int(data["count"]),
                last_at=_time(data["last_at"]),
                first_at=_time(data["first_at"]),
            )
            for lab_id, (attempts, status, last, first, seconds, tiers, revealed) in data[
                "labs"
            ].items():
                fold.labs[str(lab_id)] = LabFold(
                    int(attempts),
                    status,
                    _time(last),
                    _time(first),
                    float(seconds),
                    {int(t) for t in tiers},
                    bool(revealed),
                )
            for bucket, minutes in data["minutes"]:
                fold.minutes[int(bucket)] += float(minutes)
            fold.active = {int(b) for b in data["active"]}
            fold.saved_count = fold.count
            return fold
        except (KeyError, TypeError, ValueError):
            return None
