"""State derived from the event log: pure functions, no database.

Measured lab time
-----------------
A learner does not clock in, but every save triggers a check, so the checks of
one lab trace the time spent on it.  The rule: sort a lab's check events by
time; each gap between two consecutive checks of that lab counts as time spent
when it is at most :data:`SESSION_GAP` (30 minutes); a longer gap means the
learner left, so it ends the session and is not counted.  A session therefore
lasts from its first check to its last.  The minutes of a gap belong to the
day of the check that closes it.  Hours logged with ``aipath log`` are added on
top (they are meant for reading and videos, not lab work).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import pairwise

from aipath.progress.types import AuditRecord, Event, LabState

SESSION_GAP = timedelta(minutes=30)
PASSED = "passed"


def _ordered(events: Iterable[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.at, e.id))


def session_minutes(check_times: Sequence[datetime]) -> list[tuple[datetime, float]]:
    """Per counted gap: (time of the closing check, minutes) following the module's rule."""
    times = sorted(check_times)
    out: list[tuple[datetime, float]] = []
    for before, after in pairwise(times):
        gap = after - before
        if gap <= SESSION_GAP:
            out.append((after, gap.total_seconds() / 60.0))
    return out


def lab_states(events: Iterable[Event]) -> dict[str, LabState]:
    """Fold check, hint and solution events into one :class:`LabState` per lab."""
    checks: dict[str, list[Event]] = defaultdict(list)
    tiers: dict[str, set[int]] = defaultdict(set)
    revealed: set[str] = set()
    for ev in _ordered(events):
        if ev.lab_id is None:
            continue
        if ev.kind == "check":
            checks[ev.lab_id].append(ev)
        elif ev.kind == "hint" and ev.tier is not None:
            tiers[ev.lab_id].add(ev.tier)
        elif ev.kind == "solution":
            revealed.add(ev.lab_id)
    states: dict[str, LabState] = {}
    for lab_id in sorted(set(checks) | set(tiers) | revealed):
        lab_checks = checks.get(lab_id, [])
        passes = [c for c in lab_checks if c.status == PASSED]
        minutes = sum(m for _, m in session_minutes([c.at for c in lab_checks]))
        states[lab_id] = LabState(
            lab_id=lab_id,
            status=lab_checks[-1].status if lab_checks else None,
            ever_passed=bool(passes),
            attempts=len(lab_checks),
            hints_shown=len(tiers.get(lab_id, ())),
            solution_revealed=lab_id in revealed,
            last_checked=lab_checks[-1].at if lab_checks else None,
            first_passed=passes[0].at if passes else None,
            minutes_spent=round(float(minutes), 3),
        )
    return states


def latest_notes(events: Iterable[Event]) -> dict[str, str]:
    """The latest note per topic (an empty note clears it)."""
    notes: dict[str, str] = {}
    for ev in _ordered(events):
        if ev.kind == "note" and ev.topic_id is not None:
            if ev.text:
                notes[ev.topic_id] = ev.text
            else:
                notes.pop(ev.topic_id, None)
    return notes


def latest_marks(events: Iterable[Event]) -> dict[str, str]:
    """The latest mark per topic; ``pending`` undoes a mark, so it is left out."""
    marks: dict[str, str] = {}
    for ev in _ordered(events):
        if ev.kind == "mark" and ev.topic_id is not None and ev.status is not None:
            if ev.status == "pending":
                marks.pop(ev.topic_id, None)
            else:
                marks[ev.topic_id] = ev.status
    return marks


def audit_records(events: Iterable[Event]) -> list[AuditRecord]:
    """Portfolio audits in the order they ran."""
    out: list[AuditRecord] = []
    for ev in _ordered(events):
        if ev.kind != "audit":
            continue
        report = ev.data.get("report")
        score = ev.data.get("score")
        out.append(
            AuditRecord(
                at=ev.at,
                path=str(ev.data.get("path", ev.text or "")),
                kind=str(ev.data["kind"]) if ev.data.get("kind") is not None else None,
                score=int(score) if isinstance(score, int | float) else 0,
                report=dict(report) if isinstance(report, dict) else {},
            )
        )
    return out


def _local_day(at: datetime, tz: tzinfo | None) -> date:
    return at.astimezone(tz).date() if tz is not None else at.astimezone().date()


def daily_minutes(events: Iterable[Event], tz: tzinfo | None = None) -> dict[date, float]:
    """Study minutes per local day: logged hours plus measured lab sessions."""
    per_day: dict[date, float] = defaultdict(float)
    checks: dict[str, list[datetime]] = defaultdict(list)
    for ev in events:
        if ev.kind == "study" and ev.minutes:
            per_day[_local_day(ev.at, tz)] += ev.minutes
        elif ev.kind == "check" and ev.lab_id is not None:
            checks[ev.lab_id].append(ev.at)
    for times in checks.values():
        for at, minutes in session_minutes(times):
            per_day[_local_day(at, tz)] += minutes
    return dict(per_day)


def active_days(events: Iterable[Event], tz: tzinfo | None = None) -> set[date]:
    """Days with any learning activity (hints and audits count; profile changes do not exist here)."""
    return {_local_day(ev.at, tz) for ev in events}


def streak(days: Iterable[date], today: date) -> int:
    """Consecutive active days ending today, or yesterday when today has nothing yet."""
    day_set = set(days)
    cursor = today if today in day_set else today - timedelta(days=1)
    count = 0
    while cursor in day_set:
        count += 1
        cursor -= timedelta(days=1)
    return count


def utc_now() -> datetime:
    """One clock for the store, so tests can reason about ordering."""
    return datetime.now(UTC)
