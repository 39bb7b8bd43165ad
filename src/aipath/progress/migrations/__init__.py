"""Alembic migrations of the progress store, run programmatically by :mod:`aipath.progress.engine`."""
