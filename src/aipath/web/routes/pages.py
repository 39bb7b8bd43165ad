"""The HTML pages, each rendered again only when the data under it changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from aipath.web.state import DashboardState


def router(state: DashboardState, templates: Jinja2Templates) -> APIRouter:
    dashboard = state.dashboard
    router = APIRouter()
    rendered: dict[str, tuple[object, str]] = {}

    async def page(
        key: str,
        name: str,
        active: str,
        build: Callable[[], dict[str, Any]],
        *depends: Path,
    ) -> Response:
        """A page, rendered again only when the data under it has changed.

        Checking costs a few ``stat`` calls, so it is done on the event loop; building and
        rendering run in a worker thread, since a cold build reads the store and plans.
        """
        live = state.describe()
        version = dashboard.version(*depends)
        tag = (version, live["worker"], live["watcher"])
        hit = rendered.get(key)
        if version is not None and hit is not None and hit[0] == tag:
            return HTMLResponse(hit[1])

        def render() -> str:
            context = build()
            context.update(page=active, live=live)
            return templates.env.get_template(name).render(context)

        html = await run_in_threadpool(render)
        if version is not None:
            rendered[key] = (tag, html)
        return HTMLResponse(html)

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home() -> Response:
        return await page(
            "home",
            "home.html",
            "home",
            lambda: {"summary": dashboard.summary(), "profile": dashboard.profile_view()},
        )

    @router.get("/roadmap", response_class=HTMLResponse, include_in_schema=False)
    async def roadmap() -> Response:
        def build() -> dict[str, Any]:
            view = dashboard.roadmap_view()
            current = next((ph.number for ph in view.phases if ph.done_fraction < 1.0), 1)
            return {"roadmap": view, "current_phase": current}

        return await page("roadmap", "roadmap.html", "roadmap", build)

    @router.get("/labs", response_class=HTMLResponse, include_in_schema=False)
    async def labs() -> Response:
        return await page("labs", "labs.html", "labs", lambda: {"labs": dashboard.lab_list()})

    @router.get("/labs/{lab_id}", response_class=HTMLResponse, include_in_schema=False)
    async def lab_page(lab_id: str) -> Response:
        files = dashboard.lab_files(lab_id)  # an unknown lab is a 404 before anything else
        return await page(
            f"lab:{lab_id}",
            "lab.html",
            "labs",
            lambda: {"detail": dashboard.lab_detail(lab_id)},
            *files,
        )

    @router.get("/search", response_class=HTMLResponse, include_in_schema=False)
    async def search_page(q: str = Query(default="", max_length=200)) -> Response:
        def render() -> str:
            context: dict[str, Any] = {
                "query": q,
                "results": dashboard.search(q) if q.strip() else [],
                "page": "search",
                "live": state.describe(),
            }
            return templates.env.get_template("search.html").render(context)

        return HTMLResponse(await run_in_threadpool(render))

    @router.get("/plan", response_class=HTMLResponse, include_in_schema=False)
    async def plan_page() -> Response:
        return await page("plan", "plan.html", "plan", lambda: {"view": dashboard.plan_view()})

    @router.get("/portfolio", response_class=HTMLResponse, include_in_schema=False)
    async def portfolio_page() -> Response:
        return await page(
            "portfolio", "portfolio.html", "portfolio", lambda: {"view": dashboard.portfolio_view()}
        )

    return router
