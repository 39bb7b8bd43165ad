"""Run the dashboard: ``aipath serve`` and ``aipath up`` call :func:`serve_dashboard`.

It listens on 127.0.0.1 unless told otherwise with ``--host``, because the dashboard has no
login: whoever can reach it can read and change the learner's progress.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
import time
import webbrowser
from collections.abc import Iterator
from types import FrameType
from typing import Any

import uvicorn

from aipath.console import console, err_console
from aipath.errors import AipathError
from aipath.web.security import LOOPBACK_NAMES, is_loopback
from aipath.workspace.model import Workspace

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def dashboard_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        shown = "127.0.0.1"
    return f"http://{shown}:{port}"


def check_host(host: str, *, explicit: bool) -> None:
    """Refuse a non-loopback address unless the learner typed it with ``--host``."""
    if is_loopback(host):
        return
    if not explicit:
        raise AipathError(
            f"refusing to serve the dashboard on {host}: it has no login",
            hint=f"it listens on {DEFAULT_HOST} by default; pass `--host {host}` yourself to "
            "let other machines reach it",
        )


def _bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket here, so a busy port is a clear message, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AipathError(
                f"port {port} on {host} is already in use",
                hint=f"is a dashboard already running? Open {dashboard_url(host, port)}, "
                "or pass --port N",
            ) from None
        raise AipathError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """Uvicorn that ends the dashboard's event streams as soon as it is asked to stop.

    Otherwise every open page would hold the shutdown for the whole grace period.
    """

    def __init__(self, app: Any) -> None:
        super().__init__(_config(app))
        self.dashboard_state = getattr(getattr(app, "state", None), "dashboard", None)

    def stop_streams(self) -> None:
        if self.dashboard_state is not None:
            self.dashboard_state.stopping()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.stop_streams()
        super().handle_exit(sig, frame)


def _config(app: Any, **kwargs: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        lifespan="on",
        **kwargs,
    )


def serve_dashboard(
    ws: Workspace,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    open_browser: bool = False,
    *,
    explicit_host: bool = False,
) -> None:
    """Serve the dashboard with its file watcher and warm grader until Ctrl-C."""
    from aipath.web.app import create_app

    check_host(host, explicit=explicit_host)
    loopback = is_loopback(host)
    sock = _bind(host, port)
    app = create_app(
        ws, watch=True, worker=True, allowed_hosts=list(LOOPBACK_NAMES) if loopback else None
    )
    url = dashboard_url(host, port)
    if not loopback:
        err_console.print(
            f"[bold yellow]warning:[/] serving on {host}: the dashboard has no login, so anyone "
            "who can reach this address can read and change your progress"
        )
    console.print(f"Dashboard: [bold]{url}[/]  (workspace {ws.root}; Ctrl-C stops it)")
    console.print("Saving a lab file re-checks it and updates the page.", style="dim")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    server = _Server(app)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        state = getattr(app.state, "dashboard", None)
        if state is not None and state.worker is not None:
            state.worker.stop()  # also when the lifespan never ran its shutdown
    console.print("Dashboard stopped.")


class BackgroundServer:
    """Uvicorn serving an app on an ephemeral loopback port in a thread (tests, benchmarks)."""

    def __init__(self, app: Any, host: str = DEFAULT_HOST) -> None:
        self.sock = _bind(host, 0)
        self.port: int = self.sock.getsockname()[1]
        self.url = dashboard_url(host, self.port)
        self.server = _Server(app)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self, timeout: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the dashboard server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.stop_streams()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@contextlib.contextmanager
def background_server(app: Any) -> Iterator[BackgroundServer]:
    server = BackgroundServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()
