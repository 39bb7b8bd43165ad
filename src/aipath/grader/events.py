"""The child's running log: one JSON object per line, flushed as it goes.

The parent reads it after the child has ended, however it ended.  Because each line is written
with a completed ``write()`` before the next step starts, a child killed mid-test (timeout,
``os._exit``, the OOM killer) still leaves behind which test it was in.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from aipath.grader.results import ErrorInfo, TestOutcome

EVENTS_FILE = "events.jsonl"
OUTPUT_FILE = "output.txt"
LEARNER_OUTPUT_FILE = "learner-output.txt"
"""What a confined learner process writes to its own descriptors 1 and 2 (verdict_process =
"trusted"): a file of its own, so it shares no writable descriptor with the checks."""
REQUEST_FILE = "request.json"


class EventKind(StrEnum):
    """What one line of the child's log says happened."""

    START = "start"  # a check began (its name)
    TEST = "test"  # a check ended (its outcome)
    ERROR = "error"  # the run ended with an error before or outside the checks
    COLLECT_ERROR = "collect_error"  # the lab's checks.py could not be loaded
    TIMEOUT = "timeout"  # the child's own alarm fired (where the learner's code was)
    DONE = "done"  # pytest returned
    CONFINEMENT = "confinement"  # how far the OS confines the check ("" = fully)


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartEvent(_Event):
    event: Literal[EventKind.START] = EventKind.START
    name: str


class TestEvent(_Event):
    event: Literal[EventKind.TEST] = EventKind.TEST
    outcome: TestOutcome


class ErrorEvent(_Event):
    event: Literal[EventKind.ERROR] = EventKind.ERROR
    error: ErrorInfo


class CollectErrorEvent(_Event):
    event: Literal[EventKind.COLLECT_ERROR] = EventKind.COLLECT_ERROR
    message: str


class TimeoutEvent(_Event):
    event: Literal[EventKind.TIMEOUT] = EventKind.TIMEOUT
    line: int | None = None
    source: str | None = None
    function: str | None = None
    elapsed: float = 0.0


class ConfinementEvent(_Event):
    event: Literal[EventKind.CONFINEMENT] = EventKind.CONFINEMENT
    notice: str = ""


class DoneEvent(_Event):
    event: Literal[EventKind.DONE] = EventKind.DONE
    exitstatus: int


ChildEvent = Annotated[
    StartEvent
    | TestEvent
    | ErrorEvent
    | CollectErrorEvent
    | TimeoutEvent
    | DoneEvent
    | ConfinementEvent,
    Field(discriminator="event"),
]
_ADAPTER: TypeAdapter[ChildEvent] = TypeAdapter(ChildEvent)


class EventWriter:
    """Appends one event per ``write()`` call (a single ``os.write``: a kill cannot split it)."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def write(
        self,
        event: StartEvent
        | TestEvent
        | ErrorEvent
        | CollectErrorEvent
        | TimeoutEvent
        | DoneEvent
        | ConfinementEvent,
    ) -> None:
        os.write(self._fd, (event.model_dump_json() + "\n").encode("utf-8"))

    def fileno(self) -> int:
        return self._fd


def read_events(path: Path) -> list[ChildEvent]:
    """The events of a finished child, in order; a line cut by a kill mid-write is skipped."""
    events: list[ChildEvent] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return events
    for line in text.splitlines():
        try:
            events.append(_ADAPTER.validate_json(line))
        except ValidationError:
            continue
    return events
