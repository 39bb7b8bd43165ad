"""`aipath plan` and `aipath status` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from typer.testing import CliRunner

from aipath.cli import app
from aipath.errors import AipathError
from aipath.progress import Profile, ProgressStore

runner = CliRunner()


@pytest.fixture(autouse=True)
def _stable_labs(fixture_labs: Path) -> None:
    """Plan against the small fixture catalogue (one lab, p1-tiny, on p1.python.numpy)."""


def aipath(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def aipath_fails(*args: str) -> str:
    """Run a command that must fail with a learner-facing error; return the error text."""
    result = runner.invoke(app, list(args), catch_exceptions=True)
    assert result.exit_code != 0, result.output
    if isinstance(result.exception, AipathError):
        return str(result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    return result.output


def plan_json(db_url: str, *args: str) -> dict[str, object]:
    data = json.loads(aipath("plan", "--db", db_url, "--today", "2026-12-01", "--json", *args))
    assert isinstance(data, dict)
    return data


def months(a: str, b: str) -> float:
    return (date.fromisoformat(b) - date.fromisoformat(a)).days / (365.25 / 12)


def days(data: dict[str, object]) -> int:
    return (date.fromisoformat(str(data["finish"])) - date.fromisoformat(str(data["start"]))).days


def test_acceptance_numbers(db_url: str) -> None:
    base = plan_json(db_url, "--start", "2027-01-04", "--hours", "20", "--background", "beginner")
    assert base["start"] == "2027-01-04"
    assert 17 <= months("2027-01-04", str(base["finish"])) <= 19
    phases = base["phases"]
    assert isinstance(phases, list)
    p3 = next(p for p in phases if p["id"] == "p3")
    assert p3["start"] <= base["job_ready"] <= p3["end"]

    fast = plan_json(db_url, "--hours", "40")
    assert 0.45 <= days(fast) / days(base) <= 0.60

    dev = plan_json(db_url, "--hours", "20", "--background", "developer")
    assert dev["finish"] < base["finish"]
    assert dev["discounts"]

    with ProgressStore.open(db_url) as store:  # the last plan's profile is stored
        assert store.get_profile() == Profile(
            start=date(2027, 1, 4), hours_per_week=20, background="developer"
        )


def test_labs_get_target_weeks_and_passing_counts(db_url: str) -> None:
    data = plan_json(db_url, "--start", "2027-01-04", "--hours", "20")
    assert data["labs"] == [
        {
            "id": "p1-tiny",
            "title": "Tiny fixture lab",
            "phase": 1,
            "week": 2,  # NumPy is the first 22 h of phase 1: done during week 2
            "due": "2027-01-11",
            "done": False,
            "projected_due": None,
        }
    ]
    with ProgressStore.open(db_url) as store:
        store.record_check("p1-tiny", "failed", 0.2)
        store.record_check("p1-tiny", "passed", 0.2)
    data = plan_json(db_url)
    assert data["labs"][0]["done"] is True  # type: ignore[index]
    out = aipath("status", "--db", db_url, "--today", "2027-01-05")
    assert "Labs passed: 1/1" in out


def test_plan_keeps_the_profile_between_runs(db_url: str) -> None:
    plan_json(db_url, "--start", "2027-02-01", "--hours", "12", "--track", "agents")
    again = plan_json(db_url)
    assert again["start"] == "2027-02-01"
    assert again["hours_per_week"] == 12
    assert again["track"] == "agents"


def test_plan_writes_calendar_and_markdown(db_url: str, tmp_path: Path) -> None:
    ics, md = tmp_path / "plan.ics", tmp_path / "plan.md"
    out = aipath(
        "plan", "--db", db_url, "--start", "2027-01-04", "--ics", str(ics), "--markdown", str(md)
    )
    assert "Job-ready" in out and "This week" in out and "Nothing discounted" in out
    cal = Calendar.from_ical(ics.read_bytes())
    assert any(str(ev["uid"]) == "job-ready@aipath" for ev in cal.walk("VEVENT"))
    assert "# My AI-engineer plan" in md.read_text()


def test_plan_output_explains_discounts(db_url: str) -> None:
    out = aipath("plan", "--db", db_url, "--start", "2027-01-04", "--background", "data-scientist")
    assert "Taken off the plan" in out
    assert "NumPy and pandas" in out


def test_replanning_after_logged_study(db_url: str) -> None:
    start = date.today() - timedelta(days=14)  # enough days for a pace to be measured
    with ProgressStore.open(db_url) as store:
        store.set_profile(Profile(start=start, hours_per_week=20))
    for _ in range(2):
        aipath("log", "4h", "--db", db_url, "--on", start.isoformat())
    data = plan_json(db_url)
    assert data["pace"]["status"] == "not-started" or data["original_finish"]  # type: ignore[index]
    today = date.today().isoformat()
    data = json.loads(aipath("plan", "--db", db_url, "--today", today, "--json"))
    pace = data["pace"]
    assert pace["status"] in {"ahead", "behind", "on-track"}
    assert pace["spent_hours"] == 8
    assert data["projected_finish"] and data["original_finish"]


def test_status_shows_bars_pace_streak_and_next(db_url: str) -> None:
    aipath("plan", "--db", db_url, "--start", "2027-01-04")
    with ProgressStore.open(db_url) as store:
        store.mark("p1.git", "done")
    out = aipath("status", "--db", db_url, "--today", "2027-01-04")
    assert "1. Foundations" in out and "━" in out
    assert "Pace:" in out and "Streak:" in out and "Job-ready:" in out
    assert out.split("Next")[1].count("due") == 3


def test_status_without_a_plan_says_so(db_url: str) -> None:
    out = aipath("status", "--db", db_url)
    assert "no plan yet" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "04/01/2027"], "--start '04/01/2027' is not a date"),
        (["--background", "wizard"], "unknown background 'wizard'"),
        (["--track", "robotics"], "unknown track 'robotics'"),
        (["--hours", "0"], "hours per week"),
    ],
)
def test_plan_rejects_bad_options(db_url: str, args: list[str], message: str) -> None:
    assert message in aipath_fails("plan", "--db", db_url, *args)


def test_no_projection_from_one_evening(db_url: str) -> None:
    """Day one: one lab and 1h30m logged is not a pace; the plan says when it will be."""
    today = date.today()
    with ProgressStore.open(db_url) as store:
        store.set_profile(Profile(start=today, hours_per_week=20))
    aipath("log", "1h30m", "--db", db_url)
    data = json.loads(aipath("plan", "--db", db_url, "--json"))
    assert data["pace"]["status"] == "measuring"
    assert data["projected_finish"] is None
    out = aipath("status", "--db", db_url)
    flat = " ".join(out.split())
    assert "pace is measured after 5 h over 7 days" in flat
    assert "over 1 day" in flat and "1 days" not in flat


def test_profile_command_shows_and_changes_the_profile(db_url: str) -> None:
    out = aipath("profile", "--hours", "15", "--background", "developer", "--db", db_url)
    assert "profile saved: 15 h/week, developer" in " ".join(out.split())
    out = aipath("profile", "--track", "nlp", "--db", db_url)
    assert "track nlp" in out
    out = aipath("profile", "--track", "none", "--db", db_url)
    assert "no track yet" in out
    assert "profile:" in aipath("profile", "--db", db_url)


def test_plan_options_say_that_they_are_kept(db_url: str) -> None:
    aipath("plan", "--db", db_url, "--hours", "20")
    out = aipath("plan", "--db", db_url, "--hours", "5")
    assert "profile saved: 5 h/week" in " ".join(out.split())
