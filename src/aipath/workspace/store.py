"""Open the workspace's progress store for the duration of one operation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aipath.workspace.model import Workspace

if TYPE_CHECKING:
    from aipath.progress import ProgressStore


@contextmanager
def open_store(ws: Workspace) -> Iterator[ProgressStore]:
    from aipath.progress import ProgressStore

    store = ProgressStore.open(ws.db_url)
    try:
        yield store
    finally:
        store.close()
