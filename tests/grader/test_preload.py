"""The warm-up a worker does before forking checks: what it leaves behind and what it imports."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from aipath.grader.preload import imported_modules, rewrite_checks
from aipath.grader.results import Status
from aipath.grader.service import build_request
from aipath.grader.supervisor import run_many
from aipath.labs import load_catalogue
from aipath.workspace.create import place_lab

TINY = Path(__file__).parents[1] / "fixtures" / "labs" / "p1" / "01-tiny"


def _pytest_pyc(checks: Path) -> Path:
    from _pytest.assertion.rewrite import PYC_TAIL

    return checks.parent / "__pycache__" / f"checks{PYC_TAIL}"


def test_the_rewritten_checks_are_left_beside_them_and_redone_when_edited(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    shutil.copytree(TINY, lab_dir, ignore=shutil.ignore_patterns("__pycache__"))
    checks = lab_dir / "checks.py"
    pyc = _pytest_pyc(checks)
    assert rewrite_checks(checks)
    first = pyc.read_bytes()
    assert first.startswith(__import__("importlib.util").util.MAGIC_NUMBER)
    assert rewrite_checks(checks) and pyc.read_bytes() == first  # up to date: left as it is
    checks.write_text(checks.read_text() + "\n\nEDITED = True\n")
    assert rewrite_checks(checks)
    assert pyc.read_bytes() != first  # pytest would reject the old one by its source hash


def test_a_lab_folder_that_cannot_be_written_only_loses_the_shortcut(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    lab_dir.mkdir()
    checks = lab_dir / "checks.py"
    checks.write_text("def test_one():\n    assert 1 + 1 == 2\n")
    (lab_dir / "__pycache__").write_text("a file where the folder would be")
    assert rewrite_checks(checks) is False


def test_checks_read_from_the_rewritten_pyc_give_the_same_verdicts(
    fixture_labs: Path, tmp_path: Path
) -> None:
    catalogue = load_catalogue()
    lab = catalogue.get("p1-tiny")
    rewrite_checks(lab.checks)
    assert _pytest_pyc(lab.checks).is_file()
    requests = []
    for name, body in (("right", "return x * 2"), ("wrong", "return x + 2")):
        workdir = tmp_path / name
        place_lab(lab, workdir, exercise_from=lab.solution)
        exercise = workdir / lab.manifest.exercise
        exercise.write_text(lab.solution.read_text().replace("return x * 2", body))
        requests.append(build_request(lab, exercise, workdir))
    right, wrong = run_many(requests, mode="fork", parallel=2)
    assert right.status is Status.PASSED
    assert wrong.status is Status.FAILED
    problem = wrong.first_problem()
    assert problem is not None and "x + 2 instead of x * 2" in problem.message


def test_from_imports_name_their_submodules_only_when_asked(tmp_path: Path) -> None:
    source = tmp_path / "uses.py"
    source.write_text("from scipy import ndimage\nimport json\nfrom os import path as p\n")
    assert imported_modules([source]) == ["scipy", "json", "os"]
    assert imported_modules([source], submodules=True) == [
        "scipy",
        "scipy.ndimage",
        "json",
        "os",
        "os.path",
    ]
    source.write_text("import csv\n")  # a new version of the file is parsed again
    assert imported_modules([source]) == ["csv"]
    assert "exercise" not in sys.modules
