"""aipath.checks.servers: the loopback uvicorn server and the in-process WebSocket client."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect

from aipath.checks import CheckFailure
from aipath.checks.servers import Served, TestClient, receive_text, serve_app


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(text.upper())
        if text == "close":
            await websocket.close(code=1008)
            return
        await asyncio.sleep(30)  # then silent, without closing: what receive_text guards against

    return app


def test_served_urls() -> None:
    served = Served("127.0.0.1", 8123)
    assert served.base_url == "http://127.0.0.1:8123"
    assert served.url("/ws/answer", scheme="ws") == "ws://127.0.0.1:8123/ws/answer"


def test_serve_app_over_a_real_socket_and_stops_afterwards() -> None:
    with serve_app(make_app()) as served:
        assert served.host == "127.0.0.1" and served.port > 0
        response = httpx.get(served.url("/ping"), timeout=5)
        assert response.json() == {"pong": "yes"}
    with pytest.raises(httpx.ConnectError):
        httpx.get(served.url("/ping"), timeout=2)


def test_serve_app_fails_the_check_when_the_app_cannot_start() -> None:
    async def broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "boom"})

    with pytest.raises(CheckFailure, match="uvicorn could not start your app"), serve_app(broken):
        pass  # pragma: no cover - never reached


def test_test_client_and_receive_text() -> None:
    with TestClient(make_app()) as client:
        assert client.get("/ping").json() == {"pong": "yes"}
        with client.websocket_connect("/echo") as ws:
            ws.send_text("hello")
            assert receive_text(ws, 5) == "HELLO"
            assert receive_text(ws, 0.2) is None  # the server went quiet without closing


def test_receive_text_raises_what_the_websocket_raises() -> None:
    with TestClient(make_app()) as client, client.websocket_connect("/echo") as ws:
        ws.send_text("close")
        assert receive_text(ws, 5) == "CLOSE"
        with pytest.raises(WebSocketDisconnect) as info:
            receive_text(ws, 5)
        assert info.value.code == 1008
