"""The planner's inputs and outputs: plain frozen values, no roadmap or database objects.

Keeping the schedule a pure function of these values is what lets it be tested
with a hand-made roadmap and reused unchanged by the CLI and the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from aipath.progress.types import Profile


@dataclass(frozen=True)
class SkillInput:
    id: str
    title: str
    hours: float


@dataclass(frozen=True)
class TopicInput:
    id: str
    title: str
    skills: tuple[SkillInput, ...]
    track: str | None = None

    @property
    def hours(self) -> float:
        return sum(s.hours for s in self.skills)


@dataclass(frozen=True)
class PhaseInput:
    """A phase and its hour budget at the career-changer pace (``hours``, from the roadmap)."""

    id: str
    number: int
    title: str
    hours: float
    topics: tuple[TopicInput, ...]

    @property
    def tracks(self) -> tuple[str, ...]:
        seen: list[str] = []
        for topic in self.topics:
            if topic.track and topic.track not in seen:
                seen.append(topic.track)
        return tuple(seen)


@dataclass(frozen=True)
class LabInput:
    id: str
    title: str
    phase: int
    topic: str
    skills: tuple[str, ...]
    minutes: int
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProjectInput:
    """A portfolio project; it is due once every skill it uses has been studied."""

    id: str
    title: str
    phase: int
    skills: tuple[str, ...]


@dataclass(frozen=True)
class JobReadyInput:
    """Junior roles become realistic ``fraction`` of the way through ``phase``."""

    phase: int = 3
    fraction: float = 0.5


@dataclass(frozen=True)
class PlanProgress:
    """What the learner has done, reduced to what the planner needs.

    ``marks`` maps topic, skill or project ids to ``done``/``skipped``;
    ``daily_minutes`` is logged plus measured study time per day.
    """

    passed_labs: frozenset[str] = frozenset()
    marks: Mapping[str, str] = field(default_factory=dict)
    done_projects: frozenset[str] = frozenset()
    daily_minutes: Mapping[date, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------- outputs
@dataclass(frozen=True)
class DiscountApplied:
    """Hours a rule took off the plan, and why (shown to the learner)."""

    rule: str
    label: str
    keep: float
    hours_saved: float
    reason: str
    skills: tuple[str, ...]


@dataclass(frozen=True)
class PhasePlan:
    id: str
    number: int
    title: str
    base_hours: float
    hours: float
    start: date
    end: date
    start_h: float
    end_h: float
    done_fraction: float
    projected_start: date | None = None
    projected_end: date | None = None


@dataclass(frozen=True)
class SkillPlan:
    id: str
    title: str
    topic: str
    phase: int
    hours: float
    start_h: float
    end_h: float
    done: bool
    has_labs: bool


@dataclass(frozen=True)
class LabPlan:
    id: str
    title: str
    phase: int
    topic: str
    minutes: int
    due_h: float
    week: int
    due: date
    done: bool
    projected_due: date | None = None


@dataclass(frozen=True)
class ProjectPlan:
    id: str
    title: str
    phase: int
    due_h: float
    week: int
    due: date
    done: bool
    projected_due: date | None = None


@dataclass(frozen=True)
class WorkItem:
    """One line of "this week" or "next up"."""

    kind: str  # "study", "lab" or "project"
    id: str
    title: str
    hours: float
    due: date
    overdue: bool = False
    projected_due: date | None = None


@dataclass(frozen=True)
class PaceReport:
    """Measured pace: study minutes per planned minute over the recent window.

    ``status`` is one of ``not-started`` (today is before the start),
    ``no-history`` (nothing recorded yet: the plan is the original one),
    ``measuring`` (too little recorded to project from; ``window_days`` then counts the days
    since the first record),
    ``ahead``, ``on-track``, ``behind``, ``stalled`` (nothing in the window).
    """

    status: str
    pace: float | None
    window_days: int
    actual_minutes: float
    planned_minutes: float
    spent_hours: float
    delta_days: int | None


@dataclass(frozen=True)
class Plan:
    profile: Profile
    today: date
    start: date
    finish: date
    job_ready: date
    job_ready_h: float
    job_ready_phase: int
    total_hours: float
    base_hours: float
    weeks: int
    phases: tuple[PhasePlan, ...]
    skills: tuple[SkillPlan, ...]
    labs: tuple[LabPlan, ...]
    projects: tuple[ProjectPlan, ...]
    discounts: tuple[DiscountApplied, ...]
    blockers: tuple[WorkItem, ...]
    pace: PaceReport
    projected_finish: date | None
    projected_job_ready: date | None
    this_week: tuple[WorkItem, ...]
    next_up: tuple[WorkItem, ...]
    notes: tuple[str, ...] = ()
    left_out_labs: tuple[str, ...] = ()
