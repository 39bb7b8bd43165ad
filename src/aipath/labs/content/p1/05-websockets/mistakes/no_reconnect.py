# expect: reconnect and resume
"""Mistake: one connection only; a dropped connection ends the call with an exception."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, WebSocket, status
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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_request(request: Any) -> tuple[int, int, int]:
    """(seed, n_tokens, resume_from) of a valid request; the exception says what is wrong."""
    if not isinstance(request, dict):
        raise TypeError("the request must be a JSON object")
    seed, n_tokens = request.get("seed"), request.get("n_tokens")
    resume_from = request.get("resume_from", 0)
    if not _is_int(seed):
        raise ValueError("seed must be an integer")
    if not _is_int(n_tokens) or n_tokens < 1:
        raise ValueError("n_tokens must be an integer of at least 1")
    if not _is_int(resume_from) or not 0 <= resume_from <= n_tokens:
        raise ValueError(f"resume_from must be an integer from 0 to n_tokens ({n_tokens})")
    return seed, n_tokens, resume_from


def create_app(token_delay: float = 0.01) -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws/answer")
    async def answer(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            seed, n_tokens, resume_from = parse_request(await websocket.receive_json())
        except (TypeError, ValueError) as exc:  # receive_json raises ValueError on non-JSON
            await websocket.send_json({"type": "error", "detail": str(exc)})
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
            return
        tokens = generate_tokens(seed, n_tokens)
        for index in range(resume_from, n_tokens):
            await asyncio.sleep(token_delay)  # the "model" at work; never time.sleep here
            await websocket.send_json({"type": "token", "index": index, "text": tokens[index]})
        await websocket.send_json({"type": "end", "n_tokens": n_tokens})
        await websocket.close()

    return app


async def receive_answer(url: str, *, seed: int, n_tokens: int, max_connections: int = 5) -> Answer:
    tokens: list[str] = []
    request = {"seed": seed, "n_tokens": n_tokens, "resume_from": 0}
    async with connect(url) as ws:
        await ws.send(json.dumps(request))
        while True:
            message = json.loads(await ws.recv())
            kind = message.get("type")
            if kind == "token":
                index = message["index"]
                if index > len(tokens):
                    raise RuntimeError(f"token {index} arrived but token {len(tokens)} never did")
                if index == len(tokens):
                    tokens.append(message["text"])
            elif kind == "end":
                if message["n_tokens"] != len(tokens):
                    raise RuntimeError(
                        f"the end message says {message['n_tokens']} tokens; received {len(tokens)}"
                    )
                return Answer("".join(tokens), tokens, 1)
            elif kind == "error":
                raise RuntimeError(f"the server refused the request: {message['detail']}")
