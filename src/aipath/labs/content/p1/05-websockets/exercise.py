"""Streaming tokens over a WebSocket: a FastAPI endpoint, and a client that resumes after a drop.

Read README.md first: it defines the JSON messages both sides exchange.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from fastapi import FastAPI

# ----- given: the "model" (do not change) ------------------------------------------------------

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
    """The whole answer for a seed: the same list every time (no real model involved).

    >>> generate_tokens(7, 3) == generate_tokens(7, 3)
    True
    """
    rng = random.Random(seed)
    return [rng.choice(VOCABULARY) for _ in range(n_tokens)]


@dataclass(frozen=True)
class Answer:
    """What the client returns (given).

    text:        "".join(tokens)
    tokens:      every token, in index order
    connections: how many WebSocket connections it took (1 when nothing dropped)
    """

    text: str
    tokens: list[str]
    connections: int


# ----- your code -------------------------------------------------------------------------------


def create_app(token_delay: float = 0.01) -> FastAPI:
    """A FastAPI app with the WebSocket route ``/ws/answer`` (tasks 1 and 2).

    Protocol (all JSON text messages):
        client -> {"seed": 7, "n_tokens": 12, "resume_from": 0}     (resume_from optional, 0)
        server -> {"type": "token", "index": i, "text": tokens[i]}  for i in resume_from..n-1,
                  each after ``await asyncio.sleep(token_delay)``
        server -> {"type": "end", "n_tokens": 12}, then a normal close
    Invalid request -> {"type": "error", "detail": "..."} and close with code 1008.
    """
    # TODO: tasks 1 and 2
    raise NotImplementedError


async def receive_answer(url: str, *, seed: int, n_tokens: int, max_connections: int = 5) -> Answer:
    """Fetch the whole answer from ``url`` (e.g. "ws://127.0.0.1:8000/ws/answer") (tasks 3, 4).

    Places tokens by their index (ignores repeats; a skipped index or a wrong ``end`` count raises
    RuntimeError). A close without the ``end`` message is a drop: reconnect and resume with
    ``resume_from`` = tokens held. After ``max_connections`` connections without ``end``, raise
    ConnectionError.

    Example::

        answer = await receive_answer("ws://127.0.0.1:8000/ws/answer", seed=7, n_tokens=12)
        answer.tokens == generate_tokens(7, 12)   # True
        answer.text == "".join(answer.tokens)     # True
        answer.connections                        # 1, or more after drops
    """
    # TODO: tasks 3 and 4
    raise NotImplementedError
