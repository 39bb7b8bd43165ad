"""Warm mypy's cache for p1-typing when the lab is placed in a workspace.

mypy spends over a second on its first run reading the standard library's type stubs; after
that it reuses the cache in `.mypy_cache`. Running it once here, on the starter, means the
learner's first `aipath check` is as fast as every later one. The checks use exactly these
options, so the cache stays valid. A failure here is harmless: the first check is only slower.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

MYPY_OPTIONS = ["--strict", "--config-file=", "--no-error-summary", "--no-color-output"]


def prepare(workdir: Path) -> None:
    exercise = workdir / "exercise.py"
    if not exercise.is_file():
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                *MYPY_OPTIONS,
                "--cache-dir",
                str(workdir / ".mypy_cache"),
                str(exercise),
            ],
            cwd=workdir,
            capture_output=True,
            timeout=120,
            check=False,
        )
