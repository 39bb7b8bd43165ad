"""Where the cohort server and its workers find PostgreSQL and Redis: flags first, then env vars.

One place for the names so `aipath cohort serve`, `aipath cohort worker`, compose.yaml and the
docs cannot drift apart (a test reads compose.yaml against these constants).
"""

from __future__ import annotations

import os
from typing import Final

from aipath.errors import AipathError

ENV_DATABASE_URL: Final = "AIPATH_COHORT_DATABASE_URL"
ENV_BROKER_URL: Final = "AIPATH_COHORT_BROKER_URL"
ENV_QUEUE: Final = "AIPATH_COHORT_QUEUE"
ENV_VISIBILITY_TIMEOUT: Final = "AIPATH_COHORT_VISIBILITY_TIMEOUT_S"
DEFAULT_BROKER_URL: Final = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE: Final = "aipath-cohort"
DEFAULT_PORT: Final = 8780
DEFAULT_HOST: Final = "127.0.0.1"
# A message a worker took but never acknowledged (the worker died) goes back to the queue after
# this long.  It must exceed the longest grading run (180 s lab limit x 3 wall-clock factor):
# shorter, and a slow check still running would be handed to a second worker as well.
DEFAULT_VISIBILITY_TIMEOUT_S: Final = 900


def database_url(explicit: str | None) -> str:
    """The cohort database URL, or a clear error naming both ways to give it."""
    url = explicit or os.environ.get(ENV_DATABASE_URL, "").strip()
    if not url:
        raise AipathError(
            "no cohort database given",
            hint=f"pass --db postgresql+psycopg://user@host/db or set {ENV_DATABASE_URL}",
        )
    return url


def broker_url(explicit: str | None) -> str:
    return explicit or os.environ.get(ENV_BROKER_URL, "").strip() or DEFAULT_BROKER_URL


def queue_name(explicit: str | None) -> str:
    return explicit or os.environ.get(ENV_QUEUE, "").strip() or DEFAULT_QUEUE


def visibility_timeout_s() -> int:
    raw = os.environ.get(ENV_VISIBILITY_TIMEOUT, "").strip()
    if not raw:
        return DEFAULT_VISIBILITY_TIMEOUT_S
    try:
        value = int(raw)
    except ValueError as exc:
        raise AipathError(
            f"{ENV_VISIBILITY_TIMEOUT}={raw!r} is not a whole number of seconds"
        ) from exc
    if value < 5:
        raise AipathError(f"{ENV_VISIBILITY_TIMEOUT}={value} is too short", hint="use 5 or more")
    return value
