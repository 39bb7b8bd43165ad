"""Values a lab's checks mark ``@precomputed`` are computed once, in the process that forks them."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from aipath.grader.request import CheckRequest
from aipath.grader.results import Status
from aipath.grader.supervisor import run_many

TINY = Path(__file__).parents[1] / "fixtures" / "labs" / "p1" / "01-tiny"

REFERENCE = """

from aipath.checks import precomputed


@precomputed
def reference():
    with open({log!r}, "a") as log:
        log.write(f"{{os.getpid()}}\\n")
    return {{"pid": os.getpid(), "version": {version}}}


@pytest.mark.task(1)
def test_reference_was_computed_before_the_fork(learner):
    value = reference()
    assert value["pid"] != os.getpid(), "computed in the check itself"
    assert value["version"] == {version}
    value["version"] = "spoiled"  # each call hands out a copy
    assert reference()["version"] == {version}
"""


def _lab(tmp_path: Path, log: Path, version: int) -> Path:
    lab_dir = tmp_path / "lab"
    if not lab_dir.exists():
        shutil.copytree(TINY, lab_dir, ignore=shutil.ignore_patterns("__pycache__"))
        base = (lab_dir / "checks.py").read_text()
        (lab_dir / "base.txt").write_text(base)
    base = (lab_dir / "base.txt").read_text()
    checks = "import os\n" + base + REFERENCE.format(log=str(log), version=version)
    (lab_dir / "checks.py").write_text(checks)
    return lab_dir


def _requests(lab_dir: Path, tmp_path: Path, count: int) -> list[CheckRequest]:
    requests = []
    for index in range(count):
        workdir = tmp_path / f"work{index}"
        workdir.mkdir(exist_ok=True)
        shutil.copy(TINY / "solution.py", workdir / "exercise.py")
        requests.append(
            CheckRequest(
                lab_id="p1-tiny",
                lab_dir=str(lab_dir),
                learner_file=str(workdir / "exercise.py"),
                workdir=str(workdir),
            )
        )
    return requests


def test_a_precomputed_value_is_computed_once_by_the_forking_parent(tmp_path: Path) -> None:
    log = tmp_path / "computed.log"
    lab_dir = _lab(tmp_path, log, version=1)
    results = run_many(_requests(lab_dir, tmp_path, 3), mode="fork", parallel=2)
    assert [r.status for r in results] == [Status.PASSED] * 3, [r.summary for r in results]
    assert log.read_text().split() == [str(os.getpid())]  # once, here, for all three checks

    # An edited checks file is a new version: its values are computed again, never reused.
    _lab(tmp_path, log, version=2)
    (result,) = run_many(_requests(lab_dir, tmp_path, 1), mode="fork")
    assert result.status is Status.PASSED, result.summary
    assert log.read_text().split() == [str(os.getpid())] * 2


def test_a_cold_check_computes_the_value_itself(tmp_path: Path) -> None:
    log = tmp_path / "work0" / "computed.log"  # the lab folder: the only place a check may write
    lab_dir = _lab(tmp_path, log, version=1)
    (result,) = run_many(_requests(lab_dir, tmp_path, 1), mode="cold")
    assert result.status is Status.FAILED
    problem = result.first_problem()
    assert problem is not None and "computed in the check itself" in problem.message


def test_a_value_the_parent_cannot_compute_fails_in_the_check_as_it_would_without_it(
    tmp_path: Path,
) -> None:
    log = tmp_path / "no-such-folder" / "computed.log"  # open() fails in the parent and the child
    lab_dir = _lab(tmp_path, log, version=1)
    (result,) = run_many(_requests(lab_dir, tmp_path, 1), mode="fork")
    assert result.status in (Status.FAILED, Status.ERROR)
    assert "computed.log" in result.model_dump_json()


CONFINING = """

import sys

os.environ["AIPATH_PRECOMPUTE_PROBE"] = "set by checks.py"


def _refuse_probe(event, args):
    if event == "aipath.precompute.probe":
        raise OSError("refused by the checks file's audit hook")


sys.addaudithook(_refuse_probe)


@pytest.mark.task(1)
def test_the_checks_file_confines_its_own_child(learner):
    try:
        sys.audit("aipath.precompute.probe")
    except OSError:
        pass
    else:
        raise AssertionError("the audit hook of checks.py is not installed in the check")
    assert os.environ.get("AIPATH_PRECOMPUTE_PROBE") == "set by checks.py"
"""


def test_importing_a_checks_file_leaves_the_forking_parent_as_it_found_it(tmp_path: Path) -> None:
    """A hook or variable set by one lab's checks.py must not reach the checks forked after it."""
    log = tmp_path / "computed.log"
    lab_dir = _lab(tmp_path, log, version=1)
    checks = lab_dir / "checks.py"
    checks.write_text(checks.read_text() + CONFINING)
    (result,) = run_many(_requests(lab_dir, tmp_path, 1), mode="fork")
    assert result.status is Status.PASSED, result.summary
    assert log.read_text().split() == [str(os.getpid())]  # the file was imported here
    sys.audit("aipath.precompute.probe")  # raises if the file's hook was installed here
    assert "AIPATH_PRECOMPUTE_PROBE" not in os.environ
