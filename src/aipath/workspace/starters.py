"""Which learner files are still the starter aipath placed (standard library only).

An untouched starter needs no run at all: it is "not attempted".  Kept light so the quick
`aipath check` path can tell without importing the catalogue.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from aipath.workspace.model import Workspace

__all__ = ["file_hash", "read_starters"]


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_starters(ws: Workspace) -> dict[str, str]:
    """``{lab id: hash of the starter placed}`` from ``.aipath/starters.json``."""
    try:
        data = json.loads(ws.starters_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
