"""Grade one uploaded file exactly as `aipath check` grades a learner's file on a laptop.

The upload is written into a fresh temporary lab folder laid out as in a workspace (the lab's
README, its ``workspace_files`` and its ``setup`` hook, via
:func:`aipath.workspace.create.place_lab`), and the lab's checks run there through
:func:`aipath.grader.supervisor.run_one` — the same confined child (limits, own network
namespace, audit hook) as on the laptop: forked from a warm process, or a cold interpreter.
The learner's own file name is never used as a path: the file is always the lab's exercise.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from aipath.grader.results import CheckResult
from aipath.grader.service import build_request
from aipath.grader.supervisor import Mode, run_one
from aipath.labs import Lab
from aipath.workspace.create import place_lab


def grade_source(lab: Lab, source: str, *, mode: Mode) -> CheckResult:
    """The verdict for ``source`` as the lab's exercise file, graded in a throw-away folder."""
    root = Path(tempfile.mkdtemp(prefix="aipath-cohort-"))
    try:
        upload = root / "upload.py"
        upload.write_text(source, encoding="utf-8")
        lab_dir = root / "lab"
        place_lab(lab, lab_dir, exercise_from=upload)
        learner_file = lab_dir / lab.manifest.exercise
        result = run_one(build_request(lab, learner_file, lab_dir), mode=mode)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    # The temporary path means nothing to the learner: name the file as in their workspace.
    result.file = lab.manifest.exercise
    return result
