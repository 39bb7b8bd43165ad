"""Pace and "behind" as the docs define them, and the mistakes grouped by check and message,
computed over a real database filled through the same functions the worker uses."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.engine import Engine

from aipath.cohort import accounts, analytics, submissions
from aipath.grader.results import CheckResult, ErrorInfo, ErrorKind, Status
from aipath.grader.results import TestOutcome as Outcome

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("cohort")]
LABS = ["p1-numpy-vectorize", "p1-pandas-wrangling", "p1-linear-algebra", "p1-gradients"]


def test_due_by_follows_the_plan() -> None:
    start = date(2026, 1, 5)
    assert analytics.due_by(start, 2, 4, start) == 0
    assert analytics.due_by(start, 2, 4, start + timedelta(days=3)) == 0
    assert analytics.due_by(start, 2, 4, start + timedelta(days=4)) == 1  # 3.5 days a lab
    assert analytics.due_by(start, 2, 4, start + timedelta(days=14)) == 4
    assert analytics.due_by(start, 2, 4, start + timedelta(days=60)) == 4  # never more than planned
    assert analytics.due_by(start, 2, 4, start - timedelta(days=1)) == 0


def _result(lab: str, status: Status, failing: tuple[str, str] | None = None) -> CheckResult:
    tests = [Outcome(name="test_ok", status=Status.PASSED)]
    if failing:
        tests.append(Outcome(name=failing[0], status=Status.FAILED, message=failing[1]))
    return CheckResult(lab=lab, status=status, duration_s=0.1, tests=tests)


def _graded(engine: Engine, token: str, lab: str, result: CheckResult, key: str) -> None:
    user = accounts.authenticate(engine, token)
    assert user is not None
    sid, _ = submissions.create_submission(engine, user, lab, "exercise.py", "x = 1\n", key)
    assert submissions.record_verdict(engine, sid, result, "test")


def test_progress_behind_and_mistakes(engine: Engine) -> None:
    start = date.today() - timedelta(days=14)  # all four labs due at 2 a week
    created = accounts.create_cohort(
        engine, "c", labs=LABS, start=start, labs_per_week=2, learners=["ada", "bob", "cy"]
    )
    ada, bob = created.learner_tokens["ada"], created.learner_tokens["bob"]
    shape = ("test_softmax_shape", "softmax has shape (4, 1); expected (4, 6)\nmore detail")
    for number, lab in enumerate(LABS[:3]):  # ada: 3 of 4 passed, one miss first on lab 0
        if number == 0:
            _graded(engine, ada, lab, _result(lab, Status.FAILED, shape), "ada-miss-0")
        _graded(engine, ada, lab, _result(lab, Status.PASSED), f"ada-pass-{number}")
    _graded(engine, bob, LABS[0], _result(LABS[0], Status.FAILED, shape), "bob-miss-0")
    broken = CheckResult(
        lab=LABS[0],
        status=Status.ERROR,
        duration_s=0.1,
        error=ErrorInfo(kind=ErrorKind.SYNTAX, message="invalid syntax at line 3\n  def f(:"),
    )
    _graded(engine, bob, LABS[0], broken, "bob-broken")
    _graded(engine, bob, LABS[0], _result(LABS[0], Status.PASSED), "bob-pass-0")

    report = analytics.progress(engine, created.cohort_id)
    rows = {row.learner: row for row in report.learners}
    assert report.due_by_today == 4
    assert (rows["ada"].passed, rows["ada"].behind, rows["ada"].pace) == (3, False, "on track")
    assert (rows["bob"].passed, rows["bob"].behind) == (1, True)  # 4 due − 1 passed > 1
    assert (rows["cy"].passed, rows["cy"].behind, rows["cy"].last_activity) == (0, True, None)
    assert rows["bob"].labs[LABS[0]].attempts_to_pass == 3

    lab0 = analytics.mistakes(engine, created.cohort_id).labs[0]
    assert lab0.median_attempts_to_pass == 2.5  # ada 2, bob 3
    named = {(m.check, m.message): (m.count, m.learners) for m in lab0.mistakes}
    assert named[(shape[0], shape[1].splitlines()[0])] == (2, 2)
    assert named[(analytics.FILE_CHECK, "invalid syntax at line 3")] == (1, 1)

    csv_text = analytics.grades_csv(report)
    assert f"c,cy,{LABS[0]},not-submitted,0,,," in csv_text
    assert f"c,bob,{LABS[0]},passed,3,3," in csv_text
