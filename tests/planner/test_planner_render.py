"""The plan as a calendar and as a Markdown page."""

from __future__ import annotations

from datetime import date, datetime

from icalendar import Calendar
from mini_roadmap import MINI_LABS, MINI_PHASES, MINI_PROJECTS

from aipath.planner import Plan, build_plan, plan_to_ics, plan_to_markdown
from aipath.progress import Profile

PROFILE = Profile(start=date(2027, 1, 4), hours_per_week=15, background="developer", track="agents")


def _plan() -> Plan:
    return build_plan(MINI_PHASES, MINI_LABS, MINI_PROJECTS, PROFILE, today=date(2027, 1, 4))


def test_calendar_has_a_weekly_block_and_the_milestones() -> None:
    plan = _plan()
    cal = Calendar.from_ical(plan_to_ics(plan))
    events = {str(ev["uid"]): ev for ev in cal.walk("VEVENT")}
    block = events["study-block@aipath"]
    rule = block["rrule"]
    assert rule["FREQ"] == ["WEEKLY"]
    until = rule["UNTIL"][0]
    assert (until.date() if isinstance(until, datetime) else until) == plan.finish
    assert block.decoded("dtstart") == datetime(2027, 1, 4, 18, 0)
    assert events["job-ready@aipath"].decoded("dtstart") == plan.job_ready
    assert events["finish@aipath"].decoded("dtstart") == plan.finish
    for ph in plan.phases:
        assert events[f"phase-{ph.id}-start@aipath"].decoded("dtstart") == ph.start
        assert events[f"phase-{ph.id}-end@aipath"].decoded("dtstart") == ph.end
    assert "proj.tabular" in str(events["job-ready@aipath"]["description"])


def test_calendar_is_stable_for_the_same_plan() -> None:
    assert plan_to_ics(_plan()) == plan_to_ics(_plan())


def test_markdown_page() -> None:
    plan = _plan()
    page = plan_to_markdown(plan)
    assert page.startswith("# My AI-engineer plan")
    assert plan.finish.isoformat() in page and plan.job_ready.isoformat() in page
    assert "| 1. Foundations |" in page
    assert "Everyday git" in page  # the developer discount and its reason
    assert "`p5-react`" in page and "`p5-nlp`" not in page
