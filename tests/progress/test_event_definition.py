"""One definition of a progress event: the ``Event`` dataclass.  The export schema and the
``events`` table hold exactly its fields, so a field added in one place cannot be forgotten in
another."""

from __future__ import annotations

import dataclasses
from typing import get_args, get_type_hints

from aipath.progress.export_file import ExportEvent
from aipath.progress.models import EventRow
from aipath.progress.types import EVENT_KINDS, Event


def test_export_schema_has_the_event_fields_without_the_local_id() -> None:
    fields = [f.name for f in dataclasses.fields(Event)]
    assert list(get_type_hints(ExportEvent)) == [f for f in fields if f != "id"]


def test_the_events_table_has_the_event_fields() -> None:
    fields = {f.name for f in dataclasses.fields(Event)}
    assert {c.name for c in EventRow.__table__.columns} == fields


def test_one_list_of_event_kinds() -> None:
    annotation = get_type_hints(ExportEvent)["kind"]
    assert get_args(annotation) == EVENT_KINDS
