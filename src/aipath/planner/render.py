"""The plan as JSON, a Markdown page and an iCalendar file.

The JSON keys ``start``, ``finish``, ``job_ready``, ``hours_per_week``,
``phases[{id, start, end, hours}]`` and ``labs[{id, week}]`` are a contract
other tools read; everything else is extra and may grow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from aipath.planner.model import Plan, WorkItem

if TYPE_CHECKING:
    from icalendar import Event as CalEvent

BACKGROUND_LABELS = {
    "beginner": "career-changer starting from scratch",
    "developer": "developer",
    "data-scientist": "data scientist",
}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _item(item: WorkItem) -> dict[str, object]:
    return {
        "kind": item.kind,
        "id": item.id,
        "title": item.title,
        "hours": round(item.hours, 1),
        "due": item.due.isoformat(),
        "projected_due": _iso(item.projected_due),
        "overdue": item.overdue,
    }


def plan_to_json(plan: Plan) -> dict[str, object]:
    """The plan as JSON-ready data (dates ISO)."""
    p = plan.profile
    return {
        "start": plan.start.isoformat(),
        "finish": plan.finish.isoformat(),
        "job_ready": plan.job_ready.isoformat(),
        "hours_per_week": p.hours_per_week,
        "background": p.background,
        "track": p.track,
        "today": plan.today.isoformat(),
        "weeks": plan.weeks,
        "total_hours": plan.total_hours,
        "base_hours": plan.base_hours,
        "original_finish": plan.finish.isoformat(),
        "projected_finish": _iso(plan.projected_finish),
        "original_job_ready": plan.job_ready.isoformat(),
        "projected_job_ready": _iso(plan.projected_job_ready),
        "job_ready_phase": plan.job_ready_phase,
        "pace": {
            "status": plan.pace.status,
            "pace": plan.pace.pace,
            "window_days": plan.pace.window_days,
            "actual_minutes": round(plan.pace.actual_minutes, 1),
            "planned_minutes": round(plan.pace.planned_minutes, 1),
            "spent_hours": plan.pace.spent_hours,
            "delta_days": plan.pace.delta_days,
        },
        "phases": [
            {
                "id": ph.id,
                "number": ph.number,
                "title": ph.title,
                "start": ph.start.isoformat(),
                "end": ph.end.isoformat(),
                "hours": ph.hours,
                "base_hours": ph.base_hours,
                "done_fraction": ph.done_fraction,
                "projected_start": _iso(ph.projected_start),
                "projected_end": _iso(ph.projected_end),
            }
            for ph in plan.phases
        ],
        "labs": [
            {
                "id": lab.id,
                "title": lab.title,
                "phase": lab.phase,
                "week": lab.week,
                "due": lab.due.isoformat(),
                "done": lab.done,
                "projected_due": _iso(lab.projected_due),
            }
            for lab in plan.labs
        ],
        "projects": [
            {
                "id": pr.id,
                "title": pr.title,
                "phase": pr.phase,
                "week": pr.week,
                "due": pr.due.isoformat(),
                "done": pr.done,
                "projected_due": _iso(pr.projected_due),
            }
            for pr in plan.projects
        ],
        "job_ready_blockers": [_item(b) for b in plan.blockers],
        "discounts": [
            {
                "rule": d.rule,
                "label": d.label,
                "keep": d.keep,
                "hours_saved": d.hours_saved,
                "reason": d.reason,
                "skills": list(d.skills),
            }
            for d in plan.discounts
        ],
        "this_week": [_item(i) for i in plan.this_week],
        "next_up": [_item(i) for i in plan.next_up],
        "notes": list(plan.notes),
        "labs_not_in_plan": list(plan.left_out_labs),
    }


def _span(count: int) -> str:
    """``1`` → ``1 day``, ``3`` → ``3 days``."""
    return "1 day" if count == 1 else f"{count} days"


def _days(count: int) -> str:
    """``1`` → ``day``, ``3`` → ``3 days``: as in "over the last day"."""
    return "day" if count == 1 else _span(count)


def describe_pace(plan: Plan) -> str:
    """One sentence on the measured pace, shared by every front end."""
    pace = plan.pace
    if pace.status == "not-started":
        return f"the plan starts on {plan.start.isoformat()}"
    if pace.status == "no-history":
        return "no study time recorded yet: dates are the original plan"
    if pace.status == "measuring":
        from aipath.planner.schedule import MIN_PACE_DAYS, MIN_PACE_HOURS

        return (
            f"pace is measured after {MIN_PACE_HOURS:g} h over {MIN_PACE_DAYS} days; so far "
            f"{pace.spent_hours:g} h over {_span(pace.window_days)}: dates are the original plan"
        )
    if pace.status == "stalled":
        return (
            f"almost nothing recorded in the last {_days(pace.window_days)}: no projection "
            f"(log study with `aipath log`)"
        )
    assert pace.pace is not None and pace.delta_days is not None
    ratio = f"{pace.pace:.0%} of the planned time over the last {_days(pace.window_days)}"
    days = abs(pace.delta_days)
    if pace.status == "on-track":
        return f"on track — {ratio}"
    word = "ahead" if pace.status == "ahead" else "behind"
    return f"{word} by {days} days — {ratio}"


def plan_to_markdown(plan: Plan) -> str:
    """A self-contained Markdown page of the plan."""
    p = plan.profile
    lines = [
        "# My AI-engineer plan",
        "",
        f"- Start: **{plan.start.isoformat()}**, {p.hours_per_week:g} h/week, background: "
        f"{BACKGROUND_LABELS[p.background]}" + (f", track: {p.track}" if p.track else ""),
        f"- Finish: **{plan.finish.isoformat()}** ({plan.weeks} weeks, {plan.total_hours:g} h)",
        f"- Job-ready: **{plan.job_ready.isoformat()}** (about halfway through phase "
        f"{plan.job_ready_phase})",
        f"- Pace: {describe_pace(plan)}",
    ]
    if plan.projected_finish is not None:
        lines.append(f"- Projected finish at the measured pace: **{plan.projected_finish}**")
    lines += [
        "",
        "## Phases",
        "",
        "| Phase | Start | End | Hours | Projected end |",
        "|---|---|---|---|---|",
    ]
    for ph in plan.phases:
        lines.append(
            f"| {ph.number}. {ph.title} | {ph.start} | {ph.end} | {ph.hours:g} | "
            f"{ph.projected_end or '—'} |"
        )
    if plan.discounts:
        lines += ["", "## Taken off the plan, and why", ""]
        for d in plan.discounts:
            lines.append(f"- **{d.label}**: −{d.hours_saved:g} h (kept {d.keep:.0%}) — {d.reason}")
    lines += ["", "## Labs", ""]
    if plan.labs:
        lines += ["| Week | Due | Lab | Done |", "|---|---|---|---|"]
    else:
        lines.append("No labs in the catalogue for this plan.")
    for lab in plan.labs:
        lines.append(
            f"| {lab.week} | {lab.due} | `{lab.id}` {lab.title} | {'✓' if lab.done else ''} |"
        )
    if plan.projects:
        lines += [
            "",
            "## Portfolio projects",
            "",
            "| Week | Due | Project | Done |",
            "|---|---|---|---|",
        ]
        for pr in plan.projects:
            lines.append(
                f"| {pr.week} | {pr.due} | `{pr.id}` {pr.title} | {'✓' if pr.done else ''} |"
            )
    lines += ["", "## Between you and job-ready", ""]
    if plan.blockers:
        lines += [f"- {b.kind} `{b.id}` {b.title} (due {b.due})" for b in plan.blockers]
    else:
        lines.append("- nothing: every lab and project up to the job-ready point is done")
    lines += ["", "## This week", ""]
    lines += [
        f"- {i.kind} `{i.id}` {i.title}" + (" (overdue)" if i.overdue else "")
        for i in plan.this_week
    ] or ["- nothing scheduled"]
    if plan.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in plan.notes]
    return "\n".join(lines) + "\n"


def _all_day(uid: str, summary: str, day: date, stamp: datetime, description: str = "") -> CalEvent:
    from icalendar import Event as CalEvent

    ev = CalEvent()
    ev.add("uid", uid)
    ev.add("dtstamp", stamp)
    ev.add("summary", summary)
    ev.add("dtstart", day)
    ev.add("dtend", day + timedelta(days=1))
    if description:
        ev.add("description", description)
    return ev


def plan_to_ics(plan: Plan, *, stamp: datetime | None = None, block_hour: int = 18) -> bytes:
    """A calendar: a weekly study block from start to finish, and the milestones as all-day events.

    UIDs are stable, so re-importing an updated plan moves the events instead of duplicating them.
    """
    from icalendar import Calendar
    from icalendar import Event as CalEvent

    when = stamp or datetime.combine(plan.today, time(0), UTC)
    cal = Calendar()
    cal.add("prodid", "-//aipath//study plan//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "aipath study plan")

    hpw = plan.profile.hours_per_week
    block = CalEvent()
    block.add("uid", "study-block@aipath")
    block.add("dtstamp", when)
    block.add("summary", f"aipath study block ({hpw:g} h/week planned)")
    start = datetime.combine(plan.start, time(block_hour, 0))
    block.add("dtstart", start)
    block.add("duration", timedelta(hours=min(hpw / 5, 8)))
    block.add("rrule", {"freq": "weekly", "until": datetime.combine(plan.finish, time(23, 59))})
    block.add(
        "description",
        f"The weekly commitment is {hpw:g} h; this block is a reminder — spread the hours over the "
        f"week as suits you. `aipath status` shows this week's work.",
    )
    cal.add_component(block)

    for ph in plan.phases:
        cal.add_component(
            _all_day(
                f"phase-{ph.id}-start@aipath",
                f"aipath: phase {ph.number} starts — {ph.title}",
                ph.start,
                when,
            )
        )
        cal.add_component(
            _all_day(
                f"phase-{ph.id}-end@aipath",
                f"aipath: phase {ph.number} ends — {ph.title}",
                ph.end,
                when,
            )
        )
    blockers = "\n".join(f"- {b.kind} {b.id}: {b.title}" for b in plan.blockers)
    cal.add_component(
        _all_day(
            "job-ready@aipath",
            "aipath: job-ready — start applying",
            plan.job_ready,
            when,
            f"Still to do before then:\n{blockers}" if blockers else "",
        )
    )
    cal.add_component(_all_day("finish@aipath", "aipath: roadmap finished", plan.finish, when))
    return bytes(cal.to_ical())
