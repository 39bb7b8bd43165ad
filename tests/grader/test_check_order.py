"""A request's ``test_order`` runs the named checks first; without it, the file's order."""

from __future__ import annotations

from pathlib import Path

from aipath.grader.results import Status
from aipath.grader.service import build_request
from aipath.grader.supervisor import run_many
from aipath.labs import load_catalogue
from aipath.workspace.create import place_lab

BOTH_WRONG = "def double(x):\n    return x + 2\n\n\ndef half(x):\n    return x / 3\n"


def test_the_named_check_runs_first_and_a_first_failure_stops_there(
    fixture_labs: Path, tmp_path: Path
) -> None:
    lab = load_catalogue().get("p1-tiny")
    place_lab(lab, tmp_path, exercise_from=lab.solution)
    exercise = tmp_path / lab.manifest.exercise
    exercise.write_text(BOTH_WRONG)
    plain = build_request(lab, exercise, tmp_path)
    first_only = plain.model_copy(update={"max_failures": 1})
    half_first = first_only.model_copy(update={"test_order": ["test_half"]})
    unknown_first = first_only.model_copy(update={"test_order": ["test_gone"]})
    results = run_many([plain, first_only, half_first, unknown_first], mode="fork", parallel=2)
    failed = [[t.name for t in r.tests if t.status is Status.FAILED] for r in results]
    assert failed[0] == ["test_double", "test_half"]  # the learner's check: every check
    assert failed[1] == ["test_double"]  # the file's order, stopped at the first failure
    assert failed[2] == ["test_half"]  # the named check first
    assert failed[3] == ["test_double"]  # a name no check has: the file's order
    assert all(r.status is Status.FAILED for r in results)
