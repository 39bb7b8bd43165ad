"""Function calling, a fourth way: inspect.signature(eval_str=True) for the annotations, every
validation error with its JSON path, a match on the HTTP status, named SQL parameters with
fetchmany, and the name tokens indexed with arange."""

from __future__ import annotations

import contextlib
import inspect
import json
import sqlite3
import types  # noqa: F401  (task 1: types.UnionType is `int | None`)
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import jsonschema
import torch

Message = dict[str, Any]
Model = Callable[[list[Message], list[dict[str, Any]]], Message]
MAX_ROWS = 20  # the most rows a database tool returns (task 5)


# ----- given: do not change ---------------------------------------------------------------------
class ToolError(Exception):
    """A failure the model should read: ``kind`` names it, the message explains it.

    >>> error = ToolError("not_found", "there is no order 99")
    >>> error.kind, str(error)
    ('not_found', 'there is no order 99')
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class AgentResult:
    """What ``run_agent`` returns.

    ``status`` is ``"answered"`` or ``"budget_exhausted"``; ``answer`` the final answer's text
    (``None`` when the budget ran out); ``steps`` how many times the model was called;
    ``messages`` the whole transcript, the caller's messages first.
    """

    status: Literal["answered", "budget_exhausted"]
    answer: str | None
    steps: int
    messages: list[Message] = field(default_factory=list)


# ----- task 1: inspect.signature(eval_str=True) -----
def _to_schema(annotation: Any) -> dict[str, Any]:
    origin = typing.get_origin(annotation)
    if origin is None:
        if annotation is bool:
            return {"type": "boolean"}
        return {"type": {int: "integer", float: "number", str: "string"}[annotation]}
    args = typing.get_args(annotation)
    if origin is list:
        return {"type": "array", "items": _to_schema(args[0])}
    if origin is Literal:
        sample = args[0]
        if isinstance(sample, bool):
            base = "boolean"
        elif isinstance(sample, int):
            base = "integer"
        elif isinstance(sample, float):
            base = "number"
        else:
            base = "string"
        return {"type": base, "enum": list(args)}
    non_null = next(a for a in args if a is not type(None))
    return {"anyOf": [_to_schema(non_null), {"type": "null"}]}


def tool_schema(func: Callable[..., Any]) -> dict[str, Any]:
    signature = inspect.signature(func, eval_str=True)
    lines = []
    for line in (inspect.getdoc(func) or "").split("\n"):
        if line.strip() == "":
            if lines:
                break
            continue
        lines.append(line)
    properties = {
        p.name: (
            _to_schema(p.annotation)
            if p.default is p.empty
            else {**_to_schema(p.annotation), "default": p.default}
        )
        for p in signature.parameters.values()
    }
    return {
        "type": "function",
        "function": {
            "name": func.__name__,
            "description": " ".join(lines),
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": [n for n, p in signature.parameters.items() if p.default is p.empty],
                "additionalProperties": False,
            },
        },
    }


# ----- task 2: all errors, JSON paths -----
def check_call(schemas: list[dict[str, Any]], name: str, arguments: str) -> dict[str, Any]:
    tool = next((s["function"] for s in schemas if s["function"]["name"] == name), None)
    if tool is None:
        raise ToolError(
            "unknown_tool",
            f"{name!r} is not a tool. Tools: " + ", ".join(s["function"]["name"] for s in schemas),
        )
    try:
        value = json.loads(arguments)
    except Exception as exc:
        raise ToolError("invalid_json", f"could not parse the arguments: {exc}") from None
    problems = sorted(
        jsonschema.Draft202012Validator(tool["parameters"]).iter_errors(value),
        key=lambda e: list(map(str, e.path)),
    )
    if problems:
        raise ToolError(
            "invalid_arguments", "\n".join(f"{e.json_path}: {e.message}" for e in problems)
        )
    return value


# ----- task 3 -----
def run_agent(
    model: Model,
    tools: dict[str, Callable[..., Any]],
    messages: list[Message],
    max_steps: int = 5,
) -> AgentResult:
    schemas = [tool_schema(f) for f in tools.values()]
    transcript = [m for m in messages]

    def execute(call: dict[str, Any]) -> Message:
        try:
            name = call["function"]["name"]
            arguments = check_call(schemas, name, call["function"]["arguments"])
            try:
                content = json.dumps(tools[name](**arguments))
            except ToolError:
                raise
            except Exception as exc:
                content = json.dumps(
                    {"error": "tool_failed", "message": f"{type(exc).__name__}: {exc}"}
                )
        except ToolError as exc:
            content = json.dumps({"error": exc.kind, "message": str(exc)})
        return {"role": "tool", "tool_call_id": call["id"], "content": content}

    for step in range(max_steps):
        reply = model(transcript, schemas)
        transcript.append(reply)
        if not reply.get("tool_calls", None):
            return AgentResult("answered", reply.get("content"), step + 1, transcript)
        transcript += [execute(c) for c in reply["tool_calls"]]
    return AgentResult("budget_exhausted", None, max_steps, transcript)


# ----- task 4: match on the status -----
def make_order_tool(
    client: httpx.Client, api_key: str, timeout: float = 2.0
) -> Callable[[int], dict[str, Any]]:
    def get_order(order_id: int) -> dict:
        """Return the order with this id.

        Raises ToolError when the API fails.
        """
        try:
            response = client.get(
                f"/orders/{order_id:d}",
                headers={"Authorization": "Bearer " + api_key},
                timeout=httpx.Timeout(timeout),
            )
        except httpx.ConnectTimeout:
            raise ToolError("timeout", "connect timed out") from None
        except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout):
            raise ToolError("timeout", "the API took too long") from None
        except httpx.TransportError as exc:
            raise ToolError("unreachable", repr(exc)) from None
        match response.status_code:
            case 200:
                return response.json()
            case 404:
                raise ToolError("not_found", "no such order")
            case 429:
                raise ToolError(
                    "rate_limited", "retry after " + response.headers["retry-after"] + "s"
                )
            case code:
                raise ToolError("http_error", f"status {code}")

    return get_order


# ----- task 5: named parameters, fetchmany -----
def make_product_search(db_path: str) -> Callable[..., dict[str, Any]]:
    def search_products(
        query: str,
        category: Literal["books", "games", "music"] | None = None,
        max_price: float | None = None,
        limit: int = 5,
    ) -> dict:
        """Products matching a name, category and price limit."""
        params = {"pattern": "%" + query + "%", "category": category, "max_price": max_price}
        sql = (
            "SELECT id, name, category, price FROM products WHERE name LIKE :pattern"
            + (" AND category = :category" if category is not None else "")
            + (" AND price <= :max_price" if max_price is not None else "")
            + " ORDER BY price, id"
        )
        k = sorted((1, limit, MAX_ROWS))[1]
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
            cursor = db.execute(sql, params)
            batch = cursor.fetchmany(k + 1)
        rows = [dict(zip(("id", "name", "category", "price"), r, strict=True)) for r in batch[:k]]
        return {"rows": rows, "truncated": len(batch) > k}

    return search_products


def make_sql_tool(db_path: str) -> Callable[[str], dict[str, Any]]:
    uri = f"file:{db_path}?mode=ro"

    def run_sql(sql: str) -> dict:
        """Run SQL on the catalogue."""
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            try:
                cursor = db.cursor()
                cursor.execute(sql)
                fetched = cursor.fetchmany(MAX_ROWS + 1)
            except sqlite3.Error as exc:
                raise ToolError("sql_error", str(exc)) from None
            columns = [c[0] for c in cursor.description] if cursor.description else []
        truncated = len(fetched) > MAX_ROWS
        return {
            "columns": columns,
            "rows": [list(r) for r in fetched[:MAX_ROWS]],
            "truncated": truncated,
        }

    return run_sql


# ----- task 6: F.log_softmax, index with arange -----
def score_tools(model: Any, tokenizer: Any, prompt: str, names: list[str]) -> dict[str, float]:
    import torch.nn.functional as F

    prefix = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    scores = {}
    for name in names:
        suffix = tokenizer(name, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([prefix + suffix])).logits
        lp = F.log_softmax(logits[0].to(torch.float32), dim=-1)
        idx = torch.arange(len(suffix)) + len(prefix) - 1
        scores[name] = lp[idx, torch.tensor(suffix)].sum().item()
    return scores


def choose_tool(model: Any, tokenizer: Any, prompt: str, names: list[str]) -> str:
    scores = score_tools(model, tokenizer, prompt, names)
    top = max(scores.values())
    return next(n for n in names if scores[n] == top)
