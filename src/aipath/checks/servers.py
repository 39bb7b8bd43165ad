"""Serving and driving a learner's web app from a check: in-process and over a real socket.

* :data:`TestClient` — FastAPI's in-process client (HTTP and WebSocket), imported without the
  deprecation notice starlette prints when it finds ``httpx`` instead of ``httpx2``.
* :func:`receive_text` — ``websocket.receive_text()`` with a time limit: the TestClient waits
  forever on a server that returns from its handler without closing the connection.
* :func:`serve_app` — the app served by uvicorn on ``127.0.0.1``, a free port, in a thread of
  the check, for what only a real socket shows (a blocked event loop, a real client).

Import it as ``from aipath.checks.servers import serve_app, TestClient``: it loads uvicorn and
FastAPI, which the other check helpers do not need.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

# uvicorn imports its protocol classes lazily, when a server starts: imported here, a warm
# worker (which imports what checks import) already has them.
import uvicorn.protocols.http.auto
import uvicorn.protocols.http.h11_impl
import uvicorn.protocols.websockets.websockets_sansio_impl

from aipath.checks.failure import fail

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "install httpx2": the TestClient works with httpx
    from fastapi.testclient import TestClient

__all__ = ["Served", "TestClient", "receive_text", "response_body", "serve_app"]


@dataclass(frozen=True)
class Served:
    """Where :func:`serve_app` serves the app."""

    host: str
    port: int

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, for ``httpx.Client(base_url=...)``."""
        return self.url()

    def url(self, path: str = "", *, scheme: str = "http") -> str:
        """``served.url("/ws/answer", scheme="ws")`` → ``ws://127.0.0.1:PORT/ws/answer``."""
        return f"{scheme}://{self.host}:{self.port}{path}"


@contextlib.contextmanager
def serve_app(
    app: Any,
    *,
    ws: str = "websockets-sansio",
    start_timeout: float = 10.0,
    stop_timeout: float = 5.0,
) -> Iterator[Served]:
    """Serve ``app`` (any ASGI app) with uvicorn on 127.0.0.1, port 0, in a daemon thread.

    ::

        with serve_app(learner.create_app()) as served, httpx.Client(base_url=served.base_url) as http:
            ...

    Fails the check when the app does not start within ``start_timeout`` (uvicorn's own error
    is in the captured output); stops the server on leaving the block.
    """
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_config=None,
        log_level="error",
        access_log=False,
        ws=ws,
        lifespan="auto",
    )
    server = uvicorn.Server(config)

    def run() -> None:
        # uvicorn ends a failed startup with sys.exit(3) after logging why; in this thread that
        # only means "not started", which the loop below reports.
        with contextlib.suppress(SystemExit):
            server.run()

    thread = threading.Thread(target=run, name="lab-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            fail("uvicorn could not start your app (see the output below)")
        time.sleep(0.005)
    port = int(server.servers[0].sockets[0].getsockname()[1])
    try:
        yield Served("127.0.0.1", port)
    finally:
        server.should_exit = True
        thread.join(timeout=stop_timeout)


def receive_text(websocket: Any, timeout: float) -> str | None:
    """``websocket.receive_text()`` (a TestClient WebSocket), or None when nothing came in time.

    What ``receive_text`` raises (``WebSocketDisconnect`` when the server closed) is raised
    here.  The waiting thread is a daemon: one left waiting on a silent server ends with the
    check.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["text"] = websocket.receive_text()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, name="lab-ws-receive", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return None
    if "error" in box:
        raise box["error"]
    return str(box["text"])


def response_body(response: Any) -> Any:
    """An HTTP response's JSON body, or its text when it is not JSON (for messages and checks)."""
    try:
        return response.json()
    except ValueError:
        return response.text
