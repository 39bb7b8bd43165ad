"""Shared fixtures: a small fixture lab catalogue and fresh workspaces built from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURE_LABS = Path(__file__).parent / "fixtures" / "labs"


@pytest.fixture
def fixture_labs(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the catalogue at the fixture labs (a tiny, stable lab)."""
    monkeypatch.setenv("AIPATH_LABS_DIR", str(FIXTURE_LABS))
    monkeypatch.delenv("AIPATH_WORKSPACE", raising=False)
    monkeypatch.delenv("AIPATH_DATABASE_URL", raising=False)
    return FIXTURE_LABS


@pytest.fixture
def fixture_workspace(fixture_labs: Path, tmp_path: Path) -> Iterator[Path]:
    from aipath.labs import load_catalogue
    from aipath.workspace.create import init_workspace

    root = tmp_path / "ws"
    init_workspace(root, load_catalogue())
    yield root
