"""What the running dashboard holds (the data view, live updates, the worker), its templates,
and the constants its routes share."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import plotly
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

import aipath
from aipath.web.data import Dashboard
from aipath.web.live import Broadcaster, Checker, LabWatcher, WorkerHandle
from aipath.web.schemas import ApiError

HERE = Path(__file__).parent
STATIC = HERE / "static"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
STATUS_LABELS = {
    "passed": "passed",
    "failed": "failed",
    "not-attempted": "not attempted",
    "error": "error",
}
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" '
    'rx="7" fill="#111827"/><path d="M16 5 27 16 16 27 5 16Z" fill="#818cf8"/></svg>'
)
PACE_LABELS = {
    "not-started": "not started",
    "no-history": "not measured yet",
    "measuring": "measuring",
    "stalled": "stalled",
    "ahead": "ahead",
    "on-track": "on track",
    "behind": "behind",
    "measured": "measured",
}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "a problem the learner can fix"},
    404: {"model": ApiError, "description": "no such lab, topic or resource"},
}


class DashboardState:
    """What the running app holds: the data view, live updates, the worker."""

    def __init__(self, dashboard: Dashboard, *, watch: bool, worker: bool) -> None:
        self.dashboard = dashboard
        self.broadcaster = Broadcaster()
        self.checker = Checker(dashboard, self.broadcaster)
        self.watcher = LabWatcher(dashboard, self.checker, self.broadcaster) if watch else None
        self.worker = WorkerHandle(dashboard.ws.socket_path, self.broadcaster) if worker else None
        self.loop: asyncio.AbstractEventLoop | None = None

    def stopping(self) -> None:
        """The server is about to stop (any thread, or a signal handler): end the streams."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.broadcaster.shutdown)

    def describe(self) -> dict[str, Any]:
        return {
            "workspace": str(self.dashboard.ws.root),
            "watcher": self.watcher.mode if self.watcher else "off",
            "worker": self.worker.state if self.worker else "off",
            "confinement": self.worker.confinement if self.worker else "",
            "listeners": self.broadcaster.listeners,
            "version": aipath.__version__,
        }


def _static_version() -> str:
    stamps = [p.stat().st_mtime_ns for p in STATIC.iterdir() if p.is_file()]
    return format(max(stamps, default=0) % 0xFFFFFFFF, "x")


def format_day(value: date | str | None) -> str:
    """Every date on every page reads the same way, ``13 Dec 2026``, whether it comes as a
    ``date`` or as the ISO text of the plan's JSON (the two formats a learner saw side by side)."""
    if not value:
        return "—"
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%d %b %Y")


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.globals["static_version"] = _static_version()
    env.globals["status_labels"] = STATUS_LABELS
    env.globals["pace_labels"] = PACE_LABELS
    env.filters["pct"] = lambda value: f"{round(float(value) * 100)}%"
    env.filters["day"] = format_day
    env.filters["hours"] = lambda value: f"{float(value):g} h"
    env.filters["tojson_script"] = lambda value: Markup(
        json.dumps(value, separators=(",", ":")).replace("</", "<\\/")
    )
    return templates
