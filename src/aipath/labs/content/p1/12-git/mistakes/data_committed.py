# expect: data is in the history
"""Mistake: `git add -A` before the .gitignore exists, so the data file is committed."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from aipath.checks.git import git_env

START, END = "<<<<<<<", ">>>>>>>"


def conflict_blocks(text: str) -> list[tuple[int, int]]:
    """The unresolved merge conflicts in `text`, as (first line, last line), 1-based, inclusive."""
    blocks: list[tuple[int, int]] = []
    lines = text.splitlines()
    start: int | None = None
    for number, line in enumerate(lines, start=1):
        if start is None and line.startswith(START):
            start = number
        elif start is not None and line.startswith(END):
            blocks.append((start, number))
            start = None
    if start is not None:
        blocks.append((start, len(lines)))
    return blocks


def strip_outputs(notebook: dict[str, Any]) -> dict[str, Any]:
    """A copy of `notebook` (nbformat 4, as json.load returns it) without outputs."""
    clean = copy.deepcopy(notebook)
    for cell in clean.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return clean


def main(argv: list[str] | None = None) -> int:
    """Usage: python exercise.py conflicts FILE...  |  python exercise.py strip NOTEBOOK..."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) >= 2 and args[0] == "conflicts":
        found = 0
        for name in args[1:]:
            for first, last in conflict_blocks(Path(name).read_text(encoding="utf-8")):
                print(f"{name}:{first}-{last}: unresolved merge conflict")
                found += 1
        print(f"{found} unresolved conflict(s)")
        return 1 if found else 0
    if len(args) >= 2 and args[0] == "strip":
        for name in args[1:]:
            path = Path(name)
            notebook = json.loads(path.read_text(encoding="utf-8"))
            clean = strip_outputs(notebook)
            text = json.dumps(clean, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
            path.write_text(text, encoding="utf-8")
            print(f"stripped {name}")
        return 0
    print(main.__doc__)
    return 2


# ----- what the learner does with git, replayed for `aipath dev check` ---------------------------


def git(repo: Path, *args: str, allowed: tuple[int, ...] = (0,)) -> str:
    env = git_env()
    result = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Sam Learner",
            "-c",
            "user.email=sam@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.hooksPath=/dev/null",
            *args,
        ],
        cwd=repo,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode not in allowed:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def keep_both_sides(text: str) -> str:
    """Resolve every conflict by keeping our lines, then theirs."""
    lines = text.splitlines(keepends=True)
    for first, last in reversed(conflict_blocks(text)):
        block = lines[first - 1 : last]
        middle = next(i for i, line in enumerate(block) if line.startswith("======="))
        lines[first - 1 : last] = block[1:middle] + block[middle + 1 : -1]
    return "".join(lines)


def perform(workdir: Path) -> None:
    import jupytext

    repo = workdir / "practice-repo"
    # 1. merge the teammate's branch; the conflict keeps both features
    git(repo, "merge", "feature/tenure", allowed=(0, 1))
    features = repo / "src" / "features.py"
    features.write_text(keep_both_sides(features.read_text(encoding="utf-8")), encoding="utf-8")
    git(repo, "add", "src/features.py")
    git(repo, "commit", "--no-edit")

    # 2. a branch for the housekeeping: ignore data, route model files through LFS
    git(repo, "switch", "-c", "repo-hygiene")
    git(repo, "add", "-A")  # everything, before any ignore rule exists
    (repo / ".gitignore").write_text("# extracts live in the data store\ndata/\n", encoding="utf-8")
    (repo / ".gitattributes").write_text(
        "*.pt filter=lfs diff=lfs merge=lfs -text\n*.onnx filter=lfs diff=lfs merge=lfs -text\n",
        encoding="utf-8",
    )
    git(repo, "add", ".gitignore", ".gitattributes", "models")
    git(repo, "commit", "-m", "Ignore data; store model files with Git LFS")

    # 3. strip the notebook's outputs and pair it with a percent script
    path = repo / "notebooks" / "explore.ipynb"
    notebook = strip_outputs(json.loads(path.read_text(encoding="utf-8")))
    notebook["metadata"]["jupytext"] = {"formats": "ipynb,py:percent"}
    path.write_text(
        json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    jupytext.write(jupytext.read(path), path.with_suffix(".py"), fmt="py:percent")
    git(repo, "add", "notebooks")
    git(repo, "commit", "-m", "Strip notebook outputs; pair it with a percent script")

    # 4. land the branch
    git(repo, "switch", "main")
    git(repo, "merge", "--no-ff", "-m", "Merge branch 'repo-hygiene'", "repo-hygiene")


if __name__ == "__main__":
    raise SystemExit(main())
