"""The static contract lint names each slip and says how to fix it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aipath.dev.lint import lint_lab
from aipath.labs import load_catalogue

FIXTURE = Path(__file__).parents[1] / "fixtures" / "labs"


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "labs")
    return tmp_path / "labs" / "p1" / "01-tiny"


def _problems(lab_dir: Path) -> list[str]:
    return lint_lab(load_catalogue(lab_dir.parents[1]).get("p1-tiny"))


def test_the_fixture_lab_is_clean(lab_dir: Path) -> None:
    assert _problems(lab_dir) == []


def test_a_test_marked_with_a_task_the_readme_lacks(lab_dir: Path) -> None:
    checks = lab_dir / "checks.py"
    checks.write_text(checks.read_text().replace("task(2)", "task(3)"), encoding="utf-8")
    problems = _problems(lab_dir)
    assert any("marked task 3, but README.md has no '## 3.' heading" in p for p in problems)
    assert any("task 2 of README.md is checked by no test" in p for p in problems)


def test_an_unmarked_test(lab_dir: Path) -> None:
    checks = lab_dir / "checks.py"
    checks.write_text(
        checks.read_text() + "\n\ndef test_extra(learner):\n    pass\n", encoding="utf-8"
    )
    assert any("test_extra has no @pytest.mark.task(N)" in p for p in _problems(lab_dir))


def test_tasks_out_of_order(lab_dir: Path) -> None:
    readme = lab_dir / "README.md"
    readme.write_text("# Tiny\n## 1. double\n## 3. half\n", encoding="utf-8")
    assert any("numbers its tasks [1, 3]" in p for p in _problems(lab_dir))


def test_a_starter_that_already_works(lab_dir: Path) -> None:
    (lab_dir / "exercise.py").write_text(
        "def double(x):\n    return x * 2\n\n\ndef half(x):\n    return x / 2\n", encoding="utf-8"
    )
    assert any("raises NotImplementedError" in p for p in _problems(lab_dir))


def test_too_few_mistakes(lab_dir: Path) -> None:
    for path in sorted((lab_dir / "mistakes").glob("*.py"))[1:]:
        path.unlink()
    assert any("has 1 mistakes; the contract asks for at least 6" in p for p in _problems(lab_dir))
