"""Schema management: Alembic from the first version, safe concurrent opening, clear errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from aipath.errors import AipathError
from aipath.progress import ProgressStore, default_db_url
from aipath.progress.engine import (
    SCHEMA_HEAD,
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
)
from aipath.progress.models import Base


def test_open_migrates_to_head(db_url: str) -> None:
    ProgressStore.open(db_url).close()
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision() is not None
        tables = set(inspect(engine).get_table_names())
        assert {"events", "profile", "alembic_version"} <= tables
    finally:
        engine.dispose()


def test_schema_head_constant_names_the_newest_migration() -> None:
    assert head_revision() == SCHEMA_HEAD


def test_an_up_to_date_store_opens_without_importing_alembic(db_url: str) -> None:
    """Opening must stay cheap: `aipath check` opens the store after every save."""
    ProgressStore.open(db_url).close()
    probe = (
        "import sys; from aipath.progress import ProgressStore; "
        "s = ProgressStore.open(sys.argv[1]); s.log_study(1); s.close(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, db_url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_migrations_match_the_models(db_url: str) -> None:
    """Autogenerate finds nothing to do: the migration and the models describe one schema."""
    ProgressStore.open(db_url).close()
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_again(db_url: str) -> None:
    store = ProgressStore.open(db_url)
    store.log_study(5)
    store.close()
    engine = make_engine(db_url)
    try:
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert "events" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    store = ProgressStore.open(db_url)
    try:
        assert store.events() == []
    finally:
        store.close()


def test_store_from_a_newer_aipath_is_refused(db_url: str) -> None:
    ProgressStore.open(db_url).close()
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'f00dcafe'")
    finally:
        engine.dispose()
    with pytest.raises(AipathError, match="newer aipath"):
        ProgressStore.open(db_url)


OPENER = textwrap.dedent(
    """
    import sys
    from aipath.progress import ProgressStore
    store = ProgressStore.open(sys.argv[1])
    store.log_study(1, note=sys.argv[2])
    store.close()
    """
)


@pytest.mark.slow
def test_concurrent_first_open_creates_the_schema_once(db_url: str) -> None:
    children = [
        subprocess.Popen([sys.executable, "-c", OPENER, db_url, f"p{i}"], stderr=subprocess.PIPE)
        for i in range(5)
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err.decode()
    store = ProgressStore.open(db_url)
    try:
        assert sorted(e.text or "" for e in store.events()) == [f"p{i}" for i in range(5)]
    finally:
        store.close()


def test_sqlite_uses_wal_and_waits_when_busy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'progress.db'}"
    store = ProgressStore.open(url)
    store.close()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        engine.dispose()


def test_default_url_is_sqlite_in_the_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIPATH_DATABASE_URL", raising=False)
    url = default_db_url(tmp_path / ".aipath")
    assert url == f"sqlite:///{(tmp_path / '.aipath' / 'progress.db').resolve()}"
    monkeypatch.setenv("AIPATH_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert default_db_url(tmp_path / ".aipath") == "postgresql+psycopg://u@h/db"


def test_memory_store_works() -> None:
    store = ProgressStore.open("sqlite://")
    try:
        store.log_study(3)
        assert len(store.events()) == 1
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a database URL"),
        ("mysql+nosuchdriver://x@y/z", "no database driver"),
        (
            "postgresql+psycopg://nobody:secret@127.0.0.1:1/none",  # pragma: allowlist secret
            "cannot open the progress store",
        ),
    ],
)
def test_bad_urls_give_one_clear_error(url: str, message: str) -> None:
    with pytest.raises(AipathError, match=message) as info:
        ProgressStore.open(url)
    assert "secret" not in str(info.value)


def test_unwritable_sqlite_path_is_explained(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(AipathError):
        ProgressStore.open(f"sqlite:///{blocker / 'progress.db'}")


def test_plain_create_engine_reads_what_the_store_wrote(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    store = ProgressStore.open(url)
    store.log_study(7)
    store.close()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT minutes FROM events").scalar() == 7.0
    finally:
        engine.dispose()
