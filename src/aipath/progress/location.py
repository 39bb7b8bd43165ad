"""Where a workspace's progress store lives, without importing the database libraries.

Kept apart from :mod:`aipath.progress.store` so that a command which only needs the URL (and
hands the writing to the warm worker) does not pay for importing SQLAlchemy.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATABASE_URL = "AIPATH_DATABASE_URL"


def default_db_url(state_dir: Path) -> str:
    """``sqlite:///<state_dir>/progress.db`` unless ``AIPATH_DATABASE_URL`` names another store."""
    override = os.environ.get(ENV_DATABASE_URL, "").strip()
    if override:
        return override
    return f"sqlite:///{(Path(state_dir) / 'progress.db').resolve()}"
