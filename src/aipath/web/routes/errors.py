"""Errors as the learner reads them: JSON under ``/api/``, an error page elsewhere."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates

from aipath.errors import AipathError
from aipath.learner_writes import UnknownId
from aipath.web.state import DashboardState


def install_error_handlers(app: FastAPI, state: DashboardState, templates: Jinja2Templates) -> None:
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
