"""Generated repositories for stress tests and benchmarks (never for learners' projects).

A 50,000-file tree is the audit's "monorepo" case: it must finish in bounded time.  Most files
share a few contents so git stores few objects and building the tree stays fast.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

_CONTENTS = {
    "py": 'def handler(value: int) -> int:\n    """Double a value."""\n    return value * 2\n',
    "md": "# Notes\n\nGenerated file.\n",
    "txt": "plain text line\n",
    "json": '{"id": 1, "ok": true}\n',
}
_ORDER = ("py", "md", "txt", "json", "py")


def make_large_tree(
    dest: Path, n_files: int = 50_000, *, per_dir: int = 500, git: bool = True
) -> Path:
    """Write ``n_files`` small files under ``dest`` (and commit them when ``git``)."""
    dest.mkdir(parents=True, exist_ok=True)
    for index in range(n_files):
        folder = dest / f"pkg{index // per_dir:04d}"
        if index % per_dir == 0:
            folder.mkdir(exist_ok=True)
        suffix = _ORDER[index % len(_ORDER)]
        (folder / f"m{index:06d}.{suffix}").write_text(_CONTENTS[suffix], encoding="utf-8")
    if git:
        identity = ["-c", "user.name=aipath bench", "-c", "user.email=bench@localhost"]
        for args in (
            ["init", "-q", "-b", "main"],
            ["add", "-A"],
            [
                *identity,
                "-c",
                "commit.gpgsign=false",
                "commit",
                "-q",
                "--no-verify",
                "-m",
                f"Add {n_files:,} generated files for the audit benchmark",
            ],
        ):
            subprocess.run(["git", *args], cwd=dest, check=True, capture_output=True, timeout=300)
    return dest
