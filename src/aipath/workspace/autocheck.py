"""Who checks a lab when it is saved: one process per workspace.

`make run` starts the dashboard, which watches the labs; a learner may also run `aipath watch`.
Two watchers checking every save would record two attempts per save and spend the CPU twice.
The first to start holds the *check-on-save lease* (an ``flock`` on ``.aipath/autocheck.lock``,
released by the kernel when the process ends, however it ends); any other watcher follows: it
shows the verdict the holder writes to ``.aipath/results/<lab>.json`` instead of checking again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from typing import IO

from aipath.workspace.model import Workspace

LOCK_FILE = "autocheck.lock"

__all__ = ["AutoCheckLease", "result_mtime", "wait_for_new_result"]


class AutoCheckLease:
    """The right to check labs on save, held for as long as this object stays open."""

    def __init__(self, ws: Workspace, who: str) -> None:
        self.path = ws.state_dir / LOCK_FILE
        self.who = who
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; True when this process now checks on save."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "who": self.who}))
        handle.flush()
        self._handle = handle
        return True

    @property
    def held(self) -> bool:
        return self._handle is not None

    def holder(self) -> str:
        """Who holds the lease, as "the dashboard (pid 123)" (best effort)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return "another aipath process"
        return f"{data.get('who', 'another aipath process')} (pid {data.get('pid', '?')})"

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def result_mtime(ws: Workspace, lab_id: str) -> int:
    try:
        return (ws.results_dir / f"{lab_id}.json").stat().st_mtime_ns
    except OSError:
        return 0


def wait_for_new_result(ws: Workspace, lab_id: str, since: int, timeout_s: float) -> bool:
    """Wait until the lease holder writes a newer verdict for ``lab_id`` (True) or time runs out.

    The event waited for is the result file changing; the timeout only bounds a holder that died.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result_mtime(ws, lab_id) != since:
            return True
        time.sleep(0.05)
    return False
