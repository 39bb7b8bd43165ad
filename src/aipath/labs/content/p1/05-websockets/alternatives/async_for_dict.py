"""Streaming tokens: receive_json with ValueError, `async for` on the client, tokens in a dict."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass

from fastapi import FastAPI, WebSocket
from websockets.asyncio.client import connect

VOCABULARY = (
    " the",
    " model",
    " reads",
    " a",
    " prompt",
    " and",
    " predicts",
    " one",
    " token",
    " at",
    " time",
    ",",
    ".",
    " attention",
    " weighs",
    " context",
    " every",
    " step",
)


def generate_tokens(seed: int, n_tokens: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(VOCABULARY) for _ in range(n_tokens)]


@dataclass(frozen=True)
class Answer:
    text: str
    tokens: list[str]
    connections: int


def _int(value: object) -> bool:
    return type(value) is int


def create_app(token_delay: float = 0.01) -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws/answer")
    async def answer(ws: WebSocket) -> None:
        await ws.accept()
        try:
            req = await ws.receive_json()
        except ValueError:
            req = "not json"
        detail = None
        if not isinstance(req, dict):
            detail = "request is not a JSON object"
        elif not _int(req.get("seed")):
            detail = "seed: an integer is required"
        elif not _int(req.get("n_tokens")) or req["n_tokens"] <= 0:
            detail = "n_tokens: an integer of at least 1 is required"
        elif not _int(req.get("resume_from", 0)) or req.get("resume_from", 0) not in range(
            req["n_tokens"] + 1
        ):
            detail = "resume_from: an integer in [0, n_tokens] is required"
        if detail is not None:
            await ws.send_json({"type": "error", "detail": detail})
            await ws.close(code=1008)
            return
        all_tokens = generate_tokens(req["seed"], req["n_tokens"])
        start = req.get("resume_from", 0)
        for index, text in enumerate(all_tokens[start:], start=start):
            await asyncio.sleep(token_delay)
            await ws.send_text(json.dumps({"type": "token", "index": index, "text": text}))
        await ws.send_text(json.dumps({"type": "end", "n_tokens": len(all_tokens)}))
        await ws.close(code=1000)

    return app


async def receive_answer(url: str, *, seed: int, n_tokens: int, max_connections: int = 5) -> Answer:
    held: dict[int, str] = {}
    for attempt in range(1, max_connections + 1):
        async with connect(url) as ws:
            await ws.send(
                json.dumps({"seed": seed, "n_tokens": n_tokens, "resume_from": len(held)})
            )
            try:
                async for raw in ws:
                    msg = json.loads(raw)
                    kind = msg.get("type")
                    if kind == "error":
                        raise RuntimeError(f"server error: {msg.get('detail')}")
                    if kind == "end":
                        if msg["n_tokens"] != len(held):
                            raise RuntimeError("end count does not match the tokens received")
                        ordered = [held[i] for i in range(len(held))]
                        return Answer(text="".join(ordered), tokens=ordered, connections=attempt)
                    i = msg["index"]
                    if i in held:
                        continue
                    if i != len(held):
                        raise RuntimeError(f"missing token {len(held)}: got {i}")
                    held[i] = msg["text"]
            except Exception as exc:
                if isinstance(exc, RuntimeError):
                    raise
                continue
    raise ConnectionError(f"gave up after {max_connections} connections")
