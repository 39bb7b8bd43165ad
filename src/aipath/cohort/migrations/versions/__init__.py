"""Migration scripts (Alembic skips this file when it reads revisions)."""
