"""Static files: Plotly's bundle from its package, the Pygments stylesheet, the favicon."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from aipath.web.markdown import pygments_css
from aipath.web.state import FAVICON, PLOTLY_JS, DashboardState


def router(state: DashboardState) -> APIRouter:
    router = APIRouter()

    @router.api_route("/static/plotly.min.js", methods=["GET", "HEAD"], include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            PLOTLY_JS,
            media_type="text/javascript",
            headers={"cache-control": "public, max-age=604800, immutable"},
        )

    @router.api_route("/static/pygments.css", methods=["GET", "HEAD"], include_in_schema=False)
    def pygments() -> Response:
        return Response(
            pygments_css(), media_type="text/css", headers={"cache-control": "max-age=86400"}
        )

    @router.api_route("/favicon.svg", methods=["GET", "HEAD"], include_in_schema=False)
    @router.api_route("/favicon.ico", methods=["GET", "HEAD"], include_in_schema=False)
    def favicon() -> Response:
        return Response(
            FAVICON, media_type="image/svg+xml", headers={"cache-control": "max-age=604800"}
        )

    return router
