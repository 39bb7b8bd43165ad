"""Fixtures for the cohort server: a fresh PostgreSQL database, a Redis queue of its own, and
real server and worker processes.  Without PostgreSQL or Redis the tests skip with the reason."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from aipath.cohort import testing


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    problem = testing.postgres_problem()
    if problem:
        pytest.skip(problem)
    return testing.admin_url()


@pytest.fixture(scope="session")
def broker_url() -> str:
    problem = testing.redis_problem()
    if problem:
        pytest.skip(problem)
    return testing.redis_url()


@pytest.fixture
def db_url(pg_admin_url: str) -> Iterator[str]:
    with testing.fresh_database(pg_admin_url) as url:
        yield url


@pytest.fixture
def queue() -> str:
    """A queue no other test (or other user of the same Redis) reads."""
    return f"aipath-cohort-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def engine(db_url: str) -> Iterator[object]:
    from aipath.cohort.db import open_engine

    opened = open_engine(db_url)
    yield opened
    opened.dispose()


@pytest.fixture
def server(db_url: str, broker_url: str, queue: str) -> Iterator[str]:
    proc, url = testing.start_server(db_url, broker_url, queue)
    yield url
    proc.stop()


@pytest.fixture
def worker(db_url: str, broker_url: str, queue: str) -> Iterator[testing.Proc]:
    proc = testing.start_worker(db_url, broker_url, queue, preload="p1-numpy-vectorize")
    yield proc
    proc.stop()


@pytest.fixture
def notes(db_url: str) -> Iterator[testing.Notifications]:
    listener = testing.Notifications(db_url)
    yield listener
    listener.close()
