"""Uploaded files and their verdicts: store, read back for the right person, record once.

An upload is kept only if it is small, UTF-8 text without NUL bytes — anything else is refused
with a message and nothing is stored.  A broken Python file is *not* refused: a syntax error is
a verdict the learner needs.  Each upload carries a key the client chose, so a client that
retries after a lost answer gets its first submission back instead of a second one.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import BaseModel
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aipath.cohort.accounts import User
from aipath.cohort.models import CohortRow, SubmissionRow, UserRow, VerdictRow
from aipath.errors import AipathError
from aipath.grader.results import CheckResult, Status

MAX_UPLOAD_BYTES: Final = 256 * 1024
CLIENT_KEY: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")
VERDICT_CHANNEL: Final = "aipath_cohort_verdict"
STARTED_CHANNEL: Final = "aipath_cohort_started"


class UploadRejected(AipathError):
    """The upload is not something the server grades (too big, not UTF-8 text, bad key)."""


class VerdictView(BaseModel):
    status: str
    summary: str
    tests_passed: int
    tests_total: int
    graded_at: datetime
    result: dict[str, Any]


class SubmissionView(BaseModel):
    """A submission as the API shows it; ``verdict`` is ``None`` while it waits for a worker."""

    id: str
    lab: str
    learner: str
    submitted_at: datetime
    state: str
    verdict: VerdictView | None = None


@dataclass(frozen=True)
class ToGrade:
    """What a worker needs to grade one submission."""

    id: str
    lab_id: str
    filename: str
    source: str
    attempt: int


def decode_upload(data: bytes) -> str:
    """The upload as text, or :class:`UploadRejected` saying what is wrong with it."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRejected(
            f"the file is {len(data)} bytes; the server takes at most {MAX_UPLOAD_BYTES}",
            hint="a lab's exercise is a few kB: is this the right file?",
        )
    if not data.strip():
        raise UploadRejected("the file is empty")
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UploadRejected(
            f"the file is not UTF-8 text (byte {exc.start})",
            hint="save it as UTF-8 in your editor",
        ) from exc
    if "\x00" in source:
        raise UploadRejected("the file contains NUL bytes: it is not Python source text")
    return source


def create_submission(
    engine: Engine, user: User, lab_id: str, filename: str, source: str, client_key: str
) -> tuple[str, bool]:
    """Store an upload; its id, and whether it is new (False: the same key was sent before)."""
    if not CLIENT_KEY.fullmatch(client_key):
        raise UploadRejected("the submission key must be 8–64 letters, digits, - or _")
    with Session(engine) as session, session.begin():
        cohort = session.get(CohortRow, user.cohort_id)
        if cohort is None:  # pragma: no cover - users reference their cohort
            raise AipathError("your cohort no longer exists")
        if lab_id not in cohort.labs:
            raise UploadRejected(
                f"{lab_id!r} is not a lab of the cohort {cohort.name!r}",
                hint="its labs: " + ", ".join(cohort.labs),
            )
        submission_id = uuid.uuid4().hex
        inserted = session.execute(
            pg_insert(SubmissionRow)
            .values(
                id=submission_id,
                cohort_id=user.cohort_id,
                user_id=user.id,
                lab_id=lab_id,
                filename=filename[:128],
                source=source,
                source_sha256=hashlib.sha256(source.encode("utf-8")).hexdigest(),
                client_key=client_key,
                submitted_at=datetime.now(UTC),
                # "being queued now": the sweeper leaves it alone unless queuing fails
                enqueued_at=datetime.now(UTC),
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["client_key"])
            .returning(SubmissionRow.id)
        ).scalar()
        if inserted is not None:
            return inserted, True
        existing = session.execute(
            select(SubmissionRow.id, SubmissionRow.user_id).where(
                SubmissionRow.client_key == client_key
            )
        ).one()
        if existing.user_id != user.id:
            raise UploadRejected("that submission key is taken", hint="send a new random key")
        return str(existing.id), False


def mark_enqueued(engine: Engine, submission_id: str, queued: bool = True) -> None:
    """Note when the submission was queued, or (``queued=False``) that it is not: the
    sweeper then takes it on its next round."""
    with Session(engine) as session, session.begin():
        session.execute(
            update(SubmissionRow)
            .where(SubmissionRow.id == submission_id)
            .values(enqueued_at=datetime.now(UTC) if queued else None)
        )


def visible_submission(engine: Engine, user: User, submission_id: str) -> SubmissionView | None:
    """The submission if ``user`` may see it: their own, or any of their cohort's for an
    instructor.  ``None`` otherwise — the same answer as for an id that does not exist, so a
    learner cannot even learn that someone else's id is real."""
    with Session(engine) as session:
        query = (
            select(SubmissionRow, UserRow.name, VerdictRow)
            .join(UserRow, UserRow.id == SubmissionRow.user_id)
            .outerjoin(VerdictRow, VerdictRow.submission_id == SubmissionRow.id)
            .where(SubmissionRow.id == submission_id)
        )
        if user.is_instructor:
            query = query.where(SubmissionRow.cohort_id == user.cohort_id)
        else:
            query = query.where(SubmissionRow.user_id == user.id)
        row = session.execute(query).first()
        if row is None:
            return None
        return _view(row[0], row[1], row[2])


def list_own(engine: Engine, user: User, limit: int = 200) -> list[SubmissionView]:
    """The user's own submissions, newest first."""
    with Session(engine) as session:
        rows = session.execute(
            select(SubmissionRow, UserRow.name, VerdictRow)
            .join(UserRow, UserRow.id == SubmissionRow.user_id)
            .outerjoin(VerdictRow, VerdictRow.submission_id == SubmissionRow.id)
            .where(SubmissionRow.user_id == user.id)
            .order_by(SubmissionRow.submitted_at.desc())
            .limit(limit)
        ).all()
        return [_view(s, name, v) for s, name, v in rows]


def _view(sub: SubmissionRow, learner: str, verdict: VerdictRow | None) -> SubmissionView:
    return SubmissionView(
        id=sub.id,
        lab=sub.lab_id,
        learner=learner,
        submitted_at=sub.submitted_at,
        state="graded" if verdict is not None else "queued",
        verdict=None
        if verdict is None
        else VerdictView(
            status=verdict.status,
            summary=verdict.summary,
            tests_passed=verdict.tests_passed,
            tests_total=verdict.tests_total,
            graded_at=verdict.graded_at,
            result=verdict.result,
        ),
    )


def begin_attempt(engine: Engine, submission_id: str, worker: str) -> ToGrade | None:
    """Count one grading attempt and return the upload; ``None`` when it needs no grading.

    ``None`` for an unknown id or one that already has its verdict: a redelivered or re-queued
    message for a graded submission does no work at all.  The attempt is announced on
    :data:`STARTED_CHANNEL` (tests and the bench wait on it instead of guessing with sleeps).
    """
    with Session(engine) as session, session.begin():
        if session.get(VerdictRow, submission_id) is not None:
            return None
        row = session.execute(
            update(SubmissionRow)
            .where(SubmissionRow.id == submission_id)
            .values(attempts=SubmissionRow.attempts + 1)
            .returning(
                SubmissionRow.lab_id,
                SubmissionRow.filename,
                SubmissionRow.source,
                SubmissionRow.attempts,
            )
        ).first()
        if row is None:
            return None
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": STARTED_CHANNEL, "payload": f"{submission_id} {worker}"},
        )
        return ToGrade(submission_id, row.lab_id, row.filename, row.source, row.attempts)


def record_verdict(engine: Engine, submission_id: str, result: CheckResult, worker: str) -> bool:
    """Store the grader's verdict unless one is there already; whether this call stored it.

    The insert and the notification to waiting clients are one transaction: a client woken by
    the notification always finds the row, and a verdict is never announced that was not kept.
    """
    with Session(engine) as session, session.begin():
        stored = session.execute(
            pg_insert(VerdictRow)
            .values(
                submission_id=submission_id,
                status=result.status.value,
                summary=result.summary,
                tests_passed=sum(t.status is Status.PASSED for t in result.tests),
                tests_total=len(result.tests),
                result=result.model_dump(mode="json"),
                graded_at=datetime.now(UTC),
                graded_by=worker[:128],
            )
            .on_conflict_do_nothing(index_elements=["submission_id"])
            .returning(VerdictRow.submission_id)
        ).scalar()
        if stored is None:
            return False
        session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": VERDICT_CHANNEL, "payload": submission_id},
        )
        return True


def waiting_since(engine: Engine, before: datetime, limit: int = 500) -> list[tuple[str, str]]:
    """(id, lab) of submissions with no verdict, last enqueued before ``before`` or never."""
    with Session(engine) as session:
        rows = session.execute(
            select(SubmissionRow.id, SubmissionRow.lab_id)
            .outerjoin(VerdictRow, VerdictRow.submission_id == SubmissionRow.id)
            .where(VerdictRow.submission_id.is_(None))
            .where((SubmissionRow.enqueued_at.is_(None)) | (SubmissionRow.enqueued_at < before))
            .order_by(SubmissionRow.submitted_at)
            .limit(limit)
        ).all()
        return [(r.id, r.lab_id) for r in rows]
