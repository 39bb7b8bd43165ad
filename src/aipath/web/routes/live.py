"""``/api/status`` and ``/api/events``: the server itself and its server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sse_starlette import EventSourceResponse

from aipath.web.state import DashboardState


def router(state: DashboardState) -> APIRouter:
    router = APIRouter()

    @router.get("/api/status", tags=["live"])
    def api_status() -> dict[str, Any]:
        """The server itself: workspace, file watcher, warm worker, open event streams."""
        return {**state.describe(), "today": date.today().isoformat()}

    @router.get("/api/events", tags=["live"], response_class=Response)
    async def api_events() -> EventSourceResponse:
        """Server-sent events: `checking`, `verdict`, `worker`, `watcher` (JSON in `data`)."""

        queue = state.broadcaster.open()  # before the reply, so no event falls in between

        async def stream() -> AsyncIterator[dict[str, str]]:
            try:
                yield {"event": "hello", "data": json.dumps(state.describe())}
                while (event := await queue.get()) is not None:
                    yield {"event": str(event["type"]), "data": json.dumps(event)}
            finally:
                state.broadcaster.close(queue)

        return EventSourceResponse(stream(), ping=15, headers={"cache-control": "no-store"})

    return router
