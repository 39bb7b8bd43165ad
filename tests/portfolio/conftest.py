"""Fixtures for the portfolio tests: one scaffold per kind per session, and a poor repository."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from portfolio_helpers import build_poor_repo

from aipath.portfolio.scaffold import create_project


@pytest.fixture(scope="session", autouse=True)
def _one_openmp_thread() -> Iterator[None]:
    """OpenMP spin-waits badly on a shared 2-core runner; one thread is faster and stable."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        yield


@pytest.fixture(scope="session")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A factory: the scaffold of one kind, generated once per session (per worker)."""
    cache: dict[str, Path] = {}

    def make(kind: str) -> Path:
        if kind not in cache:
            base = tmp_path_factory.mktemp(f"scaffold-{kind}")
            cache[kind] = create_project(kind, base / f"my-{kind}-project")
        return cache[kind]

    return make


@pytest.fixture(scope="session")
def poor_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_poor_repo(tmp_path_factory.mktemp("poor") / "titanic-notebook")
