"""The dashboard's FastAPI application: HTML pages, the JSON API under ``/api/``, static files.

Pages and API read the same :class:`aipath.web.data.Dashboard`, which calls the services the
CLI calls.  The OpenAPI description of the API is at ``/api/openapi.json``.  FastAPI's Swagger
page is switched off: it fetches its script from a CDN, and nothing here may leave the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import plotly
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

import aipath
from aipath.errors import AipathError
from aipath.grader.results import CheckResult
from aipath.learner_writes import UnknownId
from aipath.web.data import Dashboard
from aipath.web.live import Broadcaster, Checker, LabWatcher, WorkerHandle
from aipath.web.markdown import pygments_css
from aipath.web.schemas import (
    ApiError,
    Hint,
    LabDetail,
    LabSummary,
    MarkIn,
    NoteIn,
    PlanView,
    PortfolioView,
    RoadmapView,
    Saved,
    Solution,
    SolutionIn,
    StudyIn,
    Summary,
)
from aipath.web.security import LOOPBACK_NAMES, GuardMiddleware
from aipath.workspace.model import Workspace

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
            "listeners": self.broadcaster.listeners,
            "version": aipath.__version__,
        }


def _static_version() -> str:
    stamps = [p.stat().st_mtime_ns for p in STATIC.iterdir() if p.is_file()]
    return format(max(stamps, default=0) % 0xFFFFFFFF, "x")


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.globals["static_version"] = _static_version()
    env.globals["status_labels"] = STATUS_LABELS
    env.globals["pace_labels"] = PACE_LABELS
    env.filters["pct"] = lambda value: f"{round(float(value) * 100)}%"
    env.filters["day"] = lambda value: value.strftime("%d %b %Y") if value else "—"
    env.filters["hours"] = lambda value: f"{float(value):g} h"
    env.filters["tojson_script"] = lambda value: Markup(
        json.dumps(value, separators=(",", ":")).replace("</", "<\\/")
    )
    return templates


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
    templates = _templates()

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

    # ------------------------------------------------------------------------------ errors
    def _wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def _error_page(request: Request, status: int, message: str, hint: str | None) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": message, "hint": hint}, status_code=status)
        return templates.TemplateResponse(
            request,
            "error.html",
            {
                "page": "",
                "status": status,
                "message": message,
                "hint": hint,
                "live": state.describe(),
            },
            status_code=status,
        )

    @app.exception_handler(AipathError)
    async def _aipath_error(request: Request, exc: AipathError) -> Response:
        status = 404 if isinstance(exc, UnknownId) else 400
        return _error_page(request, status, exc.message, exc.hint)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error_page(request, 422, f"{where}: {first.get('msg')}".strip(": "), None)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        # A bug, not the learner's doing: say what broke instead of a bare "Internal Server Error"
        # (uvicorn still logs the traceback in the terminal).
        return _error_page(
            request,
            500,
            f"aipath failed to build this page ({type(exc).__name__}: {exc})",
            "this is a bug in aipath: the terminal running `aipath serve` shows the details",
        )

    @app.exception_handler(404)
    async def _not_found(request: Request, exc: HTTPException) -> Response:
        return _error_page(request, 404, f"nothing at {request.url.path}", "use the menu above")

    # ------------------------------------------------------------------------------ static
    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            PLOTLY_JS,
            media_type="text/javascript",
            headers={"cache-control": "public, max-age=604800, immutable"},
        )

    @app.get("/static/pygments.css", include_in_schema=False)
    def pygments() -> Response:
        return Response(
            pygments_css(), media_type="text/css", headers={"cache-control": "max-age=86400"}
        )

    @app.get("/favicon.svg", include_in_schema=False)
    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(
            FAVICON, media_type="image/svg+xml", headers={"cache-control": "max-age=604800"}
        )

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    # ------------------------------------------------------------------------------- pages
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

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home() -> Response:
        return await page("home", "home.html", "home", lambda: {"summary": dashboard.summary()})

    @app.get("/roadmap", response_class=HTMLResponse, include_in_schema=False)
    async def roadmap() -> Response:
        def build() -> dict[str, Any]:
            view = dashboard.roadmap_view()
            current = next((ph.number for ph in view.phases if ph.done_fraction < 1.0), 1)
            return {"roadmap": view, "current_phase": current}

        return await page("roadmap", "roadmap.html", "roadmap", build)

    @app.get("/labs", response_class=HTMLResponse, include_in_schema=False)
    async def labs() -> Response:
        return await page("labs", "labs.html", "labs", lambda: {"labs": dashboard.lab_list()})

    @app.get("/labs/{lab_id}", response_class=HTMLResponse, include_in_schema=False)
    async def lab_page(lab_id: str) -> Response:
        files = dashboard.lab_files(lab_id)  # an unknown lab is a 404 before anything else
        return await page(
            f"lab:{lab_id}",
            "lab.html",
            "labs",
            lambda: {"detail": dashboard.lab_detail(lab_id)},
            *files,
        )

    @app.get("/plan", response_class=HTMLResponse, include_in_schema=False)
    async def plan_page() -> Response:
        return await page("plan", "plan.html", "plan", lambda: {"view": dashboard.plan_view()})

    @app.get("/portfolio", response_class=HTMLResponse, include_in_schema=False)
    async def portfolio_page() -> Response:
        return await page(
            "portfolio", "portfolio.html", "portfolio", lambda: {"view": dashboard.portfolio_view()}
        )

    # --------------------------------------------------------------------------------- API
    @app.get("/api/summary", tags=["progress"])
    def api_summary() -> Summary:
        """Progress by phase, the next lab, this week, pace, streak, days to job-ready."""
        return dashboard.summary()

    @app.get("/api/labs", tags=["labs"])
    def api_labs() -> list[LabSummary]:
        """Every lab with its status (the shape of `aipath list --json`, plus a page URL)."""
        return dashboard.lab_list()

    @app.get("/api/labs/{lab_id}", tags=["labs"], responses=ERRORS)
    def api_lab(lab_id: str) -> LabDetail:
        """One lab: its README as HTML, its latest verdict and the hints revealed so far."""
        return dashboard.lab_detail(lab_id)

    @app.get("/api/labs/{lab_id}/result", tags=["labs"], responses=ERRORS)
    def api_result(lab_id: str) -> CheckResult | None:
        """The latest check result (`.aipath/results/<lab>.json`), or null before the first."""
        return dashboard.result(lab_id)

    @app.post("/api/labs/{lab_id}/check", tags=["labs"], responses=ERRORS)
    async def api_check(lab_id: str) -> CheckResult:
        """Check the lab now, like `aipath check LAB`; every open page gets the verdict too."""
        return await state.checker.check(dashboard.lab(lab_id))

    @app.post("/api/labs/{lab_id}/hints", tags=["labs"], responses=ERRORS)
    def api_hint(lab_id: str) -> Hint:
        """Reveal the next hint tier (nudge → approach → near-solution), like `aipath hint`."""
        return dashboard.hint(lab_id)

    @app.post("/api/labs/{lab_id}/solution", tags=["labs"], responses=ERRORS)
    def api_solution(lab_id: str, body: SolutionIn | None = None) -> Solution:
        """The reference solution: after a pass, or before one with `confirm` (recorded)."""
        return dashboard.solution(lab_id, confirm=bool(body and body.confirm))

    @app.get("/api/roadmap", tags=["roadmap"])
    def api_roadmap() -> RoadmapView:
        """Phases → topics → skills with status, resources, notes and labs."""
        return dashboard.roadmap_view()

    @app.put("/api/notes/{topic_id}", tags=["roadmap"], responses=ERRORS)
    def api_note(topic_id: str, body: NoteIn) -> Saved:
        """Replace your note on a topic or skill, like `aipath note` (empty text clears it)."""
        dashboard.write_note(topic_id, body.text)
        return Saved(message=f"note saved on {topic_id}")

    @app.put("/api/marks/{item_id}", tags=["roadmap"], responses=ERRORS)
    def api_mark(item_id: str, body: MarkIn) -> Saved:
        """Mark a topic, skill or resource done or skipped, or back to pending."""
        dashboard.mark(item_id, body.state)
        return Saved(message=f"{item_id}: {body.state}")

    @app.post("/api/study", tags=["progress"], responses=ERRORS)
    def api_study(body: StudyIn) -> Saved:
        """Log study time outside the labs, like `aipath log 1h30m --resource res.…`."""
        from aipath.progress import format_minutes

        minutes = dashboard.log_study(
            body.duration, resource_id=body.resource_id, topic_id=body.topic_id, note=body.note
        )
        target = body.resource_id or body.topic_id
        return Saved(
            message=f"logged {format_minutes(minutes)}" + (f" on {target}" if target else "")
        )

    @app.get("/api/plan", tags=["plan"])
    def api_plan() -> PlanView:
        """The plan (as `aipath plan --json`), weekly hours, and the charts' figures."""
        return dashboard.plan_view()

    @app.get("/api/portfolio", tags=["portfolio"])
    def api_portfolio() -> PortfolioView:
        """Audit reports of your projects (newest first) and the roadmap's projects."""
        return dashboard.portfolio_view()

    @app.get("/api/status", tags=["live"])
    def api_status() -> dict[str, Any]:
        """The server itself: workspace, file watcher, warm worker, open event streams."""
        return {**state.describe(), "today": date.today().isoformat()}

    @app.get("/api/events", tags=["live"], response_class=Response)
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

    return app
