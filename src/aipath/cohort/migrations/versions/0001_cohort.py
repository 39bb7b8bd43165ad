"""The cohort schema: cohorts, users with hashed tokens, submissions and their one verdict.

Revision ID: c0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cohorts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("labs_per_week", sa.Float(), nullable=False),
        sa.Column("behind_margin", sa.Integer(), nullable=False),
        sa.Column("labs", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("cohort_id", sa.Integer(), sa.ForeignKey("cohorts.id"), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_users_cohort", "users", ["cohort_id"])
    op.create_table(
        "submissions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("cohort_id", sa.Integer(), sa.ForeignKey("cohorts.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("lab_id", sa.String(128), nullable=False),
        sa.Column("filename", sa.String(128), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("client_key", sa.String(64), nullable=False, unique=True),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_submissions_user_lab", "submissions", ["user_id", "lab_id"])
    op.create_index("ix_submissions_cohort", "submissions", ["cohort_id"])
    op.create_table(
        "verdicts",
        sa.Column(
            "submission_id", sa.String(32), sa.ForeignKey("submissions.id"), primary_key=True
        ),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("tests_passed", sa.Integer(), nullable=False),
        sa.Column("tests_total", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("graded_at", sa.DateTime(), nullable=False),
        sa.Column("graded_by", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("verdicts")
    op.drop_index("ix_submissions_cohort", "submissions")
    op.drop_index("ix_submissions_user_lab", "submissions")
    op.drop_table("submissions")
    op.drop_index("ix_users_cohort", "users")
    op.drop_table("users")
    op.drop_table("cohorts")
