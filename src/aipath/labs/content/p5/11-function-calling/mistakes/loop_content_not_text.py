# expect: expected JSON text
# mistake: the result itself, not JSON text, as the content.
"""Function calling: one learner answer."""

from __future__ import annotations

import contextlib
import inspect
import json
import sqlite3
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import jsonschema
import torch

Message = dict[str, Any]
Model = Callable[[list[Message], list[dict[str, Any]]], Message]
MAX_ROWS = 20


class ToolError(Exception):
    """A failure the model should read: ``kind`` names it, the message explains it."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class AgentResult:
    """What ``run_agent`` returns."""

    status: Literal["answered", "budget_exhausted"]
    answer: str | None
    steps: int
    messages: list[Message] = field(default_factory=list)


# ----- task 1 -----------------------------------------------------------------------------------
_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def json_type(annotation: Any) -> dict[str, Any]:
    """The JSON schema of one Python annotation."""
    if annotation in _SCALARS:
        return {"type": _SCALARS[annotation]}
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return {"type": _SCALARS[type(args[0])], "enum": list(args)}
    if origin in (list, Sequence):
        return {"type": "array", "items": json_type(args[0])}
    if origin is dict:
        return {"type": "object"}
    if origin in (typing.Union, types.UnionType):
        options = [json_type(a) for a in args if a is not type(None)]
        if type(None) in args:
            options.append({"type": "null"})
        return options[0] if len(options) == 1 else {"anyOf": options}
    raise TypeError(f"no JSON schema for {annotation!r}")


def tool_schema(func: Callable[..., Any]) -> dict[str, Any]:
    """The tool definition of ``func`` in the OpenAI format."""
    hints = typing.get_type_hints(func)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, parameter in inspect.signature(func).parameters.items():
        schema = json_type(hints[name])
        if parameter.default is inspect.Parameter.empty:
            required.append(name)
        else:
            schema["default"] = parameter.default
        properties[name] = schema
    doc = inspect.getdoc(func) or ""
    return {
        "type": "function",
        "function": {
            "name": func.__name__,
            "description": doc.split("\n\n")[0].replace("\n", " ").strip(),
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


# ----- task 2 -----------------------------------------------------------------------------------
def check_call(schemas: list[dict[str, Any]], name: str, arguments: str) -> dict[str, Any]:
    """The arguments of a valid call, parsed; a ``ToolError`` for anything else."""
    by_name = {s["function"]["name"]: s["function"] for s in schemas}
    if name not in by_name:
        raise ToolError(
            "unknown_tool", f"there is no tool {name!r}; the tools are {', '.join(by_name)}"
        )
    try:
        parsed = json.loads(arguments)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ToolError("invalid_json", f"the arguments are not valid JSON: {exc}") from None
    validator = jsonschema.Draft202012Validator(by_name[name]["parameters"])
    errors = sorted(validator.iter_errors(parsed), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for error in errors:
            where = ".".join(str(p) for p in error.absolute_path) or "arguments"
            lines.append(f"{where}: {error.message}")
        raise ToolError("invalid_arguments", "; ".join(lines))
    return parsed


# ----- task 3 -----------------------------------------------------------------------------------
def error_content(exc: Exception) -> str:
    """The tool message's content for a failed call."""
    if isinstance(exc, ToolError):
        return json.dumps({"error": exc.kind, "message": str(exc)})
    return json.dumps({"error": "tool_failed", "message": f"{type(exc).__name__}: {exc}"})


def run_tool_call(
    tools: dict[str, Callable[..., Any]], schemas: list[dict[str, Any]], call: dict[str, Any]
) -> str:
    """The content of the tool message that answers ``call``."""
    function = call.get("function", {})
    try:
        arguments = check_call(schemas, function.get("name"), function.get("arguments"))
        result = tools[function["name"]](**arguments)
        return result
    except Exception as exc:
        return error_content(exc)


def run_agent(
    model: Model,
    tools: dict[str, Callable[..., Any]],
    messages: list[Message],
    max_steps: int = 5,
) -> AgentResult:
    """Call the model, run the tools it asks for, repeat; at most ``max_steps`` model calls."""
    schemas = [tool_schema(func) for func in tools.values()]
    transcript = list(messages)
    for step in range(1, max_steps + 1):
        reply = model(transcript, schemas)
        transcript.append(reply)
        calls = reply.get("tool_calls") or []
        if not calls:
            return AgentResult("answered", reply.get("content"), step, transcript)
        for call in calls:
            content = run_tool_call(tools, schemas, call)
            transcript.append({"role": "tool", "tool_call_id": call["id"], "content": content})
    return AgentResult("budget_exhausted", None, max_steps, transcript)


# ----- task 4 -----------------------------------------------------------------------------------
def make_order_tool(
    client: httpx.Client, api_key: str, timeout: float = 2.0
) -> Callable[[int], dict[str, Any]]:
    """A ``get_order(order_id)`` tool that reads the shop's order API through ``client``."""

    def get_order(order_id: int) -> dict[str, Any]:
        """Look up one order of the shop by its id: status, items and total."""
        try:
            response = client.get(
                f"/orders/{order_id}",
                headers={"Authorization": f"Bearer {api_key}"},
                timeout=timeout,
            )
        except httpx.TimeoutException:
            raise ToolError("timeout", f"the order API did not answer within {timeout} s") from None
        except httpx.TransportError as exc:
            raise ToolError("unreachable", f"the order API cannot be reached: {exc}") from None
        if response.status_code == 404:
            raise ToolError("not_found", f"there is no order {order_id}")
        if response.status_code == 429:
            wait = response.headers.get("Retry-After", "a few")
            raise ToolError("rate_limited", f"too many requests; retry after {wait} seconds")
        if response.status_code >= 400:
            raise ToolError("http_error", f"the order API answered {response.status_code}")
        return response.json()

    return get_order


# ----- task 5 -----------------------------------------------------------------------------------
def read_only(db_path: str) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)


def make_product_search(db_path: str) -> Callable[..., dict[str, Any]]:
    """A ``search_products(...)`` tool over the ``products`` table of the SQLite file."""

    def search_products(
        query: str,
        category: Literal["books", "games", "music"] | None = None,
        max_price: float | None = None,
        limit: int = 5,
    ) -> dict[str, Any]:
        """Find products whose name contains the query, cheapest first."""
        sql = "SELECT id, name, category, price FROM products WHERE name LIKE ?"
        params: list[Any] = [f"%{query}%"]
        if category is not None:
            sql += " AND category = ?"
            params.append(category)
        if max_price is not None:
            sql += " AND price <= ?"
            params.append(max_price)
        n = max(1, min(limit, MAX_ROWS))
        sql += " ORDER BY price, id LIMIT ?"
        params.append(n + 1)
        with contextlib.closing(read_only(db_path)) as conn:
            rows = conn.execute(sql, params).fetchall()
        keys = ("id", "name", "category", "price")
        return {
            "rows": [dict(zip(keys, row, strict=True)) for row in rows[:n]],
            "truncated": len(rows) > n,
        }

    return search_products


def make_sql_tool(db_path: str) -> Callable[[str], dict[str, Any]]:
    """A ``run_sql(sql)`` tool: any query, on a read-only connection, at most MAX_ROWS rows."""

    def run_sql(sql: str) -> dict[str, Any]:
        """Run one read-only SQL query on the shop database and return its rows."""
        conn = read_only(db_path)
        try:
            cursor = conn.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchmany(MAX_ROWS + 1)
        except sqlite3.Error as exc:
            raise ToolError("sql_error", str(exc)) from None
        finally:
            conn.close()
        return {
            "columns": columns,
            "rows": [list(row) for row in rows[:MAX_ROWS]],
            "truncated": len(rows) > MAX_ROWS,
        }

    return run_sql


# ----- task 6 -----------------------------------------------------------------------------------
def score_tools(model: Any, tokenizer: Any, prompt: str, names: list[str]) -> dict[str, float]:
    """The log-probability the model gives each name as the continuation of ``prompt``."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    scores: dict[str, float] = {}
    with torch.no_grad():
        for name in names:
            name_ids = tokenizer(name, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([prompt_ids + name_ids])
            logprobs = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
            start = len(prompt_ids)
            total = sum(logprobs[start + i - 1, token].item() for i, token in enumerate(name_ids))
            scores[name] = float(total)
    return scores


def choose_tool(model: Any, tokenizer: Any, prompt: str, names: list[str]) -> str:
    """The allowed name the model finds most likely."""
    scores = score_tools(model, tokenizer, prompt, names)
    return max(names, key=lambda name: scores[name])
