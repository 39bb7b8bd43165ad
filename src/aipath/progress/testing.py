"""Helpers for tests that need a real progress store on PostgreSQL.

Each test gets its own schema, reached through ``search_path`` in the URL, so
tests run in parallel against one server without seeing each other's rows and
the URL works unchanged in a subprocess (``aipath --db URL …``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

ENV_TEST_POSTGRES_URL: Final = "AIPATH_TEST_POSTGRES_URL"


def postgres_test_url() -> str | None:
    """The test server's URL from ``AIPATH_TEST_POSTGRES_URL``, or ``None`` when it is not set."""
    return os.environ.get(ENV_TEST_POSTGRES_URL, "").strip() or None


@contextmanager
def isolated_postgres_url(base_url: str, prefix: str = "t") -> Iterator[str]:
    """A URL to a fresh, empty schema on ``base_url``'s server; the schema is dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
