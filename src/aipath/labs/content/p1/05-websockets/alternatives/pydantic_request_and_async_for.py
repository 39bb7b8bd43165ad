"""Alternative: the request validated by a pydantic model, raw text parsed by hand, and a client
that reads with `async for` (whose quiet end on a normal close is treated as a drop)."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass

from fastapi import FastAPI, WebSocket
from pydantic import BaseModel, Field, StrictInt, ValidationError, model_validator
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

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


class AnswerRequest(BaseModel):
    seed: StrictInt
    n_tokens: StrictInt = Field(ge=1)
    resume_from: StrictInt = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _resume_within_answer(self) -> AnswerRequest:
        if self.resume_from > self.n_tokens:
            raise ValueError("resume_from is past the end of the answer")
        return self


def create_app(token_delay: float = 0.01) -> FastAPI:
    app = FastAPI()

    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        raw = await websocket.receive_text()
        try:
            request = AnswerRequest.model_validate_json(raw)
        except ValidationError as exc:
            detail = "; ".join(error["msg"] for error in exc.errors())
            await websocket.send_text(json.dumps({"type": "error", "detail": detail}))
            await websocket.close(code=1008)
            return
        answer = generate_tokens(request.seed, request.n_tokens)
        for index, text in enumerate(answer[request.resume_from :], start=request.resume_from):
            await asyncio.sleep(token_delay)
            await websocket.send_text(json.dumps({"type": "token", "index": index, "text": text}))
        await websocket.send_text(json.dumps({"type": "end", "n_tokens": request.n_tokens}))
        await websocket.close(code=1000)

    app.add_api_websocket_route("/ws/answer", stream)
    return app


async def receive_answer(url: str, *, seed: int, n_tokens: int, max_connections: int = 5) -> Answer:
    received: dict[int, str] = {}
    connections = 0
    while connections < max_connections:
        connections += 1
        try:
            async with connect(url) as ws:
                await ws.send(
                    json.dumps({"seed": seed, "n_tokens": n_tokens, "resume_from": len(received)})
                )
                async for raw in ws:
                    message = json.loads(raw)
                    if message["type"] == "error":
                        raise RuntimeError(message["detail"])
                    if message["type"] == "end":
                        if message["n_tokens"] != len(received):
                            raise RuntimeError("the answer ended with tokens missing")
                        tokens = [received[i] for i in range(len(received))]
                        return Answer("".join(tokens), tokens, connections)
                    index = message["index"]
                    if index > len(received):
                        raise RuntimeError(f"tokens {len(received)} to {index - 1} are missing")
                    received.setdefault(index, message["text"])
                # `async for` stopped: the server closed normally, but without the end message
        except ConnectionClosedError:
            pass  # dropped abruptly
    raise ConnectionError(f"gave up after {connections} connections without a complete answer")
