"""The learner's progress: an append-only event log in SQL, and the state derived from it.

SQLite inside the workspace by default; any SQLAlchemy URL (PostgreSQL for a
shared server) through ``AIPATH_DATABASE_URL`` or ``--db``.  The schema is
migrated with Alembic whenever a store is opened.
"""

from __future__ import annotations

from aipath.progress.durations import format_minutes, parse_duration
from aipath.progress.store import (
    ENV_DATABASE_URL,
    EXPORT_FORMAT,
    EXPORT_VERSION,
    ProgressStore,
    default_db_url,
)
from aipath.progress.types import (
    BACKGROUNDS,
    MARK_STATES,
    TRACKS,
    AuditRecord,
    Background,
    Event,
    LabState,
    MarkState,
    Profile,
    Track,
)

__all__ = [
    "BACKGROUNDS",
    "ENV_DATABASE_URL",
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "MARK_STATES",
    "TRACKS",
    "AuditRecord",
    "Background",
    "Event",
    "LabState",
    "MarkState",
    "Profile",
    "ProgressStore",
    "Track",
    "default_db_url",
    "format_minutes",
    "parse_duration",
]
