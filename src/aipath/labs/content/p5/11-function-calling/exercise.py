"""Function calling: the file you edit.

Read README.md first. The messages are OpenAI-style chat messages (plain dicts):

* ``{"role": "user", "content": "Where is my order 7?"}``
* an assistant reply that calls tools: ``{"role": "assistant", "content": None, "tool_calls":
  [{"id": "call_1", "type": "function", "function": {"name": "get_order", "arguments":
  '{"order_id": 7}'}}]}`` (``arguments`` is JSON *text*, as the model wrote it)
* the answer to one call: ``{"role": "tool", "tool_call_id": "call_1", "content": "<JSON text>"}``
* a final answer: an assistant reply without tool calls (``tool_calls`` missing, ``None`` or
  ``[]``); its ``content`` is the answer.

A *model* is any callable ``model(messages, tool_schemas) -> assistant message``. The checks pass
scripted models (policies that call tools well, badly, forever) and, in task 6, SmolLM2.
"""

from __future__ import annotations

import contextlib  # noqa: F401  (task 5: contextlib.closing)
import inspect  # noqa: F401  (task 1: inspect.signature, inspect.getdoc)
import json  # noqa: F401  (tasks 2 and 3)
import sqlite3  # noqa: F401  (task 5)
import types  # noqa: F401  (task 1: types.UnionType is `int | None`)
import typing  # noqa: F401  (task 1: typing.get_type_hints, get_origin, get_args)
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import jsonschema  # noqa: F401  (task 2: jsonschema.Draft202012Validator)
import torch  # noqa: F401  (task 6: torch.no_grad, torch.log_softmax)

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


# ----- task 1: a tool's schema from its signature -----------------------------------------------
def tool_schema(func: Callable[..., Any]) -> dict[str, Any]:
    """The tool definition of ``func`` in the OpenAI format.

    Types: ``str`` → string, ``int`` → integer, ``float`` → number, ``bool`` → boolean,
    ``list[T]`` → array of T, ``Literal[...]`` → its values as an ``enum``, ``T | None`` → T or
    null. A parameter without a default is required; one with a default is not, and its schema
    carries ``"default"``. No other argument is allowed.

    >>> def add(a: int, b: int = 0) -> int:
    ...     '''Add two integers.'''
    ...     return a + b
    >>> tool_schema(add)["function"]["parameters"]
    {'type': 'object', 'properties': {'a': {'type': 'integer'}, 'b': {'type': 'integer', \
'default': 0}}, 'required': ['a'], 'additionalProperties': False}
    """
    raise NotImplementedError  # TODO


# ----- task 2: validate a call the model proposed -----------------------------------------------
def check_call(schemas: list[dict[str, Any]], name: str, arguments: str) -> dict[str, Any]:
    """The parsed arguments of a valid call; raise ``ToolError`` for any other.

    Kinds: ``"unknown_tool"`` (the message lists the tool names), ``"invalid_json"``,
    ``"invalid_arguments"`` (the message names the argument at fault).

    >>> schemas = [tool_schema(add)]
    >>> check_call(schemas, "add", '{"a": 2}')
    {'a': 2}
    >>> check_call(schemas, "add", '{"a": "two"}')
    Traceback (most recent call last):
    ToolError: a: 'two' is not of type 'integer'
    """
    raise NotImplementedError  # TODO


# ----- task 3: the agent loop -------------------------------------------------------------------
def run_agent(
    model: Model,
    tools: dict[str, Callable[..., Any]],
    messages: list[Message],
    max_steps: int = 5,
) -> AgentResult:
    """Call the model, run the tools it asks for, feed the results back; repeat.

    At most ``max_steps`` model calls. A failing call (invalid, or a tool that raises) becomes a
    tool message ``{"error": kind, "message": ...}``; nothing the model or a tool does may stop
    the loop with an exception. The caller's ``messages`` list is left as it was.

    >>> result = run_agent(model, {"add": add}, [{"role": "user", "content": "2 + 3?"}])
    >>> result.status, result.answer, result.steps
    ('answered', '5', 2)
    """
    raise NotImplementedError  # TODO


# ----- task 4: a tool over an HTTP API ----------------------------------------------------------
def make_order_tool(
    client: httpx.Client, api_key: str, timeout: float = 2.0
) -> Callable[[int], dict[str, Any]]:
    """A ``get_order(order_id: int) -> dict`` tool that reads ``GET /orders/{id}`` via ``client``.

    Sends ``Authorization: Bearer <api_key>``, waits at most ``timeout`` seconds, returns the
    JSON body of a 200 and raises ``ToolError`` otherwise: ``"not_found"`` (404),
    ``"rate_limited"`` (429), ``"http_error"`` (any other status ≥ 400), ``"timeout"``,
    ``"unreachable"``.

    >>> get_order = make_order_tool(client, "sk-test")
    >>> get_order(7)["status"]
    'shipped'
    """
    raise NotImplementedError  # TODO


# ----- task 5: tools over a database ------------------------------------------------------------
def make_product_search(db_path: str) -> Callable[..., dict[str, Any]]:
    """A ``search_products(query, category=None, max_price=None, limit=5)`` tool.

    Products whose name contains ``query``, in ``category`` if given, priced at most
    ``max_price`` if given, cheapest first (ties by id); at most ``limit`` rows (clamped to
    1…MAX_ROWS). Parameterised SQL on a read-only connection.

    >>> search = make_product_search("shop.db")
    >>> search("dune")
    {'rows': [{'id': 2, 'name': 'Dune', 'category': 'books', 'price': 9.99}], 'truncated': False}
    """
    raise NotImplementedError  # TODO


def make_sql_tool(db_path: str) -> Callable[[str], dict[str, Any]]:
    """A ``run_sql(sql: str) -> dict`` tool: the model's own query, on a read-only connection.

    Returns ``{"columns": [...], "rows": [[...], ...], "truncated": bool}`` with at most
    MAX_ROWS rows; a query SQLite refuses (a write, a syntax error) raises
    ``ToolError("sql_error", ...)``.

    >>> run_sql = make_sql_tool("shop.db")
    >>> run_sql("SELECT COUNT(*) AS n FROM products")
    {'columns': ['n'], 'rows': [[30]], 'truncated': False}
    """
    raise NotImplementedError  # TODO


# ----- task 6: constrained choice with a real model ---------------------------------------------
def score_tools(model: Any, tokenizer: Any, prompt: str, names: list[str]) -> dict[str, float]:
    """For each name, the sum of the log-probabilities of its tokens after ``prompt``.

    The tokens are ``tokenizer(prompt, add_special_tokens=False)["input_ids"]`` followed by
    ``tokenizer(name, add_special_tokens=False)["input_ids"]``.

    >>> scores = score_tools(model, tokenizer, prompt, ["get_order", "search_products"])
    >>> sorted(scores), scores["get_order"] <= 0.0  # log-probabilities are never positive
    (['get_order', 'search_products'], True)
    """
    raise NotImplementedError  # TODO


def choose_tool(model: Any, tokenizer: Any, prompt: str, names: list[str]) -> str:
    """The name in ``names`` with the highest score (the first of them on a tie)."""
    raise NotImplementedError  # TODO
