"""The roadmap ↔ catalogue join: one place, one message style, no import cycle."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

import aipath
from aipath.curriculum import check_links, roadmap_with_labs
from aipath.errors import AipathError
from aipath.labs import load_catalogue
from aipath.labs.catalogue import CONTENT_DIR
from aipath.roadmap import load_roadmap

PACKAGE = Path(aipath.__file__).parent


@pytest.mark.parametrize(
    ("folder", "forbidden"), [("roadmap", "aipath.labs"), ("labs", "aipath.roadmap")]
)
def test_roadmap_and_labs_do_not_import_each_other(folder: str, forbidden: str) -> None:
    root = PACKAGE / folder
    files = [p for p in root.rglob("*.py") if "content" not in p.relative_to(root).parts]
    found = set()
    for path in files:
        found |= {n for n in _imports_of(path) if n == forbidden or n.startswith(forbidden + ".")}
    assert not found, f"{folder}/ imports {sorted(found)}"


def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_every_skill_has_a_lab_or_a_reading_only_reason() -> None:
    for skill in roadmap_with_labs().all_skills():
        assert bool(skill.labs) != bool(skill.reading_only), skill.id


def test_an_unknown_skill_is_named_with_a_suggestion(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(
        CONTENT_DIR / "p1" / "01-numpy-vectorize", content / "p1" / "01-numpy-vectorize"
    )
    manifest = content / "p1" / "01-numpy-vectorize" / "lab.toml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace('"p1.python.numpy"', '"p1.python.numpyy"'), encoding="utf-8")
    catalogue = load_catalogue(content)
    with pytest.raises(AipathError) as caught:
        check_links(load_roadmap(), catalogue)
    message = caught.value.message
    assert message.startswith("lab p1-numpy-vectorize: lab.toml field skills: 'p1.python.numpyy'")
    assert "did you mean p1.python.numpy" in message
