"""Checks for p5-multi-agent: routing, loop detection, tools over an API and SQLite, a coordinator.

Task 1 hands ``check_reply`` replies that break one rule each. Task 2 feeds ``find_loop``
histories built here (ping-pong, a three-agent cycle, repeats that are progress, not loops).
Task 3 serves a small search API with ``serve_app`` (uvicorn on 127.0.0.1, a free port) that
records every request, and builds a SQLite file per check. Task 4 wraps tools written here and
reads the audit log. Task 5 runs teams of scripted agents (researcher, writer, reviewer) that
record every message they are given; ``check_reply``, ``find_loop`` and ``tool_access`` are
replaced by the reference there, so the coordinator is judged on its own, and the last check
runs the whole learner's code against the served API and a real database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from aipath.checks import fail, fmt
from aipath.checks.servers import serve_app

USER = "user"
COORDINATOR = "coordinator"


# ----- the learner's given classes --------------------------------------------------------------
def _given(learner, name: str) -> Any:
    cls = getattr(learner, name, None)
    if not isinstance(cls, type):
        fail(f"exercise.py has no {name} class: keep the given one (the checks build and catch it)")
    return cls


def _msg(learner, sender: str, recipient: str, content: str) -> Any:
    return _given(learner, "Message")(sender, recipient, content)


def _show(message: Any) -> str:
    if all(hasattr(message, k) for k in ("sender", "recipient", "content")):
        return f"{message.sender} → {message.recipient}: {message.content!r}"[:240]
    return fmt(message)[:240]


def _expect_error(
    learner,
    cls_name: str,
    what: str,
    func: Callable[..., Any],
    kind: str,
    *args: Any,
    advice: str = "",
    **kwargs: Any,
) -> Exception:
    """Call ``func``; it must raise the learner's ``cls_name`` with ``kind``. Returns the error."""
    cls = _given(learner, cls_name)
    started = time.perf_counter()
    try:
        value = func(*args, **kwargs)
    except NotImplementedError:
        raise
    except cls as exc:
        got = getattr(exc, "kind", None)
        if got != kind:
            fail(
                f"{what} raised {cls_name}({fmt(got)}, {fmt(str(exc))[:200]}); expected the kind "
                f"{fmt(kind)}. {advice}".strip()
            )
        if not str(exc).strip():
            fail(
                f"{what} raised {cls_name}({fmt(kind)}) with an empty message: the agent reads "
                "the message to decide what to do next, so say what went wrong"
            )
        return exc
    except Exception as exc:
        fail(
            f"{what} raised {type(exc).__name__}: {str(exc)[:200]}; expected "
            f"{cls_name}({fmt(kind)}, ...). {advice}".strip()
        )
    took = time.perf_counter() - started
    fail(
        f"{what} returned {fmt(value)[:200]} after {took:.2f} s; expected it to raise "
        f"{cls_name}({fmt(kind)}, ...). {advice}".strip()
    )


# ----- reference implementations (raising the learner's classes) --------------------------------
def _ref_check_reply(learner, reply: Any, replier: str, team: Any) -> None:
    message_cls, error = _given(learner, "Message"), _given(learner, "RouteError")
    if not isinstance(reply, message_cls):
        raise error("not_a_message", f"{replier} replied with a {type(reply).__name__}")
    if reply.sender != replier:
        raise error("wrong_sender", f"{replier} sent a message signed {reply.sender!r}")
    allowed = team.routes.get(replier, [])
    if reply.recipient not in team.agents and reply.recipient != USER:
        raise error("unknown_recipient", f"no agent {reply.recipient!r}; {replier}: {allowed}")
    if reply.recipient not in allowed:
        raise error("forbidden_route", f"{replier} may not write to {reply.recipient!r}: {allowed}")
    if not isinstance(reply.content, str) or not reply.content.strip():
        raise error("empty_content", f"the message from {replier} has no content")


def _ref_find_loop(history: list[Any]) -> int | None:
    for period in range(1, len(history) // 2 + 1):
        if history[-period:] == history[-2 * period : -period]:
            return period
    return None


def _ref_tool_access(
    learner, tools: dict[str, Any], allowed: list[str], agent: str, audit: list[Any], turn: int
) -> Callable[..., Any]:
    error = _given(learner, "ToolError")

    def use(name: str, **arguments: Any) -> Any:
        record = {"turn": turn, "agent": agent, "tool": name, "args": dict(arguments)}
        record["status"] = "ok"
        audit.append(record)
        try:
            if name not in tools:
                raise error("unknown_tool", f"there is no tool {name!r}; {agent}: {allowed}")
            if name not in allowed:
                raise error("forbidden_tool", f"{agent} may not use {name!r}: {allowed}")
            return tools[name](**arguments)
        except error as exc:
            record["status"] = exc.kind
            raise
        except Exception as exc:
            record["status"] = "tool_failed"
            raise error("tool_failed", f"{type(exc).__name__}: {exc}") from exc

    return use


def _ref_run(learner, team: Any, task: str, tools: dict[str, Any], entry: str, max_turns: int):
    message_cls = _given(learner, "Message")
    route_error = _given(learner, "RouteError")

    def error_message(recipient: str, kind: str, text: str) -> Any:
        return message_cls(COORDINATOR, recipient, json.dumps({"error": kind, "message": text}))

    message = message_cls(USER, entry, task)
    history = [message]
    audit: list[dict[str, Any]] = []
    for turn in range(1, max_turns + 1):
        name = message.recipient
        use = _ref_tool_access(learner, tools, team.tool_access.get(name, []), name, audit, turn)
        try:
            reply = team.agents[name](message, use)
            _ref_check_reply(learner, reply, name, team)
        except route_error as exc:
            message = error_message(name, exc.kind, str(exc))
        except Exception as exc:
            message = error_message(name, "agent_failed", f"{type(exc).__name__}: {exc}")
        else:
            message = reply
        history.append(message)
        if message.recipient == USER:
            return "done", message.content, turn, history, audit
        if _ref_find_loop(history) is not None:
            return "loop", None, turn, history, audit
    return "turn_limit", None, max_turns, history, audit


# ----- task 1 -----------------------------------------------------------------------------------
def _nobody(message: Any, use: Any) -> Any:
    raise AssertionError("the check's routing tests never call an agent")


ROUTES = {
    "researcher": ["writer"],
    "writer": ["reviewer", "researcher"],
    "reviewer": ["writer", USER],
}


def _routing_team(learner, extra: tuple[str, ...] = ()) -> Any:
    team_cls = _given(learner, "Team")
    names = ("researcher", "writer", "reviewer", *extra)
    return team_cls({n: _nobody for n in names}, {k: list(v) for k, v in ROUTES.items()}, {})


VALID_REPLIES = [
    ("researcher", ("researcher", "writer", "Sources: A; B"), "the researcher hands over"),
    ("writer", ("writer", "researcher", "Need more sources"), "the writer asks back"),
    ("reviewer", ("reviewer", USER, "Approved: the draft"), "the reviewer answers the user"),
    ("reviewer", ("reviewer", "writer", "revise: cite B"), "the reviewer sends the draft back"),
]  # fmt: skip


@pytest.mark.task(1)
def test_valid_replies_are_delivered(learner) -> None:
    team = _routing_team(learner)
    for replier, fields, about in VALID_REPLIES:
        reply = _msg(learner, *fields)
        what = f"check_reply({_show(reply)!r}, {replier!r}, team) ({about})"
        try:
            learner.check_reply(reply, replier, team)
        except NotImplementedError:
            raise
        except Exception as exc:
            clue = ""
            if fields[1] == USER:
                clue = (
                    ": 'user' is not one of team.agents, yet it is a valid recipient for an "
                    "agent whose routes list it (that is how the final answer leaves the team)"
                )
            fail(
                f"{what} raised {type(exc).__name__}({getattr(exc, 'kind', '')}): "
                f"{str(exc)[:200]}; the reply is valid (the routes are {ROUTES}){clue}"
            )


BAD_REPLIES: list[tuple[str, Any, str, list[str], str]] = [
    # (replier, the reply (a tuple: a Message's fields), kind, words the message needs, about)
    ("researcher", None, "not_a_message", [], "an agent that forgot to return its message"),
    ("researcher", "Sources: A; B", "not_a_message", [], "a plain string is not a Message"),
    (
        "researcher",
        {"sender": "researcher", "recipient": "writer", "content": "x"},
        "not_a_message",
        [],
        "a dict with a Message's keys is still not a Message",
    ),
    (
        "writer",
        ("reviewer", USER, "Approved"),
        "wrong_sender",
        ["writer", "reviewer"],
        "the writer signs as the reviewer to approve its own draft",
    ),
    (
        "researcher",
        ("researcher", "editor", "Sources: A"),
        "unknown_recipient",
        ["editor", "writer"],
        "there is no agent 'editor'; the message lists where the researcher may write instead",
    ),
    (
        "reviewer",
        ("reviewer", COORDINATOR, "Done?"),
        "unknown_recipient",
        ["coordinator", "writer", USER],
        "the coordinator is not an agent one can write to",
    ),
    (
        "writer",
        ("writer", USER, "Here is my draft"),
        "forbidden_route",
        ["reviewer", "researcher"],
        "only the reviewer may answer the user; the message lists the writer's routes",
    ),
    (
        "researcher",
        ("researcher", "researcher", "note to self"),
        "forbidden_route",
        ["writer"],
        "a message to oneself is a route like any other: not in the researcher's routes",
    ),
    (
        "archivist",
        ("archivist", "writer", "Old notes"),
        "forbidden_route",
        [],
        "an agent with no entry in team.routes may write to nobody",
    ),
    (
        "writer",
        ("writer", "archivist", "Old drafts for you"),
        "forbidden_route",
        ["reviewer", "researcher"],
        "the archivist is one of team.agents (without routes of its own): a known agent the "
        "writer may not write to, not an unknown one",
    ),
    ("researcher", ("researcher", "writer", ""), "empty_content", [], "an empty message"),
    ("reviewer", ("reviewer", "writer", "  \n"), "empty_content", [], "only whitespace"),
    (
        "writer",
        ("reviewer", "editor", ""),
        "wrong_sender",
        ["writer"],
        "three faults at once: the sender is checked first",
    ),
    (
        "researcher",
        ("researcher", "editor", ""),
        "unknown_recipient",
        ["editor"],
        "two faults at once: the recipient is checked before the content",
    ),
]


@pytest.mark.task(1)
def test_bad_replies_raise_a_route_error(learner) -> None:
    team = _routing_team(learner, extra=("archivist",))
    for replier, raw, kind, words, about in BAD_REPLIES:
        reply = _msg(learner, *raw) if isinstance(raw, tuple) else raw
        what = f"check_reply({_show(reply)!r}, {replier!r}, team) ({about})"
        exc = _expect_error(
            learner,
            "RouteError",
            what,
            learner.check_reply,
            kind,
            reply,
            replier,
            team,
            advice=f"The routes are {ROUTES}; the order of the checks is: a Message, its sender, "
            "a known recipient, an allowed route, some content",
        )
        for word in words:
            if word not in str(exc):
                fail(
                    f"{what} raised RouteError({kind!r}, {str(exc)!r}); the message should name "
                    f"{word!r}, so the agent can correct its reply"
                )


# ----- task 2 -----------------------------------------------------------------------------------
def _history(learner, *triples: tuple[str, str, str]) -> list[Any]:
    return [_msg(learner, *t) for t in triples]


T = (USER, "researcher", "Write about agents")
S = ("researcher", "writer", "Sources: A; B")
D1 = ("writer", "reviewer", "Please review note 1")
D2 = ("writer", "reviewer", "Please review note 2")
D3 = ("writer", "reviewer", "Please review note 3")
R = ("reviewer", "writer", "revise: cite B")
Q = ("writer", "researcher", "Need more sources")
E = (COORDINATOR, "researcher", '{"error": "unknown_recipient", "message": "no agent editor"}')

LOOPS: list[tuple[list[tuple[str, str, str]], int | None, str]] = [
    ([], None, "an empty history"),
    ([T], None, "one message"),
    ([T, S, D1, R], None, "a normal start: nothing repeats"),
    ([T, S, D1, R, D1, R], 2, "ping-pong: the writer resends the same draft, the reviewer the same "
     "verdict"),
    ([T, E, E], 1, "the coordinator's same error twice in a row (an agent that keeps writing to an "
     "unknown agent)"),
    ([T, S, D1, R, Q, S, D1], None, "a pair repeats, but not the block before it"),
    ([T, ("researcher", "writer", "a"), ("writer", "reviewer", "b"), ("reviewer", "researcher", "c"),
      ("researcher", "writer", "a"), ("writer", "reviewer", "b"), ("reviewer", "researcher", "c")],
     3, "a three-agent cycle"),
    ([T, S, Q, S, D1, R, Q, S, D1, R, Q], 4, "a four-message cycle through three agents"),
    ([T, S, D1, R, D2, R, D3, R], None, "the reviewer's verdict repeats, but every draft is new: "
     "progress, not a loop"),
    ([T, ("writer", "reviewer", "ok"), ("reviewer", "writer", "ok")], None, "the same text from "
     "two different senders: two different messages"),
    ([T, D1, R, D1, R, T], None, "a repeat earlier on, but not at the end of the history"),
    ([S, D1, S, D1, S, D1, S, D1], 2, "ping-pong repeated long enough to match period 4 too: "
     "the smallest period"),
    ([T, S, D1, R, D1, R, D1], 2, "the same exchange, caught part-way into its third round"),
]  # fmt: skip


def _content_only(history: list[Any]) -> int | None:
    texts = [m.content for m in history]
    for period in range(1, len(texts) // 2 + 1):
        if texts[-period:] == texts[-2 * period : -period]:
            return period
    return None


@pytest.mark.task(2)
def test_find_loop(learner) -> None:
    for triples, want, about in LOOPS:
        history = _history(learner, *triples)
        kept = list(history)
        what = "find_loop(history)"
        where = f". The history ({about}): {[_show(m) for m in history]}"
        try:
            got = learner.find_loop(history)
        except NotImplementedError:
            raise
        except Exception as exc:
            fail(f"{what} raised {type(exc).__name__}: {str(exc)[:200]}{where}")
        if history != kept:
            fail(f"{what} changed the history it was given; only read it{where}")
        if isinstance(got, bool):
            fail(f"{what} is {got!r}; expected the loop's period (an int) or None{where}")
        if got != want:
            clue = ""
            if want is None and got is not None and got == _content_only(history):
                clue = (
                    ": two messages are the same only when their sender, recipient and "
                    "content all agree (compare the Message objects, ==, not their texts)"
                )
            elif want is not None and got is not None and got > want:
                clue = f": the smallest period is {want}"
            elif want is not None and got is None:
                shared = {t: _msg(learner, *t) for t in triples}
                with contextlib.suppress(Exception):
                    if learner.find_loop([shared[t] for t in triples]) == want:
                        clue = (
                            ": with the very same Message objects repeated it finds the loop; "
                            "equal messages are separate objects here: compare with ==, not `is`"
                        )
            fail(f"{what} is {fmt(got)}; expected {fmt(want)}{clue}{where}")


# ----- task 3 -----------------------------------------------------------------------------------
API_KEY = "sk-team-51c2"
PAPERS = [
    {"title": "Attention for multi-agent teams", "year": 2021},
    {"title": "Agents that debate", "year": 2023},
    {"title": "Scaling R&D with agents", "year": 2024},
    {"title": "A survey of tool use", "year": 2024},
    {"title": "Agents and their message queues", "year": 2022},
    {"title": "R scripts for data agents", "year": 2020},
]
SLOW_S = 0.4


def _search_api(seen: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()

    @app.get("/search")
    async def search(request: Request) -> JSONResponse:
        q = request.query_params.get("q", "")
        limit = int(request.query_params.get("limit", "3"))
        seen.append(
            {
                "path": request.url.path,
                "query": dict(request.query_params),
                "auth": request.headers.get("authorization"),
            }
        )
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"detail": "invalid API key"}, status_code=401)
        if q == "busy":
            return JSONResponse(
                {"detail": "slow down"}, status_code=429, headers={"Retry-After": "2"}
            )
        if q == "crash":
            return JSONResponse({"detail": "index offline"}, status_code=500)
        if q == "down":
            return JSONResponse({"detail": "maintenance"}, status_code=503)
        if q == "slow":
            await asyncio.sleep(SLOW_S)
        hits = [p for p in PAPERS if q.lower() in p["title"].lower()]
        return JSONResponse({"results": hits[:limit], "total": len(hits)})

    return app


def _ref_results(q: str, limit: int = 3) -> list[dict[str, Any]]:
    return [p for p in PAPERS if q.lower() in p["title"].lower()][:limit]


@pytest.fixture(scope="module")
def search_api() -> Iterator[tuple[httpx.Client, list[dict[str, Any]]]]:
    """One served API for the module's checks (each clears the request log first)."""
    seen: list[dict[str, Any]] = []
    with (
        serve_app(_search_api(seen)) as served,
        httpx.Client(base_url=served.base_url, timeout=None) as client,
    ):
        yield client, seen


@contextlib.contextmanager
def _served_api(
    api: tuple[httpx.Client, list[dict[str, Any]]],
) -> Iterator[tuple[httpx.Client, list[dict[str, Any]]]]:
    client, seen = api
    seen.clear()
    yield client, seen


def _notes_db(path: Path, *, table: bool = True) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        if table:
            conn.execute(
                "CREATE TABLE notes (id INTEGER PRIMARY KEY, author TEXT NOT NULL, "
                "text TEXT NOT NULL)"
            )
            conn.executemany(
                "INSERT INTO notes (id, author, text) VALUES (?, ?, ?)",
                [(1, "researcher", "Sources: A; B"), (5, "writer", "An older draft")],
            )
        else:
            conn.execute("CREATE TABLE other (x INTEGER)")
        conn.commit()
    return path


def _rows(path: Path) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT id, author, text FROM notes ORDER BY id").fetchall()


def _tools(learner, client: httpx.Client, db: Path, key: str = API_KEY, **kwargs: Any) -> Any:
    tools = learner.make_tools(client, key, str(db), **kwargs)
    if tools is None:
        fail("make_tools(...) is None: did you forget to `return` the dict of tools?")
    if not isinstance(tools, dict) or sorted(tools) != ["read_note", "save_note", "search"]:
        fail(
            f"make_tools(...) is {fmt(tools)[:200]}; expected a dict with the keys 'search', "
            "'save_note' and 'read_note'"
        )
    return tools


def _call(what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return func(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as exc:
        fail(f"{what} raised {type(exc).__name__}({getattr(exc, 'kind', '')}): {str(exc)[:200]}")


@pytest.mark.task(3)
def test_search_reads_the_api(learner, tmp_path: Path, search_api) -> None:
    db = _notes_db(tmp_path / "notes.db")
    with _served_api(search_api) as (client, seen):
        search = _tools(learner, client, db)["search"]
        for query, kwargs, about in [
            ("agents", {"limit": 2}, "limit=2"),
            ("agents", {}, "the default limit of 3"),
            ("R&D", {}, "a query with an & in it"),
            ("debate club", {"limit": 5}, "a space, and no match: an empty list"),
        ]:
            args = ", ".join([repr(query), *(f"{k}={v!r}" for k, v in kwargs.items())])
            what = f"search({args}) ({about})"
            before = len(seen)
            try:
                got = search(query, **kwargs)
            except NotImplementedError:
                raise
            except Exception as exc:
                clue = ""
                if len(seen) > before and seen[-1]["auth"] != f"Bearer {API_KEY}":
                    clue = (
                        f" The request carried Authorization: {fmt(seen[-1]['auth'])}; expected "
                        f"'Bearer {API_KEY}'."
                    )
                fail(
                    f"{what} raised {type(exc).__name__}({getattr(exc, 'kind', '')}): "
                    f"{str(exc)[:200]}; the API answers 200 to a request with the key.{clue}"
                )
            want = _ref_results(query, kwargs.get("limit", 3))
            requests = seen[before:]
            if len(requests) != 1:
                fail(f"{what} sent {len(requests)} requests to the API; expected one GET /search")
            request = requests[0]
            if request["auth"] != f"Bearer {API_KEY}":
                fail(
                    f"{what} sent the header Authorization: {fmt(request['auth'])}; expected "
                    f"'Bearer {API_KEY}' (the api_key make_tools was given)"
                )
            sent = request["query"]
            if sent.get("q") != query or sent.get("limit") != str(kwargs.get("limit", 3)):
                fail(
                    f"{what}: the API received the query parameters {sent}; expected "
                    f"{{'q': {query!r}, 'limit': '{kwargs.get('limit', 3)}'}}. Let httpx build "
                    "the query string (params={'q': query, 'limit': limit}): a URL pasted "
                    "together by hand breaks on &, # and spaces"
                )
            if got != want:
                clue = ""
                if isinstance(got, dict) and got.get("results") == want:
                    clue = ": that is the whole JSON body; the tool returns its 'results' list"
                fail(f"{what} returned {fmt(got)[:300]}; expected {fmt(want)[:300]}{clue}")


@pytest.mark.task(3)
def test_search_turns_failures_into_tool_errors(learner, tmp_path: Path, search_api) -> None:
    db = _notes_db(tmp_path / "notes.db")
    with _served_api(search_api) as (client, _):
        search = _tools(learner, client, db)["search"]
        exc = _expect_error(
            learner, "ToolError", "search('busy') (the API answers 429, Retry-After: 2)", search,
            "rate_limited", "busy",
        )  # fmt: skip
        if "2" not in str(exc):
            fail(
                f"search('busy') raised ToolError('rate_limited', {str(exc)!r}); the message "
                "should say how long to wait (the Retry-After header: 2 seconds)"
            )
        exc = _expect_error(
            learner, "ToolError", "search('crash') (the API answers 500)", search, "http_error",
            "crash", advice="An error body is not a result: raise it",
        )  # fmt: skip
        if "500" not in str(exc):
            fail(
                f"search('crash') raised ToolError('http_error', {str(exc)!r}); the message "
                "should give the status code, 500"
            )
        exc = _expect_error(
            learner, "ToolError", "search('down') (the API answers 503)", search, "http_error",
            "down", advice="Every status from 400 up is an error",
        )  # fmt: skip
        if "503" not in str(exc):
            fail(
                f"search('down') raised ToolError('http_error', {str(exc)!r}); the message "
                "should give the status code, 503"
            )
        wrong = _tools(learner, client, db, key="sk-wrong")["search"]
        exc = _expect_error(
            learner, "ToolError", "search('agents') with a wrong key (the API answers 401)", wrong,
            "http_error", "agents",
        )  # fmt: skip
        if "401" not in str(exc):
            fail(f"search with a wrong key raised ToolError('http_error', {str(exc)!r}); name 401")
        quick = _tools(learner, client, db, timeout=0.1)["search"]
        started = time.perf_counter()
        _expect_error(
            learner, "ToolError",
            f"search('slow') with timeout=0.1 (the API takes {SLOW_S} s; the client the check "
            "passes has no timeout of its own)",
            quick, "timeout", "slow",
            advice="Pass timeout=timeout to the request and catch httpx.TimeoutException",
        )  # fmt: skip
        took = time.perf_counter() - started
        if took > 0.33:
            fail(
                f"search('slow') with timeout=0.1 gave up after {took:.2f} s; expected about 0.1 s"
            )
        got = _call("search('slow') with the default timeout=2.0", search, "slow")
        if got != []:
            fail(f"search('slow') with timeout=2.0 returned {fmt(got)[:200]}; expected []")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=None) as client:
        search = _tools(learner, client, db)["search"]
        _expect_error(
            learner, "ToolError", "search('agents') when nothing listens on the API's port",
            search, "unreachable", "agents",
            advice="httpx raises httpx.ConnectError (an httpx.TransportError)",
        )  # fmt: skip


@pytest.mark.task(3)
def test_notes_in_sqlite(learner, tmp_path: Path) -> None:
    db = _notes_db(tmp_path / "notes.db")
    with httpx.Client(base_url="http://127.0.0.1:9") as client:
        tools = _tools(learner, client, db)
    save, read = tools["save_note"], tools["read_note"]
    expected = _rows(db)
    for text, about in [
        ("Draft 1: agents that debate", "a plain note"),
        ("Ender's draft", "an apostrophe"),
        ("x'); DROP TABLE notes; --", "text that would change SQL pasted into the query"),
    ]:
        what = f"save_note('writer', {text!r}) ({about})"
        try:
            note_id = save("writer", text)
        except NotImplementedError:
            raise
        except Exception as exc:
            clue = ""
            if "'" in text and "syntax" in str(exc).lower():
                clue = (
                    ": SQLite read the text as SQL: pass it as a parameter "
                    "(VALUES (?, ?) with (author, text)), never with an f-string"
                )
            fail(
                f"{what} raised {type(exc).__name__}({getattr(exc, 'kind', '')}): "
                f"{str(exc)[:200]}{clue}"
            )
        new_id = expected[-1][0] + 1
        expected.append((new_id, "writer", text))
        if note_id is None:
            fail(f"{what} is None: did you forget to `return` the new note's id?")
        if isinstance(note_id, bool) or not isinstance(note_id, int):
            fail(f"{what} is {fmt(note_id)}; expected the new row's id, an int (cursor.lastrowid)")
        try:
            rows = _rows(db)
        except sqlite3.Error as exc:
            fail(f"after {what} the notes table cannot be read ({exc}): use `?` parameters")
        if rows[: len(expected) - 1] != expected[:-1]:
            fail(f"after {what} the notes table holds {rows}; expected {expected}")
        if new_id not in [r[0] for r in rows]:
            fail(
                f"{what} returned {note_id}, but the table read through another connection has "
                f"no row {new_id} ({rows}): an insert that is not committed is rolled back when "
                "its connection closes (conn.commit(), or `with conn:`)"
            )
        if rows != expected:
            fail(f"after {what} the notes table holds {rows}; expected {expected}")
        if note_id != new_id:
            fail(
                f"{what} is {note_id}; expected {new_id}, the id SQLite gave the new row "
                "(ids 1 and 5 were taken, so a count of rows or of changes is not the id: cursor.lastrowid)"
            )
        got = _call(f"read_note({new_id})", read, new_id)
        want = {"id": new_id, "author": "writer", "text": text}
        if got != want:
            fail(f"read_note({new_id}) is {fmt(got)[:200]}; expected {want}")
    got = _call("read_note(5)", read, 5)
    if got != {"id": 5, "author": "writer", "text": "An older draft"}:
        fail(f"read_note(5) is {fmt(got)[:200]}; expected {{'id': 5, 'author': 'writer', ...}}")
    _expect_error(
        learner, "ToolError", "read_note(99) (no such note)", read, "not_found", 99,
        advice="A missing row is an error the agent should hear about, not None",
    )  # fmt: skip
    bare = _notes_db(tmp_path / "bare.db", table=False)
    with httpx.Client(base_url="http://127.0.0.1:9") as client:
        tools = _tools(learner, client, bare)
    advice = "Turn sqlite3.Error into ToolError('db_error', <SQLite's message>)"
    _expect_error(
        learner, "ToolError", "save_note('writer', 'x') on a database without a notes table",
        tools["save_note"], "db_error", "writer", "x", advice=advice,
    )  # fmt: skip
    _expect_error(
        learner, "ToolError", "read_note(1) on a database without a notes table",
        tools["read_note"], "db_error", 1, advice=advice,
    )  # fmt: skip


# ----- task 4 -----------------------------------------------------------------------------------
def _access_tools(learner, ran: list[str]) -> dict[str, Callable[..., Any]]:
    error = _given(learner, "ToolError")

    def add(a: int, b: int) -> int:
        ran.append("add")
        return a + b

    def lookup(key: str) -> str:
        ran.append("lookup")
        return {"a": "alpha"}[key]

    def refuse(note_id: int) -> None:
        ran.append("refuse")
        raise error("not_found", f"there is no note {note_id}")

    def delete_all() -> str:
        ran.append("delete_all")
        return "deleted"

    return {"add": add, "lookup": lookup, "refuse": refuse, "delete_all": delete_all}


ALLOWED = ["add", "lookup", "refuse"]


def _use(learner, tools: dict[str, Any], audit: list[Any], agent: str = "writer", turn: int = 3):
    use = learner.tool_access(tools, list(ALLOWED), agent, audit, turn)
    if use is None:
        fail("tool_access(...) is None: did you forget to `return` the use function?")
    if not callable(use):
        fail(f"tool_access(...) is {fmt(use)}; expected a function use(name, **arguments)")
    return use


def _audit_problem(got: list[Any], want: list[dict[str, Any]]) -> str | None:
    for i, w in enumerate(want):
        if i >= len(got):
            return f"has {len(got)} records; expected {len(want)}: record {i} should be {w}"
        if got[i] != w:
            clue = ""
            if isinstance(got[i], dict) and set(got[i]) != set(w):
                clue = f" (the keys are {sorted(w)})"
            return f"record {i} is {fmt(got[i])[:240]}; expected {w}{clue}"
    if len(got) > len(want):
        return f"has {len(got)} records; expected {len(want)}: {fmt(got[len(want)])[:200]} is extra"
    return None


@pytest.mark.task(4)
def test_tool_access_runs_allowed_tools_and_audits_them(learner) -> None:
    ran: list[str] = []
    audit: list[Any] = []
    use = _use(learner, _access_tools(learner, ran), audit)
    got = _call("use('add', a=2, b=3)", use, "add", a=2, b=3)
    if got != 5:
        fail(f"use('add', a=2, b=3) is {fmt(got)}; expected 5, what the tool returned")
    got = _call("use('lookup', key='a')", use, "lookup", key="a")
    if got != "alpha":
        fail(f"use('lookup', key='a') is {fmt(got)}; expected 'alpha'")
    want = [
        {"turn": 3, "agent": "writer", "tool": "add", "args": {"a": 2, "b": 3}, "status": "ok"},
        {"turn": 3, "agent": "writer", "tool": "lookup", "args": {"key": "a"}, "status": "ok"},
    ]
    problem = _audit_problem(audit, want)
    if problem:
        fail(
            "after use('add', a=2, b=3) and use('lookup', key='a') by the writer at turn 3, the "
            f"audit list given to tool_access {problem} (append to that very list)"
        )
    other = _use(learner, _access_tools(learner, ran), audit, agent="reviewer", turn=4)
    _call("use('add', a=1, b=1) for the reviewer", other, "add", a=1, b=1)
    if len(audit) != 3 or not isinstance(audit[-1], dict) or audit[-1].get("agent") != "reviewer":
        fail(
            f"a second tool_access(..., 'reviewer', audit, 4) on the same audit list left it as "
            f"{fmt(audit)[:300]}; expected a third record for the reviewer: one shared log"
        )


@pytest.mark.task(4)
def test_tool_access_refuses_and_records_failures(learner) -> None:
    ran: list[str] = []
    audit: list[Any] = []
    use = _use(learner, _access_tools(learner, ran), audit)
    exc = _expect_error(
        learner, "ToolError", "use('delete_all') (a tool that exists, not in the writer's list)",
        use, "forbidden_tool", "delete_all",
        advice="Least privilege: an agent uses only the tools listed for it",
    )  # fmt: skip
    if "delete_all" in ran:
        fail("use('delete_all') raised, but only after running the tool: refuse before the call")
    if not all(name in str(exc) for name in ALLOWED):
        fail(
            f"use('delete_all') raised ToolError('forbidden_tool', {str(exc)!r}); the message "
            f"should list the tools the writer may use: {ALLOWED}"
        )
    _expect_error(
        learner, "ToolError", "use('publish') (no such tool)", use, "unknown_tool", "publish",
    )  # fmt: skip
    exc = _expect_error(
        learner, "ToolError", "use('lookup', key='zzz') (the tool raises KeyError)", use,
        "tool_failed", "lookup", key="zzz",
        advice="Any other exception from a tool becomes ToolError('tool_failed', 'KeyError: ...')",
    )  # fmt: skip
    if "KeyError" not in str(exc):
        fail(
            f"use('lookup', key='zzz') raised ToolError('tool_failed', {str(exc)!r}); the message "
            "should name the exception (KeyError) and its text"
        )
    _expect_error(
        learner, "ToolError", "use('refuse', note_id=7) (the tool raises ToolError('not_found'))",
        use, "not_found", "refuse", note_id=7,
        advice="A ToolError from the tool passes on as it is, its kind kept",
    )  # fmt: skip
    _expect_error(
        learner, "ToolError", "use('add', a=1) (a missing argument: the call raises TypeError)",
        use, "tool_failed", "add", a=1,
    )  # fmt: skip
    record = {"turn": 3, "agent": "writer"}
    want = [
        record | {"tool": "delete_all", "args": {}, "status": "forbidden_tool"},
        record | {"tool": "publish", "args": {}, "status": "unknown_tool"},
        record | {"tool": "lookup", "args": {"key": "zzz"}, "status": "tool_failed"},
        record | {"tool": "refuse", "args": {"note_id": 7}, "status": "not_found"},
        record | {"tool": "add", "args": {"a": 1}, "status": "tool_failed"},
    ]
    problem = _audit_problem(audit, want)
    if problem:
        fail(
            "every call is audited, refused and failed ones too, with its error kind as the "
            f"status: after five failing calls the audit {problem}"
        )


# ----- task 5 -----------------------------------------------------------------------------------
class Notes:
    """In-memory stand-ins for the tools of task 3 (the coordinator's checks run on these)."""

    def __init__(self, learner) -> None:
        self.error = _given(learner, "ToolError")
        self.notes: dict[int, dict[str, Any]] = {}

    def tools(self) -> dict[str, Callable[..., Any]]:
        def search(query: str, limit: int = 3) -> list[dict[str, Any]]:
            if query == "crash":
                raise ConnectionError("the search API is down")
            return _ref_results(query, limit)

        def save_note(author: str, text: str) -> int:
            note_id = len(self.notes) + 1
            self.notes[note_id] = {"id": note_id, "author": author, "text": text}
            return note_id

        def read_note(note_id: int) -> dict[str, Any]:
            if note_id not in self.notes:
                raise self.error("not_found", f"there is no note {note_id}")
            return dict(self.notes[note_id])

        return {"search": search, "save_note": save_note, "read_note": read_note}


TEAM_ROUTES = {"researcher": ["writer"], "writer": ["reviewer"], "reviewer": ["writer", USER]}
TEAM_TOOLS = {"researcher": ["search"], "writer": ["save_note"], "reviewer": ["read_note"]}


def _error_kind(message: Any) -> str | None:
    if getattr(message, "sender", None) != COORDINATOR:
        return None
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        return json.loads(message.content).get("error")
    return None


def _researcher(learner, *, misroute: int = 0, crash: bool = False, query: str | None = None):
    state = {"calls": 0}

    def researcher(message: Any, use: Any) -> Any:
        state["calls"] += 1
        if crash and state["calls"] == 1:
            raise KeyError("sources")
        if crash and state["calls"] == 2:
            return None
        if state["calls"] <= misroute:
            return _msg(learner, "researcher", "editor", "Sources, please check")
        topic = message.content if message.sender == USER else "agents"
        try:
            hits = use("search", query=query or topic, limit=2)
            titles = "; ".join(h["title"] for h in hits) or "nothing found"
        except Exception as exc:
            titles = f"search failed ({getattr(exc, 'kind', type(exc).__name__)})"
        return _msg(learner, "researcher", "writer", f"Sources: {titles}")

    return researcher


def _writer(learner, *, mode: str = "new", tricks: tuple[str, ...] = ()):
    state: dict[str, Any] = {"calls": 0, "drafts": 0, "note": 0, "sources": "no sources"}

    def writer(message: Any, use: Any) -> Any:
        state["calls"] += 1
        if message.sender == "researcher":
            state["sources"] = message.content
        k = state["calls"]
        if k <= len(tricks):
            trick = tricks[k - 1]
            if trick == "sign_as_reviewer":
                return _msg(learner, "reviewer", USER, "Approved: my own draft")
            if trick == "skip_review":
                return _msg(learner, "writer", USER, "Here is my draft")
            if trick == "empty":
                return _msg(learner, "writer", "reviewer", "")
            if trick == "forbidden_tool":
                with contextlib.suppress(Exception):
                    use("search", query="more")
            if trick == "unknown_tool":
                with contextlib.suppress(Exception):
                    use("publish", text="draft")
            if trick == "raise_tool_error":
                use("read_note", note_id=1)  # not the writer's tool: the ToolError escapes
        if mode == "same" and state["note"]:
            return _msg(learner, "writer", "reviewer", f"Please review note {state['note']}")
        state["drafts"] += 1
        state["note"] = use(
            "save_note", author="writer", text=f"Draft {state['drafts']}: {state['sources']}"
        )
        return _msg(learner, "writer", "reviewer", f"Please review note {state['note']}")

    return writer


def _reviewer(learner, *, revisions: int = 0, wrong_note: bool = False):
    state = {"calls": 0}

    def reviewer(message: Any, use: Any) -> Any:
        state["calls"] += 1
        note_id = int(message.content.rsplit(" ", 1)[-1])
        if wrong_note and state["calls"] == 1:
            note_id = 99
        try:
            note = use("read_note", note_id=note_id)
        except Exception as exc:
            return _msg(learner, "reviewer", "writer", f"revise: {getattr(exc, 'kind', 'error')}")
        if state["calls"] > revisions:
            return _msg(learner, "reviewer", USER, f"Approved: {note['text']}")
        return _msg(learner, "reviewer", "writer", "revise: cite the second source")

    return reviewer


SCENARIOS: dict[str, tuple[dict[str, Any], int, str]] = {
    # name: (how the agents behave, max_turns, what it is about)
    "pipeline": ({}, 8, "researcher → writer → reviewer → user, each using its own tool"),
    "one revision": (
        {"reviewer": {"revisions": 1}},
        8,
        "the reviewer sends the first draft back once, then approves the second",
    ),
    "ping-pong": (
        {"writer": {"mode": "same"}, "reviewer": {"revisions": 99}},
        12,
        "the writer resends the same note, the reviewer the same verdict: stopped as a loop",
    ),
    "new drafts forever": (
        {"reviewer": {"revisions": 99}},
        7,
        "every draft is new, the verdict always the same: no loop, the turn limit stops it",
    ),
    "misrouted replies": (
        {
            "researcher": {"misroute": 1},
            "writer": {"tricks": ("sign_as_reviewer", "skip_review", "empty")},
        },
        12,
        "an unknown recipient, a forged sender, a route that skips the review and an empty "
        "message: each answered by the coordinator, then the team goes on",
    ),
    "crashing agent": (
        {"researcher": {"crash": True}},
        8,
        "the researcher raises KeyError, then returns None, then works: errors, not a crash",
    ),
    "tool trouble": (
        {
            "researcher": {"query": "crash"},
            "writer": {"tricks": ("forbidden_tool", "unknown_tool", "raise_tool_error")},
            "reviewer": {"wrong_note": True, "revisions": 2},
        },
        12,
        "a failing search, a forbidden and an unknown tool, a ToolError the writer lets escape, "
        "a note that does not exist: every call audited",
    ),
    "a researcher without tools": (
        {"_no_tools": ("researcher",)},
        8,
        "team.tool_access has no entry for the researcher: it may use no tool, its search is "
        "refused, and the team goes on",
    ),
    "stuck on a bad route": (
        {"researcher": {"misroute": 99}},
        8,
        "the researcher always writes to 'editor': the same error twice is a loop of period 1",
    ),
    "answer on the last turn": ({}, 3, "max_turns=3 and the answer comes at turn 3"),
    "one turn short": ({}, 2, "max_turns=2: two agent calls, then the turn limit"),
    "loop on the last turn": (
        {"writer": {"mode": "same"}, "reviewer": {"revisions": 99}},
        5,
        "the loop completes at turn 5 = max_turns: it is reported as a loop",
    ),
}


def _team(learner, behaviour: dict[str, Any], calls: list[tuple[str, Any]]) -> Any:
    makers = {"researcher": _researcher, "writer": _writer, "reviewer": _reviewer}
    agents = {}
    for name, make in makers.items():
        agent = make(learner, **behaviour.get(name, {}))

        def watched(message: Any, use: Any, name: str = name, agent: Any = agent) -> Any:
            calls.append((name, message))
            return agent(message, use)

        agents[name] = watched
    team_cls = _given(learner, "Team")
    no_tools = behaviour.get("_no_tools", ())
    return team_cls(
        agents,
        {k: list(v) for k, v in TEAM_ROUTES.items()},
        {k: list(v) for k, v in TEAM_TOOLS.items() if k not in no_tools},
    )


def _same_message(got: Any, want: Any) -> str | None:
    """How a delivered or recorded message differs from the reference's, or None."""
    kind = _error_kind(want)
    if kind is None:
        return None if got == want else f"is {_show(got)}; expected {_show(want)}"
    if (
        getattr(got, "sender", None) != COORDINATOR
        or getattr(got, "recipient", None) != want.recipient
    ):
        return (
            f"is {_show(got)}; expected the coordinator's error for {want.recipient}: "
            f'coordinator → {want.recipient}: {{"error": "{kind}", "message": ...}}'
        )
    if _error_kind(got) != kind:
        return (
            f"is {_show(got)}; expected an error of the kind {kind!r} (JSON text with the keys "
            "'error' and 'message')"
        )
    text = ""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        text = str(json.loads(got.content).get("message", "")).strip()
    if not text:
        return f"is {_show(got)}; the error needs a non-empty 'message'"
    if kind == "agent_failed":
        exc_name = json.loads(want.content)["message"].split(":")[0]
        if exc_name not in text:
            return (
                f"is {_show(got)}; the message should name the exception ({exc_name}) and its "
                "text: f'{type(exc).__name__}: {exc}'"
            )
    return None


def _list_problem(got: list[Any], want: list[Any]) -> str | None:
    for i, w in enumerate(want):
        if i >= len(got):
            return (
                f"has {len(got)} messages; expected {len(want)}: message {i} should be {_show(w)}"
            )
        problem = _same_message(got[i], w)
        if problem:
            return f"message {i} {problem}"
    if len(got) > len(want):
        return f"has {len(got)} messages; expected {len(want)}: {_show(got[len(want)])} is extra"
    return None


def _patch_reference(learner, monkeypatch) -> None:
    monkeypatch.setattr(
        learner,
        "check_reply",
        lambda reply, replier, team: _ref_check_reply(learner, reply, replier, team),
    )
    monkeypatch.setattr(learner, "find_loop", _ref_find_loop)
    monkeypatch.setattr(
        learner,
        "tool_access",
        lambda tools, allowed, agent, audit, turn: _ref_tool_access(
            learner, tools, allowed, agent, audit, turn
        ),
    )


TASK = "agents"


def _judge(
    learner,
    what: str,
    run: Callable[[], Any],
    want: tuple[Any, ...],
    calls: list[tuple[str, Any]],
    want_calls: list[tuple[str, Any]],
    max_turns: int,
) -> None:
    status, answer, turns, history, audit = want
    try:
        result = run()
    except NotImplementedError:
        raise
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        if frames and frames[-1].filename == __file__:
            clue = (
                "It came from a scripted agent: nothing an agent does may stop the coordinator "
                "with an exception; it becomes the coordinator's error message to that agent"
            )
        else:
            clue = f"It came from your code (line {frames[-1].lineno}: `{frames[-1].line}`)"
            if isinstance(exc, KeyError) and exc.args and exc.args[0] in TEAM_TOOLS:
                clue += (
                    "; an agent need not have an entry in team.tool_access (no entry: no "
                    "tools): team.tool_access.get(name, [])"
                )
        fail(f"{what} raised {type(exc).__name__}: {str(exc)[:200]}. {clue}")
    for k, ((name, message), (want_name, want_message)) in enumerate(
        zip(calls, want_calls, strict=False), 1
    ):
        problem = _same_message(message, want_message)
        if name != want_name or problem:
            fail(
                f"{what}: at turn {k} the coordinator called {name} with {_show(message)}; "
                f"expected {want_name} with {_show(want_message)}"
                + (f" (the message {problem})" if name == want_name and problem else "")
            )
    if len(calls) != len(want_calls):
        clue = ""
        if len(calls) == max_turns + 1:
            clue = ": one turn past max_turns"
        elif len(calls) > len(want_calls) and status == "loop":
            clue = f": the history had repeated itself after turn {turns}, and the run went on"
        elif len(calls) > len(want_calls) and status == "done":
            clue = f": the answer to the user came at turn {turns}, and the run went on"
        elif len(calls) < len(want_calls):
            name, message = want_calls[len(calls)]
            clue = (
                f": turn {len(calls) + 1} should have delivered {_show(message)} to {name} (the "
                f"run returned status={getattr(result, 'status', None)!r}, "
                f"turns={getattr(result, 'turns', None)!r})"
            )
        fail(f"{what} called the agents {len(calls)} times; expected {len(want_calls)}{clue}")
    if result is None:
        fail(f"{what} is None: did you forget to `return` a TeamResult?")
    got = {k: getattr(result, k, "(missing)") for k in ("status", "answer", "turns")}
    expected = {"status": status, "answer": answer, "turns": turns}
    if got != expected:
        clue = ""
        if status == "loop" and got["status"] == "turn_limit":
            clue = ": on the last turn a loop was found; the loop is what the run reports"
        elif status == "done" and got["status"] != "done":
            clue = ": an answer at the last allowed turn is still an answer"
        fail(f"{what} returned {got}; expected {expected}{clue}")
    problem = _list_problem(list(getattr(result, "history", None) or []), history)
    if problem:
        fail(f"{what}: the history (every message delivered, from the user's task on) {problem}")
    problem = _audit_problem(list(getattr(result, "audit", None) or []), audit)
    if problem:
        fail(f"{what}: the audit log of tool calls {problem}")


def _run_scenario(learner, monkeypatch, title: str) -> None:
    behaviour, max_turns, about = SCENARIOS[title]
    _patch_reference(learner, monkeypatch)
    want_calls: list[tuple[str, Any]] = []
    want = _ref_run(
        learner,
        _team(learner, behaviour, want_calls),
        TASK,
        Notes(learner).tools(),
        "researcher",
        max_turns,
    )
    calls: list[tuple[str, Any]] = []
    team = _team(learner, behaviour, calls)
    tools = Notes(learner).tools()
    what = (
        f"run_team(team, {TASK!r}, tools, entry='researcher', max_turns={max_turns}) with the "
        f"scripted team '{title}' ({about})"
    )
    _judge(
        learner,
        what,
        lambda: learner.run_team(team, TASK, tools, "researcher", max_turns=max_turns),
        want,
        calls,
        want_calls,
        max_turns,
    )


@pytest.mark.task(5)
def test_team_pipeline(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "pipeline")


@pytest.mark.task(5)
def test_team_one_revision(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "one revision")


@pytest.mark.task(5)
def test_team_turn_limit(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "answer on the last turn")
    _run_scenario(learner, monkeypatch, "one turn short")
    _run_scenario(learner, monkeypatch, "new drafts forever")


@pytest.mark.task(5)
def test_team_stops_ping_pong(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "ping-pong")
    _run_scenario(learner, monkeypatch, "loop on the last turn")


@pytest.mark.task(5)
def test_team_misrouted_replies(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "misrouted replies")
    _run_scenario(learner, monkeypatch, "stuck on a bad route")


@pytest.mark.task(5)
def test_team_crashing_agent(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "crashing agent")


@pytest.mark.task(5)
def test_team_tool_trouble(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "tool trouble")
    _run_scenario(learner, monkeypatch, "a researcher without tools")


@pytest.mark.task(5)
def test_team_end_to_end_with_the_api_and_the_database(learner, tmp_path: Path, search_api) -> None:
    """The learner's own pieces together: its tools on the served API and a real SQLite file."""
    behaviour = {"reviewer": {"revisions": 1}}
    task = "agents"
    with _served_api(search_api) as (client, seen):
        ref_db = _notes_db(tmp_path / "ref.db")
        want_calls: list[tuple[str, Any]] = []
        ref_tools = _ref_make_tools(learner, client, str(ref_db))
        want = _ref_run(
            learner, _team(learner, behaviour, want_calls), task, ref_tools, "researcher", 8
        )
        want_requests = list(seen)
        seen.clear()
        db = _notes_db(tmp_path / "team.db")
        tools = _tools(learner, client, db)
        calls: list[tuple[str, Any]] = []
        team = _team(learner, behaviour, calls)
        what = (
            "run_team(team, 'agents', make_tools(client, key, db), entry='researcher') with your "
            "own check_reply, find_loop and tool_access, the served search API and a SQLite "
            "file (the reviewer asks for one revision)"
        )
        _judge(
            learner, what, lambda: learner.run_team(team, task, tools, "researcher", max_turns=8),
            want, calls, want_calls, 8,
        )  # fmt: skip
        if [r["query"] for r in seen] != [r["query"] for r in want_requests]:
            fail(
                f"{what}: the search API received {[r['query'] for r in seen]}; expected "
                f"{[r['query'] for r in want_requests]}"
            )
    if _rows(db) != _rows(ref_db):
        fail(f"{what}: the notes table holds {_rows(db)}; expected {_rows(ref_db)}")


def _ref_make_tools(learner, client: httpx.Client, db_path: str) -> dict[str, Callable[..., Any]]:
    error = _given(learner, "ToolError")

    def search(query: str, limit: int = 3) -> list[dict[str, Any]]:
        response = client.get(
            "/search",
            params={"q": query, "limit": limit},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=2.0,
        )
        if response.status_code >= 400:
            raise error("http_error", f"the search API answered {response.status_code}")
        return list(response.json()["results"])

    def save_note(author: str, text: str) -> int:
        with contextlib.closing(sqlite3.connect(db_path)) as conn:
            cursor = conn.execute("INSERT INTO notes (author, text) VALUES (?, ?)", (author, text))
            conn.commit()
            return int(cursor.lastrowid or 0)

    def read_note(note_id: int) -> dict[str, Any]:
        with contextlib.closing(sqlite3.connect(db_path)) as conn:
            row = conn.execute(
                "SELECT id, author, text FROM notes WHERE id = ?", (note_id,)
            ).fetchone()
        if row is None:
            raise error("not_found", f"there is no note {note_id}")
        return {"id": row[0], "author": row[1], "text": row[2]}

    return {"search": search, "save_note": save_note, "read_note": read_note}
