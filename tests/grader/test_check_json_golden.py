"""Golden files for the `aipath check --json` contract, one per kind of verdict.

Tools (editors, the cohort server, CI scripts) read this JSON; Exercism's test runner keeps one
expected ``results.json`` per example for the same reason.  Durations, paths and the mode are
normalised; everything else must match byte for byte.  To accept an intended change, run with
``AIPATH_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aipath.cli import app

FIXTURE = Path(__file__).parents[1] / "fixtures" / "labs" / "p1" / "01-tiny"
GOLDEN = Path(__file__).parents[1] / "golden" / "check"
runner = CliRunner()

CASES = {
    "passed": (FIXTURE / "solution.py").read_text(encoding="utf-8"),
    "failed-known-mistake": (FIXTURE / "mistakes" / "plus.py").read_text(encoding="utf-8"),
    "not-attempted": (FIXTURE / "exercise.py").read_text(encoding="utf-8"),
    "syntax-error": "def double(x):\n    return x *\n\n\ndef half(x):\n    return x / 2\n",
    "exception": "def double(x):\n    return x.nope\n\n\ndef half(x):\n    return x / 2\n",
}


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data["duration_s"] = 0.0
    data["file"] = "<exercise>"
    data["mode"] = "<mode>"
    data["tests"] = [{**t, "duration_s": 0.0} for t in data["tests"]]
    return data


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_json_matches_its_golden_file(fixture_workspace: Path, case: str) -> None:
    target = fixture_workspace / "labs" / "p1" / "01-tiny" / "exercise.py"
    if case == "not-attempted":
        shutil.copy(FIXTURE / "exercise.py", target)
    else:
        target.write_text(CASES[case], encoding="utf-8")
    result = runner.invoke(
        app, ["check", "p1-tiny", "--json", "--cold", "-w", str(fixture_workspace)]
    )
    data = _normalise(json.loads(result.output))
    text = json.dumps(data, indent=2, sort_keys=True).replace(str(fixture_workspace), "<ws>") + "\n"
    golden = GOLDEN / f"{case}.json"
    if os.environ.get("AIPATH_UPDATE_GOLDEN") == "1" or not golden.exists():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        if os.environ.get("AIPATH_UPDATE_GOLDEN") != "1":
            pytest.fail(f"{golden.name} did not exist: written now, review and commit it")
    assert text == golden.read_text(encoding="utf-8")
