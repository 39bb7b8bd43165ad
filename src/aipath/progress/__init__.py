"""The learner's progress: an append-only event log in SQL, and the state derived from it.

SQLite inside the workspace by default; any SQLAlchemy URL (PostgreSQL for a
shared server) through ``AIPATH_DATABASE_URL`` or ``--db``.  The schema is
migrated with Alembic whenever a store is opened.

Names are imported on first use (PEP 562) so that `aipath --help` and commands that do not
need this package stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aipath.lazy import lazy_exports

if TYPE_CHECKING:
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

_EXPORTS: dict[str, str] = {
    "format_minutes": "aipath.progress.durations",
    "parse_duration": "aipath.progress.durations",
    "ENV_DATABASE_URL": "aipath.progress.location",
    "EXPORT_FORMAT": "aipath.progress.store",
    "EXPORT_VERSION": "aipath.progress.store",
    "ProgressStore": "aipath.progress.store",
    "default_db_url": "aipath.progress.location",
    "BACKGROUNDS": "aipath.progress.types",
    "MARK_STATES": "aipath.progress.types",
    "TRACKS": "aipath.progress.types",
    "AuditRecord": "aipath.progress.types",
    "Background": "aipath.progress.types",
    "Event": "aipath.progress.types",
    "LabState": "aipath.progress.types",
    "MarkState": "aipath.progress.types",
    "Profile": "aipath.progress.types",
    "Track": "aipath.progress.types",
}

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

__getattr__ = lazy_exports(__name__, _EXPORTS)
