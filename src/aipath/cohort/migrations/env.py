"""Alembic environment of the cohort schema.

It shares a database with nothing else of aipath's, yet keeps its own version table
(``cohort_alembic_version``) so it could even live beside a progress store's schema without the
two migration histories reading each other's revision.  aipath passes its own connection in
``config.attributes["connection"]`` (see :func:`aipath.cohort.db.migrate`).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from aipath.cohort.models import CohortBase

VERSION_TABLE = "cohort_alembic_version"
config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("the cohort schema migrates through aipath.cohort.db.migrate only")
    context.configure(
        connection=connection,
        target_metadata=CohortBase.metadata,
        version_table=VERSION_TABLE,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("the cohort schema migrates online only")
run_migrations_online()
