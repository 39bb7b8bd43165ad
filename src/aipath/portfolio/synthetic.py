"""Generated repositories for stress tests and benchmarks (never for learners' projects).

A 50,000-file tree is the audit's "monorepo" case: it must finish in bounded time.  Files share a
few small contents (git stores few objects) and are written with raw ``os.open`` calls, so
building the tree costs seconds, not minutes.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from aipath.gitutil import git_env

_CONTENTS: dict[str, bytes] = {
    "py": b'def handler(value: int) -> int:\n    """Double a value."""\n    return value * 2\n',
    "md": b"# Notes\n\nGenerated file.\n",
    "txt": b"plain text line\n",
    "json": b'{"id": 1, "ok": true}\n',
    "yaml": b"name: generated\nvalue: 1\n",
}
# One Python module in ten, like a monorepo that also holds docs, configs and fixtures.
_ORDER = ("py", "md", "txt", "json", "md", "txt", "json", "yaml", "md", "txt")


def make_large_tree(
    dest: Path, n_files: int = 50_000, *, per_dir: int = 500, git: bool = True
) -> Path:
    """Write ``n_files`` small files under ``dest`` (and commit them when ``git``)."""
    dest.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for index in range(n_files):
        folder = f"{dest}/pkg{index // per_dir:04d}"
        if index % per_dir == 0:
            os.makedirs(folder, exist_ok=True)
        suffix = _ORDER[index % len(_ORDER)]
        fd = os.open(f"{folder}/m{index:06d}.{suffix}", flags, 0o644)
        try:
            os.write(fd, _CONTENTS[suffix])
        finally:
            os.close(fd)
    if git:
        identity = ["-c", "user.name=aipath bench", "-c", "user.email=bench@localhost"]
        message = f"Add {n_files:,} generated files for the audit benchmark"
        for args in (
            ["init", "-q", "-b", "main"],
            ["add", "-A"],
            [*identity, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", message],
        ):
            subprocess.run(
                ["git", *args],
                cwd=dest,
                env=git_env(),
                check=True,
                capture_output=True,
                timeout=300,
            )
    return dest
