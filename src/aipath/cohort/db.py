"""The cohort database: PostgreSQL only, migrated on open under an advisory lock.

PostgreSQL, because the server pushes verdicts to waiting clients with ``LISTEN/NOTIFY`` sent
in the same transaction that records the verdict (:mod:`aipath.cohort.notify`), and because
several workers and servers write at once.  The engine itself comes from the progress store's
:func:`aipath.progress.engine.make_engine` (pre-ping, friendly URL errors).
"""

from __future__ import annotations

from importlib import resources
from typing import Final

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from aipath.errors import AipathError
from aipath.progress.engine import make_engine, parse_url, safe_url

SCHEMA_HEAD: Final = "c0001"
# Another constant than the progress store's: the two schemas migrate independently.
_MIGRATION_LOCK: Final = 0x636F686F  # "coho"


def open_engine(url: str) -> Engine:
    """An engine on the cohort database with the schema brought to head."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise AipathError(
            f"the cohort server needs PostgreSQL, not {parsed.get_backend_name()}",
            hint="pass --db postgresql+psycopg://user@host/db",
        )
    engine = make_engine(url)
    try:
        migrate(engine)
    except OperationalError as exc:
        engine.dispose()
        raise AipathError(
            f"cannot reach the cohort database at {safe_url(parsed)}: {exc.orig}",
            hint="is PostgreSQL running (pg_isready), and does the database exist?",
        ) from exc
    return engine


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the cohort schema in one transaction holding an advisory lock.

    Several workers and the server start together (compose): the lock makes one create the
    tables and the others find them made.
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("aipath.cohort") / "migrations"))
    with engine.connect() as conn, conn.begin():
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def psycopg_dsn(engine: Engine) -> str:
    """The engine's URL as libpq takes it (for the raw LISTEN connection of the notifier)."""
    url = engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)
