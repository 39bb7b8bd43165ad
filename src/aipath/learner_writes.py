"""What a learner may write into the progress store — marks, notes, study logs — and the ids each
accepts: one service that the CLI and the dashboard both call, so they accept and refuse alike.

Ids are checked against the roadmap and the lab catalogue (a typo must not silently log against
nothing).  A lab is marked only by the learner (shown as a mark, never as a pass); whether a lab
is *done* is :func:`aipath.progress.derive`'s business, from passes and marks alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from datetime import date, datetime, time
from typing import Final, Literal

from aipath.errors import AipathError
from aipath.ids import suggest
from aipath.progress.store import ProgressStore
from aipath.progress.types import MARK_STATES

__all__ = [
    "MARK_KINDS",
    "NOTE_KINDS",
    "STUDY_TOPIC_KINDS",
    "UnknownId",
    "check_id",
    "known_ids",
    "log_study",
    "mark",
    "write_note",
]

IdKind = Literal["topic", "skill", "resource", "project", "lab"]
MARK_KINDS: Final[tuple[IdKind, ...]] = ("topic", "skill", "resource", "project", "lab")
NOTE_KINDS: Final[tuple[IdKind, ...]] = ("topic", "skill")
STUDY_TOPIC_KINDS: Final[tuple[IdKind, ...]] = ("topic", "skill")


class UnknownId(AipathError):
    """An id that names nothing of the asked kinds (the dashboard answers it with 404)."""


def known_ids(kinds: Iterable[IdKind]) -> set[str]:
    """Every id of the given kinds that the roadmap and the lab catalogue define."""
    from aipath.roadmap import load_roadmap

    wanted = set(kinds)
    roadmap = load_roadmap()
    known: set[str] = set()
    if "topic" in wanted:
        known |= {t.id for t in roadmap.all_topics()}
    if "skill" in wanted:
        known |= {s.id for s in roadmap.all_skills()}
    if "resource" in wanted:
        known |= {r.id for r in roadmap.resources}
    if "project" in wanted:
        known |= {p.id for p in roadmap.projects}
    if "lab" in wanted:
        from aipath.labs import load_catalogue

        # a broken catalogue must not stop marking roadmap ids; lab ids then stay unknown
        with suppress(AipathError):
            known |= set(load_catalogue().ids())
    return known


def check_id(value: str, kinds: Iterable[IdKind]) -> str:
    """``value`` if it is a known id of one of ``kinds``; else :class:`UnknownId`, with a guess."""
    kinds = tuple(kinds)
    known = known_ids(kinds)
    if value not in known:
        raise UnknownId(
            f"unknown {' or '.join(kinds)} id {value!r}{suggest(value, known)}",
            hint="`aipath roadmap` lists topic and skill ids (like p1.python or "
            "p1.python.asyncio); `aipath resources` and `aipath list` list resources and labs",
        )
    return value


def mark(store: ProgressStore, item_id: str, state: str) -> None:
    """Mark a topic, skill, resource, project or lab done or skipped, or back to pending."""
    if state not in MARK_STATES:
        raise AipathError(f"unknown mark {state!r}", hint=f"use one of: {', '.join(MARK_STATES)}")
    store.mark(check_id(item_id, MARK_KINDS), state)


def write_note(store: ProgressStore, topic_id: str, text: str) -> None:
    """Replace the learner's note on a topic or skill (empty text clears it)."""
    store.write_note(check_id(topic_id, NOTE_KINDS), text.strip())


def log_study(
    store: ProgressStore,
    minutes: float,
    *,
    resource_id: str | None = None,
    topic_id: str | None = None,
    note: str | None = None,
    on: date | None = None,
) -> None:
    """Log study time outside the labs, against a resource or a topic (not both), on a past day."""
    if resource_id and topic_id:
        raise AipathError(
            "give a resource or a topic, not both", hint="a resource already belongs to its topics"
        )
    if resource_id:
        check_id(resource_id, ("resource",))
    if topic_id:
        check_id(topic_id, STUDY_TOPIC_KINDS)
    at: datetime | None = None
    if on is not None:
        if on > date.today():
            raise AipathError(f"{on.isoformat()} is in the future", hint="log time you have spent")
        at = datetime.combine(on, time(12, 0)).astimezone()
    store.log_study(minutes, resource_id=resource_id, topic_id=topic_id, note=note, at=at)
