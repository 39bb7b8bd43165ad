"""Multi-agent coordination: a correct answer;
autocommit SQLite, tools bound with functools.partial, routing checked inline."""

from __future__ import annotations

import contextlib
import functools
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
def route_problem(reply: Any, replier: str, team: Team) -> tuple[str, str] | None:
    """(kind, message) of the first broken rule, or None."""
    if type(reply) is not Message:
        return "not_a_message", "return a Message"
    if reply.sender != replier:
        return "wrong_sender", f"sender must be {replier}, was {reply.sender}"
    routes = team.routes.get(replier) or []
    if reply.recipient != USER and reply.recipient not in team.agents:
        return "unknown_recipient", f"{reply.recipient}? known to you: " + " / ".join(routes)
    if reply.recipient not in routes:
        return "forbidden_route", "you may write to " + " / ".join(routes)
    if reply.content.strip() == "":
        return "empty_content", "the content is blank"
    return None


def check_reply(reply: Any, replier: str, team: Team) -> None:
    """Raise the first broken rule as a RouteError."""
    problem = route_problem(reply, replier, team)
    if problem:
        raise RouteError(*problem)


# ----- task 2 -----------------------------------------------------------------------------------
def find_loop(history: list[Message]) -> int | None:
    """Periods tried from 1 with JSON keys of the messages."""
    keys = [json.dumps([m.sender, m.recipient, m.content]) for m in history]
    for p in range(1, len(keys) + 1):
        if 2 * p > len(keys):
            break
        if keys[len(keys) - p :] == keys[len(keys) - 2 * p : len(keys) - p]:
            return p
    return None


# ----- task 3 -----------------------------------------------------------------------------------
def make_tools(
    client: httpx.Client, api_key: str, db_path: str, timeout: float = 2.0
) -> dict[str, Callable[..., Any]]:
    """The team's tools."""

    def search(query: str, limit: int = 3) -> list[dict[str, Any]]:
        try:
            response = client.request(
                "GET",
                "/search",
                params=[("q", query), ("limit", limit)],
                headers=[("Authorization", f"Bearer {api_key}")],
                timeout=httpx.Timeout(timeout, connect=timeout),
            )
        except httpx.ReadTimeout:
            raise ToolError("timeout", "read timed out") from None
        except httpx.TimeoutException:
            raise ToolError("timeout", "timed out") from None
        except httpx.NetworkError as exc:
            raise ToolError("unreachable", str(exc) or "connection failed") from None
        except httpx.TransportError as exc:
            raise ToolError("unreachable", str(exc) or "transport error") from None
        if response.is_success:
            return response.json()["results"]
        if response.status_code == 429:
            raise ToolError("rate_limited", f"Retry-After: {response.headers['Retry-After']}")
        raise ToolError("http_error", f"{response.status_code} {response.reason_phrase}")

    def save_note(author: str, text: str) -> int:
        conn = sqlite3.connect(db_path, isolation_level=None)  # autocommit: every statement sticks
        try:
            cursor = conn.cursor()
            cursor.execute("INSERT INTO notes (text, author) VALUES (?, ?)", [text, author])
            return cursor.lastrowid
        except sqlite3.Error as exc:
            raise ToolError("db_error", str(exc)) from None
        finally:
            conn.close()

    def read_note(note_id: int) -> dict[str, Any]:
        with contextlib.closing(sqlite3.connect(db_path)) as conn:
            try:
                found = conn.execute(
                    "SELECT author, text FROM notes WHERE id = ?", [note_id]
                ).fetchone()
            except sqlite3.OperationalError as exc:
                raise ToolError("db_error", str(exc)) from None
        if not found:
            raise ToolError("not_found", f"note {note_id}: no such row")
        author, text = found
        return {"text": text, "author": author, "id": note_id}

    return {"search": search, "save_note": save_note, "read_note": read_note}


# ----- task 4 -----------------------------------------------------------------------------------
def _use(
    tools: dict[str, Callable[..., Any]],
    allowed: list[str],
    agent: str,
    audit: list[dict[str, Any]],
    turn: int,
    name: str,
    **arguments: Any,
) -> Any:
    entry = {"turn": turn, "agent": agent, "tool": name, "args": arguments, "status": "ok"}
    audit.append(entry)
    if name not in tools:
        entry["status"] = "unknown_tool"
        raise ToolError("unknown_tool", f"{name} does not exist; yours: {allowed}")
    if name not in allowed:
        entry["status"] = "forbidden_tool"
        raise ToolError("forbidden_tool", f"{name} is not yours; yours: {allowed}")
    try:
        return tools[name](**arguments)
    except Exception as exc:
        entry["status"] = exc.kind if isinstance(exc, ToolError) else "tool_failed"
        if isinstance(exc, ToolError):
            raise
        raise ToolError("tool_failed", f"{type(exc).__name__}: {exc}") from exc


def tool_access(
    tools: dict[str, Callable[..., Any]],
    allowed: list[str],
    agent: str,
    audit: list[dict[str, Any]],
    turn: int,
) -> ToolUse:
    """``_use`` with everything but the call bound."""
    return functools.partial(_use, tools, allowed, agent, audit, turn)


# ----- task 5 -----------------------------------------------------------------------------------
def run_team(
    team: Team,
    task: str,
    tools: dict[str, Callable[..., Any]],
    entry: str,
    max_turns: int = 8,
) -> TeamResult:
    """Routing checked inline with route_problem; the status decided after every turn."""
    history = [Message(USER, entry, task)]
    audit: list[dict[str, Any]] = []
    status: Literal["done", "loop", "turn_limit"] = "turn_limit"
    turns = 0
    for turns in range(1, max_turns + 1):
        speaker = history[-1].recipient
        use = tool_access(tools, team.tool_access.get(speaker, []), speaker, audit, turns)
        try:
            reply = team.agents[speaker](history[-1], use)
            problem = route_problem(reply, speaker, team)
        except Exception as exc:
            problem = ("agent_failed", f"{type(exc).__name__}: {exc}")
        if problem is not None:
            kind, text = problem
            reply = Message(COORDINATOR, speaker, json.dumps({"error": kind, "message": text}))
        history.append(reply)
        if reply.recipient == USER:
            status = "done"
            break
        if find_loop(history) is not None:
            status = "loop"
            break
    answer = history[-1].content if status == "done" else None
    return TeamResult(status, answer, turns, history, audit)
