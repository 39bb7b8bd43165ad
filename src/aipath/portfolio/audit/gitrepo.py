"""Read-only questions to git, each in a subprocess with a time limit.

The audited repository is untrusted: its ``.git/config`` could name an fsmonitor hook or an
external diff program that git would otherwise run.  Every call switches those off, never takes
optional locks, and never prompts, so asking git about a repository cannot run its code.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from aipath.gitutil import git_env

GIT_TIMEOUT_S = 30.0
MAX_COMMITS = 300

_SAFE_CONFIG = (
    "-c",
    "core.fsmonitor=false",
    "-c",
    "safe.directory=*",
    "-c",
    "core.quotepath=off",
    "-c",
    "diff.external=",
    "-c",
    "core.hooksPath=/dev/null",
)


@dataclass(frozen=True)
class GitResult:
    ok: bool
    out: bytes
    err: str


@dataclass
class Commit:
    """One commit as the history check needs it: subject and the blobs it added or changed."""

    sha: str
    subject: str
    files: list[tuple[str, str]] = field(default_factory=list)  # (path, blob sha)


def git_available() -> bool:
    return shutil.which("git") is not None


def run_git(root: Path, *args: str, timeout: float = GIT_TIMEOUT_S) -> GitResult:
    """Run one git command in ``root``; failures and timeouts come back as ``ok=False``."""
    env = git_env(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
    try:
        proc = subprocess.run(
            ["git", *_SAFE_CONFIG, "--no-pager", *args],
            cwd=root,
            env=env,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return GitResult(False, b"", f"git {args[0]} took longer than {timeout:.0f} s")
    except OSError as exc:
        return GitResult(False, b"", f"could not run git: {exc}")
    err = proc.stderr.decode("utf-8", errors="replace").strip()
    return GitResult(proc.returncode == 0, proc.stdout, err)


def is_work_tree(root: Path) -> bool:
    if not git_available():
        return False
    result = run_git(root, "rev-parse", "--is-inside-work-tree", timeout=10)
    return result.ok and result.out.strip() == b"true"


def list_files(root: Path) -> tuple[list[str], list[str]] | None:
    """Tracked files, and untracked files that are not ignored (what a push would carry next)."""
    tracked = run_git(root, "ls-files", "-z", "--cached")
    if not tracked.ok:
        return None
    others = run_git(root, "ls-files", "-z", "--others", "--exclude-standard")
    return _split_z(tracked.out), _split_z(others.out) if others.ok else []


def _split_z(raw: bytes) -> list[str]:
    return [p.decode("utf-8", errors="replace") for p in raw.split(b"\0") if p]


def history(root: Path, max_commits: int = MAX_COMMITS) -> list[Commit] | None:
    """The last commits with the blobs each one wrote; None if git fails.

    ``--raw`` lists blob ids without diffing contents, so a commit of 50,000 files costs a
    listing, not 50,000 diffs; sizes are asked of ``cat-file`` only for the files that matter.
    """
    result = run_git(
        root,
        "log",
        f"-n{max_commits}",
        "--no-renames",
        "--no-ext-diff",
        "--no-textconv",
        "--raw",
        "--no-abbrev",
        "--format=%x1e%H%x1f%s",
        "--",
        ".",
    )
    if not result.ok:
        return None
    commits: list[Commit] = []
    for record in result.out.decode("utf-8", errors="replace").split("\x1e"):
        if not record.strip():
            continue
        head, _, rest = record.partition("\n")
        sha, _, subject = head.partition("\x1f")
        commit = Commit(sha=sha.strip(), subject=subject.strip())
        for line in rest.splitlines():
            meta, tab, path = line.partition("\t")
            parts = meta.split()
            if not tab or len(parts) < 5 or not line.startswith(":") or parts[4] == "D":
                continue
            commit.files.append((path, parts[3]))
        commits.append(commit)
    return commits


def blob_sizes(root: Path, shas: list[str]) -> dict[str, int]:
    """Sizes of the given blobs, in one ``cat-file --batch-check`` call."""
    if not shas:
        return {}
    out = _batch_check(root, shas)
    sizes: dict[str, int] = {}
    for line in (out or b"").decode("utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "blob" and parts[1].isdigit():
            sizes[parts[2]] = int(parts[1])
    return sizes


def _batch_check(root: Path, shas: list[str]) -> bytes | None:
    env = git_env()
    try:
        proc = subprocess.run(
            [
                "git",
                *_SAFE_CONFIG,
                "cat-file",
                "--batch-check=%(objecttype) %(objectsize) %(objectname)",
            ],
            cwd=root,
            env=env,
            input="\n".join(shas).encode() + b"\n",
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (subprocess.TimeoutExpired, OSError):
        return None
    return proc.stdout


def lfs_paths(root: Path, paths: list[str]) -> set[str]:
    """Which of ``paths`` git stores through Git LFS (``filter=lfs`` in .gitattributes)."""
    if not paths:
        return set()
    env = git_env()
    try:
        proc = subprocess.run(
            ["git", *_SAFE_CONFIG, "check-attr", "-z", "--stdin", "filter"],
            cwd=root,
            env=env,
            input=b"\0".join(p.encode() for p in paths) + b"\0",
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (subprocess.TimeoutExpired, OSError):
        return set()
    fields = proc.stdout.decode("utf-8", errors="replace").split("\0")
    return {fields[i] for i in range(0, len(fields) - 2, 3) if fields[i + 2] == "lfs"}


def large_blobs_in_history(root: Path, min_bytes: int) -> list[tuple[str, int]] | None:
    """Blobs over ``min_bytes`` anywhere in history (a deleted 20 MB CSV still bloats clones)."""
    objects = run_git(root, "rev-list", "--objects", "--all", "-n", "2000")
    if not objects.ok:
        return None
    names: dict[str, str] = {}
    for line in objects.out.decode("utf-8", errors="replace").splitlines():
        sha, _, name = line.partition(" ")
        if name:
            names[sha] = name
    if not names:
        return []
    out = _batch_check(root, list(names))
    if out is None:
        return None
    found: list[tuple[str, int]] = []
    for line in out.decode("utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "blob" and parts[1].isdigit():
            size = int(parts[1])
            if size >= min_bytes:
                found.append((names.get(parts[2], parts[2]), size))
    return sorted(found, key=lambda item: -item[1])
