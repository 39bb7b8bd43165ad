"""Shared fixtures for the roadmap tests: a writable copy of the packaged data."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from aipath.roadmap import DATA_DIR

Edit = Callable[[str, str, str], Path]


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A copy of the roadmap data folder that a test may corrupt."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


@pytest.fixture
def edit(data_copy: Path) -> Edit:
    """Replace exactly one occurrence of ``old`` by ``new`` in a data file of the copy."""

    def _edit(file: str, old: str, new: str) -> Path:
        path = data_copy / file
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {file}"
        path.write_text(text.replace(old, new), encoding="utf-8")
        return data_copy

    return _edit
