"""Alternative: the jupytext command line, the exercise's own CLI, other ignore patterns, a
fast-forward landing, and helpers written without copy.deepcopy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from aipath.checks.git import git_env


def conflict_blocks(text: str) -> list[tuple[int, int]]:
    lines = text.splitlines()
    blocks = []
    number = 0
    while number < len(lines):
        if lines[number].startswith("<<<<<<<"):
            end = next(
                (i for i in range(number + 1, len(lines)) if lines[i].startswith(">>>>>>>")),
                len(lines) - 1,
            )
            blocks.append((number + 1, end + 1))
            number = end + 1
        else:
            number += 1
    return blocks


def strip_outputs(notebook: dict[str, Any]) -> dict[str, Any]:
    def clean(cell: dict[str, Any]) -> dict[str, Any]:
        if cell.get("cell_type") != "code":
            return json.loads(json.dumps(cell))
        return {**json.loads(json.dumps(cell)), "outputs": [], "execution_count": None}

    copy = json.loads(json.dumps(notebook))
    copy["cells"] = [clean(cell) for cell in notebook.get("cells", [])]
    return copy


def main(argv: list[str] | None = None) -> int:
    """Usage: python exercise.py conflicts FILE...  |  python exercise.py strip NOTEBOOK..."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) >= 2 and args[0] == "conflicts":
        found = 0
        for name in args[1:]:
            for first, last in conflict_blocks(Path(name).read_text(encoding="utf-8")):
                print(f"{name}:{first}-{last}: unresolved merge conflict")
                found += 1
        return 1 if found else 0
    if len(args) >= 2 and args[0] == "strip":
        for name in args[1:]:
            path = Path(name)
            notebook = strip_outputs(json.loads(path.read_text(encoding="utf-8")))
            path.write_text(
                json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )
        return 0
    print(main.__doc__)
    return 2


def run(repo: Path, *command: str, allowed: tuple[int, ...] = (0,)) -> None:
    env = git_env()
    env.update(GIT_AUTHOR_NAME="Kim Learner", GIT_AUTHOR_EMAIL="kim@example.com")
    env.update(GIT_COMMITTER_NAME="Kim Learner", GIT_COMMITTER_EMAIL="kim@example.com")
    result = subprocess.run(
        list(command), cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode not in allowed:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")


def perform(workdir: Path) -> None:
    repo = workdir / "practice-repo"
    git = ("git", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null")

    run(repo, *git, "merge", "feature/tenure", allowed=(0, 1))
    features = repo / "src" / "features.py"
    resolved = features.read_text(encoding="utf-8")
    for marker in ("<<<<<<< HEAD\n", "=======\n", ">>>>>>> feature/tenure\n"):
        resolved = resolved.replace(marker, "")
    features.write_text(resolved, encoding="utf-8")
    assert not conflict_blocks(resolved)
    run(repo, *git, "commit", "-a", "-m", "Merge feature/tenure: keep support_calls and tenure")

    run(repo, *git, "checkout", "-b", "repo-hygiene")
    (repo / ".gitignore").write_text("/data/*\n", encoding="utf-8")
    run(repo, *git, "add", ".gitignore")
    run(repo, *git, "commit", "-m", "Keep data extracts out of git")
    (repo / ".gitattributes").write_text(
        "# written as `git lfs track` would\n"
        "*.onnx filter=lfs diff=lfs merge=lfs -text\n"
        "*.pt filter=lfs diff=lfs merge=lfs -text\n",
        encoding="utf-8",
    )
    run(repo, *git, "add", ".gitattributes", "models/churn.pt", "models/churn.onnx")
    run(repo, *git, "commit", "-m", "Track model files with Git LFS")

    notebook = repo / "notebooks" / "explore.ipynb"
    main(["strip", str(notebook)])
    run(repo, sys.executable, "-m", "jupytext", "--set-formats", "ipynb,py:percent", str(notebook))
    run(repo, *git, "add", "notebooks/explore.ipynb", "notebooks/explore.py")
    run(repo, *git, "commit", "-m", "Pair the exploration notebook with a percent script")

    run(repo, *git, "checkout", "main")
    run(repo, *git, "merge", "--ff-only", "repo-hygiene")


if __name__ == "__main__":
    raise SystemExit(main())
