"""Place the starter workflow of lab p4-ci-cd, and warm mypy's cache for the checks.

The starter `.github/workflows/ci.yml` is written here rather than shipped as a lab file, so it
reaches the learner whatever a packaging step does with dot-folders and `.yml` files. An existing
workflow is never touched: it is the learner's work.

The checks run mypy on eval_gate.py as the workflow's type-check step would; its first run
spends about a second reading the standard library's stubs into `.mypy_cache`. Running it once
here makes the learner's first `aipath check` as fast as the later ones. A failure is harmless.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

WORKFLOW = Path(".github") / "workflows" / "ci.yml"

STARTER_WORKFLOW = """\
# The CI workflow of tinymodel (lab p4-ci-cd, tasks 3 and 4). Write it in this file, in YAML,
# as GitHub reads it from .github/workflows/ of a repository. What it must do (README):
#
#   - run on every push and on every pull request;
#   - give the GITHUB_TOKEN read access to the repository's contents, and nothing more;
#   - cancel a run when a newer push to the same branch or pull request supersedes it;
#   - pin every action it uses to a release tag or a full commit SHA;
#   - check out the code, set up Python 3.11 and 3.12 (a matrix) with pip caching, install
#     requirements.txt, run ruff, mypy and pytest;
#   - then `python train.py` and the evaluation gate, `python eval_gate.py`, after the tests.
#
# `aipath check p4-ci-cd` validates this file against GitHub's workflow schema, runs actionlint
# on it and checks the rules above. Until it has `on:` and `jobs:`, tasks 3 and 4 read as not
# attempted.
name: ci
"""


def prepare(workdir: Path) -> None:
    workflow = workdir / WORKFLOW
    if not workflow.exists():
        workflow.parent.mkdir(parents=True, exist_ok=True)
        workflow.write_text(STARTER_WORKFLOW, encoding="utf-8")
    gate = workdir / "eval_gate.py"
    if not gate.is_file():
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--no-error-summary",
                "--cache-dir",
                str(workdir / ".mypy_cache"),
                str(gate),
            ],
            cwd=workdir,
            capture_output=True,
            timeout=120,
            check=False,
        )
