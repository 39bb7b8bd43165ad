"""Live updates on a real server: saving a lab file pushes its verdict over server-sent events."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from aipath.errors import AipathError
from aipath.web.app import create_app
from aipath.web.server import BackgroundServer, background_server, check_host, serve_dashboard
from aipath.workspace.model import Workspace

LAB = "p1-tiny"


def _events(response: httpx.Response) -> Iterator[tuple[str, dict[str, object]]]:
    name = ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and name:
            yield name, json.loads(line.split(":", 1)[1])
            name = ""


def _next(events: Iterator[tuple[str, dict[str, object]]], wanted: str) -> dict[str, object]:
    for name, data in events:
        if name == wanted:
            return data
    raise AssertionError(f"the stream ended before a {wanted!r} event")


def test_saving_a_lab_file_streams_its_verdict(ws: Workspace, solve: Callable[[], Path]) -> None:
    app = create_app(ws, watch=True, worker=False)
    with (
        background_server(app) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
        client.stream("GET", "/api/events") as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = _events(stream)
        hello = _next(events, "hello")
        assert hello["watcher"] in ("starting", "native", "polling")
        time.sleep(0.3)  # let the watcher settle on the folder
        solve()
        assert _next(events, "checking")["lab"] == LAB
        verdict = _next(events, "verdict")
        assert verdict["lab"] == LAB
        assert verdict["status"] == "passed"
        assert verdict["trigger"] == "save"
        assert client.get(f"/api/labs/{LAB}/result").json()["status"] == "passed"


def test_check_now_is_announced_to_every_page(ws: Workspace) -> None:
    app = create_app(ws, watch=False, worker=False)
    with (
        background_server(app) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
        client.stream("GET", "/api/events") as stream,
    ):
        events = _events(stream)
        _next(events, "hello")
        result = client.post(f"/api/labs/{LAB}/check").json()
        verdict = _next(events, "verdict")
        assert verdict["status"] == result["status"] == "not-attempted"
        assert verdict["trigger"] == "button"


def test_a_burst_of_saves_costs_one_check_and_checks_never_overlap(ws: Workspace) -> None:
    import asyncio

    from aipath.web.data import Dashboard
    from aipath.web.live import Broadcaster, Checker

    async def scenario() -> list[dict[str, object]]:
        broadcaster = Broadcaster()
        queue = broadcaster.open()
        dashboard = Dashboard(ws)
        checker = Checker(dashboard, broadcaster)
        lab = dashboard.lab(LAB)
        for _ in range(5):  # an editor that saves five times in a row
            checker.saved(lab)
        await checker.drain()
        running = asyncio.create_task(checker.check(lab))  # "check now"
        await asyncio.sleep(0)
        for _ in range(3):  # saves while that check runs: one more check after it
            checker.saved(lab)
        await running
        await checker.drain()
        events = []
        while not queue.empty():
            event = queue.get_nowait()
            assert event is not None
            events.append(event)
        return events

    events = asyncio.run(scenario())
    kinds = [str(e["type"]) for e in events]
    assert kinds == ["checking", "verdict"] * 3  # never two checks of one lab at once
    assert [e["trigger"] for e in events if e["type"] == "verdict"] == ["save", "button", "save"]


def test_the_server_refuses_other_addresses_unless_asked(ws: Workspace) -> None:
    check_host("127.0.0.1", explicit=False)
    check_host("::1", explicit=False)
    check_host("localhost", explicit=False)
    with pytest.raises(AipathError, match="no login"):
        check_host("0.0.0.0", explicit=False)
    check_host("0.0.0.0", explicit=True)
    with pytest.raises(AipathError, match="no login"):
        serve_dashboard(ws, host="0.0.0.0", port=0)


def test_a_busy_port_is_a_clear_error(ws: Workspace) -> None:
    app = create_app(ws, watch=False, worker=False)
    busy = BackgroundServer(app)
    try:
        with pytest.raises(AipathError, match="already in use"):
            serve_dashboard(ws, port=busy.port)
    finally:
        busy.sock.close()
