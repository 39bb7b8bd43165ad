"""The schedule as a pure function: dates, discounts, labs, job-ready and re-planning."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from mini_roadmap import MINI_LABS, MINI_PHASES, MINI_PROJECTS

from aipath.planner import JobReadyInput, Plan, PlanProgress, build_plan, plan_to_json
from aipath.planner.discounts import DISCOUNTS, all_targets, rules_for
from aipath.planner.schedule import date_at
from aipath.progress import Profile

START = date(2027, 1, 4)  # a Monday


def plan(
    hours: float = 20,
    background: str = "beginner",
    track: str | None = None,
    progress: PlanProgress | None = None,
    today: date = date(2026, 12, 1),
) -> Plan:
    profile = Profile(start=START, hours_per_week=hours, background=background, track=track)  # type: ignore[arg-type]
    return build_plan(
        MINI_PHASES,
        MINI_LABS,
        MINI_PROJECTS,
        profile,
        job_ready=JobReadyInput(3, 0.5),
        progress=progress,
        today=today,
    )


def months_between(a: date, b: date) -> float:
    return (b - a).days / (365.25 / 12)


def test_phases_follow_each_other_and_keep_the_roadmap_hours() -> None:
    p = plan()
    assert [ph.hours for ph in p.phases] == [260, 260, 346, 346, 346]
    assert p.phases[0].start == START
    for before, after in zip(p.phases, p.phases[1:], strict=False):
        assert after.start == before.end + timedelta(days=1)
    assert p.finish == p.phases[-1].end
    assert p.total_hours == pytest.approx(1558)
    assert 17 <= months_between(START, p.finish) <= 19


def test_more_hours_finish_proportionally_sooner() -> None:
    base = (plan(20).finish - START).days
    assert 0.45 <= (plan(40).finish - START).days / base <= 0.6
    assert (plan(10).finish - START).days / base == pytest.approx(2.0, rel=0.01)


def test_job_ready_is_halfway_through_phase_3() -> None:
    p = plan()
    p3 = p.phases[2]
    assert p3.start < p.job_ready < p3.end
    middle = p3.start + (p3.end - p3.start) / 2
    assert abs((p.job_ready - middle).days) <= 1


def test_background_discounts_say_what_and_why() -> None:
    beginner, developer, scientist = (
        plan(),
        plan(background="developer"),
        plan(background="data-scientist"),
    )
    assert beginner.discounts == ()
    assert developer.finish < beginner.finish
    assert scientist.finish < beginner.finish
    rules = {d.rule: d for d in developer.discounts}
    assert set(rules) == {"developer-python", "developer-git", "developer-ops"}
    py = rules["developer-python"]
    assert py.skills == ("p1.python.asyncio", "p1.python.testing")
    # 80 raw hours (scaled by 260/260) at 40 % kept → 48 h saved
    assert py.hours_saved == pytest.approx(48.0)
    assert py.reason
    assert developer.total_hours == pytest.approx(
        1558 - sum(d.hours_saved for d in developer.discounts), abs=0.2
    )
    # phase hours shrink only where the rules apply
    assert [ph.hours for ph in developer.phases][1:3] == [260, 346]
    assert {d.rule for d in scientist.discounts} == {
        "data-scientist-dataframes",
        "data-scientist-classical-ml",
        "data-scientist-math",
    }
    assert scientist.phases[1].hours < 260


def test_discount_table_is_well_formed() -> None:
    assert len({d.rule for d in DISCOUNTS}) == len(DISCOUNTS)
    for d in DISCOUNTS:
        assert 0 < d.keep < 1
        assert len(d.reason) > 20
    assert rules_for("beginner") == ()


def test_discount_targets_exist_in_the_packaged_roadmap() -> None:
    from aipath.roadmap import load_roadmap

    roadmap = load_roadmap()
    ids = {t.id for t in roadmap.all_topics()} | {s.id for s in roadmap.all_skills()}
    assert all_targets() <= ids, sorted(all_targets() - ids)


def test_labs_are_due_when_their_skills_are_studied() -> None:
    p = plan()
    weeks = {lab.id: lab.week for lab in p.labs}
    # numpy is the first 40 h of 260 → end of week 2
    assert weeks["p1-numpy"] == 2
    assert weeks["p1-numpy"] <= weeks["p1-asyncio"] <= weeks["p1-linalg"] < weeks["p2-pipeline"]
    assert [lab.week for lab in p.labs] == sorted(lab.week for lab in p.labs)
    for lab in p.labs:
        assert lab.due == date_at(START, lab.due_h, 20) - timedelta(days=1)
        phase = p.phases[lab.phase - 1]
        assert phase.start <= lab.due <= phase.end


def test_track_picks_the_phase_5_labs() -> None:
    agents = plan(track="agents")
    assert "p5-react" in {lab.id for lab in agents.labs}
    assert agents.left_out_labs == ("p5-nlp",)
    assert agents.notes == ()
    untracked = plan()
    assert untracked.left_out_labs == ("p5-react",)  # the first track stands in
    assert any("no specialization chosen" in n for n in untracked.notes)
    # a track changes what is studied, never how long phase 5 lasts
    assert agents.phases[4].hours == untracked.phases[4].hours == 346


def test_job_ready_blockers_are_unfinished_labs_and_projects_of_phases_1_to_3() -> None:
    p = plan()
    blockers = {(b.kind, b.id) for b in p.blockers}
    assert ("lab", "p3-a") in blockers  # due before the midpoint of phase 3
    assert ("lab", "p3-b") not in blockers  # due at the end of phase 3
    assert ("project", "proj.tabular") in blockers and ("project", "proj.rag") in blockers
    assert ("project", "proj.pipeline") not in blockers  # phase 4
    done = plan(
        progress=PlanProgress(
            passed_labs=frozenset({"p1-numpy", "p1-asyncio", "p1-linalg", "p2-pipeline", "p3-a"}),
            done_projects=frozenset({"proj.tabular"}),
            marks={"proj.rag": "done"},
        )
    )
    assert done.blockers == ()


def _history(per_day_minutes: float, days: int, today: date) -> dict[date, float]:
    return {today - timedelta(days=i): per_day_minutes for i in range(days)}


@pytest.mark.parametrize(
    ("share", "status"),
    [(1.0, "on-track"), (0.5, "behind"), (1.5, "ahead")],
)
def test_replanning_from_measured_pace(share: float, status: str) -> None:
    today = START + timedelta(days=55)  # 8 weeks in
    per_day = 20 * 60 / 7 * share
    p = plan(progress=PlanProgress(daily_minutes=_history(per_day, 56, today)), today=today)
    assert p.pace.status == status
    assert p.pace.pace == pytest.approx(share, rel=0.01)
    assert p.pace.window_days == 28
    assert p.projected_finish is not None and p.projected_job_ready is not None
    remaining_weeks = (1558 - p.pace.spent_hours) / (20 * share)
    expected = today + timedelta(days=round(remaining_weeks * 7)) - timedelta(days=1)
    assert abs((p.projected_finish - expected).days) <= 1
    if status == "behind":
        assert p.projected_finish > p.finish and p.pace.delta_days and p.pace.delta_days > 0
    if status == "ahead":
        assert p.projected_finish < p.finish
    doc = plan_to_json(p)
    assert doc["original_finish"] == p.finish.isoformat()
    assert doc["projected_finish"] == p.projected_finish.isoformat()
    assert all(ph["projected_end"] for ph in doc["phases"][1:])  # type: ignore[index,union-attr]


def test_no_history_keeps_the_original_plan() -> None:
    p = plan(today=START + timedelta(days=10))
    assert p.pace.status == "no-history"
    assert p.projected_finish is None
    assert plan(today=START - timedelta(days=3)).pace.status == "not-started"


def test_nothing_recent_is_stalled() -> None:
    today = START + timedelta(days=90)
    old = {START + timedelta(days=1): 600.0}
    p = plan(progress=PlanProgress(daily_minutes=old), today=today)
    assert p.pace.status == "stalled"
    assert p.projected_finish is None


def test_this_week_is_the_work_at_the_learners_position() -> None:
    first = plan(today=START)
    ids = [(i.kind, i.id) for i in first.this_week]
    assert ids == [("study", "p1.python.numpy")]
    assert first.this_week[0].hours == pytest.approx(20)
    second = plan(today=START + timedelta(days=7))
    assert ("lab", "p1-numpy") in [(i.kind, i.id) for i in second.this_week]
    # far behind the calendar with nothing passed: overdue labs come first
    late = plan(today=START + timedelta(days=70))
    assert late.this_week[0].overdue and late.this_week[0].id == "p1-numpy"


def test_next_up_respects_prerequisites() -> None:
    p = plan()
    # asyncio needs numpy first; testing has no lab, so it is read in its place
    assert [i.id for i in p.next_up] == ["p1-numpy", "p1.python.testing", "p1-linalg"]
    after = plan(progress=PlanProgress(passed_labs=frozenset({"p1-numpy"})))
    assert after.next_up[0].id == "p1-asyncio"


def test_marks_count_as_progress_or_remove_work() -> None:
    base = plan()
    marked = plan(progress=PlanProgress(marks={"p1.math": "done", "p1.git": "skipped"}))
    p1 = marked.phases[0]
    assert p1.hours == pytest.approx(200)  # git's 60 h skipped
    assert p1.done_fraction == pytest.approx(80 / 200)
    assert marked.finish < base.finish
    skipped = [d for d in marked.discounts if d.rule == "marked-skipped"]
    assert skipped and skipped[0].hours_saved == pytest.approx(60)
    # A topic marked done counts its study hours, but its labs stay undone until they pass
    # (or the learner marks the lab itself): a lab's done is the learner's own work.
    assert "p1-linalg" not in {lab.id for lab in marked.labs if lab.done}
    lab_marked = plan(progress=PlanProgress(marks={"p1-linalg": "done"}))
    assert "p1-linalg" in {lab.id for lab in lab_marked.labs if lab.done}


def test_json_contract() -> None:
    data = plan_to_json(plan(track="agents"))
    for key in ("start", "finish", "job_ready", "hours_per_week", "phases", "labs"):
        assert key in data
    phase = data["phases"][0]  # type: ignore[index]
    assert {"id", "start", "end", "hours"} <= set(phase)
    lab = data["labs"][0]  # type: ignore[index]
    assert {"id", "week"} <= set(lab)
    assert date.fromisoformat(str(data["finish"]))


def test_the_timeline_shows_a_projected_bar_for_the_phase_under_way() -> None:
    from aipath.web.charts import timeline_figure

    today = START + timedelta(days=55)
    p = plan(
        progress=PlanProgress(daily_minutes=_history(20 * 60 / 7 * 0.5, 56, today)), today=today
    )
    current = p.phases[0]
    assert current.projected_start is None and current.projected_end is not None  # under way
    bars = {trace.name: trace for trace in timeline_figure(p).data if trace.type == "bar"}
    projected = bars["projected from your pace"]
    assert f"{current.number}. {current.title}" in projected.y
    assert projected.base[0] == current.start.isoformat()
    assert len(projected.y) == len(p.phases)
