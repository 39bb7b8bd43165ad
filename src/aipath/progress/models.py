"""SQLAlchemy tables of the progress store.

Two tables hold the truth: ``profile`` (one row, overwritten when the learner
re-plans) and ``events`` (append-only; nothing updates or deletes a row).
Everything else — lab states, notes, marks, pace — is derived from the events
(the rules: :mod:`aipath.progress.derive`).  The one cache, ``derived_state``,
holds the running fold of the log up to an event id (:mod:`aipath.progress.fold`);
it is checked against the log on every read and rebuilt from it when it does
not match, so it can never disagree with the log and an import only adds events.

Times are stored as naive UTC on every backend (the column type converts) so a
SQLite file and a PostgreSQL schema hold the same values and export the same JSON.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, naive UTC in the database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the progress store; pass an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - drivers return datetimes
            raise TypeError(f"unexpected timestamp {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Metadata shared by the tables and the migrations."""


class ProfileRow(Base):
    __tablename__ = "profile"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[date] = mapped_column(Date, nullable=False)
    hours_per_week: Mapped[float] = mapped_column(Float, nullable=False)
    background: Mapped[str] = mapped_column(String(32), nullable=False)
    track: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_kind_lab", "kind", "lab_id"),
        Index("ix_events_at", "at"),
        Index("ix_events_at_id", "at", "id"),
        Index("ix_events_kind_resource", "kind", "resource_id", "minutes"),
        UniqueConstraint("uid", name="uq_events_uid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(32), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    lab_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    topic_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resource_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    tier: Mapped[int | None] = mapped_column(Integer, nullable=True)
    minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class DerivedStateRow(Base):
    """A cache of state derived from the events (see :mod:`aipath.progress.fold`).

    Never the truth: deleting its rows loses nothing, the next read folds the log again.
    """

    __tablename__ = "derived_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
