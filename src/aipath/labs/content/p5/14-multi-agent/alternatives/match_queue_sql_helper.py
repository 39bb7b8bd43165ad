"""Multi-agent coordination: a correct answer with match statements, a queue and SQL helpers."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

USER = "user"
COORDINATOR = "coordinator"


@dataclass(frozen=True)
class Message:
    """One message between two parties of the team."""

    sender: str
    recipient: str
    content: str


ToolUse = Callable[..., Any]
Agent = Callable[[Message, ToolUse], Any]


@dataclass
class Team:
    """The agents, who may write to whom, and which tools each may use."""

    agents: dict[str, Agent]
    routes: dict[str, list[str]]
    tool_access: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class TeamResult:
    """What ``run_team`` returns."""

    status: Literal["done", "loop", "turn_limit"]
    answer: str | None
    turns: int
    history: list[Message]
    audit: list[dict[str, Any]]


class RouteError(Exception):
    """A reply the coordinator refuses to deliver."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ToolError(Exception):
    """A failed tool call, as the agent that made it reads it."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# ----- task 1 -----------------------------------------------------------------------------------
def check_reply(reply: Any, replier: str, team: Team) -> None:
    """Match the reply against the rules."""
    allowed = list(team.routes.get(replier) or [])
    match reply:
        case Message(sender=sender) if sender != replier:
            kind, why = "wrong_sender", f"you are {replier}, not {sender}"
        case Message(recipient=to) if to != USER and to not in team.agents:
            kind, why = "unknown_recipient", f"unknown {to}; write to one of {allowed}"
        case Message(recipient=to) if to not in allowed:
            kind, why = "forbidden_route", f"{to} is not one of {allowed}"
        case Message(content=str(text)) if text.strip():
            return
        case Message():
            kind, why = "empty_content", "say something"
        case _:
            kind, why = "not_a_message", f"{type(reply)} is not a Message"
    raise RouteError(kind, why)


# ----- task 2 -----------------------------------------------------------------------------------
def find_loop(history: list[Message]) -> int | None:
    """Compare the end of the history, reversed, with itself shifted by p."""
    rows = [dataclasses.astuple(m) for m in reversed(history)]
    candidates = [p for p in range(1, len(rows) // 2 + 1) if rows[:p] == rows[p : 2 * p]]
    return min(candidates, default=None)


# ----- task 3 -----------------------------------------------------------------------------------
def make_tools(
    client: httpx.Client, api_key: str, db_path: str, timeout: float = 2.0
) -> dict[str, Callable[..., Any]]:
    """The team's tools."""
    auth = {"Authorization": f"Bearer {api_key}"}

    def search(query: str, limit: int = 3) -> list[dict[str, Any]]:
        params = httpx.QueryParams({"q": query}).set("limit", limit)
        try:
            response = client.get("/search", params=params, headers=auth, timeout=timeout)
        except httpx.TransportError as exc:  # TimeoutException is a TransportError: test it first
            kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "unreachable"
            raise ToolError(kind, f"{type(exc).__name__}: {exc}") from None
        match response.status_code:
            case 429:
                raise ToolError("rate_limited", f"retry in {response.headers.get('retry-after')} s")
            case code if code >= 400:
                raise ToolError("http_error", f"status {code}")
        return response.json().get("results", [])

    def sql(query: str, params: tuple[Any, ...], *, write: bool) -> list[tuple[Any, ...]]:
        target = db_path if write else f"file:{db_path}?mode=ro"
        try:
            with contextlib.closing(sqlite3.connect(target, uri=not write)) as conn:
                rows = conn.execute(query, params).fetchall()
                if write:
                    rows = conn.execute("SELECT last_insert_rowid()").fetchall()
                    conn.commit()
                return rows
        except sqlite3.Error as exc:
            raise ToolError("db_error", str(exc)) from None

    def save_note(author: str, text: str) -> int:
        return sql("INSERT INTO notes (author, text) VALUES (?, ?)", (author, text), write=True)[0][
            0
        ]

    def read_note(note_id: int) -> dict[str, Any]:
        for row in sql("SELECT id, author, text FROM notes WHERE id = ?", (note_id,), write=False):
            return dict(zip(("id", "author", "text"), row, strict=True))
        raise ToolError("not_found", f"no note with id {note_id}")

    return {"search": search, "save_note": save_note, "read_note": read_note}


# ----- task 4 -----------------------------------------------------------------------------------
def tool_access(
    tools: dict[str, Callable[..., Any]],
    allowed: list[str],
    agent: str,
    audit: list[dict[str, Any]],
    turn: int,
) -> ToolUse:
    """``use(name, **arguments)`` for one agent and one turn."""

    def use(name: str, **arguments: Any) -> Any:
        def log(status: str) -> None:
            audit.append(dict(turn=turn, agent=agent, tool=name, args=arguments, status=status))

        func = tools.get(name)
        if func is None or name not in allowed:
            kind = "unknown_tool" if func is None else "forbidden_tool"
            log(kind)
            raise ToolError(kind, f"{agent} can use {', '.join(allowed) or 'no tool'}")
        try:
            value = func(**arguments)
        except ToolError as exc:
            log(exc.kind)
            raise
        except Exception as exc:
            log("tool_failed")
            raise ToolError("tool_failed", f"{type(exc).__name__}: {exc}") from exc
        log("ok")
        return value

    return use


# ----- task 5 -----------------------------------------------------------------------------------
def run_team(
    team: Team,
    task: str,
    tools: dict[str, Callable[..., Any]],
    entry: str,
    max_turns: int = 8,
) -> TeamResult:
    """A queue that never holds more than the one message in flight."""
    pending = deque([Message(USER, entry, task)])
    history = list(pending)
    audit: list[dict[str, Any]] = []
    for turn in range(1, max_turns + 1):
        message = pending.popleft()
        agent = message.recipient

        def fail(kind: str, text: str, agent: str = agent) -> Message:
            return Message(COORDINATOR, agent, json.dumps({"message": text, "error": kind}))

        use = tool_access(tools, team.tool_access.get(agent, []), agent, audit, turn)
        try:
            reply = team.agents[agent](message, use)
        except Exception as exc:
            nxt = fail("agent_failed", f"{type(exc).__name__}: {exc}")
        else:
            try:
                check_reply(reply, agent, team)
                nxt = reply
            except RouteError as exc:
                nxt = fail(exc.kind, str(exc))
        history.append(nxt)
        if nxt.recipient == USER:
            return TeamResult("done", nxt.content, turn, history, audit)
        if find_loop(history) is not None:
            return TeamResult("loop", None, turn, history, audit)
        pending.append(nxt)
    return TeamResult("turn_limit", None, max_turns, history, audit)
