"""The export document: its schema, and reading it from a file without holding it all.

An export of a long history is tens of megabytes: parsed whole with ``json.loads`` it cost a
quarter of a gigabyte before a single event was checked.  ``read_export`` parses the header
(format, version, profile) from the start of the file and then streams the events one at a
time with ijson's C parser, so an import holds one batch of events at a time.

Events are validated into a ``TypedDict`` rather than a model: the import only needs checked
plain rows, and pydantic builds those three to five times faster than model instances.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Final, Literal, NotRequired

import ijson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from aipath.errors import AipathError
from aipath.progress.types import EventKind

BATCH: Final = 5_000
HINT: Final = "pass a file made by aipath export"


@with_config(ConfigDict(extra="forbid"))
class ExportEvent(TypedDict):
    """An event as exported: :class:`~aipath.progress.types.Event` without the local ``id``.

    ``Event`` is the definition; this schema mirrors it field for field (a test holds the two
    and the ``events`` table to the same names), adding only the bounds an import must check.
    """

    uid: Annotated[str, Field(min_length=1, max_length=32)]
    at: datetime
    kind: EventKind
    lab_id: NotRequired[str | None]
    topic_id: NotRequired[str | None]
    resource_id: NotRequired[str | None]
    status: NotRequired[str | None]
    duration_s: NotRequired[float | None]
    tier: NotRequired[int | None]
    minutes: NotRequired[float | None]
    text: NotRequired[str | None]
    data: NotRequired[dict[str, Any]]


class ExportProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date
    hours_per_week: float
    background: str
    track: str | None = None
    updated_at: datetime | None = None


class ExportHeader(BaseModel):
    """Everything in an export but its events (those are validated in batches)."""

    model_config = ConfigDict(extra="allow")

    format: Literal["aipath-progress"]
    version: int
    profile: ExportProfile | None = None
    # Checked here for its type only: the events themselves go through event_batches.
    events: list[Any] = Field(default_factory=list)


_EVENTS: Final = TypeAdapter(list[ExportEvent])


def describe_validation(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> str:
    """The first error as ``events.23.kind: Input should be …``, with how many more."""
    first = exc.errors()[0]
    loc = [*prefix, *first["loc"]]
    if prefix and loc and isinstance(first["loc"][0], int) and isinstance(prefix[-1], int):
        loc = [*prefix[:-1], prefix[-1] + first["loc"][0], *first["loc"][1:]]
    where = ".".join(str(p) for p in loc) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def invalid(detail: str) -> AipathError:
    return AipathError(f"import file is not a valid aipath export: {detail}", hint=HINT)


def parse_header(data: dict[str, Any]) -> ExportHeader:
    try:
        return ExportHeader.model_validate(data)
    except ValidationError as exc:
        raise invalid(describe_validation(exc)) from exc


def event_batches(raw: Iterable[Any], size: int = BATCH) -> Iterator[list[ExportEvent]]:
    """The events validated ``size`` at a time; an error names the event's index."""
    items = iter(raw)
    start = 0
    while batch := list(itertools.islice(items, size)):
        try:
            checked = _EVENTS.validate_python(batch)
        except ValidationError as exc:
            raise invalid(describe_validation(exc, ("events", start))) from exc
        for ev in checked:
            if ev["at"].tzinfo is None:
                raise AipathError(
                    f"event {ev['uid']}: time {ev['at'].isoformat()} has no time zone"
                )
        start += len(batch)
        yield checked


class ExportFile:
    """An export file read lazily: ``header`` now, ``events()`` streamed (one pass each)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: dict[str, Any] = _read_header(path)

    def events(self) -> Iterator[Any]:
        """The raw event objects in file order; bad JSON raises a clear AipathError."""
        try:
            with self.path.open("rb") as stream:
                yield from ijson.items(stream, "events.item", use_float=True, buf_size=1 << 18)
        except ijson.JSONError as exc:
            raise _not_json(self.path, exc) from None
        except OSError as exc:
            raise AipathError(f"cannot read {self.path}: {exc.strerror}") from None


def _not_json(path: Path, exc: Exception) -> AipathError:
    """Where the file stops being JSON, as line and column.

    ijson's message points into a buffer; the standard parser, run once on a file already
    known to be broken, says where (its memory is spent only on this error).
    """
    where = str(exc).strip().splitlines()[0] if str(exc).strip() else "not JSON"
    try:
        json.loads(path.read_bytes())
    except json.JSONDecodeError as precise:
        where = f"line {precise.lineno}, column {precise.colno}: {precise.msg}"
    except (OSError, UnicodeDecodeError):
        pass
    return AipathError(
        f"{path} is not valid JSON ({where})", hint="pass a file written by `aipath export`"
    )


def _read_header(path: Path) -> dict[str, Any]:
    """Every top-level member but ``events``, read with ijson's token stream.

    `aipath export` writes format, version and profile before the events, so this reads only
    the start of the file; a document with any of them after its events is scanned on, token
    by token (slower, still in bounded memory).
    """
    header: dict[str, Any] = {}
    builder: ijson.ObjectBuilder | None = None
    key = ""
    depth = 0  # inside a top-level member's value
    has_events = False
    try:
        with path.open("rb") as stream:
            tokens = ijson.parse(stream, use_float=True)
            first = next(tokens, None)
            if first is None or first[1] != "start_map":
                raise AipathError(
                    f"{path} is not an aipath export (expected a JSON object)", hint=HINT
                )
            for _prefix, event, value in tokens:
                opens, closes = (
                    event in ("start_map", "start_array"),
                    event in ("end_map", "end_array"),
                )
                if depth == 0:
                    if event == "end_map":
                        break
                    if event == "map_key":
                        key = str(value)
                        continue
                    if key == "events" and opens:
                        has_events = True
                        if header.keys() >= {"format", "version", "profile"}:
                            break  # the header is complete: the events are read by events()
                        depth = 1 if opens else 0  # skip the events, token by token
                        continue
                    if not opens:
                        header[key] = value
                        continue
                    builder = ijson.ObjectBuilder()
                depth += 1 if opens else -1 if closes else 0
                if builder is not None:
                    builder.event(event, value)
                    if depth == 0:
                        header[key] = builder.value
                        builder = None
    except ijson.JSONError as exc:
        raise _not_json(path, exc) from None
    except OSError as exc:
        raise AipathError(f"cannot read {path}: {exc.strerror}") from None
    if has_events:
        header["events"] = []  # validated in batches as events() streams them
    return header
