"""Which check names each recorded mistake: a schedule for ``dev check``, never a verdict.

``dev check`` runs a mistake until its first failure.  In the file's order that meant paying
for every check before the one that names the slip (10 s of retrieval and generation before a
0.01 s citation check, say).  After a run, the check that named each mistake is kept here,
in ``mistakes/caught-by.json`` beside the mistakes; the next run starts each mistake with that
check, then the others in the file's order.  The verdict is always the run's own: a stale entry
only costs time (the mistake runs on and is judged on what fails), and a missing file means the
file's order.
"""

from __future__ import annotations

import json
from pathlib import Path

from aipath.labs import Lab

CATCHES_FILE = "caught-by.json"

__all__ = ["CATCHES_FILE", "load_catches", "save_catches"]


def _path(lab: Lab) -> Path:
    return lab.source_dir / "mistakes" / CATCHES_FILE


def load_catches(lab: Lab) -> dict[str, str]:
    """Mistake file name → the name of the check that named it last time ({} when unknown)."""
    try:
        data = json.loads(_path(lab).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}


def save_catches(lab: Lab, catches: dict[str, str]) -> bool:
    """Write the map if it changed (sorted, so its diff is readable); False if it cannot."""
    known = {p.name for p in lab.mistakes()}
    kept = {name: test for name, test in sorted(catches.items()) if name in known}
    if kept == load_catches(lab):
        return True
    try:
        _path(lab).write_text(json.dumps(kept, indent=1, ensure_ascii=False) + "\n", "utf-8")
    except OSError:
        return False  # an installed, read-only catalogue: only the shortcut is lost
    return True
