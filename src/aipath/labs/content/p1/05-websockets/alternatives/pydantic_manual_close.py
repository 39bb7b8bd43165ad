"""Streaming tokens: a pydantic request model on the server, a manual connect/close client."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass

import websockets
from fastapi import FastAPI, WebSocket
from pydantic import BaseModel, Field, StrictInt, ValidationError, model_validator

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


class Request(BaseModel):
    seed: StrictInt
    n_tokens: StrictInt = Field(ge=1)
    resume_from: StrictInt = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _within(self) -> Request:
        if self.resume_from > self.n_tokens:
            raise ValueError("resume_from is past n_tokens")
        return self


def create_app(token_delay: float = 0.01) -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws/answer")
    async def answer(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        try:
            request = Request.model_validate_json(text)
        except ValidationError as exc:
            await websocket.send_json({"type": "error", "detail": str(exc).splitlines()[0]})
            await websocket.close(code=1008)
            return
        tokens = generate_tokens(request.seed, request.n_tokens)
        i = request.resume_from
        while i < request.n_tokens:
            await asyncio.sleep(token_delay)
            await websocket.send_json({"type": "token", "index": i, "text": tokens[i]})
            i += 1
        await websocket.send_json({"type": "end", "n_tokens": request.n_tokens})
        await websocket.close()

    return app


async def receive_answer(url: str, *, seed: int, n_tokens: int, max_connections: int = 5) -> Answer:
    tokens: list[str] = []
    opened = 0
    while True:
        if opened == max_connections:
            raise ConnectionError(f"{opened} connections ended without the end message")
        ws = await websockets.connect(url)
        opened += 1
        try:
            await ws.send(
                json.dumps({"seed": seed, "n_tokens": n_tokens, "resume_from": len(tokens)})
            )
            while True:
                try:
                    raw = await ws.recv()
                except websockets.ConnectionClosed:
                    break
                message = json.loads(raw)
                if message["type"] == "token":
                    if message["index"] > len(tokens):
                        raise RuntimeError("a token was skipped")
                    if message["index"] == len(tokens):
                        tokens.append(message["text"])
                elif message["type"] == "end":
                    if message["n_tokens"] != len(tokens):
                        raise RuntimeError("wrong number of tokens")
                    return Answer("".join(tokens), list(tokens), opened)
                else:
                    raise RuntimeError(message.get("detail", "error"))
        finally:
            await ws.close()
