"""``aipath dev new``: a new lab folder with every file the contract asks for, ready to fill in."""

from __future__ import annotations

import re
from pathlib import Path

from aipath.errors import AipathError
from aipath.labs.catalogue import CONTENT_DIR
from aipath.labs.manifest import LAB_ID_PATTERN

FILES: dict[str, str] = {
    "lab.toml": """id = "{id}"
title = "{title}"
phase = {phase}
topic = "p{phase}.TODO"            # a roadmap topic id (aipath roadmap --json)
skills = ["p{phase}.TODO.TODO"]     # roadmap skill ids this lab teaches
minutes = 90                       # honest estimate of the learner's time
requires = []                      # lab ids to finish first
timeout_s = 10
memory_mb = 1024
tier = "fast"                      # "train" when the checks train a model
resources = []                     # roadmap resource ids
hints = [
  "A nudge: which idea unlocks task 1?",
  "The approach, step by step.",
  "Nearly the solution: the key line, with one blank left.",
]
""",
    "README.md": """# {title}

Why this matters for an AI engineer, in two or three sentences.

## 1. First task
What to build, with an example.

## 2. Second task
…

## Done means
`aipath check {id}` passes every check.

## Going deeper
- Roadmap resources that cover this.
""",
    "exercise.py": '''"""{title}: the starter the learner edits."""

from __future__ import annotations


def task_one(x: int) -> int:
    """Describe the contract, with an example.

    >>> task_one(2)
    4
    """
    # TODO: implement
    raise NotImplementedError
''',
    "solution.py": '''"""{title}: the reference solution."""

from __future__ import annotations


def task_one(x: int) -> int:
    return x * 2
''',
    "checks.py": '''"""Checks for {id}: one test per behaviour, each marked with its task."""

from __future__ import annotations

import pytest

from aipath.checks import assert_close


@pytest.mark.task(1)
def test_task_one(learner):
    assert_close(learner.task_one(3), 6, name="task_one(3)")
''',
    "mistakes/add_instead_of_multiply.py": '''# expect: task_one(3) is 5
"""A known-wrong solution: adds instead of multiplying."""


def task_one(x: int) -> int:
    return x + 2
''',
    "alternatives/shift.py": '''"""A correct solution written differently."""


def task_one(x: int) -> int:
    return x << 1
''',
}


def new_lab(lab_id: str, *, title: str, content_dir: Path | None = None) -> Path:
    if not re.match(LAB_ID_PATTERN, lab_id):
        raise AipathError(
            f"'{lab_id}' is not a lab id", hint="use p<phase>-<slug>, e.g. p3-attention"
        )
    phase = int(lab_id[1])
    base = (content_dir or CONTENT_DIR) / f"p{phase}"
    existing = sorted(p for p in base.glob("[0-9][0-9]-*") if p.is_dir()) if base.exists() else []
    if any(p.name.split("-", 1)[1] == lab_id.split("-", 1)[1] for p in existing):
        raise AipathError(f"a lab folder for {lab_id} already exists under {base}")
    number = int(existing[-1].name[:2]) + 1 if existing else 1
    folder = base / f"{number:02d}-{lab_id.split('-', 1)[1]}"
    for name, template in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(id=lab_id, title=title, phase=phase), encoding="utf-8")
    return folder
