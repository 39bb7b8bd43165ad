"""Shared fixtures for the roadmap tests: a writable copy of the packaged data."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from aipath.roadmap import DATA_DIR, Roadmap

Edit = Callable[[str, str, str], Path]
Cover = Callable[[Roadmap], dict[str, list[str]]]


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


@pytest.fixture
def cover() -> Cover:
    """A lab mapping for the skills whose lab has landed (their reading_only line is gone).

    Lab authors delete reading_only lines while these tests live, so tests that attach labs
    start from this mapping instead of assuming which skills are still reading only.
    """

    def _cover(roadmap: Roadmap) -> dict[str, list[str]]:
        return {
            s.id: [f"p{s.phase_number}-stand-in"]
            for s in roadmap.all_skills()
            if s.reading_only is None
        }

    return _cover
