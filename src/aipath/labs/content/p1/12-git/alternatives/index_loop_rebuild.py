"""Conflict guard and notebook stripper (lab p1-git), and the git work as perform()."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def conflict_blocks(text: str) -> list[tuple[int, int]]:
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i][:7] == "<<<<<<<":
            j = i + 1
            while j < len(lines) and lines[j][:7] != ">>>>>>>":
                j += 1
            last = min(j, len(lines) - 1)
            blocks.append((i + 1, last + 1))
            i = last + 1
        else:
            i += 1
    return blocks


def strip_outputs(notebook: dict[str, Any]) -> dict[str, Any]:
    def clean(cell: dict[str, Any]) -> dict[str, Any]:
        cell = copy.deepcopy(cell)
        if cell["cell_type"] == "code":
            cell |= {"outputs": [], "execution_count": None}
        return cell

    return {
        key: [clean(c) for c in value] if key == "cells" else copy.deepcopy(value)
        for key, value in notebook.items()
    }


GITIGNORE = "data/\n"
GITATTRIBUTES = (
    "*.pt filter=lfs diff=lfs merge=lfs -text\n*.onnx filter=lfs diff=lfs merge=lfs -text\n"
)
PAIRING = "ipynb,py:percent"


def resolve(text: str) -> str:
    out = []
    for line in text.splitlines(keepends=True):
        if line.startswith(("<<<<<<<", "=======", ">>>>>>>")):
            continue
        out.append(line)
    return "".join(out)


def perform(workdir: Path) -> None:
    repo = Path(workdir) / "practice-repo"

    def git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-c", "user.name=Learner", "-c", "user.email=learner@example.com", *args],
            cwd=repo,
            text=True,
            capture_output=True,
            check=check,
        )

    git("switch", "main")
    git("merge", "feature/tenure", check=False)
    features = repo / "src" / "features.py"
    features.write_text(resolve(features.read_text(encoding="utf-8")), encoding="utf-8")
    git("add", "src/features.py")
    git("commit", "-m", "Merge feature/tenure: keep both features")
    git("checkout", "-b", "repo-hygiene")
    (repo / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    (repo / ".gitattributes").write_text(GITATTRIBUTES, encoding="utf-8")
    git("add", ".gitignore", ".gitattributes", "models")
    git("commit", "-m", "Ignore data, send model files to LFS")
    notebook_path = repo / "notebooks" / "explore.ipynb"
    notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
    notebook_path.write_text(json.dumps(strip_outputs(notebook), indent=1) + "\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "jupytext", "--set-formats", PAIRING, str(notebook_path)],
        check=True,
        capture_output=True,
    )
    git("add", "notebooks")
    git("commit", "-m", "Strip the notebook and pair it with a script")
    git("checkout", "main")
    git("merge", "--no-ff", "-m", "Merge repo-hygiene", "repo-hygiene")


def main(argv: list[str] | None = None) -> int:
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


if __name__ == "__main__":
    raise SystemExit(main())
