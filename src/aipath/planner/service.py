"""The planner as a service: what the CLI and the dashboard call.

It loads the packaged roadmap and lab catalogue, reads the learner's profile
and history from the store, and hands plain values to the pure scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from aipath.errors import AipathError
from aipath.planner.inputs import (
    job_ready_from_roadmap,
    labs_from_catalogue,
    phases_from_roadmap,
    progress_from_store,
    projects_from_roadmap,
)
from aipath.planner.model import JobReadyInput, LabInput, PhaseInput, Plan, ProjectInput
from aipath.planner.schedule import build_plan
from aipath.progress.store import ProgressStore
from aipath.progress.types import Profile, Track, parse_background, parse_track

DEFAULT_HOURS = 20.0


@dataclass(frozen=True)
class RoadmapInputs:
    """The static half of the planner's input."""

    phases: tuple[PhaseInput, ...]
    labs: tuple[LabInput, ...]
    projects: tuple[ProjectInput, ...]
    job_ready: JobReadyInput
    notes: tuple[str, ...] = ()


def load_inputs() -> RoadmapInputs:
    """Read the packaged roadmap and lab catalogue (errors name the file to fix)."""
    from aipath.labs import load_catalogue
    from aipath.roadmap import load_roadmap

    roadmap = load_roadmap()
    notes: tuple[str, ...] = ()
    try:
        labs = labs_from_catalogue(load_catalogue())
    except AipathError as exc:
        # The roadmap alone still gives every date; say plainly that the labs are missing.
        labs = ()
        notes = (f"the lab catalogue could not be read, so labs are left out: {exc.message}",)
    return RoadmapInputs(
        phases=phases_from_roadmap(roadmap),
        labs=labs,
        projects=projects_from_roadmap(roadmap),
        job_ready=job_ready_from_roadmap(roadmap),
        notes=notes,
    )


def update_profile(
    store: ProgressStore,
    *,
    start: date | None = None,
    hours: float | None = None,
    background: str | None = None,
    track: str | None = None,
    today: date | None = None,
) -> Profile:
    """Merge the options given with the stored profile (defaults for a first plan) and store it.

    ``track="none"`` clears the track: the CLI and the dashboard share this one rule.
    """
    current = store.get_profile()
    if current is None:
        current = Profile(start=start or today or date.today(), hours_per_week=DEFAULT_HOURS)
    profile = replace(
        current,
        start=start or current.start,
        hours_per_week=float(hours) if hours is not None else current.hours_per_week,
        background=parse_background(background) if background else current.background,
        track=_track(track, current.track),
    )
    if profile != store.get_profile():
        store.set_profile(profile)
    return profile


def _track(given: str | None, current: Track | None) -> Track | None:
    if given is None:
        return current
    if given.strip().lower() in ("none", ""):
        return None
    return parse_track(given)


def plan_for(
    store: ProgressStore,
    *,
    profile: Profile | None = None,
    today: date | None = None,
    inputs: RoadmapInputs | None = None,
) -> Plan:
    """The learner's plan from their stored (or the given) profile and their recorded history."""
    chosen = profile or store.get_profile()
    if chosen is None:
        raise AipathError(
            "there is no plan yet",
            hint="run `aipath plan --start YYYY-MM-DD --hours 20 --background beginner` first",
        )
    data = inputs or load_inputs()
    plan = build_plan(
        data.phases,
        data.labs,
        data.projects,
        chosen,
        job_ready=data.job_ready,
        progress=progress_from_store(store, data.projects),
        today=today,
    )
    return replace(plan, notes=plan.notes + data.notes) if data.notes else plan


@dataclass(frozen=True)
class StatusReport:
    """What ``aipath status`` and the dashboard's summary show."""

    plan: Plan
    has_profile: bool
    streak_days: int
    active_today: bool
    labs_passed: int
    labs_total: int


def status_for(
    store: ProgressStore,
    *,
    today: date | None = None,
    inputs: RoadmapInputs | None = None,
) -> StatusReport:
    """The plan plus streak and counts; without a stored profile, a default one starting today."""
    from aipath.progress import derive

    now = today or date.today()
    profile = store.get_profile()
    has_profile = profile is not None
    if profile is None:
        oldest = store.first_event_at()
        first = oldest.astimezone().date() if oldest is not None else now
        profile = Profile(start=min(first, now), hours_per_week=DEFAULT_HOURS)
    plan = plan_for(store, profile=profile, today=now, inputs=inputs)
    days = store.active_days()
    return StatusReport(
        plan=plan,
        has_profile=has_profile,
        streak_days=derive.streak(days, now),
        active_today=now in days,
        labs_passed=sum(1 for lab in plan.labs if lab.done),
        labs_total=len(plan.labs),
    )
