# expect: closed with code 1000; expected 1008
# slip: the error message is followed by a normal close (1000), not 1008

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass

from fastapi import FastAPI, WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

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


def _problem(request: object) -> str | None:
    if not isinstance(request, dict):
        return "the request must be a JSON object"
    seed = request.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool):
        return "seed must be an integer"
    n = request.get("n_tokens")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        return "n_tokens must be an integer >= 1"
    start = request.get("resume_from", 0)
    if not isinstance(start, int) or isinstance(start, bool) or not 0 <= start <= n:
        return "resume_from must be an integer from 0 to n_tokens"
    return None


def create_app(token_delay: float = 0.01) -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws/answer")
    async def answer(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            request = json.loads(await websocket.receive_text())
        except ValueError:
            request = None
        problem = _problem(request)
        if problem:
            await websocket.send_json({"type": "error", "detail": problem})
            await websocket.close()
            return
        n = request["n_tokens"]
        tokens = generate_tokens(request["seed"], n)
        for i in range(request.get("resume_from", 0), n):
            await asyncio.sleep(token_delay)
            await websocket.send_json({"type": "token", "index": i, "text": tokens[i]})
        await websocket.send_json({"type": "end", "n_tokens": n})
        await websocket.close()

    return app


async def receive_answer(url: str, *, seed: int, n_tokens: int, max_connections: int = 5) -> Answer:
    tokens: list[str] = []
    connections = 0
    while connections < max_connections:
        connections += 1
        try:
            async with connect(url) as ws:
                await ws.send(
                    json.dumps({"seed": seed, "n_tokens": n_tokens, "resume_from": len(tokens)})
                )
                while True:
                    message = json.loads(await ws.recv())
                    if message["type"] == "error":
                        raise RuntimeError(message["detail"])
                    if message["type"] == "end":
                        if message["n_tokens"] != len(tokens):
                            raise RuntimeError(
                                f"end says {message['n_tokens']}, have {len(tokens)}"
                            )
                        return Answer("".join(tokens), tokens, connections)
                    index = message["index"]
                    if index < len(tokens):
                        continue
                    if index > len(tokens):
                        raise RuntimeError(f"token {len(tokens)} missing (got {index})")
                    tokens.append(message["text"])
        except ConnectionClosed:
            continue
    raise ConnectionError(f"no end message after {max_connections} connections")
