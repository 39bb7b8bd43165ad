"""Static files: Plotly's bundle from its package, the Pygments stylesheet, the favicon."""

from __future__ import annotations

import gzip
from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from aipath.web.markdown import pygments_css
from aipath.web.state import FAVICON, PLOTLY_JS, DashboardState


@cache
def _plotly_gzip() -> bytes:
    return gzip.compress(PLOTLY_JS.read_bytes(), compresslevel=6, mtime=0)


def router(state: DashboardState) -> APIRouter:
    router = APIRouter()

    @router.api_route("/static/plotly.min.js", methods=["GET", "HEAD"], include_in_schema=False)
    def plotly_js(request: Request) -> Response:
        headers = {"cache-control": "public, max-age=604800, immutable", "vary": "accept-encoding"}
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            # 4.8 MB of JavaScript travel as 1.4 MB, compressed once per process.
            body = b"" if request.method == "HEAD" else _plotly_gzip()
            headers["content-encoding"] = "gzip"
            headers["content-length"] = str(len(_plotly_gzip()))
            return Response(body, media_type="text/javascript", headers=headers)
        return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=headers)

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
