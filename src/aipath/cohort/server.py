"""The cohort server's FastAPI app: learners upload, instructors read, verdicts are pushed.

Who sees what: every request carries a token (``Authorization: Bearer``, or the cookie the
instructor sign-in page sets).  A learner sees only their own submissions; any other id is a
404, the same as an id that does not exist.  An instructor sees their own cohort; another
cohort is a 404 too.  Uploads are stored first and queued second: a broker that is away
costs the learner nothing, the sweeper (:func:`_sweep`) queues what was stored but never
queued, or queued long ago and still has no verdict (grading is idempotent, so a second
message for the same submission does no harm).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final

import anyio.to_thread
from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sse_starlette.sse import EventSourceResponse

from aipath.cohort import accounts, analytics, submissions, tasks
from aipath.cohort.accounts import User
from aipath.cohort.db import psycopg_dsn
from aipath.cohort.models import CohortRow
from aipath.cohort.notify import VerdictHub
from aipath.errors import AipathError
from aipath.labs import load_catalogue

log = logging.getLogger("aipath.cohort")
COOKIE: Final = "aipath_cohort_token"
HERE = Path(__file__).parent
WEB_STATIC = HERE.parent / "web" / "static"
# Between notifications, a waiting stream reads the database again this often: the safety net
# for a notification lost while the listener reconnected, never the way verdicts normally come.
RECHECK_S: Final = 15.0


class CohortState:
    """What the app holds: the engine, the notifier, the sweeper's settings."""

    def __init__(self, engine: Engine, *, sweep_after_s: float, sweep_every_s: float) -> None:
        self.engine = engine
        self.hub = VerdictHub(psycopg_dsn(engine))
        self.sweep_after_s = sweep_after_s
        self.sweep_every_s = sweep_every_s
        catalogue = load_catalogue()
        self.timeouts = {lab.id: lab.manifest.timeout_s for lab in catalogue}


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


def _enqueue(state: CohortState, submission_id: str, lab_id: str) -> bool:
    """Queue one submission; False (and a log line) when the broker cannot be reached."""
    try:
        tasks.enqueue(submission_id, state.timeouts.get(lab_id, 600.0))
    except Exception as exc:  # kombu's errors vary with the transport: all mean "not queued"
        log.warning("submission %s not queued yet (%s); the sweeper will retry", submission_id, exc)
        submissions.mark_enqueued(state.engine, submission_id, queued=False)
        return False
    submissions.mark_enqueued(state.engine, submission_id)
    return True


def _sweep_once(state: CohortState) -> int:
    before = datetime.now(UTC) - timedelta(seconds=state.sweep_after_s)
    queued = 0
    for submission_id, lab_id in submissions.waiting_since(state.engine, before):
        if not _enqueue(state, submission_id, lab_id):
            break  # the broker is away: try the rest next round
        queued += 1
    return queued


async def _sweep(state: CohortState) -> None:
    while True:
        await asyncio.sleep(state.sweep_every_s)
        try:
            count = await anyio.to_thread.run_sync(_sweep_once, state)
        except Exception as exc:  # the database may be restarting: next round
            log.warning("sweep failed: %s", exc)
            continue
        if count:
            log.info("sweeper queued %d submissions again", count)


def current_user(request: Request) -> User:
    """The user whose token came with the request, or a 401."""
    token = _token(request)
    state: CohortState = request.app.state.cohort
    user = accounts.authenticate(state.engine, token) if token else None
    if user is None:
        raise HTTPException(401, "a valid token is needed (aipath cohort join … --token T)")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def create_app(
    engine: Engine, *, sweep_after_s: float = 120.0, sweep_every_s: float = 15.0
) -> FastAPI:
    """The app on an engine whose schema is migrated (:func:`aipath.cohort.db.open_engine`)."""
    state = CohortState(engine, sweep_after_s=sweep_after_s, sweep_every_s=sweep_every_s)
    templates = Jinja2Templates(directory=str(HERE / "templates"))

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.hub.start(asyncio.get_running_loop())
        sweeper = asyncio.create_task(_sweep(state))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await anyio.to_thread.run_sync(state.hub.stop)

    app = FastAPI(
        title="aipath cohort",
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger's assets come from a CDN: nothing here leaves the machine
        redoc_url=None,
    )
    app.state.cohort = state
    app.mount("/static", StaticFiles(directory=str(WEB_STATIC)), name="static")

    def instructor_of(user: User, cohort_id: int) -> None:
        if not user.is_instructor or user.cohort_id != cohort_id:
            raise HTTPException(404, "no such cohort")

    @app.exception_handler(AipathError)
    async def _aipath_error(_request: Request, exc: AipathError) -> Response:
        return Response(
            json.dumps({"detail": exc.message, "hint": exc.hint}),
            status_code=400,
            media_type="application/json",
        )

    @app.exception_handler(OperationalError)
    async def _database_away(_request: Request, exc: OperationalError) -> Response:
        log.warning("database unavailable: %s", exc.orig)
        return Response(
            json.dumps(
                {
                    "detail": "the cohort database is not answering right now; nothing was stored",
                    "hint": "send again in a moment",
                }
            ),
            status_code=503,
            media_type="application/json",
        )

    @app.get("/health")
    def health() -> dict[str, bool]:
        return {"ok": True, "listening": state.hub.listening.is_set()}

    @app.get("/api/me")
    def me(user: CurrentUser) -> dict[str, Any]:
        with Session(engine) as session:
            cohort = session.get(CohortRow, user.cohort_id)
            return {
                "name": user.name,
                "role": user.role,
                "cohort_id": user.cohort_id,
                "cohort": cohort.name if cohort else None,
                "labs": list(cohort.labs) if cohort else [],
            }

    @app.post("/api/submissions", status_code=201)
    def submit(
        user: CurrentUser,
        response: Response,
        lab: Annotated[str, Form()],
        key: Annotated[str, Form()],
        file: Annotated[UploadFile, File()],
    ) -> dict[str, Any]:
        if user.is_instructor:
            raise HTTPException(403, "instructors do not submit; join with a learner token")
        data = file.file.read(submissions.MAX_UPLOAD_BYTES + 1)
        source = submissions.decode_upload(data)
        submission_id, new = submissions.create_submission(
            engine, user, lab, file.filename or "exercise.py", source, key
        )
        queued = _enqueue(state, submission_id, lab) if new else True
        if not new:
            response.status_code = 200
        return {"id": submission_id, "new": new, "queued": queued, "state": "queued"}

    @app.get("/api/submissions")
    def own_submissions(user: CurrentUser) -> list[submissions.SubmissionView]:
        return submissions.list_own(engine, user)

    @app.get("/api/submissions/{submission_id}")
    def one_submission(user: CurrentUser, submission_id: str) -> submissions.SubmissionView:
        view = submissions.visible_submission(engine, user, submission_id)
        if view is None:
            raise HTTPException(404, "no such submission")
        return view

    @app.get("/api/submissions/{submission_id}/events")
    async def submission_events(user: CurrentUser, submission_id: str) -> EventSourceResponse:
        """Server-sent events: ``queued`` (if no verdict yet), then ``verdict`` once stored."""
        first = await anyio.to_thread.run_sync(
            submissions.visible_submission, engine, user, submission_id
        )
        if first is None:
            raise HTTPException(404, "no such submission")

        async def events() -> AsyncIterator[dict[str, str]]:
            view: submissions.SubmissionView | None = first
            announced = False
            while True:
                future = state.hub.waiter(submission_id)
                try:
                    if view is None:
                        view = await anyio.to_thread.run_sync(
                            submissions.visible_submission, engine, user, submission_id
                        )
                    if view is not None and view.verdict is not None:
                        yield {"event": "verdict", "data": view.model_dump_json()}
                        return
                    if not announced:
                        yield {"event": "queued", "data": json.dumps({"id": submission_id})}
                        announced = True
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(future), RECHECK_S)
                finally:
                    state.hub.forget(submission_id, future)
                view = None

        return EventSourceResponse(events(), ping=10)

    @app.get("/api/cohorts/{cohort_id}/progress")
    def cohort_progress(user: CurrentUser, cohort_id: int) -> analytics.CohortProgress:
        instructor_of(user, cohort_id)
        return analytics.progress(engine, cohort_id)

    @app.get("/api/cohorts/{cohort_id}/mistakes")
    def cohort_mistakes(user: CurrentUser, cohort_id: int) -> analytics.CohortMistakes:
        instructor_of(user, cohort_id)
        return analytics.mistakes(engine, cohort_id)

    @app.get("/cohorts/{cohort_id}/grades.csv")
    def grades_csv(user: CurrentUser, cohort_id: int) -> PlainTextResponse:
        instructor_of(user, cohort_id)
        report = analytics.progress(engine, cohort_id)
        return PlainTextResponse(
            analytics.grades_csv(report),
            media_type="text/csv",
            headers={
                "content-disposition": f'attachment; filename="cohort-{cohort_id}-grades.csv"'
            },
        )

    @app.get("/cohorts/{cohort_id}", response_class=HTMLResponse)
    def dashboard(request: Request, user: CurrentUser, cohort_id: int) -> Response:
        instructor_of(user, cohort_id)
        report = analytics.progress(engine, cohort_id)
        return templates.TemplateResponse(
            request,
            "dashboard.html",
            {
                "progress": report,
                "mistakes": analytics.mistakes(engine, cohort_id),
                "behind": [row for row in report.learners if row.behind],
            },
        )

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        return templates.TemplateResponse(request, "login.html", {"error": None})

    @app.post("/login", response_class=HTMLResponse)
    def login(request: Request, token: Annotated[str, Form()]) -> Response:
        user = accounts.authenticate(engine, token.strip())
        if user is None or not user.is_instructor:
            return templates.TemplateResponse(
                request,
                "login.html",
                {"error": "that is not an instructor token"},
                status_code=401,
            )
        target = RedirectResponse(f"/cohorts/{user.cohort_id}", status_code=303)
        target.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict")
        return target

    @app.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse("/login")

    return app


def serve(
    engine: Engine,
    *,
    host: str,
    port: int,
    sweep_after_s: float = 120.0,
    sweep_every_s: float = 15.0,
) -> None:
    """Run the server in the foreground (uvicorn) until Ctrl-C."""
    import uvicorn

    uvicorn.run(
        create_app(engine, sweep_after_s=sweep_after_s, sweep_every_s=sweep_every_s),
        host=host,
        port=port,
        log_level="info",
    )
