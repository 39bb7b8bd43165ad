"""Which labs `aipath dev check` can skip: those unchanged since their last green run.

A lab's fingerprint is the SHA-256 of its own files plus the engine and check library it runs
on (``aipath/checks``, ``aipath/grader``): editing one lab re-checks that lab, editing the
library re-checks them all.  ``--all`` (what CI runs) ignores the cache.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import aipath
from aipath.dev.catches import CATCHES_FILE
from aipath.labs import Lab

CACHE_NAME = "devcheck-green.json"
ENGINE_PARTS = ("checks", "grader", "dev")

__all__ = ["GreenCache", "lab_fingerprint"]


def _digest_files(digest: hashlib._Hash, folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        # caught-by.json only schedules dev check's runs (catches.py): not part of the lab
        if path.is_file() and "__pycache__" not in path.parts and path.name != CATCHES_FILE:
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")


def _engine_digest() -> str:
    digest = hashlib.sha256()
    root = Path(aipath.__file__).parent
    for part in ENGINE_PARTS:
        _digest_files(digest, root / part)
    return digest.hexdigest()


def lab_fingerprint(lab: Lab, engine: str | None = None) -> str:
    digest = hashlib.sha256((engine or _engine_digest()).encode())
    _digest_files(digest, lab.source_dir)
    return digest.hexdigest()


class GreenCache:
    """Fingerprints of labs whose last dev check was green, kept beside the user's cache."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            from platformdirs import user_cache_dir

            path = Path(user_cache_dir("aipath")) / CACHE_NAME
        self.path = path
        self._engine = _engine_digest()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._green: dict[str, str] = {str(k): str(v) for k, v in data.items()}
        except (OSError, ValueError, AttributeError):
            self._green = {}

    def is_green(self, lab: Lab) -> bool:
        return self._green.get(lab.id) == lab_fingerprint(lab, self._engine)

    def record(self, lab: Lab, ok: bool) -> None:
        if ok:
            self._green[lab.id] = lab_fingerprint(lab, self._engine)
        else:
            self._green.pop(lab.id, None)

    def save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self._green, indent=1), encoding="utf-8")
        except OSError:
            pass  # a read-only home only costs the next run its shortcut
