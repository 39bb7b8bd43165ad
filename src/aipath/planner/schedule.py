"""The schedule: a pure function from roadmap, profile and history to dated milestones.

The timeline is measured in study hours.  Each phase keeps the hour budget the
roadmap gives it at the career-changer pace; inside a phase the budget is
spread over the learner's skills in proportion to their hours, and the
background discounts (:mod:`aipath.planner.discounts`) shrink matching skills.
An hour mark ``h`` becomes a date by the weekly commitment:
``start + h / hours_per_week`` weeks.  A lab is due when the last skill it
practises has been studied; a portfolio project when every skill it uses has.

Re-planning: once study time is recorded, the pace is the minutes actually
spent (logged plus measured lab time) per planned minute over the last
:data:`PACE_WINDOW_DAYS` days.  Projected dates assume the hours already spent
count as progress and the rest goes at ``hours_per_week × pace``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from aipath.planner.discounts import Discount, rules_for
from aipath.planner.done import lab_done, project_done, skill_done
from aipath.planner.model import (
    DiscountApplied,
    JobReadyInput,
    LabInput,
    LabPlan,
    PaceReport,
    PhaseInput,
    PhasePlan,
    Plan,
    PlanProgress,
    ProjectInput,
    ProjectPlan,
    SkillPlan,
    WorkItem,
)
from aipath.progress.types import Profile

PACE_WINDOW_DAYS = 28
ON_TRACK_DAYS = 3  # projected finish within this many days of the original counts as on track
SKIPPED_RULE = "marked-skipped"
MAX_OVERDUE_SHOWN = 3


def date_at(start: date, hours: float, hours_per_week: float) -> date:
    """The day on which ``hours`` of study have been done at the weekly commitment."""
    return start + timedelta(days=round(hours / hours_per_week * 7))


def last_day(start: date, hours: float, hours_per_week: float) -> date:
    """The last working day of a stretch that ends at hour mark ``hours``."""
    if hours <= 0:
        return start
    return date_at(start, hours, hours_per_week) - timedelta(days=1)


def week_of(start: date, day: date) -> int:
    """1-based plan week containing ``day`` (week 1 starts on the start date)."""
    return max(1, (day - start).days // 7 + 1)


@dataclass
class _Skill:
    id: str
    title: str
    topic: str
    phase: int
    hours: float
    base: float
    start_h: float = 0.0
    end_h: float = 0.0


def _matching_rule(skill_id: str, topic_id: str, rules: Iterable[Discount]) -> Discount | None:
    for rule in rules:
        if skill_id in rule.targets or topic_id in rule.targets:
            return rule
    return None


def _lay_out(
    phases: Sequence[PhaseInput],
    profile: Profile,
    marks: dict[str, str],
) -> tuple[
    list[tuple[PhaseInput, float, float, float]], list[_Skill], list[DiscountApplied], list[str]
]:
    """Place every skill on the hour axis; returns phases with (base, start_h, end_h)."""
    rules = rules_for(profile.background)
    saved: dict[str, float] = {}
    saved_skills: dict[str, list[str]] = {}
    skipped_hours = 0.0
    skipped_ids: list[str] = []
    notes: list[str] = []
    placed_phases: list[tuple[PhaseInput, float, float, float]] = []
    skills: list[_Skill] = []
    cursor = 0.0
    for phase in sorted(phases, key=lambda p: p.number):
        track: str | None = profile.track
        if phase.tracks and track not in phase.tracks:
            if track is not None:
                notes.append(
                    f"phase {phase.number} has no {track!r} track; planned with "
                    f"{phase.tracks[0]!r} instead"
                )
            else:
                notes.append(
                    f"no specialization chosen: phase {phase.number} is planned with the "
                    f"{phase.tracks[0]!r} track as a stand-in (choose one with --track "
                    f"{'|'.join(phase.tracks)})"
                )
            track = phase.tracks[0]
        topics = [t for t in phase.topics if t.track is None or t.track == track]
        raw = sum(t.hours for t in topics)
        scale = phase.hours / raw if raw > 0 else 0.0
        phase_start = cursor
        for topic in topics:
            for skill in topic.skills:
                base = skill.hours * scale
                keep = 1.0
                if "skipped" in (marks.get(skill.id), marks.get(topic.id)):
                    keep = 0.0
                    skipped_hours += base
                    skipped_ids.append(skill.id)
                else:
                    rule = _matching_rule(skill.id, topic.id, rules)
                    if rule is not None:
                        keep = rule.keep
                        saved[rule.rule] = saved.get(rule.rule, 0.0) + base * (1 - keep)
                        saved_skills.setdefault(rule.rule, []).append(skill.id)
                hours = base * keep
                skills.append(
                    _Skill(
                        id=skill.id,
                        title=skill.title,
                        topic=topic.id,
                        phase=phase.number,
                        hours=hours,
                        base=base,
                        start_h=cursor,
                        end_h=cursor + hours,
                    )
                )
                cursor += hours
        placed_phases.append((phase, phase.hours if raw > 0 else 0.0, phase_start, cursor))
    applied = [
        DiscountApplied(
            rule=r.rule,
            label=r.label,
            keep=r.keep,
            hours_saved=round(saved[r.rule], 1),
            reason=r.reason,
            skills=tuple(saved_skills[r.rule]),
        )
        for r in rules
        if saved.get(r.rule, 0.0) > 0
    ]
    if skipped_hours > 0:
        applied.append(
            DiscountApplied(
                rule=SKIPPED_RULE,
                label="Topics and skills you marked skipped",
                keep=0.0,
                hours_saved=round(skipped_hours, 1),
                reason="you chose to skip them (aipath mark … pending puts them back)",
                skills=tuple(skipped_ids),
            )
        )
    return placed_phases, skills, applied, notes


# Below this share of the planned minutes the measured pace is too thin to project from.
MIN_PROJECTED_PACE = 0.05
# A projection never reaches further than this (a guard against absurd but valid paces).
MAX_PROJECTION_DAYS = 365 * 30
# No projection until this much has been measured: one evening's log is not a pace, and a plan
# that swings from "behind by 237 days" to "ahead by 422" misleads more than it tells.
MIN_PACE_HOURS = 5.0
MIN_PACE_DAYS = 7
# Once measured, the pace projected with stays within these multiples of the planned hours.
PACE_BOUNDS = (0.25, 3.0)


def _measure_pace(
    profile: Profile, progress: PlanProgress, today: date, original_finish: date
) -> tuple[PaceReport, float | None]:
    """The pace report, and the rate (hours per week) to project with (``None``: don't project)."""
    start, hpw = profile.start, profile.hours_per_week
    recorded = {d: m for d, m in progress.daily_minutes.items() if start <= d <= today and m > 0}
    spent_h = sum(recorded.values()) / 60.0
    if today < start:
        return PaceReport("not-started", None, 0, 0.0, 0.0, 0.0, None), None
    if not recorded:
        return PaceReport("no-history", None, 0, 0.0, 0.0, 0.0, None), None
    window = min(PACE_WINDOW_DAYS, (today - start).days + 1)
    measured_days = (today - min(recorded)).days + 1
    if spent_h < MIN_PACE_HOURS or measured_days < MIN_PACE_DAYS:
        report = PaceReport(
            "measuring", None, measured_days, spent_h * 60.0, 0.0, round(spent_h, 2), None
        )
        return report, None
    first = today - timedelta(days=window - 1)
    actual = sum(m for d, m in recorded.items() if d >= first)
    planned = hpw * 60.0 * window / 7.0
    pace = actual / planned if planned > 0 else 0.0
    if pace < MIN_PROJECTED_PACE:
        # A few seconds of checks (or nothing lately) is not a pace to project a date from:
        # at 1e-5 of the plan the finish would be millennia away.
        report = PaceReport(
            "stalled", round(pace, 3), window, actual, planned, round(spent_h, 2), None
        )
        return report, None
    low, high = PACE_BOUNDS
    return PaceReport(
        "measured", round(pace, 3), window, actual, planned, round(spent_h, 2), None
    ), (hpw * min(max(pace, low), high))


@dataclass
class _Projection:
    """Dates on the hour axis: planned (from the profile) and projected (from the measured pace)."""

    start: date
    hours_per_week: float
    today: date
    spent: float
    rate: float | None

    def planned_last_day(self, h: float) -> date:
        return last_day(self.start, h, self.hours_per_week)

    def projected(self, h: float) -> date | None:
        if self.rate is None or h <= self.spent:
            return None
        days = round((h - self.spent) / self.rate * 7)
        return self.today + timedelta(days=min(days, MAX_PROJECTION_DAYS))

    def projected_last_day(self, h: float) -> date | None:
        day = self.projected(h)
        return None if day is None else max(self.today, day - timedelta(days=1))

    def work(
        self,
        kind: str,
        ident: str,
        title: str,
        hours: float,
        due_h: float,
        *,
        overdue: bool = False,
    ) -> WorkItem:
        return WorkItem(
            kind,
            ident,
            title,
            hours,
            self.planned_last_day(due_h),
            overdue,
            self.projected_last_day(due_h),
        )


@dataclass
class _Placed:
    """The roadmap laid out on the hour axis, with what the learner has done."""

    skills: list[_Skill]
    lab_rows: list[tuple[LabInput, float]]
    left_out: list[str]
    marks: dict[str, str]
    progress: PlanProgress

    def lab_done(self, lab: LabInput) -> bool:
        return lab_done(lab.id, self.progress.passed_labs, self.marks)

    def skill_done(self, s: _Skill) -> bool:
        mine = [lab.id for lab, _ in self.lab_rows if s.id in lab.skills]
        return skill_done(s.id, s.topic, mine, self.progress.passed_labs, self.marks)


def _place_labs(
    labs: Sequence[LabInput], skills: list[_Skill]
) -> tuple[list[tuple[LabInput, float]], list[str]]:
    """Each lab is due at the end of the last planned skill it practises (and after its prerequisites)."""
    skill_by_id = {s.id: s for s in skills}
    lab_rows: list[tuple[LabInput, float]] = []
    left_out: list[str] = []
    due_by_lab: dict[str, float] = {}
    for lab in labs:
        ends = [skill_by_id[s].end_h for s in lab.skills if s in skill_by_id]
        if not ends:
            left_out.append(lab.id)
            continue
        due = max([*ends, *(due_by_lab.get(r, 0.0) for r in lab.requires)])
        due_by_lab[lab.id] = due
        lab_rows.append((lab, due))
    return lab_rows, left_out


def _pace_status(pace: PaceReport, projected_finish: date | None, finish: date) -> PaceReport:
    """Ahead, behind or on track, once a finish could be projected."""
    if projected_finish is None:
        return pace
    delta = (projected_finish - finish).days
    status = "on-track" if abs(delta) <= ON_TRACK_DAYS else ("behind" if delta > 0 else "ahead")
    return PaceReport(
        status,
        pace.pace,
        pace.window_days,
        pace.actual_minutes,
        pace.planned_minutes,
        pace.spent_hours,
        delta,
    )


def _phase_plans(
    placed_phases: list[tuple[PhaseInput, float, float, float]], placed: _Placed, when: _Projection
) -> list[PhasePlan]:
    plans: list[PhasePlan] = []
    for phase, base, h0, h1 in placed_phases:
        mine = [s for s in placed.skills if s.phase == phase.number]
        total = sum(s.hours for s in mine)
        done = sum(s.hours for s in mine if placed.skill_done(s))
        plans.append(
            PhasePlan(
                id=phase.id,
                number=phase.number,
                title=phase.title,
                base_hours=round(base, 1),
                hours=round(h1 - h0, 1),
                start=date_at(when.start, h0, when.hours_per_week),
                end=when.planned_last_day(h1),
                start_h=round(h0, 2),
                end_h=round(h1, 2),
                done_fraction=round(done / total, 4) if total > 0 else 1.0,
                projected_start=when.projected(h0) if h0 > when.spent else None,
                projected_end=when.projected_last_day(h1),
            )
        )
    return plans


def _lab_plans(placed: _Placed, when: _Projection) -> tuple[LabPlan, ...]:
    return tuple(
        LabPlan(
            id=lab.id,
            title=lab.title,
            phase=lab.phase,
            topic=lab.topic,
            minutes=lab.minutes,
            due_h=round(due, 2),
            week=week_of(when.start, when.planned_last_day(due)),
            due=when.planned_last_day(due),
            done=placed.lab_done(lab),
            projected_due=None if placed.lab_done(lab) else when.projected_last_day(due),
        )
        for lab, due in sorted(placed.lab_rows, key=lambda row: row[1])
    )


def _project_plans(
    projects: Sequence[ProjectInput], placed: _Placed, when: _Projection
) -> list[ProjectPlan]:
    skill_by_id = {s.id: s for s in placed.skills}
    plans: list[ProjectPlan] = []
    for proj in projects:
        ends = [skill_by_id[s].end_h for s in proj.skills if s in skill_by_id]
        if not ends:
            continue
        due = max(ends)
        done = project_done(proj.id, placed.progress.done_projects, placed.marks)
        plans.append(
            ProjectPlan(
                id=proj.id,
                title=proj.title,
                phase=proj.phase,
                due_h=round(due, 2),
                week=week_of(when.start, when.planned_last_day(due)),
                due=when.planned_last_day(due),
                done=done,
                projected_due=None if done else when.projected_last_day(due),
            )
        )
    plans.sort(key=lambda p: p.due_h)
    return plans


def _job_ready_hours(
    job: JobReadyInput, phase_plans: list[PhasePlan], total_h: float, notes: list[str]
) -> float:
    """Job-ready is a fraction of the way through its phase."""
    job_phase = next((p for p in phase_plans if p.number == job.phase), None)
    if job_phase is None:
        notes.append(f"the roadmap has no phase {job.phase}; job-ready is set at the finish")
        return total_h
    return job_phase.start_h + job.fraction * (job_phase.end_h - job_phase.start_h)


def _blockers(
    job: JobReadyInput,
    job_h: float,
    lab_plans: tuple[LabPlan, ...],
    project_plans: list[ProjectPlan],
    when: _Projection,
) -> list[WorkItem]:
    """What stands between the learner and the job-ready point."""
    blockers = [
        when.work("lab", lab.id, lab.title, lab.minutes / 60.0, lab.due_h)
        for lab in lab_plans
        if not lab.done and lab.phase <= job.phase and lab.due_h <= job_h + 1e-9
    ]
    blockers += [
        when.work("project", p.id, p.title, 0.0, p.due_h)
        for p in project_plans
        if not p.done and p.phase <= job.phase
    ]
    return blockers


def _this_week(
    position: float,
    placed: _Placed,
    lab_plans: tuple[LabPlan, ...],
    project_plans: list[ProjectPlan],
    when: _Projection,
) -> list[WorkItem]:
    """Overdue labs, the study hours that fall in this week, and what falls due in it."""
    week_end = position + when.hours_per_week
    items: list[WorkItem] = [
        when.work("lab", lp.id, lp.title, lp.minutes / 60.0, lp.due_h, overdue=True)
        for lp in lab_plans
        if not lp.done and lp.due_h <= position
    ][:MAX_OVERDUE_SHOWN]
    for s in placed.skills:
        if s.hours <= 0 or placed.skill_done(s) or s.end_h <= position or s.start_h >= week_end:
            continue
        overlap = min(s.end_h, week_end) - max(s.start_h, position)
        items.append(when.work("study", s.id, s.title, round(overlap, 1), s.end_h))
    items += [
        when.work("lab", lp.id, lp.title, lp.minutes / 60.0, lp.due_h)
        for lp in lab_plans
        if not lp.done and position < lp.due_h <= week_end
    ]
    items += [
        when.work("project", pp.id, pp.title, 0.0, pp.due_h)
        for pp in project_plans
        if not pp.done and position < pp.due_h <= week_end
    ]
    return items


def _next_up(
    placed: _Placed,
    lab_plans: tuple[LabPlan, ...],
    project_plans: list[ProjectPlan],
    when: _Projection,
) -> tuple[WorkItem, ...]:
    """Unfinished labs whose prerequisites are done, projects, and reading-only skills."""
    finished = {lp.id for lp in lab_plans if lp.done}
    requires = {lab.id: lab.requires for lab, _ in placed.lab_rows}
    practised = {s for lab, _ in placed.lab_rows for s in lab.skills}
    candidates: list[tuple[float, WorkItem]] = [
        (lp.due_h, when.work("lab", lp.id, lp.title, lp.minutes / 60.0, lp.due_h))
        for lp in lab_plans
        if not lp.done and all(r in finished for r in requires.get(lp.id, ()))
    ]
    candidates += [
        (pp.due_h, when.work("project", pp.id, pp.title, 0.0, pp.due_h))
        for pp in project_plans
        if not pp.done
    ]
    candidates += [
        (s.end_h, when.work("study", s.id, s.title, round(s.hours, 1), s.end_h))
        for s in placed.skills
        if s.hours > 0 and not placed.skill_done(s) and s.id not in practised
    ]
    candidates.sort(key=lambda c: c[0])
    return tuple(item for _, item in candidates[:3])


def build_plan(
    phases: Sequence[PhaseInput],
    labs: Sequence[LabInput],
    projects: Sequence[ProjectInput],
    profile: Profile,
    *,
    job_ready: JobReadyInput | None = None,
    progress: PlanProgress | None = None,
    today: date | None = None,
) -> Plan:
    """Schedule the roadmap for ``profile`` and project it from the recorded ``progress``."""
    job = job_ready or JobReadyInput()
    prog = progress or PlanProgress()
    now = today or date.today()
    start, hpw = profile.start, profile.hours_per_week
    marks = dict(prog.marks)

    placed_phases, skills, discounts, notes = _lay_out(phases, profile, marks)
    total_h = skills[-1].end_h if skills else 0.0
    base_total = sum(base for _, base, _, _ in placed_phases)
    lab_rows, left_out = _place_labs(labs, skills)
    placed = _Placed(skills, lab_rows, left_out, marks, prog)

    finish = last_day(start, total_h, hpw)
    pace, rate = _measure_pace(profile, prog, now, finish)
    when = _Projection(start, hpw, now, pace.spent_hours, rate)
    projected_finish: date | None = None
    if rate is not None:
        projected_finish = now if when.spent >= total_h else when.projected_last_day(total_h)
        pace = _pace_status(pace, projected_finish, finish)

    phase_plans = _phase_plans(placed_phases, placed, when)
    lab_plans = _lab_plans(placed, when)
    project_plans = _project_plans(projects, placed, when)
    job_h = _job_ready_hours(job, phase_plans, total_h, notes)

    # Where the learner stands on the hour axis: the hours they spent once any are recorded,
    # otherwise where the calendar says they should be.
    if now < start:
        position = 0.0
    elif pace.status == "no-history":
        position = (now - start).days / 7 * hpw
    else:
        position = when.spent

    return Plan(
        profile=profile,
        today=now,
        start=start,
        finish=finish,
        job_ready=last_day(start, job_h, hpw),
        job_ready_h=round(job_h, 2),
        job_ready_phase=job.phase,
        total_hours=round(total_h, 1),
        base_hours=round(base_total, 1),
        weeks=math.ceil(total_h / hpw) if total_h > 0 else 0,
        phases=tuple(phase_plans),
        skills=tuple(
            SkillPlan(
                id=s.id,
                title=s.title,
                topic=s.topic,
                phase=s.phase,
                hours=round(s.hours, 2),
                start_h=round(s.start_h, 2),
                end_h=round(s.end_h, 2),
                done=placed.skill_done(s),
                has_labs=any(s.id in lab.skills for lab, _ in lab_rows),
            )
            for s in skills
        ),
        labs=lab_plans,
        projects=tuple(project_plans),
        discounts=tuple(discounts),
        blockers=tuple(_blockers(job, job_h, lab_plans, project_plans, when)),
        pace=pace,
        projected_finish=projected_finish,
        projected_job_ready=when.projected_last_day(job_h) if rate is not None else None,
        this_week=tuple(_this_week(position, placed, lab_plans, project_plans, when)),
        next_up=_next_up(placed, lab_plans, project_plans, when),
        notes=tuple(notes),
        left_out_labs=tuple(left_out),
    )
