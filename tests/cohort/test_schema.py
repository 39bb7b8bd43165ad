"""The cohort schema migrates with its own Alembic history and version table, and refuses
a database it cannot use with a message instead of a traceback."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from aipath.cohort import db
from aipath.errors import AipathError

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("cohort")]


def test_migrations_use_their_own_version_table(engine: Engine, db_url: str) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {"cohorts", "users", "submissions", "verdicts", "cohort_alembic_version"} <= tables
    assert "alembic_version" not in tables  # the progress store's table stays free
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT version_num FROM cohort_alembic_version").scalar()
    from importlib import resources

    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("aipath.cohort") / "migrations"))
    assert stored == db.SCHEMA_HEAD == ScriptDirectory.from_config(cfg).get_current_head()
    db.open_engine(db_url).dispose()  # a second opener finds the schema made


def test_other_databases_are_refused_clearly() -> None:
    with pytest.raises(AipathError, match="needs PostgreSQL"):
        db.open_engine("sqlite:///cohort.db")
    with pytest.raises(AipathError, match="cannot reach the cohort database"):
        db.open_engine("postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=2")
