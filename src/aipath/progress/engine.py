"""Engines and migrations for the progress store.

SQLite is the default and has to survive a learner's laptop: WAL so the
dashboard can read while a check writes, ``synchronous=FULL`` so every
committed event is on disk before the call returns, a busy timeout so two
aipath processes wait for each other instead of failing, and write
transactions that start with ``BEGIN IMMEDIATE`` so a reader never has to
upgrade its lock halfway (the case a busy timeout cannot help with).

Migrations run on open, inside one transaction that also holds a lock
(``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so two processes
opening a fresh store at once cannot both create the tables.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from aipath.errors import AipathError

if TYPE_CHECKING:
    from alembic.config import Config

# The newest migration shipped with this aipath.  Checking it with one SELECT lets an
# up-to-date store open without importing Alembic (a few hundred ms a command); a test
# keeps it equal to the head of migrations/versions.
SCHEMA_HEAD = "0003"
BUSY_TIMEOUT_MS = 15_000
IMMEDIATE = "aipath_immediate"
_PG_MIGRATION_LOCK = 0x61697061  # "aipa": any constant shared by every aipath process


def parse_url(url: str) -> URL:
    """Parse a SQLAlchemy URL, turning typos into a message the learner can act on."""
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise AipathError(
            f"not a database URL: {url!r}",
            hint="use sqlite:///path/to/progress.db or postgresql+psycopg://user@host/db",
        ) from exc


def safe_url(url: URL) -> str:
    """The URL as it may appear in messages: never with its password."""
    return url.render_as_string(hide_password=True)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) issue BEGIN itself, so we choose its kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = bool(conn.get_execution_options().get(IMMEDIATE, False))
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the per-backend settings described in the module docstring."""
    parsed = parse_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise AipathError(
                    f"cannot create the folder {folder} for the progress store: {exc.strerror}",
                    hint="pass a writable location with --db sqlite:///path/progress.db",
                ) from exc
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise AipathError(
            f"no database driver for {safe_url(parsed)}",
            hint="use sqlite:///… or postgresql+psycopg://… (psycopg 3 is installed with aipath)",
        ) from exc
    if engine.dialect.name == "sqlite":
        _sqlite_setup(engine)
    return engine


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations shipped inside the package."""
    from alembic.config import Config

    cfg = Config()
    script_location = resources.files("aipath.progress") / "migrations"
    cfg.set_main_option("script_location", str(script_location))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` under a lock that serializes concurrent openers."""
    from alembic import command

    cfg = alembic_config()
    with engine.connect() as conn:
        conn.execution_options(**{IMMEDIATE: True})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the database by one plain query; ``None`` when there is none."""
    try:
        with engine.connect() as conn:
            value = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except DBAPIError:
        return None
    return str(value) if value is not None else None


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this version of aipath."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
