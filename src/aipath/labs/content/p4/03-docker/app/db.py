"""Log each prediction in PostgreSQL (only when DATABASE_URL is set)."""

from __future__ import annotations

import json

CREATE = """
CREATE TABLE IF NOT EXISTS predictions (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    model_version TEXT NOT NULL,
    features JSONB NOT NULL,
    score DOUBLE PRECISION NOT NULL
)
"""


def log_prediction(url: str, model_version: str, features: dict[str, float], score: float) -> None:
    import psycopg  # imported here: the app runs without a database too

    with psycopg.connect(url, connect_timeout=3) as conn:
        conn.execute(CREATE)
        conn.execute(
            "INSERT INTO predictions (model_version, features, score) VALUES (%s, %s, %s)",
            (model_version, json.dumps(features), score),
        )
