"""Multi-agent coordination: a correct answer;
a table of routing rules, a callable gate class and a while loop."""

from __future__ import annotations

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


# ----- task 1: a table of rules, tried in order -------------------------------------------------
def check_reply(reply: Any, replier: str, team: Team) -> None:
    """Raise ``RouteError`` for the first rule ``reply`` breaks."""
    allowed = team.routes.get(replier, [])
    known = set(team.agents) | {USER}
    rules: list[tuple[str, Callable[[Any], bool], Callable[[Any], str]]] = [
        ("not_a_message", lambda r: not isinstance(r, Message), lambda r: f"got {r!r}"),
        (
            "wrong_sender",
            lambda r: r.sender != replier,
            lambda r: f"{replier} cannot send as {r.sender}",
        ),
        (
            "unknown_recipient",
            lambda r: r.recipient not in known,
            lambda r: f"{r.recipient} is unknown; allowed: {allowed}",
        ),
        (
            "forbidden_route",
            lambda r: r.recipient not in allowed,
            lambda r: f"{replier} -> {r.recipient} is not allowed; allowed: {allowed}",
        ),
        ("empty_content", lambda r: not str(r.content).strip(), lambda r: "empty message"),
    ]
    for kind, broken, explain in rules:
        if broken(reply):
            raise RouteError(kind, explain(reply))


# ----- task 2: tuples, compared from the end ------------------------------------------------------
def find_loop(history: list[Message]) -> int | None:
    """The smallest period of a repeat at the end of ``history``."""
    keys = [(m.sender, m.recipient, m.content) for m in history]
    period = 1
    while 2 * period <= len(keys):
        n = len(keys)
        if all(keys[n - 1 - i] == keys[n - 1 - period - i] for i in range(period)):
            return period
        period += 1
    return None


# ----- task 3: build_request/send, `with conn:` transactions, RETURNING ---------------------------
def make_tools(
    client: httpx.Client, api_key: str, db_path: str, timeout: float = 2.0
) -> dict[str, Callable[..., Any]]:
    """The team's tools."""

    def search(query: str, limit: int = 3) -> list[dict[str, Any]]:
        request = client.build_request(
            "GET",
            "/search",
            params={"q": query, "limit": str(limit)},
            headers={"authorization": "Bearer " + api_key},
            timeout=httpx.Timeout(timeout),
        )
        try:
            response = client.send(request)
        except httpx.TimeoutException as exc:
            raise ToolError("timeout", repr(exc)) from exc
        except httpx.TransportError as exc:
            raise ToolError("unreachable", repr(exc)) from exc
        code = response.status_code
        if code == 200:
            return response.json()["results"]
        if code == 429:
            raise ToolError("rate_limited", "wait " + response.headers["retry-after"] + " s")
        raise ToolError("http_error", f"HTTP {code}: {response.text[:100]}")

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(db_path)

    def save_note(author: str, text: str) -> int:
        conn = connect()
        try:
            with conn:  # commits on success
                (note_id,) = conn.execute(
                    "INSERT INTO notes (author, text) VALUES (:a, :t) RETURNING id",
                    {"a": author, "t": text},
                ).fetchone()
            return note_id
        except sqlite3.Error as exc:
            raise ToolError("db_error", f"{exc}") from exc
        finally:
            conn.close()

    def read_note(note_id: int) -> dict[str, Any]:
        conn = connect()
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute("SELECT * FROM notes WHERE id = :id", {"id": note_id}).fetchall()
        except sqlite3.DatabaseError as exc:
            raise ToolError("db_error", str(exc)) from exc
        finally:
            conn.close()
        if not rows:
            raise ToolError("not_found", f"note {note_id} does not exist")
        return dict(rows[0])

    return {"search": search, "save_note": save_note, "read_note": read_note}


# ----- task 4: a callable class ------------------------------------------------------------------
class Gate:
    """What one agent may call during one turn."""

    def __init__(
        self, tools: dict[str, Any], allowed: list[str], agent: str, audit: list[Any], turn: int
    ) -> None:
        self.tools, self.allowed, self.agent, self.audit, self.turn = (
            tools,
            allowed,
            agent,
            audit,
            turn,
        )

    def _run(self, name: str, arguments: dict[str, Any]) -> Any:
        if name not in self.tools:
            raise ToolError("unknown_tool", f"no {name}; try one of {self.allowed}")
        if name not in self.allowed:
            raise ToolError("forbidden_tool", f"not for {self.agent}; try one of {self.allowed}")
        try:
            return self.tools[name](**arguments)
        except ToolError:
            raise
        except Exception as exc:
            raise ToolError("tool_failed", f"{exc.__class__.__name__}: {exc}") from exc

    def __call__(self, name: str, **arguments: Any) -> Any:
        status = "ok"
        try:
            return self._run(name, arguments)
        except ToolError as exc:
            status = exc.kind
            raise
        finally:
            self.audit.append(
                {
                    "turn": self.turn,
                    "agent": self.agent,
                    "tool": name,
                    "args": arguments,
                    "status": status,
                }
            )


def tool_access(
    tools: dict[str, Callable[..., Any]],
    allowed: list[str],
    agent: str,
    audit: list[dict[str, Any]],
    turn: int,
) -> ToolUse:
    """A gate for ``agent``."""
    return Gate(tools, allowed, agent, audit, turn)


# ----- task 5: a while loop with the next message and its turn -----------------------------------
def run_team(
    team: Team,
    task: str,
    tools: dict[str, Callable[..., Any]],
    entry: str,
    max_turns: int = 8,
) -> TeamResult:
    """The coordinator."""
    history = [Message(USER, entry, task)]
    audit: list[dict[str, Any]] = []
    turn = 0
    while turn < max_turns:
        turn += 1
        current = history[-1]
        agent = current.recipient
        reply: Any = None
        error: tuple[str, str] | None = None
        try:
            reply = team.agents[agent](
                current, tool_access(tools, team.tool_access.get(agent, []), agent, audit, turn)
            )
        except Exception as exc:
            error = ("agent_failed", f"{type(exc).__name__}: {exc}")
        if error is None:
            try:
                check_reply(reply, agent, team)
            except RouteError as exc:
                error = (exc.kind, str(exc))
        if error is not None:
            reply = Message(
                COORDINATOR, agent, json.dumps({"error": error[0], "message": error[1]})
            )
        history.append(reply)
        if reply.recipient == USER:
            return TeamResult(
                status="done", answer=reply.content, turns=turn, history=history, audit=audit
            )
        if find_loop(history):
            return TeamResult(status="loop", answer=None, turns=turn, history=history, audit=audit)
    return TeamResult(status="turn_limit", answer=None, turns=turn, history=history, audit=audit)
