"""The child's running log: one JSON object per line, flushed as it goes.

The parent reads it after the child has ended, however it ended.  Because each line is written
with a completed ``write()`` before the next step starts, a child killed mid-test (timeout,
``os._exit``, the OOM killer) still leaves behind which test it was in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

EVENTS_FILE = "events.jsonl"
OUTPUT_FILE = "output.txt"
REQUEST_FILE = "request.json"


class EventWriter:
    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def write(self, **event: Any) -> None:
        data = (json.dumps(event, default=str) + "\n").encode("utf-8")
        os.write(self._fd, data)


def read_events(path: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return events
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill mid-write
        if isinstance(value, dict):
            events.append(value)
    return events
