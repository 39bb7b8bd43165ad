"""The shapes the dashboard hands out: JSON from ``/api/`` and the data every page renders.

One set of models for both, so the HTML pages can never show something the API does not say,
and FastAPI documents each of them in the OpenAPI schema.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from aipath.grader.results import CheckResult
from aipath.portfolio.audit.models import AuditReport


class ApiError(BaseModel):
    """What every failing ``/api/`` call answers: a message that says how to fix it."""

    error: str
    hint: str | None = None


# ------------------------------------------------------------------------------------- labs
class LabSummary(BaseModel):
    """One lab and where the learner stands on it (the shape of ``aipath list --json``)."""

    id: str
    phase: int
    title: str
    status: str
    done: bool
    path: str
    requires: list[str]
    minutes: int
    tier: str
    skills: list[str]
    attempts: int
    hints_shown: int
    waiting_on: list[str] = Field(
        default=[], description="required labs not passed yet: do those first (nothing is locked)"
    )
    url: str


class Hint(BaseModel):
    tier: int
    total: int
    text: str
    new: bool = False


class Solution(BaseModel):
    lab: str
    text: str
    passed: bool
    html: str = Field(description="the solution as highlighted HTML")


class LabDetail(BaseModel):
    lab: LabSummary
    topic: str
    readme_html: str
    result: CheckResult | None
    hints: list[Hint] = Field(description="the hints already revealed, in order")
    hints_total: int
    folder: str
    resources: list[str]
    previous: str | None = None
    following: str | None = None


# ------------------------------------------------------------------------------------- home
class PhaseProgress(BaseModel):
    id: str
    number: int
    title: str
    done_fraction: float
    start: date
    end: date
    projected_end: date | None = None
    hours: float


class WorkLine(BaseModel):
    kind: str
    id: str
    title: str
    hours: float
    due: date
    overdue: bool
    projected_due: date | None = None
    url: str | None = None


class Summary(BaseModel):
    """The home page: where the learner stands, what is next, how fast they go."""

    today: date
    has_profile: bool
    hours_per_week: float
    phases: list[PhaseProgress]
    next_lab: LabSummary | None
    this_week: list[WorkLine]
    next_up: list[WorkLine]
    pace_status: str
    pace: str
    streak_days: int
    active_today: bool
    labs_passed: int
    labs_total: int
    job_ready: date
    projected_job_ready: date | None
    days_to_job_ready: int
    finish: date
    projected_finish: date | None
    notes: list[str]


# ---------------------------------------------------------------------------------- roadmap
class ResourceView(BaseModel):
    id: str
    title: str
    author: str
    kind: str
    url: str
    hours: float
    level: str
    done: bool
    logged_minutes: float


class LabLink(BaseModel):
    id: str
    title: str
    status: str
    done: bool
    url: str


class SkillView(BaseModel):
    id: str
    title: str
    description: str
    hours: float
    done: bool
    reading_only: str | None
    labs: list[LabLink]
    note: str = ""


class TopicView(BaseModel):
    id: str
    title: str
    summary: str
    track: str | None
    hours: float
    mark: str = Field(description="done, skipped or pending")
    note: str
    skills_done: int
    resources: list[ResourceView]
    skills: list[SkillView]


class PhaseView(BaseModel):
    id: str
    number: int
    title: str
    summary: str
    months: str
    hours: float
    done_fraction: float
    topics: list[TopicView]


class RoadmapView(BaseModel):
    phases: list[PhaseView]
    notes: list[str]


# ------------------------------------------------------------------------------------- plan
class WeekHours(BaseModel):
    week: int
    start: date
    planned_hours: float
    logged_hours: float | None = Field(description="null for weeks still to come")


class PlanView(BaseModel):
    plan: dict[str, Any] = Field(description="the plan, as `aipath plan --json` prints it")
    pace: str
    weeks: list[WeekHours]
    timeline_figure: dict[str, Any] = Field(description="Plotly figure (JSON) of the phases")
    hours_figure: dict[str, Any] = Field(description="Plotly figure (JSON) of the weekly hours")


# -------------------------------------------------------------------------------- portfolio
class AuditView(BaseModel):
    at: datetime
    path: str
    kind: str | None
    score: int
    report: AuditReport | None


class ProjectView(BaseModel):
    id: str
    title: str
    phase: int
    description: str
    kind: str | None
    due: date | None
    done: bool


class PortfolioView(BaseModel):
    audits: list[AuditView]
    projects: list[ProjectView]
    kinds: list[str]


# ---------------------------------------------------------------------------------- writing
class NoteIn(BaseModel):
    text: str = Field(max_length=20_000)


class MarkIn(BaseModel):
    state: Literal["done", "skipped", "pending"]


class StudyIn(BaseModel):
    duration: str = Field(description="time spent: 90m, 1.5h, 2h30m or 2:30", max_length=32)
    resource_id: str | None = None
    topic_id: str | None = None
    note: str | None = Field(default=None, max_length=2000)


class SolutionIn(BaseModel):
    confirm: bool = Field(
        default=False, description="reveal before passing (recorded in your progress)"
    )


class ProfileView(BaseModel):
    """The learner's profile and the choices the form offers (as `aipath profile`)."""

    hours_per_week: float
    background: str
    track: str | None
    start: date
    saved: bool = Field(description="false while the default plan is in use")
    backgrounds: list[str]
    tracks: list[str]


class ProfileIn(BaseModel):
    hours_per_week: float | None = Field(default=None, ge=1, le=100)
    background: str | None = Field(default=None, max_length=32)
    track: str | None = Field(default=None, max_length=32, description='"none" clears it')
    start: date | None = None


class SearchResult(BaseModel):
    kind: str = Field(description="lab, skill, topic, resource or tool")
    id: str
    title: str
    detail: str
    url: str = Field(description="where the dashboard shows it (a resource: its own address)")


class Saved(BaseModel):
    ok: bool = True
    message: str
