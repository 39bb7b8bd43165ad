"""Alembic migrations of the cohort schema (own version table), run by :mod:`aipath.cohort.db`."""
