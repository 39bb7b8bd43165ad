# expect: 'answer': Message(
# mistake: the answer is the whole Message, not its content.
"""Multi-agent coordination: one learner answer."""

from __future__ import annotations

import contextlib
import json
import sqlite3
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
    """Raise ``RouteError`` unless ``reply`` may be delivered."""
    if not isinstance(reply, Message):
        raise RouteError("not_a_message", f"{replier} replied with a {type(reply).__name__}")
    if reply.sender != replier:
        raise RouteError(
            "wrong_sender",
            f"{replier} sent a message signed {reply.sender!r}; an agent writes only as itself",
        )
    allowed = team.routes.get(replier, [])
    names = ", ".join(allowed) or "nobody"
    if reply.recipient not in team.agents and reply.recipient != USER:
        raise RouteError(
            "unknown_recipient",
            f"there is no agent {reply.recipient!r}; {replier} may write to: {names}",
        )
    if reply.recipient not in allowed:
        raise RouteError(
            "forbidden_route", f"{replier} may not write to {reply.recipient!r}, only to: {names}"
        )
    if not isinstance(reply.content, str) or not reply.content.strip():
        raise RouteError("empty_content", f"the message from {replier} has no content")


# ----- task 2 -----------------------------------------------------------------------------------
def find_loop(history: list[Message]) -> int | None:
    """The smallest period p with history[-p:] == history[-2p:-p], or None."""
    for period in range(1, len(history) // 2 + 1):
        if history[-period:] == history[-2 * period : -period]:
            return period
    return None


# ----- task 3 -----------------------------------------------------------------------------------
def make_tools(
    client: httpx.Client, api_key: str, db_path: str, timeout: float = 2.0
) -> dict[str, Callable[..., Any]]:
    """The team's tools: a search API over HTTP and a notes table in SQLite."""

    def search(query: str, limit: int = 3) -> list[dict[str, Any]]:
        try:
            response = client.get(
                "/search",
                params={"q": query, "limit": limit},
                headers={"Authorization": f"Bearer {api_key}"},
                timeout=timeout,
            )
        except httpx.TimeoutException:
            raise ToolError(
                "timeout", f"the search API did not answer within {timeout} s"
            ) from None
        except httpx.TransportError as exc:
            raise ToolError("unreachable", f"the search API cannot be reached: {exc}") from None
        if response.status_code == 429:
            wait = response.headers.get("Retry-After", "a few")
            raise ToolError("rate_limited", f"too many searches; retry after {wait} seconds")
        if response.status_code >= 400:
            raise ToolError("http_error", f"the search API answered {response.status_code}")
        return list(response.json()["results"])

    def save_note(author: str, text: str) -> int:
        try:
            with contextlib.closing(sqlite3.connect(db_path)) as conn:
                cursor = conn.execute(
                    "INSERT INTO notes (author, text) VALUES (?, ?)", (author, text)
                )
                conn.commit()
                return int(cursor.lastrowid or 0)
        except sqlite3.Error as exc:
            raise ToolError("db_error", str(exc)) from None

    def read_note(note_id: int) -> dict[str, Any]:
        try:
            with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
                row = conn.execute(
                    "SELECT id, author, text FROM notes WHERE id = ?", (note_id,)
                ).fetchone()
        except sqlite3.Error as exc:
            raise ToolError("db_error", str(exc)) from None
        if row is None:
            raise ToolError("not_found", f"there is no note {note_id}")
        return {"id": row[0], "author": row[1], "text": row[2]}

    return {"search": search, "save_note": save_note, "read_note": read_note}


# ----- task 4 -----------------------------------------------------------------------------------
def tool_access(
    tools: dict[str, Callable[..., Any]],
    allowed: list[str],
    agent: str,
    audit: list[dict[str, Any]],
    turn: int,
) -> ToolUse:
    """``use(name, **arguments)``: the tools ``agent`` may call, each call written to ``audit``."""

    def use(name: str, **arguments: Any) -> Any:
        record: dict[str, Any] = {
            "turn": turn,
            "agent": agent,
            "tool": name,
            "args": dict(arguments),
            "status": "ok",
        }
        audit.append(record)
        try:
            if name not in tools:
                raise ToolError(
                    "unknown_tool", f"there is no tool {name!r}; {agent} may use: {allowed}"
                )
            if name not in allowed:
                raise ToolError(
                    "forbidden_tool", f"{agent} may not use {name!r}; it may use: {allowed}"
                )
            return tools[name](**arguments)
        except ToolError as exc:
            record["status"] = exc.kind
            raise
        except Exception as exc:
            record["status"] = "tool_failed"
            raise ToolError("tool_failed", f"{type(exc).__name__}: {exc}") from exc

    return use


# ----- task 5 -----------------------------------------------------------------------------------
def error_message(recipient: str, kind: str, text: str) -> Message:
    """The coordinator's note to an agent whose turn went wrong."""
    return Message(COORDINATOR, recipient, json.dumps({"error": kind, "message": text}))


def run_team(
    team: Team,
    task: str,
    tools: dict[str, Callable[..., Any]],
    entry: str,
    max_turns: int = 8,
) -> TeamResult:
    """Deliver messages one at a time until an answer, a loop or ``max_turns`` agent calls."""
    message = Message(USER, entry, task)
    history = [message]
    audit: list[dict[str, Any]] = []
    for turn in range(1, max_turns + 1):
        name = message.recipient
        use = tool_access(tools, team.tool_access.get(name, []), name, audit, turn)
        try:
            reply = team.agents[name](message, use)
            check_reply(reply, name, team)
        except RouteError as exc:
            message = error_message(name, exc.kind, str(exc))
        except Exception as exc:
            message = error_message(name, "agent_failed", f"{type(exc).__name__}: {exc}")
        else:
            message = reply
        history.append(message)
        if message.recipient == USER:
            return TeamResult("done", message, turn, history, audit)
        if find_loop(history) is not None:
            return TeamResult("loop", None, turn, history, audit)
    return TeamResult("turn_limit", None, max_turns, history, audit)
