"""A table for state derived from the event log (the running fold), so reads stay fast.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

Nothing is backfilled: an empty table means "fold the log", which the first read does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "derived_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    # Reads fold the events appended after the saved fold: by id, in (at, id) order.
    op.create_index("ix_events_at_id", "events", ["at", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_at_id", table_name="events")
    op.drop_table("derived_state")
