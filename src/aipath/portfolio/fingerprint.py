"""The scaffold's fingerprint: how `aipath audit` tells the learner's work from aipath's template.

`aipath project new` writes ``.aipath-scaffold.json`` — the SHA-256 of every file it generated —
into the first commit.  An audit that finds every one of those files unchanged and no commit
after the scaffold's is looking at aipath's work, not the learner's: it scores 0 and never marks
a project done.  Deleting the fingerprint does not hide the template: a history of one
"Scaffold …" commit with a clean tree is recognised too.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

FINGERPRINT_FILE = ".aipath-scaffold.json"
SCAFFOLD_SUBJECT = "Scaffold "

__all__ = [
    "FINGERPRINT_FILE",
    "SCAFFOLD_SUBJECT",
    "ScaffoldState",
    "fingerprint_digests",
    "scaffold_state",
    "unchanged_scaffold_files",
    "write_fingerprint",
]


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def is_fingerprint(text: str) -> bool:
    """True for a fingerprint file exactly as aipath writes it (only file names and digests).

    The secret scan skips such a file — its digests look like keys to an entropy detector — but
    only when nothing else is in it, so it cannot hide a real secret.
    """
    try:
        data = json.loads(text)
    except ValueError:
        return False
    if not isinstance(data, dict) or set(data) != {"about", "kind", "files"}:
        return False
    files = data["files"]
    return (
        isinstance(data["about"], str)
        and len(data["about"]) < 200
        and isinstance(data["kind"], str)
        and len(data["kind"]) < 40
        and isinstance(files, dict)
        and all(isinstance(v, str) and _HEX64.match(v) for v in files.values())
        and all(isinstance(k, str) and len(k) < 300 for k in files)
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_fingerprint(root: Path, kind: str) -> None:
    """Record the hash of every file under ``root`` (the freshly generated project)."""
    files = {
        p.relative_to(root).as_posix(): _sha256(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
    data = {
        "about": "written by `aipath project new`; `aipath audit` compares it with your files",
        "kind": kind,
        "files": files,
    }
    (root / FINGERPRINT_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class ScaffoldState:
    """How much of a repository is still aipath's scaffold."""

    fingerprinted: int  # files the scaffold generated
    unchanged: int  # of those, still byte for byte as generated
    learner_commits: int | None  # commits after the scaffold's (None: history unknown)

    @property
    def untouched(self) -> bool:
        return (
            self.fingerprinted > 0
            and self.unchanged == self.fingerprinted
            and not self.learner_commits
        )


def scaffold_state(root: Path, subjects: list[str] | None, clean: bool) -> ScaffoldState | None:
    """The scaffold state of ``root``, or None when it is not an aipath scaffold.

    ``subjects`` are the commit subjects, newest first (None if git could not say); ``clean``
    tells whether the work tree has no uncommitted changes.
    """
    path = root / FINGERPRINT_FILE
    scaffold_commits = [s for s in subjects or [] if s.startswith(SCAFFOLD_SUBJECT)]
    learner_commits = None if subjects is None else len(subjects) - len(scaffold_commits)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        assert isinstance(files, dict)
    except (OSError, ValueError, KeyError, AssertionError):
        if subjects is not None and subjects and len(subjects) == len(scaffold_commits) and clean:
            return ScaffoldState(fingerprinted=1, unchanged=1, learner_commits=0)
        return None
    return ScaffoldState(len(files), len(_unchanged(root, files)), learner_commits)


def fingerprint_digests(root: Path) -> dict[str, str]:
    """The fingerprint's path → SHA-256 of every generated file (empty without a fingerprint)."""
    try:
        files = json.loads((root / FINGERPRINT_FILE).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(files, dict):
        return {}
    return {str(k): str(v) for k, v in files.items()}


def unchanged_scaffold_files(root: Path) -> frozenset[str]:
    """Files (relative, POSIX) still byte for byte as `aipath project new` generated them.

    Checks that grade what a phase taught look only at the other files: template code the
    learner has not touched is aipath's work, whatever it contains.
    """
    return _unchanged(root, fingerprint_digests(root))


def _unchanged(root: Path, files: dict[str, str]) -> frozenset[str]:
    """Those of the fingerprinted ``files`` (path → digest) still as generated."""
    same: set[str] = set()
    for rel, digest in files.items():
        target = root / str(rel)
        try:
            if target.is_file() and _sha256(target) == digest:
                same.add(str(rel))
        except OSError:
            continue
    return frozenset(same)
