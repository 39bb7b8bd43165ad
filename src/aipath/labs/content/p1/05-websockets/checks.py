"""Checks for p1-websockets.

The server side is driven in-process with FastAPI's TestClient (content, resume, validation) and
over a real socket with `serve_app`, uvicorn in a thread (a WebSocket ping must be answered while
it streams).
The client side runs against a scripted `websockets` server built here, on 127.0.0.1 (a free port)
in the check's own event loop, which drops connections mid-answer on purpose, repeats and skips
tokens, and records every request it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from aipath.checks import assert_returned, fail
from aipath.checks.servers import TestClient, receive_text, serve_app

# The same "model" as the one given in exercise.py: the checks keep their own copy.
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


def expected_tokens(seed: int, n_tokens: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(VOCABULARY) for _ in range(n_tokens)]


# ----- the learner's server, in-process -------------------------------------------------------


QUIET_S = 3.0


def _exchange(app: Any, request: Any) -> tuple[list[Any], int | None]:
    """Send one request to /ws/answer; collect every message until the server closes."""
    messages: list[Any] = []
    with TestClient(app) as client, client.websocket_connect("/ws/answer") as ws:
        if isinstance(request, str):
            ws.send_text(request)
        else:
            ws.send_json(request)
        while len(messages) < 1000:
            try:
                text = receive_text(ws, QUIET_S)
            except WebSocketDisconnect as exc:
                return messages, exc.code
            if text is None:
                last = messages[-1] if messages else None
                if isinstance(last, dict) and last.get("type") == "error":
                    fail(
                        f"after {_as_text(request)}, the server sent {last!r} and then neither "
                        f"closed the connection nor sent anything for {QUIET_S:.0f} s: close "
                        "it (await websocket.close(...)) once the answer is over"
                    )
                fail(
                    f"after {_as_text(request)}, the server sent {len(messages)} messages and "
                    f"then nothing for {QUIET_S:.0f} s (last: {last!r})"
                )
            try:
                messages.append(json.loads(text))
            except ValueError:
                fail(
                    f"the server sent {text[:80]!r}, which is not JSON: send every message with "
                    "websocket.send_json(...)"
                )
            if isinstance(messages[-1], dict) and messages[-1].get("type") == "end":
                # The close that follows is checked over a real socket (the TestClient would
                # wait forever for a handler that returns without closing; uvicorn closes it).
                return messages, None
    fail("the server sent more than 1000 messages for a short answer")


def _as_text(request: Any) -> str:
    return request if isinstance(request, str) else json.dumps(request)


def _check_stream(
    messages: list[Any], code: int | None, *, request: Any, seed: int, n_tokens: int, start: int = 0
) -> None:
    sent = _as_text(request)
    tokens = expected_tokens(seed, n_tokens)
    body = [m for m in messages if not (isinstance(m, dict) and m.get("type") == "end")]
    ends = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("type") == "end"]
    for position, message in enumerate(body):
        if not isinstance(message, dict) or message.get("type") != "token":
            if isinstance(message, dict) and message.get("type") == "error":
                valid = (
                    f"resume_from={start} is valid (from 0 to n_tokens, both included)"
                    if start
                    else "the request is valid"
                )
                what = "only the end message" if start == n_tokens else "the tokens"
                fail(
                    f"after {sent}, the server answered {message!r}; {valid}: expected {what}"
                    + (
                        " — is the upper bound checked with `<` where `<=` belongs?"
                        if start == n_tokens
                        else ""
                    )
                )
            fail(
                f"after {sent}, message {position} is {message!r}; expected "
                '{"type": "token", "index": ..., "text": ...}'
            )
    indexes = [m.get("index") for m in body]
    want = list(range(start, n_tokens))
    if indexes != want:
        clue = ""
        if start and indexes == want[1:]:
            clue = (
                f" — token {start} is lost on reconnect: with resume_from={start} the first "
                f"token sent must be index {start} itself"
            )
        elif start and indexes == list(range(n_tokens)):
            clue = " — resume_from is ignored: the stream restarted at 0"
        shown = indexes if len(indexes) <= 14 else f"{indexes[:6]} ... {indexes[-3:]}"
        fail(
            f"after {sent}, the server sent token indexes {shown}; expected "
            f"{start} to {n_tokens - 1} in order{clue}"
        )
    for message in body:
        if message.get("text") != tokens[message["index"]]:
            fail(
                f"after {sent}, token {message['index']} has text {message.get('text')!r}; "
                f"expected {tokens[message['index']]!r} (generate_tokens({seed}, {n_tokens})"
                f"[{message['index']}] — did generate_tokens or VOCABULARY change?)"
            )
    if not ends:
        fail(
            f"after {sent}, the server sent {len(body)} tokens and closed (code {code}) without "
            'the end message {"type": "end", "n_tokens": ...}: without it a client cannot tell '
            "a finished answer from a dropped connection"
        )
    end = messages[ends[0]]
    if ends[0] != len(messages) - 1:
        fail(
            f"after {sent}, the end message came at position {ends[0]} of {len(messages)}; it "
            "must be the last message, after every token"
        )
    if end.get("n_tokens") != n_tokens:
        clue = (
            f" — {end.get('n_tokens')} is the number of tokens sent on this connection; the end "
            "message carries the whole answer's n_tokens"
            if start and end.get("n_tokens") == n_tokens - start
            else ""
        )
        fail(f"after {sent}, the end message is {end!r}; expected n_tokens={n_tokens}{clue}")
    if code not in (1000, None):
        fail(
            f"after the end message the server closed with code {code}; expected a normal "
            "close (1000)"
        )


def _app(learner, token_delay: float) -> Any:
    return assert_returned(learner.create_app(token_delay=token_delay), "create_app()", what="app")


# ----- the learner's server over a real socket ------------------------------------------------


LIVE_DELAY = 0.03


@pytest.fixture(scope="module")
def live_url(learner) -> Iterator[str]:
    with serve_app(_app(learner, LIVE_DELAY)) as served:
        yield served.url("/ws/answer", scheme="ws")


# ----- the check's own scripted server, for the client ----------------------------------------


@dataclass
class Script:
    """What the scripted server does on each connection.

    drops[k] = ("abort", n) or ("close", n): on connection k+1, after sending n tokens, cut the
    connection abruptly (no close frame) or close it normally without the end message.
    """

    drops: list[tuple[str, int]] = field(default_factory=list)
    repeat: int | None = None  # send this index twice in a row
    repeat_on_resume: bool = False  # after a reconnect, first resend the token before resume_from
    skip: int | None = None  # never send this index
    end_after: int | None = None  # send the end message after this many tokens (too early)
    requests: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    async def handler(self, ws: ServerConnection) -> None:
        raw = await ws.recv()
        try:
            request = json.loads(raw)
        except (TypeError, ValueError):
            self.problems.append(f"the client sent {str(raw)[:80]!r}, which is not JSON")
            await ws.close(1008)
            return
        self.requests.append(request)
        if not isinstance(request, dict):
            self.problems.append(f"the client sent {request!r}; expected a JSON object")
            await ws.close(1008)
            return
        seed, n_tokens = request.get("seed"), request.get("n_tokens")
        start = request.get("resume_from", 0)
        if not (
            isinstance(seed, int)
            and isinstance(n_tokens, int)
            and isinstance(start, int)
            and n_tokens >= 1
            and 0 <= start <= n_tokens
        ):
            await ws.send(json.dumps({"type": "error", "detail": "invalid request"}))
            await ws.close(1008)
            return
        tokens = expected_tokens(seed, n_tokens)
        order = [i for i in range(start, n_tokens) if i != self.skip]
        if self.repeat is not None and self.repeat in order:
            order.insert(order.index(self.repeat), self.repeat)
        if self.repeat_on_resume and start > 0:
            order.insert(0, start - 1)
        number = len(self.requests) - 1
        drop = self.drops[number] if number < len(self.drops) else None
        for sent, index in enumerate(order):
            if drop is not None and sent == drop[1]:
                if drop[0] == "abort":
                    ws.transport.abort()
                else:
                    await ws.close()
                return
            if self.end_after is not None and sent == self.end_after:
                break
            await ws.send(json.dumps({"type": "token", "index": index, "text": tokens[index]}))
            await asyncio.sleep(0)
        await ws.send(json.dumps({"type": "end", "n_tokens": n_tokens}))


async def _against(script: Script, learner, **kwargs: Any) -> Any:
    async with serve(script.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/ws/answer"
        try:
            return await asyncio.wait_for(learner.receive_answer(url, **kwargs), timeout=10)
        except TimeoutError:
            fail(
                f"receive_answer(seed={kwargs.get('seed')}, n_tokens={kwargs.get('n_tokens')}) "
                f"did not return within 10 s (the server saw {len(script.requests)} "
                "connections): is it waiting for a message that never comes?"
            )


def _run_client(
    learner, script: Script, *, seed: int, n_tokens: int, what: str, **kwargs: Any
) -> Any:
    try:
        result = asyncio.run(_against(script, learner, seed=seed, n_tokens=n_tokens, **kwargs))
    except NotImplementedError:
        raise
    except ConnectionClosed as exc:
        fail(
            f"receive_answer let {type(exc).__name__} escape when {what}: a connection that "
            "closes before the end message is a drop — reconnect and resume from the number "
            "of tokens you hold"
        )
    except RuntimeError as exc:
        repeated = script.repeat is not None or script.repeat_on_resume
        fail(
            f"when {what}, receive_answer raised RuntimeError({str(exc)[:120]!r}), though no "
            "token was missing"
            + (
                ": a token whose index you already hold is a repeat — ignore it instead of "
                "counting it twice"
                if repeated
                else ""
            )
        )
    if script.problems:
        fail(script.problems[0])
    return result


def _check_answer(
    answer: Any,
    *,
    seed: int,
    n_tokens: int,
    connections: int,
    what: str,
    script: Script | None = None,
) -> None:
    assert_returned(answer, "receive_answer(...)", what="Answer(...)")
    for attribute in ("text", "tokens", "connections"):
        if not hasattr(answer, attribute):
            fail(
                f"receive_answer returned a {type(answer).__name__}; expected an "
                "Answer(text, tokens, connections)"
            )
    want = expected_tokens(seed, n_tokens)
    got = list(answer.tokens)
    seen = len(script.requests) if script is not None else connections
    if got != want:
        if len(got) < len(want) and got == want[: len(got)]:
            if seen == 1 and script is not None and script.drops:
                kind = script.drops[0][0]
                how = "closed normally without the end message" if kind == "close" else "dropped"
                extra = (
                    " — a close without the end message is a drop, not the end of the answer"
                    if kind == "close"
                    else ""
                )
                fail(
                    f"when {what}, receive_answer returned {len(got)} of {n_tokens} tokens and "
                    f"never reconnected (the connection was {how} after {len(got)} tokens)"
                    f"{extra}: reconnect and resume"
                )
            fail(
                f"when {what}, receive_answer returned only the first {len(got)} of "
                f"{n_tokens} tokens"
            )
        duplicates = sorted(
            {t for t in range(len(want)) if got.count(want[t]) > want.count(want[t])}
        )
        if len(got) > len(want):
            fail(
                f"when {what}, receive_answer returned {len(got)} tokens for an answer of "
                f"{n_tokens}: tokens were repeated — place tokens by their index and ignore an "
                "index you already hold" + (f" (repeated: {duplicates[:5]})" if duplicates else "")
            )
        first = next(
            (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), len(want)
        )
        fail(
            f"when {what}, receive_answer's tokens differ from the answer at index {first}: "
            f"got {got[first : first + 3]!r}, expected {want[first : first + 3]!r} "
            f"({len(got)} tokens, expected {n_tokens})"
        )
    if answer.text != "".join(want):
        fail(
            f'when {what}, answer.text is {answer.text[:60]!r}...; expected "".join(tokens) '
            f"= {''.join(want)[:60]!r}..."
        )
    if answer.connections != connections:
        fail(
            f"when {what}, answer.connections is {answer.connections!r}; the server saw "
            f"{seen} connections and {connections} were needed"
        )


def _resume_points(script: Script) -> list[Any]:
    return [r.get("resume_from", 0) if isinstance(r, dict) else None for r in script.requests]


# ----- task 1 -----------------------------------------------------------------------------------


@pytest.mark.task(1)
def test_streams_every_token_then_end(learner) -> None:
    request = {"seed": 7, "n_tokens": 12, "resume_from": 0}
    messages, code = _exchange(_app(learner, 0), request)
    _check_stream(messages, code, request=request, seed=7, n_tokens=12)
    request = {"seed": 123, "n_tokens": 1, "resume_from": 0}
    messages, code = _exchange(_app(learner, 0), request)
    _check_stream(messages, code, request=request, seed=123, n_tokens=1)


@pytest.mark.task(1)
def test_event_loop_stays_free_while_streaming(live_url: str) -> None:
    n_tokens = 15
    request = {"seed": 3, "n_tokens": n_tokens, "resume_from": 0}

    async def probe() -> tuple[float, float | None, list[Any], list[float]]:
        """Ping once two tokens have arrived; return (ping time, pong time, messages, arrivals),
        all times in seconds since the request was sent."""
        messages: list[Any] = []
        arrivals: list[float] = []
        async with connect(live_url, proxy=None, ping_interval=None) as ws:
            started = time.perf_counter()
            await ws.send(json.dumps(request))

            async def read() -> None:
                with contextlib.suppress(ConnectionClosed):
                    async for text in ws:
                        messages.append(json.loads(text))
                        arrivals.append(time.perf_counter() - started)

            reader = asyncio.create_task(read())
            deadline = time.perf_counter() + 5
            while len(messages) < 2 and not reader.done() and time.perf_counter() < deadline:
                await asyncio.sleep(0.002)
            pinged = time.perf_counter() - started
            ponged: float | None = None
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                waiter = await ws.ping()
                await asyncio.wait_for(waiter, timeout=5)
                ponged = time.perf_counter() - started
            await asyncio.wait_for(reader, timeout=10)
            return pinged, ponged, messages, arrivals

    pinged, ponged, messages, arrivals = asyncio.run(probe())
    _check_stream(messages, None, request=request, seed=3, n_tokens=n_tokens)
    stream_end = arrivals[-1]
    # A handler that blocks the loop lets the server answer the ping only once it has finished
    # streaming; a free loop answers within milliseconds, long before the end message.
    if ponged is None or ponged >= stream_end:
        answered = "never" if ponged is None else f"only after {ponged - pinged:.2f} s"
        fail(
            f"a WebSocket ping sent {pinged:.2f} s into a {stream_end:.2f} s stream was answered "
            f"{answered}, after the end message: the server's event loop is blocked while it "
            "streams — time.sleep (or other blocking work) inside the async handler? Use "
            "await asyncio.sleep(token_delay)"
        )
    if stream_end < 0.7 * n_tokens * LIVE_DELAY:
        fail(
            f"with token_delay={LIVE_DELAY} the {n_tokens} tokens and the end message all "
            f"arrived within {stream_end:.3f} s; expected about {n_tokens * LIVE_DELAY:.2f} s "
            "— wait token_delay before each token (await asyncio.sleep(token_delay))"
        )


# ----- task 2 -----------------------------------------------------------------------------------


@pytest.mark.task(2)
def test_resume_from(learner) -> None:
    for start in (5, 11, 12):
        request = {"seed": 7, "n_tokens": 12, "resume_from": start}
        messages, code = _exchange(_app(learner, 0), request)
        _check_stream(messages, code, request=request, seed=7, n_tokens=12, start=start)
    request = {"seed": 9, "n_tokens": 4}
    messages, code = _exchange(_app(learner, 0), request)
    _check_stream(messages, code, request=request, seed=9, n_tokens=4)


INVALID = [
    "hello, not JSON",
    {"seed": 1},
    {"seed": 1, "n_tokens": 0},
    {"seed": "one", "n_tokens": 5},
    {"seed": 1, "n_tokens": 12, "resume_from": 13},
    {"seed": 1, "n_tokens": 12, "resume_from": -1},
    [1, 12],
]


@pytest.mark.task(2)
def test_invalid_requests_get_an_error(learner) -> None:
    for request in INVALID:
        try:
            messages, code = _exchange(_app(learner, 0), request)
        except WebSocketDisconnect as exc:
            fail(
                f"after the invalid request {_as_text(request)}, the server closed with code "
                f"{exc.code} before sending anything; expected an error message first"
            )
        sent = _as_text(request)
        if not messages or not isinstance(messages[0], dict) or messages[0].get("type") != "error":
            fail(
                f"after the invalid request {sent}, the server sent {messages[:2]!r} (closed "
                f'with code {code}); expected {{"type": "error", "detail": ...}} first'
            )
        if not messages[0].get("detail"):
            fail(
                f"after the invalid request {sent}, the error message {messages[0]!r} has no "
                "detail: say what is wrong"
            )
        if len(messages) > 1:
            fail(
                f"after the invalid request {sent}, the server sent {len(messages) - 1} more "
                "messages after the error; expected none"
            )
        if code != 1008:
            fail(
                f"after the invalid request {sent}, the server closed with code {code}; "
                "expected 1008 (policy violation): websocket.close(code=1008)"
            )


# ----- task 3 -----------------------------------------------------------------------------------


@pytest.mark.task(3)
def test_client_reassembles_the_answer(learner) -> None:
    script = Script()
    answer = _run_client(learner, script, seed=11, n_tokens=10, what="nothing went wrong")
    _check_answer(
        answer, seed=11, n_tokens=10, connections=1, what="nothing went wrong", script=script
    )
    request = script.requests[0]
    if (
        request.get("seed") != 11
        or request.get("n_tokens") != 10
        or request.get("resume_from", 0) != 0
    ):
        fail(
            f"receive_answer(seed=11, n_tokens=10) sent {request!r}; expected "
            '{"seed": 11, "n_tokens": 10, "resume_from": 0}'
        )


@pytest.mark.task(3)
def test_client_ignores_a_repeated_token(learner) -> None:
    script = Script(repeat=4)
    what = "the server sent token 4 twice"
    answer = _run_client(learner, script, seed=5, n_tokens=9, what=what)
    _check_answer(answer, seed=5, n_tokens=9, connections=1, what=what, script=script)


@pytest.mark.task(3)
def test_client_detects_missing_tokens(learner) -> None:
    for script, what in (
        (Script(skip=5), "the server skipped token 5"),
        (Script(end_after=7), "the server sent the end message (n_tokens=10) after 7 tokens"),
    ):
        try:
            answer = asyncio.run(_against(script, learner, seed=2, n_tokens=10))
        except NotImplementedError:
            raise
        except RuntimeError:
            continue
        except ConnectionClosed as exc:
            fail(
                f"when {what}, receive_answer let {type(exc).__name__} escape; expected "
                "RuntimeError (tokens went missing)"
            )
        shown = f"{len(answer.tokens)} tokens" if hasattr(answer, "tokens") else repr(answer)
        fail(
            f"when {what}, receive_answer returned {shown} instead of raising RuntimeError: "
            "tokens went missing, so the answer is incomplete (compare each index with the "
            "next one you need, and the end message's n_tokens with what you hold)"
        )


@pytest.mark.task(3)
def test_client_raises_on_an_error_message(learner) -> None:
    script = Script()
    try:
        result = asyncio.run(_against(script, learner, seed=1, n_tokens=0))
    except NotImplementedError:
        raise
    except RuntimeError:
        return
    except ConnectionError:
        fail(
            f"when the server answered an error message, receive_answer reconnected "
            f"{len(script.requests)} times and raised ConnectionError; an error message is "
            "final: raise RuntimeError with its detail"
        )
    fail(
        f"when the server answered an error message, receive_answer returned {result!r}; "
        "expected RuntimeError with the error's detail"
    )


# ----- task 4 -----------------------------------------------------------------------------------


def _check_resumes(script: Script, want: list[int], what: str) -> None:
    points = _resume_points(script)
    if points != want:
        clue = ""
        if len(points) > 1 and points[1] == 0:
            clue = (
                " — it started again from 0: send resume_from = the number of tokens "
                "already received, so nothing is sent twice"
            )
        fail(
            f"when {what}, the client's requests asked for resume_from {points}; expected "
            f"{want}{clue}"
        )


@pytest.mark.task(4)
def test_client_resumes_after_a_dropped_connection(learner) -> None:
    script = Script(drops=[("abort", 4)])
    what = "the connection dropped after 4 tokens"
    answer = _run_client(learner, script, seed=21, n_tokens=10, what=what)
    _check_resumes(script, [0, 4], what)
    _check_answer(answer, seed=21, n_tokens=10, connections=2, what=what, script=script)


@pytest.mark.task(4)
def test_client_resumes_after_a_close_without_end(learner) -> None:
    script = Script(drops=[("close", 6)])
    what = "the server closed normally after 6 tokens without the end message"
    answer = _run_client(learner, script, seed=22, n_tokens=10, what=what)
    _check_answer(answer, seed=22, n_tokens=10, connections=2, what=what, script=script)
    _check_resumes(script, [0, 6], what)


@pytest.mark.task(4)
def test_client_resumes_twice_and_ignores_the_resent_token(learner) -> None:
    script = Script(drops=[("abort", 3), ("close", 4)], repeat_on_resume=True)
    what = (
        "the connection dropped after 3 tokens, then closed after 4 more, and every resume "
        "began by resending the last token"
    )
    answer = _run_client(learner, script, seed=23, n_tokens=12, what=what)
    _check_answer(answer, seed=23, n_tokens=12, connections=3, what=what, script=script)
    _check_resumes(script, [0, 3, 6], what)


@pytest.mark.task(4)
def test_client_gives_up_after_max_connections(learner) -> None:
    script = Script(drops=[("abort", 1)] * 10)
    try:
        result = asyncio.run(_against(script, learner, seed=4, n_tokens=10, max_connections=3))
    except ConnectionError:
        result = None
    except ConnectionClosed as exc:
        fail(
            f"when every connection dropped, receive_answer let {type(exc).__name__} escape; "
            "expected it to reconnect until max_connections=3, then raise ConnectionError"
        )
    if result is not None:
        fail(
            f"when every connection dropped after 1 token, receive_answer(max_connections=3) "
            f"returned {result!r}; expected ConnectionError after 3 connections"
        )
    if len(script.requests) != 3:
        fail(
            f"with max_connections=3 and every connection dropping, the server saw "
            f"{len(script.requests)} connections; expected exactly 3"
        )
    _check_resumes(script, [0, 1, 2], "every connection dropped after 1 token")


@pytest.mark.task(4)
def test_client_and_server_end_to_end(learner, live_url: str) -> None:
    async def run() -> Any:
        return await asyncio.wait_for(
            learner.receive_answer(live_url, seed=99, n_tokens=8), timeout=10
        )

    answer = asyncio.run(run())
    _check_answer(
        answer,
        seed=99,
        n_tokens=8,
        connections=1,
        what="your client talked to your server over a real socket",
    )
