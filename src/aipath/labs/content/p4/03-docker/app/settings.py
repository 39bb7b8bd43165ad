"""Where the app finds its model and its database.

The model file ships inside the image, in `models/` next to the `app` package. The database
address is not part of the image: it comes from the environment (`DATABASE_URL`), which Compose
or the orchestrator sets when the container starts.
"""

from __future__ import annotations

import os
from pathlib import Path

MODEL_FILE = Path(__file__).resolve().parent.parent / "models" / "churn-v3.json"


def database_url() -> str | None:
    """`postgresql://user:password@host:5432/dbname`, or None to skip logging predictions."""
    return os.environ.get("DATABASE_URL") or None
