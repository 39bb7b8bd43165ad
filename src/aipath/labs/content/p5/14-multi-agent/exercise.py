"""Multi-agent coordination: the file you edit.

Read README.md first. A team is a few *agents* (plain functions) that never call each other: each
one gets one ``Message``, may use its tools, and returns one ``Message`` addressed to someone
else. A *coordinator* (``run_team``) delivers the messages, one at a time, and enforces the rules:
who may write to whom, which tools each agent may use, how many turns the team gets, and when
the same exchange keeps repeating.

An agent is any callable ``agent(message, use) -> Message`` where ``use(name, **arguments)`` calls
one of the tools the coordinator lets that agent use. The checks pass scripted agents (a
researcher, a writer and a reviewer that behave well, badly or forever).
"""

from __future__ import annotations

import contextlib  # noqa: F401  (task 3: contextlib.closing)
import json  # noqa: F401  (task 5: the coordinator's error messages)
import sqlite3  # noqa: F401  (task 3)
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

USER = "user"  # the recipient of the final answer (not an agent)
COORDINATOR = "coordinator"  # the sender of the coordinator's error messages (not an agent)


# ----- given: do not change ---------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    """One message between two parties of the team.

    Two messages are equal (``==``) when sender, recipient and content all are.

    >>> a = Message("researcher", "writer", "Sources: A; B")
    >>> a == Message("researcher", "writer", "Sources: A; B")
    True
    """

    sender: str
    recipient: str
    content: str


ToolUse = Callable[..., Any]  # use(name, **arguments) -> what the tool returned
Agent = Callable[[Message, ToolUse], Any]  # agent(message, use) -> its reply, a Message


@dataclass
class Team:
    """The agents by name, who may write to whom, and which tools each may use.

    >>> team = Team(
    ...     agents={"researcher": researcher, "writer": writer, "reviewer": reviewer},
    ...     routes={
    ...         "researcher": ["writer"], "writer": ["reviewer"], "reviewer": ["writer", "user"]
    ...     },
    ...     tool_access={
    ...         "researcher": ["search"], "writer": ["save_note"], "reviewer": ["read_note"]
    ...     },
    ... )
    """

    agents: dict[str, Agent]
    routes: dict[str, list[str]]
    tool_access: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class TeamResult:
    """What ``run_team`` returns.

    ``status`` is ``"done"`` (an agent answered the user), ``"loop"`` (the history repeated
    itself) or ``"turn_limit"``; ``answer`` is the answer's text (``None`` unless done); ``turns``
    the number of agent calls; ``history`` every message delivered, the user's task first;
    ``audit`` one record per tool call, in order.
    """

    status: Literal["done", "loop", "turn_limit"]
    answer: str | None
    turns: int
    history: list[Message]
    audit: list[dict[str, Any]]


class RouteError(Exception):
    """A reply the coordinator refuses to deliver: ``kind`` names the rule, the message explains.

    >>> error = RouteError("unknown_recipient", "there is no agent 'editor'")
    >>> error.kind, str(error)
    ('unknown_recipient', "there is no agent 'editor'")
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ToolError(Exception):
    """A failed tool call, as the agent that made it reads it (``kind``, message)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# ----- task 1: routing a reply ------------------------------------------------------------------
def check_reply(reply: Any, replier: str, team: Team) -> None:
    """Return nothing when the coordinator may deliver ``reply``; raise ``RouteError`` otherwise.

    Checked in this order: ``"not_a_message"``, ``"wrong_sender"`` (not signed by ``replier``),
    ``"unknown_recipient"`` (neither an agent nor ``"user"``), ``"forbidden_route"`` (not in
    ``team.routes[replier]``), ``"empty_content"``.

    >>> check_reply(Message("writer", "reviewer", "note 3"), "writer", team)  # fine: None
    >>> check_reply(Message("writer", "user", "note 3"), "writer", team)
    Traceback (most recent call last):
    RouteError: writer may not write to 'user', only to: reviewer
    """
    raise NotImplementedError  # TODO


# ----- task 2: ping-pong ------------------------------------------------------------------------
def find_loop(history: list[Message]) -> int | None:
    """The smallest period ``p`` such that the last ``p`` messages equal the ``p`` before them.

    ``None`` when there is none.

    >>> a, b = Message("writer", "reviewer", "note 1"), Message("reviewer", "writer", "revise")
    >>> find_loop([a, b, a, b]), find_loop([a, b, a]), find_loop([a, a])
    (2, None, 1)
    """
    raise NotImplementedError  # TODO


# ----- task 3: tools over an HTTP API and SQLite ------------------------------------------------
def make_tools(
    client: httpx.Client, api_key: str, db_path: str, timeout: float = 2.0
) -> dict[str, Callable[..., Any]]:
    """The team's tools: ``{"search": ..., "save_note": ..., "read_note": ...}``.

    * ``search(query: str, limit: int = 3) -> list[dict]``: ``GET /search?q=...&limit=...``
      through ``client`` with ``Authorization: Bearer <api_key>`` and ``timeout``; the body's
      ``"results"``. ``ToolError`` kinds: ``"rate_limited"`` (429), ``"http_error"`` (any other
      status ≥ 400), ``"timeout"``, ``"unreachable"``.
    * ``save_note(author: str, text: str) -> int``: a new row of ``notes``; its id.
    * ``read_note(note_id: int) -> dict``: ``{"id", "author", "text"}``; ``"not_found"``.
    * any ``sqlite3.Error`` → ``ToolError("db_error", ...)``.

    >>> tools = make_tools(client, "sk-test", "notes.db")
    >>> tools["search"]("debate", limit=1)
    [{'title': 'Agents that debate', 'year': 2023}]
    >>> tools["read_note"](tools["save_note"]("writer", "Draft 1"))["text"]
    'Draft 1'
    """
    raise NotImplementedError  # TODO


# ----- task 4: tool access with least privilege and an audit log --------------------------------
def tool_access(
    tools: dict[str, Callable[..., Any]],
    allowed: list[str],
    agent: str,
    audit: list[dict[str, Any]],
    turn: int,
) -> ToolUse:
    """A function ``use(name, **arguments)`` through which ``agent`` calls its tools.

    It refuses a tool that does not exist (``"unknown_tool"``) or is not in ``allowed``
    (``"forbidden_tool"``), turns any other exception into ``ToolError("tool_failed", ...)``,
    lets a ``ToolError`` pass, and appends one record per call to ``audit``:
    ``{"turn", "agent", "tool", "args", "status"}`` (``"ok"`` or the error's kind).

    >>> audit = []
    >>> use = tool_access({"add": lambda a, b: a + b}, ["add"], "writer", audit, 3)
    >>> use("add", a=2, b=3)
    5
    >>> audit
    [{'turn': 3, 'agent': 'writer', 'tool': 'add', 'args': {'a': 2, 'b': 3}, 'status': 'ok'}]
    """
    raise NotImplementedError  # TODO


# ----- task 5: the coordinator ------------------------------------------------------------------
def run_team(
    team: Team,
    task: str,
    tools: dict[str, Callable[..., Any]],
    entry: str,
    max_turns: int = 8,
) -> TeamResult:
    """Deliver ``Message("user", entry, task)``, then each reply, one agent call per turn.

    Stops when a reply to ``"user"`` is delivered (``"done"``), when ``find_loop(history)``
    finds a period (``"loop"``), or after ``max_turns`` turns (``"turn_limit"``). A reply
    ``check_reply`` refuses, or an agent that raises, becomes the coordinator's error message
    ``Message("coordinator", agent, json.dumps({"error": kind, "message": text}))`` to that agent.

    >>> result = run_team(team, "agents", tools, entry="researcher")
    >>> result.status, result.turns, [m.sender for m in result.history]
    ('done', 3, ['user', 'researcher', 'writer', 'reviewer'])
    """
    raise NotImplementedError  # TODO
