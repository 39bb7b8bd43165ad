"""The dashboard's FastAPI application: HTML pages, the JSON API under ``/api/``, static files.

Pages and API read the same :class:`aipath.web.data.Dashboard`, which calls the services the
CLI calls; each area's routes are one module of :mod:`aipath.web.routes`.  The OpenAPI
description of the API is at ``/api/openapi.json``.  FastAPI's Swagger page is switched off: it
fetches its script from a CDN, and nothing here may leave the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import aipath
from aipath.web.data import Dashboard
from aipath.web.routes import labs, live, pages, plan, roadmap, static
from aipath.web.routes.errors import install_error_handlers
from aipath.web.security import LOOPBACK_NAMES, GuardMiddleware
from aipath.web.state import STATIC, DashboardState, build_templates
from aipath.workspace.model import Workspace

__all__ = ["DashboardState", "create_app"]


def create_app(
    ws_or_dashboard: Workspace | Dashboard,
    *,
    watch: bool = True,
    worker: bool = True,
    allowed_hosts: list[str] | None = list(LOOPBACK_NAMES),  # noqa: B006 - never mutated
) -> FastAPI:
    """The app for one workspace; ``allowed_hosts=None`` answers any Host (non-loopback)."""
    dashboard = (
        ws_or_dashboard if isinstance(ws_or_dashboard, Dashboard) else Dashboard(ws_or_dashboard)
    )
    state = DashboardState(dashboard, watch=watch, worker=worker)
    templates = build_templates()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.loop = asyncio.get_running_loop()
        tasks = []
        if state.worker is not None:
            state.worker.start()
        if state.watcher is not None:
            tasks.append(asyncio.create_task(state.watcher.run()))
        try:
            yield
        finally:
            state.broadcaster.shutdown()
            if state.watcher is not None:
                state.watcher.stop()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, timeout=3)
            if state.worker is not None:
                import anyio.to_thread

                await anyio.to_thread.run_sync(state.worker.stop)

    app = FastAPI(
        title="aipath dashboard",
        description="Your roadmap, labs, plan and portfolio, served from your own machine.",
        version=aipath.__version__,
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI loads its assets from a CDN: the page must work offline
        redoc_url=None,
    )
    app.state.dashboard = state
    app.add_middleware(GuardMiddleware, allowed_hosts=allowed_hosts)

    install_error_handlers(app, state, templates)
    app.include_router(static.router(state))
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(pages.router(state, templates))
    for area in (plan, labs, roadmap, live):
        app.include_router(area.router(state))
    return app
