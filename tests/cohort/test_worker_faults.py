"""Grading survives a killed worker process and never grades or records a submission twice.

A real Celery worker (prefork, one process) on real Redis and PostgreSQL; the test waits on the
notifications the worker sends when it starts an attempt and when it stores a verdict."""

from __future__ import annotations

import os
import signal
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aipath.cohort import accounts, submissions, tasks, testing
from aipath.cohort.models import SubmissionRow, VerdictRow
from aipath.grader.results import CheckResult, Status
from aipath.labs import load_catalogue

LAB = "p1-numpy-vectorize"
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.xdist_group("cohort")]


def _learner(engine: Engine) -> accounts.User:
    created = accounts.create_cohort(
        engine, "faults", labs=[LAB], start=date.today(), labs_per_week=2, learners=["ada"]
    )
    user = accounts.authenticate(engine, created.learner_tokens["ada"])
    assert user is not None
    return user


def _attempts(engine: Engine, submission_id: str) -> int:
    with Session(engine) as session:
        row = session.get(SubmissionRow, submission_id)
        assert row is not None
        return row.attempts


def _verdicts(engine: Engine, submission_id: str) -> int:
    with Session(engine) as session:
        query = select(func.count()).where(VerdictRow.submission_id == submission_id)
        return int(session.scalar(query) or 0)


def test_a_worker_process_killed_mid_check_loses_nothing(
    engine: Engine,
    broker_url: str,
    queue: str,
    worker: testing.Proc,
    notes: testing.Notifications,
) -> None:
    user = _learner(engine)
    solution = load_catalogue().get(LAB).solution.read_text()
    slow = solution + "\nimport time\n\ntime.sleep(2)\n"  # runs on import: killed meanwhile
    sid, _ = submissions.create_submission(engine, user, LAB, "exercise.py", slow, "kill-key-0001")
    tasks.configure(broker_url, queue)
    tasks.enqueue(sid, 10)

    started, who = notes.next(submissions.STARTED_CHANNEL, 120).split()
    assert started == sid
    os.kill(int(who.rsplit(":", 1)[1]), signal.SIGKILL)  # the pool process grading it

    assert notes.next(submissions.VERDICT_CHANNEL, 180) == sid
    assert _attempts(engine, sid) == 2  # graded again after the kill
    assert _verdicts(engine, sid) == 1
    with Session(engine) as session:
        verdict = session.get(VerdictRow, sid)
        assert verdict is not None
        assert verdict.status == "passed", verdict.summary

    # The same submission queued again is skipped: a later one's verdict arrives and the first
    # was not attempted a third time (one worker process takes the queue in order).
    tasks.enqueue(sid, 10)
    later, _ = submissions.create_submission(
        engine, user, LAB, "exercise.py", solution, "kill-key-0002"
    )
    tasks.enqueue(later, 10)
    while (payload := notes.next(submissions.VERDICT_CHANNEL, 180)) != later:
        assert payload != sid, "a graded submission got a second verdict"
    assert _attempts(engine, sid) == 2 and _verdicts(engine, sid) == 1


def test_the_task_grades_once_and_records_once(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task body run twice in this process (as a redelivered message would run it)."""
    from aipath.cohort.settings import ENV_DATABASE_URL

    monkeypatch.setenv(ENV_DATABASE_URL, db_url)
    monkeypatch.setitem(tasks._state, "engine", None)
    user = _learner(engine)
    mistake = load_catalogue().get(LAB).mistakes()[0].read_text()
    sid, _ = submissions.create_submission(engine, user, LAB, "exercise.py", mistake, "once-0001")

    assert tasks.grade.run(sid).startswith("failed (attempt 1")
    assert tasks.grade.run(sid) == "already graded (or unknown)"
    assert _attempts(engine, sid) == 1 and _verdicts(engine, sid) == 1

    other = CheckResult(lab=LAB, status=Status.PASSED, duration_s=0.0)
    assert submissions.record_verdict(engine, sid, other, "late-worker") is False
    with Session(engine) as session:
        kept = session.get(VerdictRow, sid)
        assert kept is not None and kept.status == "failed"  # the first verdict stands
