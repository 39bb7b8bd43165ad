"""A ``store`` fixture over both backends: real SQLite in tmp_path and real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aipath.progress import ProgressStore
from aipath.progress.testing import isolated_postgres_url, postgres_test_url

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.xdist_group("postgres"),
            pytest.mark.skipif(
                postgres_test_url() is None, reason="AIPATH_TEST_POSTGRES_URL is not set"
            ),
        ],
    ),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database on the parametrized backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'progress.db'}"
        return
    base = postgres_test_url()
    assert base is not None
    with isolated_postgres_url(base) as url:
        yield url


@pytest.fixture
def store(db_url: str) -> Iterator[ProgressStore]:
    """An open store on an empty database of the parametrized backend."""
    opened = ProgressStore.open(db_url)
    try:
        yield opened
    finally:
        opened.close()
