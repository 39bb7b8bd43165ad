"""A store URL on both backends for the planner's CLI tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aipath.progress.testing import isolated_postgres_url, postgres_test_url


@pytest.fixture(
    params=[
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
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database on the parametrized backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'progress.db'}"
        return
    base = postgres_test_url()
    assert base is not None
    with isolated_postgres_url(base) as url:
        yield url
