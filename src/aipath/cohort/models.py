"""SQLAlchemy tables of the cohort server (their own metadata: the progress store's stays apart).

``submissions`` holds what a learner uploaded (the text itself: the server grades it again, it
never trusts a verdict from a client); ``verdicts`` holds at most one row per submission (the
primary key is the submission id), which is what makes grading idempotent: a second worker that
grades the same submission cannot record a second verdict.  Times are naive UTC, as in the
progress store (:class:`aipath.progress.models.UTCDateTime`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aipath.progress.models import UTCDateTime

ROLE_LEARNER = "learner"
ROLE_INSTRUCTOR = "instructor"


class CohortBase(DeclarativeBase):
    """Metadata of the cohort schema and its migrations."""


class CohortRow(CohortBase):
    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    start: Mapped[date] = mapped_column(Date, nullable=False)
    labs_per_week: Mapped[float] = mapped_column(Float, nullable=False)
    behind_margin: Mapped[int] = mapped_column(Integer, nullable=False)
    labs: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class UserRow(CohortBase):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_cohort", "cohort_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    token_sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class SubmissionRow(CohortBase):
    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_user_lab", "user_id", "lab_id"),
        Index("ix_submissions_cohort", "cohort_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    lab_id: Mapped[str] = mapped_column(String(128), nullable=False)
    filename: Mapped[str] = mapped_column(String(128), nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    source_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    client_key: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class VerdictRow(CohortBase):
    __tablename__ = "verdicts"

    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    tests_passed: Mapped[int] = mapped_column(Integer, nullable=False)
    tests_total: Mapped[int] = mapped_column(Integer, nullable=False)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    graded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    graded_by: Mapped[str] = mapped_column(String(128), nullable=False)
