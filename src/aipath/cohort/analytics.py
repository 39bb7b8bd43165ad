"""What an instructor reads: each learner's labs, pace against the plan, the common mistakes.

The plan of a cohort is its ordered list of labs at ``labs_per_week`` from ``start``: lab *i*
(counting from 1) is due ``7·i / labs_per_week`` days after the start.

**Behind**, exactly: a learner is behind when the number of plan labs due by today minus the
number of plan labs they have passed is greater than the cohort's ``behind_margin`` (1 by
default: one lab late is normal week-to-week noise, two is a conversation).  A learner who
passed more than is due is ahead; otherwise on track.

A lab's *attempts to pass* for a learner is how many graded submissions it took until the first
that passed; the dashboard shows the median over the learners who passed.  A *mistake* is a
failed or erroring check of a graded submission, named by the check's name and the first line
of its message (the grader's own words: shape, value, the known mistake it matched); a file
that did not even import is one mistake named ``(file)`` with the error's first line.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aipath.cohort.models import ROLE_LEARNER, CohortRow, SubmissionRow, UserRow, VerdictRow
from aipath.errors import AipathError

MISTAKES_PER_LAB = 10
FILE_CHECK = "(file)"


class LabCell(BaseModel):
    status: str
    attempts: int
    attempts_to_pass: int | None = None
    first_passed_at: datetime | None = None
    last_submitted_at: datetime | None = None


class LearnerProgress(BaseModel):
    learner: str
    passed: int
    due: int
    pace: str
    behind: bool
    last_activity: datetime | None
    labs: dict[str, LabCell]


class CohortProgress(BaseModel):
    cohort: str
    cohort_id: int
    today: date
    start: date
    labs_per_week: float
    behind_margin: int
    behind_rule: str
    labs: list[str]
    due_by_today: int
    learners: list[LearnerProgress]


class Mistake(BaseModel):
    check: str
    message: str
    count: int
    learners: int


class LabMistakes(BaseModel):
    lab: str
    graded: int
    learners_passed: int
    median_attempts_to_pass: float | None
    mistakes: list[Mistake]


class CohortMistakes(BaseModel):
    cohort: str
    cohort_id: int
    labs: list[LabMistakes]


@dataclass(frozen=True)
class _Graded:
    learner: str
    lab: str
    submitted_at: datetime
    status: str
    result: dict[str, object]


def due_by(start: date, labs_per_week: float, count: int, today: date) -> int:
    """How many of the plan's ``count`` labs are due on ``today``."""
    if today < start:
        return 0
    days = (today - start).days
    return min(count, math.floor(days * labs_per_week / 7 + 1e-9))


def due_date(start: date, labs_per_week: float, index: int) -> date:
    """The day the lab at 0-based ``index`` of the plan is due."""
    return start + timedelta(days=math.ceil(7 * (index + 1) / labs_per_week))


def behind_rule(margin: int) -> str:
    return (
        f"behind = labs due by today − plan labs passed > {margin}; "
        f"lab i is due 7·i / labs-per-week days after the start"
    )


def _load(
    engine: Engine, cohort_id: int
) -> tuple[CohortRow, list[str], list[_Graded], dict[str, datetime]]:
    with Session(engine) as session:
        cohort = session.get(CohortRow, cohort_id)
        if cohort is None:
            raise AipathError(f"no cohort {cohort_id}")
        session.expunge(cohort)
        learners = list(
            session.scalars(
                select(UserRow.name)
                .where(UserRow.cohort_id == cohort_id, UserRow.role == ROLE_LEARNER)
                .order_by(UserRow.name)
            )
        )
        rows = session.execute(
            select(
                UserRow.name,
                SubmissionRow.lab_id,
                SubmissionRow.submitted_at,
                VerdictRow.status,
                VerdictRow.result,
            )
            .join(UserRow, UserRow.id == SubmissionRow.user_id)
            .join(VerdictRow, VerdictRow.submission_id == SubmissionRow.id)
            .where(SubmissionRow.cohort_id == cohort_id)
            .order_by(SubmissionRow.submitted_at, SubmissionRow.id)
        ).all()
        last_seen: dict[str, datetime] = {}
        for name, at in session.execute(
            select(UserRow.name, SubmissionRow.submitted_at)
            .join(UserRow, UserRow.id == SubmissionRow.user_id)
            .where(SubmissionRow.cohort_id == cohort_id)
        ):
            if name not in last_seen or at > last_seen[name]:
                last_seen[name] = at
    graded = [_Graded(r[0], r[1], r[2], r[3], r[4]) for r in rows]
    return cohort, learners, graded, last_seen


def _cells(graded: list[_Graded]) -> dict[tuple[str, str], LabCell]:
    cells: dict[tuple[str, str], LabCell] = {}
    for item in graded:  # in submission order
        key = (item.learner, item.lab)
        cell = cells.get(key) or LabCell(status=item.status, attempts=0)
        cell.attempts += 1
        cell.last_submitted_at = item.submitted_at
        if cell.attempts_to_pass is None:
            cell.status = item.status
            if item.status == "passed":
                cell.attempts_to_pass = cell.attempts
                cell.first_passed_at = item.submitted_at
        cells[key] = cell
    return cells


def progress(engine: Engine, cohort_id: int, today: date | None = None) -> CohortProgress:
    """Every learner × every plan lab, with pace against the plan (see the module docstring)."""
    cohort, learners, graded, last_seen = _load(engine, cohort_id)
    today = today or date.today()
    cells = _cells(graded)
    due = due_by(cohort.start, cohort.labs_per_week, len(cohort.labs), today)
    rows = []
    for learner in learners:
        labs = {lab: cells[(learner, lab)] for lab in cohort.labs if (learner, lab) in cells}
        passed = sum(cell.attempts_to_pass is not None for cell in labs.values())
        behind = due - passed > cohort.behind_margin
        pace = "behind" if behind else "ahead" if passed > due else "on track"
        rows.append(
            LearnerProgress(
                learner=learner,
                passed=passed,
                due=due,
                pace=pace,
                behind=behind,
                last_activity=last_seen.get(learner),
                labs=labs,
            )
        )
    return CohortProgress(
        cohort=cohort.name,
        cohort_id=cohort.id,
        today=today,
        start=cohort.start,
        labs_per_week=cohort.labs_per_week,
        behind_margin=cohort.behind_margin,
        behind_rule=behind_rule(cohort.behind_margin),
        labs=list(cohort.labs),
        due_by_today=due,
        learners=rows,
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _mistakes_of(result: dict[str, object]) -> list[tuple[str, str]]:
    """(check, first line of its message) for each failed or erroring check of one verdict."""
    found: list[tuple[str, str]] = []
    tests = result.get("tests")
    for test in tests if isinstance(tests, list) else []:
        if isinstance(test, dict) and test.get("status") in ("failed", "error"):
            found.append((str(test.get("name", "?")), _first_line(str(test.get("message", "")))))
    error = result.get("error")
    if not found and isinstance(error, dict):
        found.append((FILE_CHECK, _first_line(str(error.get("message", "")))))
    return found


def mistakes(engine: Engine, cohort_id: int) -> CohortMistakes:
    """For each plan lab: its most frequent mistakes and the median attempts to pass."""
    cohort, _learners, graded, _seen = _load(engine, cohort_id)
    cells = _cells(graded)
    counts: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    who: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    graded_per_lab: Counter[str] = Counter()
    for item in graded:
        graded_per_lab[item.lab] += 1
        for key in _mistakes_of(item.result):
            counts[item.lab][key] += 1
            who[(item.lab, *key)].add(item.learner)
    labs = []
    for lab in cohort.labs:
        to_pass = [
            c.attempts_to_pass
            for (_, cell_lab), c in cells.items()
            if cell_lab == lab and c.attempts_to_pass is not None
        ]
        labs.append(
            LabMistakes(
                lab=lab,
                graded=graded_per_lab[lab],
                learners_passed=len(to_pass),
                median_attempts_to_pass=float(statistics.median(to_pass)) if to_pass else None,
                mistakes=[
                    Mistake(
                        check=check,
                        message=message,
                        count=n,
                        learners=len(who[(lab, check, message)]),
                    )
                    for (check, message), n in counts[lab].most_common(MISTAKES_PER_LAB)
                ],
            )
        )
    return CohortMistakes(cohort=cohort.name, cohort_id=cohort.id, labs=labs)


CSV_COLUMNS = (
    "cohort",
    "learner",
    "lab",
    "status",
    "attempts",
    "attempts_to_pass",
    "first_passed_at",
    "last_submitted_at",
)


def grades_csv(report: CohortProgress) -> str:
    """One row per learner × plan lab (``not-submitted`` where there is nothing yet)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for learner in report.learners:
        for lab in report.labs:
            cell = learner.labs.get(lab)
            writer.writerow(
                [
                    report.cohort,
                    learner.learner,
                    lab,
                    cell.status if cell else "not-submitted",
                    cell.attempts if cell else 0,
                    cell.attempts_to_pass if cell and cell.attempts_to_pass else "",
                    cell.first_passed_at.isoformat() if cell and cell.first_passed_at else "",
                    cell.last_submitted_at.isoformat() if cell and cell.last_submitted_at else "",
                ]
            )
    return out.getvalue()
