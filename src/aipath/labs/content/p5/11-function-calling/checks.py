"""Checks for p5-function-calling: tool schemas, validated calls, the agent loop, integrations.

Task 1 derives schemas from tools written here and compares them with the reference *by what they
accept*: each property is fed probe values (1, 2.5, "1", true, null, values outside a Literal…)
through jsonschema, so every correct way of writing a schema (`anyOf` or `type: [..., "null"]`)
passes and a wrong one is named by the value it gets wrong. Task 2 validates calls against schemas
built here. Task 3 drives the learner's loop with scripted models that record what they were
shown at each call; the learner's `tool_schema` and `check_call` are replaced by the reference
there, so the loop is judged on its own. Task 4 serves a small order API with `serve_app`
(uvicorn on 127.0.0.1, a free port) that answers 200, 401, 404, 429, 500 and slowly; task 5 builds
a SQLite file per check; task 6 compares log-probabilities with SmolLM2's, computed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import inspect
import json
import math
import socket
import sqlite3
import time
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import jsonschema
import pytest
import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from aipath.checks import assert_close, fail, fmt, fresh_smollm2, smollm2
from aipath.checks.servers import serve_app

MAX_ROWS = 20


# ----- the tools of the checks ------------------------------------------------------------------
def get_weather(
    city: str, unit: Literal["celsius", "fahrenheit"] = "celsius", days: int = 1
) -> dict[str, Any]:
    """Get the weather forecast for a city.

    Returns one entry per day.
    """
    return {"city": city, "unit": unit, "days": days}


def book_table(
    restaurant: str,
    people: int,
    time: str,
    outdoor: bool = False,
    notes: str | None = None,
    tags: list[str] | None = None,
    budget: float | None = None,
    seating: Literal["bar", "table", "booth"] | None = None,
    priority: Literal[1, 2, 3] = 2,
) -> dict[str, Any]:
    """Book a table at a restaurant for a number of people at a given time."""
    return {"restaurant": restaurant, "people": people}


def ping() -> str:
    """Check that the service is up."""
    return "pong"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


POPULATIONS = {"Paris": 2_102_650, "Lyon": 522_250, "Nice": 342_669}


def lookup_city(city: str) -> dict[str, Any]:
    """Look up a French city's population."""
    return {"city": city, "population": POPULATIONS[city]}


SCHEMA_TOOLS = [get_weather, book_table, ping]

# Probe values for each kind of annotation: a property's schema is judged by which it accepts.
_BASE_PROBES: list[Any] = [1, -4, 2.5, 0.0, "1", "Paris", True, False, None, [], ["a"], [1], {}]


def _probes(annotation: Any) -> list[Any]:
    extra: list[Any] = []
    for arg in typing.get_args(annotation):
        extra.extend(typing.get_args(arg))
    if typing.get_origin(annotation) is Literal:
        extra.extend(typing.get_args(annotation))
    return _BASE_PROBES + extra + ["kelvin", 4, ["a", "b"], ["a", 2]]


# ----- reference implementations ----------------------------------------------------------------
_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _json_type(annotation: Any) -> dict[str, Any]:
    if annotation in _SCALARS:
        return {"type": _SCALARS[annotation]}
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return {"type": _SCALARS[type(args[0])], "enum": list(args)}
    if origin is list:
        return {"type": "array", "items": _json_type(args[0])}
    if origin is dict:
        return {"type": "object"}
    if origin in (typing.Union, types.UnionType):
        options = [_json_type(a) for a in args if a is not type(None)]
        if type(None) in args:
            options.append({"type": "null"})
        return options[0] if len(options) == 1 else {"anyOf": options}
    raise TypeError(annotation)


def _description(func: Callable[..., Any]) -> str:
    doc = inspect.getdoc(func) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def _schema(func: Callable[..., Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(func)
    properties: dict[str, Any] = {}
    required = []
    for name, parameter in inspect.signature(func).parameters.items():
        schema = _json_type(hints[name])
        if parameter.default is inspect.Parameter.empty:
            required.append(name)
        else:
            schema["default"] = parameter.default
        properties[name] = schema
    return {
        "type": "function",
        "function": {
            "name": func.__name__,
            "description": _description(func),
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


def _ref_check_call(
    schemas: list[dict[str, Any]], name: Any, arguments: Any, error: type[Exception]
) -> dict[str, Any]:
    by_name = {s["function"]["name"]: s["function"] for s in schemas}
    if name not in by_name:
        raise error(
            "unknown_tool", f"there is no tool {name!r}; the tools are {', '.join(by_name)}"
        )
    try:
        parsed = json.loads(arguments)
    except (json.JSONDecodeError, TypeError) as exc:
        raise error("invalid_json", f"the arguments are not valid JSON: {exc}") from None
    problems = list(
        jsonschema.Draft202012Validator(by_name[name]["parameters"]).iter_errors(parsed)
    )
    if problems:
        raise error("invalid_arguments", "; ".join(p.message for p in problems))
    return parsed


def _ref_content(
    tools: dict[str, Callable[..., Any]], schemas: list[Any], call: Any, error: Any
) -> str:
    function = call.get("function", {})
    try:
        arguments = _ref_check_call(schemas, function.get("name"), function.get("arguments"), error)
        return json.dumps(tools[function["name"]](**arguments))
    except error as exc:
        return json.dumps({"error": exc.kind, "message": str(exc)})
    except Exception as exc:
        return json.dumps({"error": "tool_failed", "message": f"{type(exc).__name__}: {exc}"})


def _ref_run(model: Any, tools: dict[str, Any], messages: list[Any], max_steps: int, error: Any):
    schemas = [_schema(f) for f in tools.values()]
    transcript = list(messages)
    for step in range(1, max_steps + 1):
        reply = model(transcript, schemas)
        transcript.append(reply)
        calls = reply.get("tool_calls") or []
        if not calls:
            return "answered", reply.get("content"), step, transcript
        for call in calls:
            content = _ref_content(tools, schemas, call, error)
            transcript.append({"role": "tool", "tool_call_id": call["id"], "content": content})
    return "budget_exhausted", None, max_steps, transcript


# ----- helpers ----------------------------------------------------------------------------------
def _tool_error(learner) -> type[Exception]:
    cls = getattr(learner, "ToolError", None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        fail(
            "exercise.py has no ToolError class: keep the given one (the checks raise and catch it)"
        )
    return cls


def _expect_tool_error(
    learner,
    what: str,
    func: Callable[..., Any],
    kind: str,
    *args: Any,
    advice: str = "",
    **kwargs: Any,
) -> Exception:
    """Call ``func``; it must raise the learner's ToolError with ``kind``. Returns the error."""
    tool_error = _tool_error(learner)
    started = time.perf_counter()
    try:
        value = func(*args, **kwargs)
    except NotImplementedError:
        raise
    except tool_error as exc:
        got = getattr(exc, "kind", None)
        if got != kind:
            fail(
                f"{what} raised ToolError({fmt(got)}, {fmt(str(exc))}); expected the kind "
                f"{fmt(kind)}. {advice}".strip()
            )
        if not str(exc).strip():
            fail(
                f"{what} raised ToolError({fmt(kind)}) with an empty message: the model reads "
                "the message to decide what to do next, so say what went wrong"
            )
        return exc
    except Exception as exc:
        fail(
            f"{what} raised {type(exc).__name__}: {str(exc)[:200]}; expected "
            f"ToolError({fmt(kind)}, ...): catch it and raise a ToolError the model can read. "
            f"{advice}".strip()
        )
    took = time.perf_counter() - started
    fail(
        f"{what} returned {fmt(value)[:200]} after {took:.2f} s; expected it to raise "
        f"ToolError({fmt(kind)}, ...). {advice}".strip()
    )


# ----- task 1 -----------------------------------------------------------------------------------
def _learner_schema(learner, func: Callable[..., Any]) -> dict[str, Any]:
    try:
        schema = learner.tool_schema(func)
    except NotImplementedError:
        raise
    except Exception as exc:
        clue = ""
        if "|" in str(exc):
            clue = (
                " (typing.get_origin(str | None) is types.UnionType; that of Optional[str] is "
                "typing.Union: handle both)"
            )
        fail(f"tool_schema({func.__name__}) raised {type(exc).__name__}: {str(exc)[:200]}{clue}")
    if schema is None:
        fail(f"tool_schema({func.__name__}) is None: did you forget to `return` the schema?")
    if not isinstance(schema, dict):
        fail(f"tool_schema({func.__name__}) is a {type(schema).__name__}; expected a dict")
    try:
        json.dumps(schema)
    except (TypeError, ValueError) as exc:
        fail(f"tool_schema({func.__name__}) cannot be sent to a provider as JSON: {exc}")
    return schema


def _diagnose_property(pname: str, annotation: Any, got: Any, want: dict[str, Any]) -> str | None:
    """What the learner's property schema accepts or rejects wrongly, or None if it agrees."""
    try:
        jsonschema.Draft202012Validator.check_schema(got)
    except jsonschema.SchemaError as exc:
        return f"is not a valid JSON schema ({exc.message})"
    mine = jsonschema.Draft202012Validator(got)
    ref = jsonschema.Draft202012Validator(want)
    for value in _probes(annotation):
        a, b = mine.is_valid(value), ref.is_valid(value)
        if a == b:
            continue
        text = json.dumps(value)
        verb = "accepts" if a else "rejects"
        ann = _annotation_text(annotation)
        why = ""
        args = [x for x in typing.get_args(annotation) if x is not type(None)]
        base = (
            args[0] if len(args) == 1 and type(None) in typing.get_args(annotation) else annotation
        )
        if value is None and not a:
            why = ": `T | None` must also allow null (anyOf with {'type': 'null'})"
        elif value is None and a:
            why = ": only an annotation with `| None` may allow null"
        elif typing.get_origin(base) is Literal and a:
            why = ": a Literal's values must be listed as an `enum`"
        elif typing.get_origin(base) is Literal and not a:
            why = ": every value of the Literal must be in the enum, with its JSON type"
        elif base is bool and (isinstance(value, bool) or (a and isinstance(value, int | float))):
            why = (
                ": bool maps to 'boolean' (bool is a subclass of int, so test for bool "
                "before int, or look the annotation up exactly)"
            )
        elif base is int and value == 2.5 and a:
            why = ": int maps to 'integer', not 'number'"
        elif (
            base is float
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and not a
        ):
            why = ": float maps to 'number' (which includes whole numbers), not 'integer'"
        elif typing.get_origin(base) is list and isinstance(value, list) and a:
            why = ": list[T] needs `items` with T's schema"
        return f"{verb} {text}, which {ann} {'does not allow' if a else 'allows'}{why}"
    if "default" in want and got.get("default", inspect.Parameter.empty) != want["default"]:
        if "default" not in got:
            return f'has no "default": expected "default": {json.dumps(want["default"])}'
        return f'has "default": {fmt(got["default"])}; expected {json.dumps(want["default"])}'
    if "default" not in want and "default" in got:
        return f'has a "default" ({fmt(got["default"])}) but {pname} has none in the signature'
    return None


def _annotation_text(annotation: Any) -> str:
    text = annotation.__name__ if isinstance(annotation, type) else repr(annotation)
    return f"`{text.replace('typing.', '')}`"


def _compare_schema(learner, func: Callable[..., Any]) -> None:
    got = _learner_schema(learner, func)
    want = _schema(func)
    name = f"tool_schema({func.__name__})"
    if got.get("type") != "function" or not isinstance(got.get("function"), dict):
        fail(
            f'{name} has the keys {sorted(got)} and "type": {fmt(got.get("type"))}; expected '
            'the OpenAI format {"type": "function", "function": {"name", '
            '"description", "parameters"}}'
        )
    fn = got["function"]
    if fn.get("name") != func.__name__:
        fail(
            f"{name}['function']['name'] is {fmt(fn.get('name'))}; expected "
            f"{fmt(func.__name__)} (the function's __name__)"
        )
    if fn.get("description") != want["function"]["description"]:
        whole = (inspect.getdoc(func) or "").strip()
        clue = ""
        if fn.get("description") == whole:
            clue = ": that is the whole docstring; the description is its first paragraph"
        elif fn.get("description") == whole.splitlines()[0]:
            clue = (
                ": that is the docstring's first line; the description is its whole first "
                "paragraph (up to the first blank line), its lines joined with spaces"
            )
        fail(
            f"{name}['function']['description'] is {fmt(fn.get('description'))}; expected "
            f"{fmt(want['function']['description'])}{clue}"
        )
    params = fn.get("parameters")
    where = f"{name}['function']['parameters']"
    if not isinstance(params, dict) or params.get("type") != "object":
        fail(f'{where} is {fmt(params)[:200]}; expected a JSON schema with "type": "object"')
    wparams = want["function"]["parameters"]
    props = params.get("properties")
    if not isinstance(props, dict) or set(props) != set(wparams["properties"]):
        have = sorted(props) if isinstance(props, dict) else props
        fail(
            f"{where}['properties'] has {fmt(have)}; expected one property per parameter: "
            f"{sorted(wparams['properties'])}"
        )
    required = params.get("required", [])
    if not isinstance(required, list) or set(required) != set(wparams["required"]):
        clue = ""
        if isinstance(required, list) and set(required) == set(wparams["properties"]):
            clue = ": every parameter is required, also those with a default"
        elif isinstance(required, list) and set(wparams["required"]) < set(required):
            clue = ": a parameter with a default (even None) is not required"
        elif isinstance(required, list) and set(required) < set(wparams["required"]):
            clue = ": every parameter without a default is required"
        fail(f"{where}['required'] is {fmt(required)}; expected {wparams['required']}{clue}")
    if params.get("additionalProperties") is not False:
        fail(
            f'{where} has "additionalProperties": {fmt(params.get("additionalProperties"))}; '
            "expected false: an argument the function does not take must be rejected, not "
            "silently passed (or dropped)"
        )
    hints = typing.get_type_hints(func)
    for pname, wprop in wparams["properties"].items():
        if not isinstance(props[pname], dict):
            fail(f"{where}['properties'][{pname!r}] is {fmt(props[pname])}; expected a schema dict")
        problem = _diagnose_property(pname, hints[pname], props[pname], wprop)
        if problem:
            fail(f"{where}['properties'][{pname!r}] is {json.dumps(props[pname])}: it {problem}")


@pytest.mark.task(1)
def test_schema_of_scalars_literal_and_defaults(learner) -> None:
    _compare_schema(learner, get_weather)


@pytest.mark.task(1)
def test_schema_of_optional_bool_list_and_int_literal(learner) -> None:
    _compare_schema(learner, book_table)


@pytest.mark.task(1)
def test_schema_of_a_tool_without_parameters(learner) -> None:
    _compare_schema(learner, ping)


@pytest.mark.task(1)
def test_schema_of_a_closure_and_a_module_without_future_annotations(learner) -> None:
    namespace: dict[str, Any] = {}
    exec(  # a tool written in a module without `from __future__ import annotations`
        "from typing import Literal, Optional\n"
        "def convert(amount: float, to: Literal['EUR', 'USD'], note: Optional[str] = None) -> dict:\n"
        "    '''Convert an amount of money.'''\n"
        "    return {}\n",
        namespace,
    )
    _compare_schema(learner, namespace["convert"])

    def make() -> Callable[..., Any]:
        def count_words(text: str, unique: bool = False) -> int:
            """Count the words of a text,
            one word being a run of letters.

            Punctuation is ignored.
            """
            return 0

        return count_words

    _compare_schema(learner, make())


# ----- task 2 -----------------------------------------------------------------------------------
def _schemas() -> list[dict[str, Any]]:
    return [_schema(get_weather), _schema(book_table), _schema(ping)]


def _check_call(learner, name: str, arguments: str) -> Any:
    return learner.check_call(_schemas(), name, arguments)


VALID_CALLS = [
    ("get_weather", '{"city": "Paris"}'),
    ("get_weather", '{"city": "Oslo", "unit": "fahrenheit", "days": 3}'),
    (
        "book_table",
        '{"restaurant": "Chez Lu", "people": 4, "time": "19:30", "notes": null, '
        '"tags": ["quiet"], "budget": 80, "seating": "booth", "priority": 1}',
    ),
    ("ping", "{}"),
]


@pytest.mark.task(2)
def test_valid_calls_return_their_arguments(learner) -> None:
    for name, arguments in VALID_CALLS:
        what = f"check_call(schemas, {name!r}, {arguments!r})"
        try:
            got = _check_call(learner, name, arguments)
        except NotImplementedError:
            raise
        except Exception as exc:
            fail(f"{what} raised {type(exc).__name__}: {str(exc)[:200]}; the call is valid")
        parsed = json.loads(arguments)
        if got is None:
            fail(f"{what} is None: did you forget to `return` the parsed arguments?")
        if not isinstance(got, dict):
            fail(f"{what} is {fmt(got)}; expected the parsed arguments as a dict: {parsed}")
        defaults = {
            k: v["default"]
            for k, v in _schema(globals()[name])["function"]["parameters"]["properties"].items()
            if "default" in v
        }
        extra = {k: v for k, v in got.items() if k not in parsed}
        if any(parsed[k] != got.get(k) for k in parsed) or any(
            k not in defaults or defaults[k] != v for k, v in extra.items()
        ):
            fail(f"{what} is {fmt(got)}; expected the parsed arguments {parsed}")


BAD_CALLS = [
    # (name, arguments, kind, must appear in the message, why)
    (
        "get_wether",
        '{"city": "Paris"}',
        "unknown_tool",
        ["get_weather", "book_table", "ping"],
        "the message lists the tools there are, so the model can correct the name",
    ),
    ("get_weather", '{"city": "Paris"', "invalid_json", [], ""),
    ("get_weather", "{city: 'Paris'}", "invalid_json", [], ""),
    ("get_weather", "", "invalid_json", [], ""),
    (
        "get_weather",
        '{"unit": "celsius"}',
        "invalid_arguments",
        ["city"],
        "a required argument is missing",
    ),
    (
        "get_weather",
        '{"city": "Paris", "country": "FR"}',
        "invalid_arguments",
        ["country"],
        "an argument the tool does not take",
    ),
    (
        "get_weather",
        '{"city": "Paris", "days": "3"}',
        "invalid_arguments",
        ["days"],
        'the string "3" is not an integer: no silent conversion',
    ),
    (
        "get_weather",
        '{"city": "Paris", "unit": "kelvin"}',
        "invalid_arguments",
        ["kelvin"],
        "a value outside the Literal",
    ),
    (
        "book_table",
        '{"restaurant": "Chez Lu", "people": 2, "time": "20:00", "tags": ["a", 3]}',
        "invalid_arguments",
        ["tags"],
        "an array item of the wrong type",
    ),
    ("get_weather", '["Paris"]', "invalid_arguments", [], "the arguments must be a JSON object"),
]


@pytest.mark.task(2)
def test_bad_calls_raise_a_tool_error_that_names_the_fault(learner) -> None:
    for name, arguments, kind, words, why in BAD_CALLS:
        what = f"check_call(schemas, {name!r}, {arguments!r})"
        exc = _expect_tool_error(
            learner,
            what,
            _check_call,
            kind,
            learner,
            name,
            arguments,
            advice=f"({why})" if why else "",
        )
        text = str(exc)
        for word in words:
            if word not in text:
                fail(
                    f"{what} raised ToolError({kind!r}, {text!r}); the message should name "
                    f"{word!r}: {why}"
                )


# ----- task 3 -----------------------------------------------------------------------------------
def _call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


def _asks(*calls: dict[str, Any], content: str | None = None) -> dict[str, Any]:
    return {"role": "assistant", "content": content, "tool_calls": list(calls)}


def _answer(text: str, form: str = "none") -> dict[str, Any]:
    reply: dict[str, Any] = {"role": "assistant", "content": text}
    if form == "none":
        reply["tool_calls"] = None
    elif form == "empty":
        reply["tool_calls"] = []
    return reply


class Script:
    """A scripted model: reply k to the k-th call (the last one again once the script runs out);
    records a copy of what it was shown."""

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        self.replies = replies
        self.seen: list[list[dict[str, Any]]] = []
        self.tools: list[Any] = []

    def __call__(self, messages: Any, tools: Any) -> dict[str, Any]:
        self.seen.append(copy.deepcopy(list(messages)))
        self.tools.append(copy.deepcopy(tools))
        return copy.deepcopy(self.replies[min(len(self.seen), len(self.replies)) - 1])


def _failing_tools(error: type[Exception]) -> dict[str, Callable[..., Any]]:
    def cancel_order(order_id: int) -> dict[str, Any]:
        """Cancel an order."""
        raise error("not_allowed", f"order {order_id} has shipped and cannot be cancelled")

    return {"add": add, "lookup_city": lookup_city, "cancel_order": cancel_order}


USER = [
    {"role": "system", "content": "You help with small questions."},
    {"role": "user", "content": "What is 2 + 3?"},
]

SCENARIOS: dict[str, tuple[list[dict[str, Any]], int, str]] = {
    # name: (the script, max_steps, what the scenario is about)
    "a good call, then the answer": (
        [_asks(_call("call_1", "add", {"a": 2, "b": 3})), _answer("5")],
        5,
        "one tool call, its result, then the final answer",
    ),
    "two calls in one reply": (
        [
            _asks(
                _call("c_a", "lookup_city", {"city": "Paris"}),
                _call("c_b", "lookup_city", {"city": "Lyon"}),
            ),
            _answer("Paris", form="missing"),
        ],
        5,
        "one tool message per call, in the order of the calls, each with its call's id",
    ),
    "bad calls fed back": (
        [
            _asks(
                _call("b1", "adder", {"a": 2, "b": 3}),
                _call("b2", "add", '{"a": 2, "b": '),
                _call("b3", "add", {"a": 2}),
                _call("b4", "add", {"a": 2, "b": 3, "c": 4}),
                _call("b5", "add", {"a": "2", "b": 3}),
            ),
            _asks(_call("b6", "add", {"a": 2, "b": 3})),
            _answer("5", form="empty"),
        ],
        5,
        "an unknown tool, malformed JSON, a missing, an extra and a wrong-typed argument: each "
        "answered with an error the model can read, and the loop goes on",
    ),
    "tools that raise": (
        [
            _asks(
                _call("t1", "lookup_city", {"city": "Atlantis"}),
                _call("t2", "cancel_order", {"order_id": 7}),
            ),
            _answer("Sorry."),
        ],
        5,
        "a tool raising KeyError and one raising ToolError: both become error results",
    ),
    "thinking aloud while calling": (
        [_asks(_call("x1", "add", {"a": 1, "b": 1}), content="Let me add these."), _answer("2")],
        5,
        "a reply with text *and* tool calls is not a final answer",
    ),
    "never finishes": (
        [_asks(_call("r1", "add", {"a": 2, "b": 3}))],
        3,
        "a model that repeats the same call forever: stopped after max_steps model calls",
    ),
    "answers on the last allowed step": (
        [_asks(_call("l1", "add", {"a": 2, "b": 3})), _answer("5")],
        2,
        "the answer comes at call max_steps: that is still an answer",
    ),
    "a budget of one step": (
        [_asks(_call("o1", "add", {"a": 2, "b": 3})), _answer("5")],
        1,
        "max_steps=1: one model call, its tool runs, then the budget is spent",
    ),
}


def _content_problem(got: Any, want: dict[str, Any]) -> str | None:
    """How a tool message differs from the reference's, or None."""
    if not isinstance(got, dict):
        return f"is {fmt(got)}; expected a dict"
    if got.get("role") != "tool":
        return f'has the role {fmt(got.get("role"))}; a tool result has the role "tool"'
    if got.get("tool_call_id") != want["tool_call_id"]:
        return (
            f'has "tool_call_id": {fmt(got.get("tool_call_id"))}; expected '
            f"{fmt(want['tool_call_id'])}, the id of the call it answers (the provider "
            "matches results to calls by it)"
        )
    content = got.get("content")
    if not isinstance(content, str):
        return f"has the content {fmt(content)}; expected JSON text (json.dumps of the result)"
    try:
        parsed = json.loads(content)
    except json.JSONDecodeError:
        return f"has the content {content!r}, which is not JSON: use json.dumps(result)"
    expected = json.loads(want["content"])
    if isinstance(expected, dict) and "error" in expected:
        if not isinstance(parsed, dict) or parsed.get("error") != expected["error"]:
            return (
                f"has the content {content!r}; expected an error result "
                f'{{"error": {json.dumps(expected["error"])}, "message": ...}}'
            )
        if not isinstance(parsed.get("message"), str) or not parsed["message"].strip():
            return f'has the content {content!r}; the error needs a non-empty "message"'
        if expected["error"] == "tool_failed":
            exc_name = expected["message"].split(":")[0]
            if exc_name not in parsed["message"]:
                return (
                    f"has the content {content!r}; the message should name the exception "
                    f"({exc_name}) and its text"
                )
        return None
    if parsed != expected:
        return f"has the content {content!r}; expected {want['content']!r}"
    return None


def _message_problem(got: Any, want: dict[str, Any]) -> str | None:
    if want["role"] == "tool":
        return _content_problem(got, want)
    if got != want:
        return f"is {fmt(got)[:300]}; expected {fmt(want)[:300]}"
    return None


def _transcript_problem(got: list[Any], want: list[dict[str, Any]]) -> str | None:
    for i, w in enumerate(want):
        if i >= len(got):
            clue = ""
            if w["role"] == "tool":
                clue = (
                    ": every tool call gets its answer, also the calls of the reply that "
                    "spends the budget"
                )
            return (
                f"has {len(got)} messages; expected {len(want)}: message {i} should be "
                f"{fmt(w)[:200]}{clue}"
            )
        problem = _message_problem(got[i], w)
        if problem:
            return f"message {i} {problem}"
    if len(got) > len(want):
        return (
            f"has {len(got)} messages; expected {len(want)}: message {len(want)} is extra: "
            f"{fmt(got[len(want)])[:200]}"
        )
    return None


def _run_scenario(learner, monkeypatch, title: str) -> None:
    replies, max_steps, about = SCENARIOS[title]
    error = _tool_error(learner)
    # Tasks 1 and 2 are judged by their own checks: here the loop runs on the reference's.
    monkeypatch.setattr(learner, "tool_schema", _schema, raising=False)
    monkeypatch.setattr(
        learner, "check_call", lambda s, n, a: _ref_check_call(s, n, a, error), raising=False
    )
    tools = _failing_tools(error)
    reference = Script(replies)
    status, answer, steps, transcript = _ref_run(reference, tools, list(USER), max_steps, error)
    script = Script(replies)
    messages = copy.deepcopy(USER)
    what = (
        f"run_agent(model, tools, messages, max_steps={max_steps}) with a model whose script is "
        f"'{title}' ({about})"
    )
    try:
        result = learner.run_agent(script, tools, messages, max_steps=max_steps)
    except NotImplementedError:
        raise
    except Exception as exc:
        clue = ""
        last = replies[min(len(script.seen), len(replies)) - 1] if script.seen else None
        if last is not None and not last.get("tool_calls"):
            form = "missing" if "tool_calls" not in last else repr(last["tool_calls"])
            clue = (
                f" The model's reply at call {len(script.seen)} was the final answer "
                f"(its tool_calls is {form}): the loop should have returned it."
            )
        fail(
            f"{what} raised {type(exc).__name__}: {str(exc)[:200]}.{clue} Nothing a model or "
            "a tool does may stop the loop with an exception: turn it into a tool message "
            '{"error": ..., "message": ...} and call the model again'
        )
    if messages != USER:
        fail(
            f"{what} changed the caller's messages list (it now has {len(messages)} messages): "
            "build the transcript in a new list"
        )
    calls = len(script.seen)
    if calls != len(reference.seen):
        clue = ""
        if title == "never finishes" and calls == max_steps + 1:
            clue = ": one call too many (the budget is off by one)"
        elif title == "never finishes" and calls == max_steps - 1:
            clue = ": one call too few (the budget is off by one)"
        elif calls > len(reference.seen) and status == "answered":
            final = replies[len(reference.seen) - 1]
            form = "missing" if "tool_calls" not in final else repr(final["tool_calls"])
            clue = (
                f": the model answered at call {len(reference.seen)} (a reply whose tool_calls "
                f"is {form}) and the loop did not stop there"
            )
        elif calls > len(reference.seen):
            clue = ": the loop went past its budget"
        else:
            clue = (
                ": the loop stopped before the model answered (a reply without tool calls) and "
                "before max_steps model calls; each call's reply, however many tool calls it "
                "holds, is one step"
            )
            if result is not None:
                clue += (
                    f" (it returned status={getattr(result, 'status', None)!r}, "
                    f"steps={getattr(result, 'steps', None)!r})"
                )
        fail(f"{what} called the model {calls} times; expected {len(reference.seen)}{clue}")
    for k, (got_seen, want_seen) in enumerate(zip(script.seen, reference.seen, strict=True), 1):
        problem = _transcript_problem(got_seen, want_seen)
        if problem:
            fail(f"{what}: at model call {k} the messages the model was shown differ: {problem}")
        names = sorted(
            t.get("function", {}).get("name", "?") if isinstance(t, dict) else "?"
            for t in script.tools[k - 1] or []
        )
        if names != sorted(tools):
            fail(
                f"{what}: at model call {k} the model was given the tool schemas of {names}; "
                f"expected the schemas (tool_schema) of every tool: {sorted(tools)}"
            )
    if result is None:
        fail(f"{what} is None: did you forget to `return` an AgentResult?")
    got = {k: getattr(result, k, "(missing)") for k in ("status", "answer", "steps")}
    want = {"status": status, "answer": answer, "steps": steps}
    if got != want:
        clue = ""
        if status == "answered" and got["status"] == "budget_exhausted":
            clue = ": an answer at the last allowed call is an answer, not an exhausted budget"
        fail(
            f"{what} returned status={got['status']!r}, answer={got['answer']!r}, "
            f"steps={got['steps']!r}; expected status={status!r}, answer={answer!r}, "
            f"steps={steps!r}{clue}"
        )
    problem = _transcript_problem(list(getattr(result, "messages", None) or []), transcript)
    if problem:
        fail(f"{what}: the returned messages (the whole transcript) differ: {problem}")


@pytest.mark.task(3)
def test_loop_a_good_call_then_the_answer(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "a good call, then the answer")


@pytest.mark.task(3)
def test_loop_two_calls_in_one_reply(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "two calls in one reply")


@pytest.mark.task(3)
def test_loop_feeds_bad_calls_back(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "bad calls fed back")


@pytest.mark.task(3)
def test_loop_survives_tools_that_raise(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "tools that raise")


@pytest.mark.task(3)
def test_loop_text_with_tool_calls_is_not_an_answer(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "thinking aloud while calling")


@pytest.mark.task(3)
def test_loop_stops_at_the_budget(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "never finishes")
    _run_scenario(learner, monkeypatch, "a budget of one step")


@pytest.mark.task(3)
def test_loop_answer_on_the_last_step(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "answers on the last allowed step")


# ----- task 4 -----------------------------------------------------------------------------------
API_KEY = "sk-test-4f9a"
ORDERS = {
    7: {"id": 7, "status": "shipped", "items": ["Chess set"], "total": 19.5},
    8: {"id": 8, "status": "packing", "items": ["Go board", "Dune"], "total": 61.0},
}
SLOW_S = 0.8


def _order_api(seen: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()

    @app.get("/orders/{order_id}")
    async def order(order_id: int, request: Request) -> JSONResponse:
        seen.append({"path": request.url.path, "auth": request.headers.get("authorization")})
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"detail": "invalid API key"}, status_code=401)
        if order_id == 42:
            return JSONResponse(
                {"detail": "slow down"}, status_code=429, headers={"Retry-After": "3"}
            )
        if order_id == 13:
            return JSONResponse({"detail": "database down"}, status_code=500)
        if order_id == 8:
            await asyncio.sleep(SLOW_S)
        if order_id not in ORDERS:
            return JSONResponse({"detail": "no such order"}, status_code=404)
        return JSONResponse(ORDERS[order_id])

    return app


@contextlib.contextmanager
def _served_api() -> Iterator[tuple[httpx.Client, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    with (
        serve_app(_order_api(seen)) as served,
        httpx.Client(base_url=served.base_url, timeout=None) as client,
    ):
        yield client, seen


def _order_tool(learner, client: httpx.Client, key: str = API_KEY, **kwargs: Any) -> Any:
    tool = learner.make_order_tool(client, key, **kwargs)
    if tool is None:
        fail("make_order_tool(...) is None: did you forget to `return` the get_order function?")
    if not callable(tool):
        fail(f"make_order_tool(...) is {fmt(tool)}; expected the get_order function")
    params = list(inspect.signature(tool).parameters)
    if params != ["order_id"] or getattr(tool, "__name__", "") != "get_order":
        fail(
            f"make_order_tool(...) returned {getattr(tool, '__name__', tool)}({', '.join(params)}); "
            "expected get_order(order_id: int): the loop derives the tool's schema from it"
        )
    return tool


@pytest.mark.task(4)
def test_order_tool_reads_the_api_with_the_key(learner) -> None:
    with _served_api() as (client, seen):
        get_order = _order_tool(learner, client)
        try:
            got = get_order(7)
        except NotImplementedError:
            raise
        except Exception as exc:
            clue = ""
            if seen and seen[-1]["auth"] != f"Bearer {API_KEY}":
                clue = (
                    f" The request carried Authorization {fmt(seen[-1]['auth'])}; expected "
                    f"'Bearer {API_KEY}'."
                )
            fail(
                f"get_order(7) raised {type(exc).__name__}: {str(exc)[:200]}; the API answers "
                f"200 for order 7 when the request carries the key.{clue}"
            )
        if got != ORDERS[7]:
            clue = ""
            if seen and seen[-1]["auth"] != f"Bearer {API_KEY}":
                clue = (
                    f": the request carried Authorization {fmt(seen[-1]['auth'])}; expected "
                    f"'Bearer {API_KEY}'"
                )
            fail(
                f"get_order(7) returned {fmt(got)[:200]}; expected the JSON body {ORDERS[7]}{clue}"
            )
        if not seen or seen[-1]["path"] != "/orders/7":
            fail(f"get_order(7) requested {fmt([s['path'] for s in seen])}; expected /orders/7")
        schema = _schema(get_order)["function"]["parameters"]["properties"]["order_id"]
        if schema.get("type") != "integer":
            fail(
                f"get_order's order_id is annotated so that its schema is {schema}; annotate it "
                "`order_id: int`"
            )


@pytest.mark.task(4)
def test_order_tool_turns_http_errors_into_tool_errors(learner) -> None:
    with _served_api() as (client, _):
        get_order = _order_tool(learner, client)
        _expect_tool_error(
            learner,
            "get_order(99) (the API answers 404)",
            get_order,
            "not_found",
            99,
            advice="A 404 is not a result: raise it",
        )
        exc = _expect_tool_error(
            learner,
            "get_order(42) (the API answers 429, Retry-After: 3)",
            get_order,
            "rate_limited",
            42,
        )
        if "3" not in str(exc):
            fail(
                f"get_order(42) raised ToolError('rate_limited', {str(exc)!r}); the message "
                "should say how long to wait (the Retry-After header: 3 seconds)"
            )
        exc = _expect_tool_error(
            learner,
            "get_order(13) (the API answers 500)",
            get_order,
            "http_error",
            13,
            advice="A 5xx is not a result either",
        )
        if "500" not in str(exc):
            fail(
                f"get_order(13) raised ToolError('http_error', {str(exc)!r}); the message "
                "should give the status code, 500"
            )
        wrong = _order_tool(learner, client, "sk-wrong")
        exc = _expect_tool_error(
            learner,
            "get_order(7) with a wrong API key (the API answers 401)",
            wrong,
            "http_error",
            7,
        )
        if "401" not in str(exc):
            fail(
                f"get_order(7) with a wrong key raised ToolError('http_error', {str(exc)!r}); "
                "the message should give the status code, 401"
            )


@pytest.mark.task(4)
def test_order_tool_has_a_timeout(learner) -> None:
    with _served_api() as (client, _):
        get_order = _order_tool(learner, client, timeout=0.2)
        started = time.perf_counter()
        _expect_tool_error(
            learner,
            f"get_order(8) with timeout=0.2 (the API takes {SLOW_S} s; the client the "
            "check passes has no timeout of its own)",
            get_order,
            "timeout",
            8,
            advice="Pass timeout=timeout to the request and catch httpx.TimeoutException",
        )
        took = time.perf_counter() - started
        if took > 0.6:
            fail(f"get_order(8) with timeout=0.2 gave up after {took:.2f} s; expected about 0.2 s")
        fast = _order_tool(learner, client)
        try:
            got = fast(8)
        except NotImplementedError:
            raise
        except Exception as exc:
            fail(
                f"get_order(8) with the default timeout=2.0 raised {type(exc).__name__}: "
                f"{str(exc)[:200]}; the API answers within {SLOW_S} s, inside that timeout"
            )
        if got != ORDERS[8]:
            fail(f"get_order(8) with timeout=2.0 returned {fmt(got)[:200]}; expected {ORDERS[8]}")


@pytest.mark.task(4)
def test_order_tool_unreachable_api(learner) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=None) as client:
        get_order = _order_tool(learner, client)
        _expect_tool_error(
            learner,
            "get_order(7) when nothing listens on the API's port",
            get_order,
            "unreachable",
            7,
            advice="httpx raises httpx.ConnectError (an httpx.TransportError)",
        )


# ----- task 5 -----------------------------------------------------------------------------------
PRODUCTS = [
    ("Chess set", "games", 19.5), ("Dune", "books", 9.99), ("Go board", "games", 51.01),
    ("Ender's Game", "books", 8.5), ("Kind of Blue", "music", 12.0), ("Drop Zone", "games", 30.0),
    ("Update Notes", "books", 12.0), ("Chess Openings", "books", 24.0), ("Blue Train", "music", 12.0),
    ("Travel chess", "games", 19.5), ("Catan", "games", 45.0), ("Abbey Road", "music", 15.0),
    ("Emma", "books", 7.0), ("Chessboxing", "books", 19.5), ("Pandemic", "games", 39.0),
    ("Blue Note", "music", 11.0), ("Carcassonne", "games", 35.0), ("Middlemarch", "books", 10.0),
    ("Blue Lines", "music", 14.0), ("Azul", "games", 33.0), ("Ulysses", "books", 13.0),
    ("Blue Moves", "music", 9.0), ("Hive", "games", 28.0), ("Beloved", "books", 11.5),
    ("Blues Brothers", "music", 16.0), ("Bluebeard", "books", 12.0), ("Blue Lagoon", "games", 6.0),
    ("Rayuela", "books", 14.5), ("Blue", "music", 10.5), ("Set", "games", 12.0),
]  # fmt: skip


@pytest.fixture
def shop_db(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "category TEXT NOT NULL, price REAL NOT NULL)"
        )
        conn.executemany("INSERT INTO products (name, category, price) VALUES (?, ?, ?)", PRODUCTS)
        conn.commit()
    return path


def _rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, params).fetchall()


def _ref_search(
    path: Path,
    query: str,
    category: str | None = None,
    max_price: float | None = None,
    limit: int = 5,
    *,
    slip: str = "",
) -> dict[str, Any]:
    """The reference search, or (``slip``) what a known mistake returns instead."""
    order = "price DESC, id" if slip == "desc" else "price, id"
    rows = [
        {"id": i, "name": n, "category": c, "price": p}
        for i, n, c, p in _rows(
            path, f"SELECT id, name, category, price FROM products ORDER BY {order}"
        )
        if (query in n if slip == "case" else query.lower() in n.lower())
        and (c == category if category is not None or slip == "none" else True)
        and (
            (max_price is None or (not max_price and slip == "falsy"))
            or (p < max_price if slip == "strict" else p <= max_price)
        )
    ]
    n = max(1, min(limit, MAX_ROWS))
    return {"rows": rows[:n], "truncated": len(rows) > n}


SEARCH_MISTAKES = {
    "`category = ?` even when category is None (None means every category: leave the filter "
    "out)": "none",
    "`price < max_price`: a product priced exactly max_price is included": "strict",
    "`if max_price:` (a falsy test): max_price=0.0 is a limit (nothing that cheap), not None; "
    "test `max_price is not None`": "falsy",
    "the most expensive first; cheapest first, ties by id": "desc",
    "a case-sensitive match (instr, GLOB or Python's `in`); SQLite's LIKE ignores ASCII case": "case",
}


SEARCHES: list[tuple[dict[str, Any], str]] = [
    (
        {"query": "chess", "max_price": 20.0},
        "case-insensitive LIKE, price ≤ max_price (19.5 included), cheapest first, ties by id",
    ),
    ({"query": "Blue", "category": "music", "limit": 3}, "the category filter and a limit of 3"),
    ({"query": "e", "max_price": 0.0}, "max_price=0.0 is a limit that nothing meets"),
    ({"query": "in"}, "exactly 5 products match and 5 come back: not truncated"),
    ({"query": "blue"}, "no category (None means every category): the default limit of 5"),
    ({"query": "e", "max_price": 12.0, "limit": 50}, "a limit above MAX_ROWS is clamped to 20"),
    (
        {"query": "o", "limit": -1},
        "a limit below 1 is clamped to 1 (SQLite reads LIMIT -1 as no limit at all)",
    ),
    ({"query": "Ender's"}, "a name with an apostrophe"),
    (
        {"query": "' OR 1=1 --"},
        "an injection attempt in the model's arguments: no product contains that text",
    ),
    (
        {"query": "x' UNION SELECT 1, sql, 'books', 0 FROM sqlite_master --"},
        "an injection attempt that would read the schema",
    ),
    ({"query": "Dune", "category": "games"}, "no match: an empty list, not an error"),
]


@pytest.mark.task(5)
def test_product_search(learner, shop_db: Path) -> None:
    search = learner.make_product_search(str(shop_db))
    if search is None:
        fail("make_product_search(path) is None: did you forget to `return` the tool?")
    params = inspect.signature(search).parameters
    expected = {"query": inspect.Parameter.empty, "category": None, "max_price": None, "limit": 5}
    got_params = {k: p.default for k, p in params.items()}
    if got_params != expected or getattr(search, "__name__", "") != "search_products":
        fail(
            f"make_product_search returned {getattr(search, '__name__', search)} with the "
            f"parameters {list(got_params)} and defaults {got_params}; expected "
            "search_products(query, category=None, max_price=None, limit=5)"
        )
    props = _schema(search)["function"]["parameters"]["properties"]
    category = jsonschema.Draft202012Validator(props["category"])
    if not (
        category.is_valid("books") and category.is_valid(None) and not category.is_valid("toys")
    ):
        fail(
            f"search_products's category has the schema {props['category']} (from its "
            "annotation); annotate it Literal['books', 'games', 'music'] | None so the model "
            "can only ask for a category that exists"
        )
    for kwargs, about in SEARCHES:
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        what = f"search_products({args}) ({about})"
        want = _ref_search(shop_db, **kwargs)
        try:
            got = search(**kwargs)
        except NotImplementedError:
            raise
        except Exception as exc:
            clue = ""
            if isinstance(exc, sqlite3.Error) and "'" in kwargs["query"]:
                clue = (
                    ": the query text is inside the SQL string. Pass it as a parameter "
                    "(`LIKE ?` with f'%{query}%' in the parameters), never with an f-string"
                )
            fail(f"{what} raised {type(exc).__name__}: {str(exc)[:200]}{clue}")
        if got != want:
            clue = ""
            if (
                isinstance(got, dict)
                and len(got.get("rows") or []) > len(want["rows"])
                and "'" in kwargs["query"]
            ):
                clue = (
                    ": the model's text changed the SQL (an injection): pass it as a "
                    "parameter, never with an f-string"
                )
            for description, slip in SEARCH_MISTAKES.items():
                if not clue and got == _ref_search(shop_db, **kwargs, slip=slip):
                    clue = f": it looks like {description}"
            rows = got.get("rows") if isinstance(got, dict) else None
            limit = kwargs.get("limit", 5)
            if clue or not isinstance(rows, list):
                pass
            elif rows and not all(isinstance(r, dict) for r in rows):
                clue = (
                    f": its rows are {type(rows[0]).__name__}s; each row is a dict with the keys "
                    "id, name, category, price (the model reads the names)"
                )
            elif rows == want["rows"] and got.get("truncated") != want["truncated"]:
                clue = (
                    f": the rows are right but truncated is {got.get('truncated')!r}; it is "
                    "True exactly when more rows matched than came back (fetch limit + 1 "
                    "rows to know)"
                )
            elif not 1 <= limit <= MAX_ROWS and len(rows) != len(want["rows"]):
                clue = (
                    f": {len(rows)} rows for limit={limit}; clamp the limit to 1…MAX_ROWS "
                    "before it reaches SQL (SQLite reads a negative LIMIT as no limit, "
                    "Python's rows[:-1] drops the last row)"
                )
            fail(f"{what} returned {fmt(got)[:400]}; expected {fmt(want)[:400]}{clue}")
    if _rows(shop_db, "SELECT COUNT(*) FROM products") != [(len(PRODUCTS),)]:
        fail("after the searches the products table has changed")


def _run_sql(learner, path: Path) -> Callable[[str], Any]:
    tool = learner.make_sql_tool(str(path))
    if tool is None:
        fail("make_sql_tool(path) is None: did you forget to `return` the tool?")
    if list(inspect.signature(tool).parameters) != ["sql"]:
        fail("make_sql_tool(path) should return run_sql(sql: str)")
    return tool


READS = [
    ("SELECT COUNT(*) AS n FROM products", "one row, one column"),
    ("SELECT * FROM products ORDER BY id", "30 rows: only the first 20 come back, truncated"),
    ("SELECT id, name FROM products WHERE id <= 20 ORDER BY id", "exactly 20 rows: not truncated"),
    ("SELECT id, name FROM products WHERE id <= 21 ORDER BY id", "21 rows: truncated"),
    (
        "WITH cheap AS (SELECT * FROM products WHERE price < 9) SELECT name FROM cheap ORDER BY "
        "price",
        "a read-only query that does not start with SELECT",
    ),
    (
        "SELECT name, price FROM products WHERE name IN ('Update Notes', 'Drop Zone') ORDER BY id",
        "a read-only query that mentions UPDATE and DROP inside its strings",
    ),
    ("SELECT name FROM products WHERE price > 1000", "no rows"),
]


def _ref_sql(path: Path, sql: str) -> dict[str, Any]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        cursor = conn.execute(sql)
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    return {
        "columns": columns,
        "rows": [list(r) for r in rows[:MAX_ROWS]],
        "truncated": len(rows) > MAX_ROWS,
    }


def _normalised(result: Any) -> Any:
    if isinstance(result, dict) and isinstance(result.get("rows"), list | tuple):
        result = dict(result)
        result["rows"] = [list(r) if isinstance(r, tuple | list) else r for r in result["rows"]]
        if isinstance(result.get("columns"), tuple):
            result["columns"] = list(result["columns"])
    return result


@pytest.mark.task(5)
def test_sql_tool_reads(learner, shop_db: Path) -> None:
    run_sql = _run_sql(learner, shop_db)
    for sql, about in READS:
        what = f"run_sql({sql!r}) ({about})"
        want = _ref_sql(shop_db, sql)
        try:
            got = run_sql(sql)
        except NotImplementedError:
            raise
        except Exception as exc:
            kind = getattr(exc, "kind", None)
            fail(
                f"{what} raised {type(exc).__name__}({kind or ''}): {str(exc)[:200]}"
                + (
                    " (sqlite3.connect reads a 'file:...?mode=ro' name as a URI only with uri=True)"
                    if "unable to open" in str(exc)
                    else ""
                )
                + "; it only "
                "reads. Let SQLite's read-only connection refuse writes, not a filter on the "
                "query's words"
            )
        got = _normalised(got)
        if got != want:
            clue = ""
            if isinstance(got, dict) and isinstance(got.get("rows"), list):
                n, m = len(got["rows"]), len(want["rows"])
                if n > MAX_ROWS:
                    clue = f": {n} rows; at most MAX_ROWS = {MAX_ROWS} come back"
                elif n == m and got.get("truncated") != want["truncated"]:
                    clue = (
                        f": {n} rows with truncated={got.get('truncated')!r}; truncated "
                        f"means the query had more rows than came back"
                    )
            fail(f"{what} returned {fmt(got)[:300]}; expected {fmt(want)[:300]}{clue}")


WRITES = [
    ("DELETE FROM products", "a write"),
    ("UPDATE products SET price = 0", "a write"),
    ("DROP TABLE products", "a schema change"),
    ("WITH x AS (SELECT 1) DELETE FROM products WHERE id > 0", "a write that starts with WITH"),
    ("INSERT INTO products (name, category, price) VALUES ('Free stuff', 'games', 0)", "a write"),
    ("SELECT 1; DELETE FROM products", "two statements"),
    ("SELEC name FROM products", "a syntax error"),
    ("SELECT price FROM nowhere", "an unknown table"),
]


@pytest.mark.task(5)
def test_sql_tool_refuses_writes(learner, shop_db: Path) -> None:
    run_sql = _run_sql(learner, shop_db)
    before = _rows(shop_db, "SELECT * FROM products ORDER BY id")
    for sql, about in WRITES:
        what = f"run_sql({sql!r}) ({about})"
        _expect_tool_error(
            learner,
            what,
            run_sql,
            "sql_error",
            sql,
            advice="Open the file read-only (sqlite3.connect(f'file:{path}?mode=ro', "
            "uri=True)) and turn sqlite3.Error into ToolError('sql_error', ...)",
        )
        try:
            after = _rows(shop_db, "SELECT * FROM products ORDER BY id")
        except sqlite3.Error as exc:
            fail(
                f"after {what} the products table is gone ({exc}): the connection is not read-only"
            )
        if after != before:
            fail(
                f"after {what} the products table has changed ({len(before)} rows before, "
                f"{len(after)} after, or other values): the connection is not read-only"
            )


# ----- task 6 -----------------------------------------------------------------------------------
TOOL_NAMES = ["get_order", "search_products", "run_sql"]


def _choice_prompt(tokenizer: Any) -> str:
    del tokenizer  # a plain prompt: short, so that each forward pass is cheap on one core
    return (
        "Tools: " + ", ".join(TOOL_NAMES) + ".\nQuestion: Has my order 7 shipped yet?\n"
        'Call: {"name": "'
    )


@functools.cache
def _ref_forms(prompt: str, names: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """The reference score of each name, and what each known mistake would give instead.

    One batched forward pass: the sequences are padded on the right, which a causal model never
    reads at the positions before the padding."""
    tokenizer, model = smollm2()
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    name_ids = [tokenizer(n, add_special_tokens=False)["input_ids"] for n in names]
    width = len(prompt_ids) + max(len(ids) for ids in name_ids)
    batch = [prompt_ids + ids + [0] * (width - len(prompt_ids) - len(ids)) for ids in name_ids]
    forms: dict[str, dict[str, float]] = {f: {} for f in ("sum", *SCORE_MISTAKES.values())}
    with torch.no_grad():
        logits = model(torch.tensor(batch)).logits.float()
    lp = torch.log_softmax(logits, dim=-1)
    start = len(prompt_ids)
    prompt_part = sum(lp[0, j - 1, t].item() for j, t in enumerate(prompt_ids) if j > 0)
    for b, (name, ids) in enumerate(zip(names, name_ids, strict=True)):
        own = [lp[b, start + i - 1, t].item() for i, t in enumerate(ids)]
        forms["sum"][name] = sum(own)
        forms["mean"][name] = sum(own) / len(own)
        forms["shifted"][name] = sum(lp[b, start + i, t].item() for i, t in enumerate(ids))
        forms["logits"][name] = sum(logits[b, start + i - 1, t].item() for i, t in enumerate(ids))
        forms["probs"][name] = sum(math.exp(v) for v in own)
        forms["all"][name] = prompt_part + sum(own)
        forms["first"][name] = own[0]
        over_positions = torch.log_softmax(logits[b, : start + len(ids)], dim=0)
        forms["positions"][name] = sum(
            over_positions[start + i - 1, t].item() for i, t in enumerate(ids)
        )
    return forms


def _ref_scores(prompt: str, names: list[str]) -> dict[str, float]:
    return _ref_forms(prompt, tuple(names))["sum"]


SCORE_MISTAKES = {
    "the mean log-probability per token, not the sum": "mean",
    "each token read at its own position, not at the one before it (the logits at position i "
    "predict token i + 1)": "shifted",
    "raw logits, not log-softmax": "logits",
    "probabilities, not log-probabilities": "probs",
    "the prompt's tokens scored too, not only the name's": "all",
    "only the name's first token scored": "first",
    "log_softmax over the positions (dim=0 of logits[0]), not over the vocabulary": "positions",
}


@pytest.fixture(scope="module")
def smol_copy() -> tuple[Any, Any]:
    return fresh_smollm2()


@pytest.mark.task(6)
def test_score_tools(learner, smol_copy) -> None:
    tokenizer, model = smol_copy
    prompt = _choice_prompt(tokenizer)
    want = _ref_scores(prompt, TOOL_NAMES)
    try:
        got = learner.score_tools(model, tokenizer, prompt, list(TOOL_NAMES))
    except NotImplementedError:
        raise
    except Exception as exc:
        fail(
            f"score_tools(model, tokenizer, prompt, {TOOL_NAMES}) raised "
            f"{type(exc).__name__}: {str(exc)[:200]}"
        )
    if got is None:
        fail("score_tools(...) is None: did you forget to `return` the scores?")
    if not isinstance(got, dict) or sorted(got) != sorted(TOOL_NAMES):
        fail(
            f"score_tools(...) is {fmt(got)[:200]}; expected a dict with one score per name: "
            f"{TOOL_NAMES}"
        )
    for name in TOOL_NAMES:
        value = got[name]
        if isinstance(value, torch.Tensor):
            fail(f"score_tools(...)[{name!r}] is a tensor; expected a float (.item())")
        assert_close(
            float(value),
            want[name],
            name=f"score_tools(...)[{name!r}]",
            rtol=1e-3,
            atol=1e-3,
            mistakes={
                k: (lambda f=f, n=name: _ref_forms(prompt, tuple(TOOL_NAMES))[f][n])
                for k, f in SCORE_MISTAKES.items()
            },
        )


@pytest.mark.task(6)
def test_choose_tool(learner, smol_copy, monkeypatch) -> None:
    tokenizer, model = smol_copy
    prompt = _choice_prompt(tokenizer)
    calls: list[dict[str, float]] = []
    tables = [
        {"run_sql": -5.0, "get_order": -1.25, "search_products": -2.5, "get_weather": -9.0},
        {"run_sql": -5.0, "get_order": -1.5, "search_products": -1.5, "get_weather": -9.0},
    ]

    def fake(model: Any, tokenizer: Any, prompt: str, names: list[str]) -> dict[str, float]:
        table = tables[min(len(calls), len(tables) - 1)]
        calls.append(table)
        return {n: table[n] for n in names}

    names = ["run_sql", "search_products", "get_order", "get_weather"]
    with monkeypatch.context() as patch:
        patch.setattr(learner, "score_tools", fake)
        first = learner.choose_tool(model, tokenizer, prompt, list(names))
        if calls:  # it calls score_tools: judge it on the scores the check gives
            if first != "get_order":
                clue = (
                    ": that is the lowest score, not the highest" if first == "get_weather" else ""
                )
                fail(
                    f"with the scores {tables[0]}, choose_tool(...) is {fmt(first)}; expected "
                    f"'get_order', the name with the highest score{clue}"
                )
            tied = learner.choose_tool(model, tokenizer, prompt, list(names))
            if tied != "search_products":
                fail(
                    f"with the scores {tables[1]} and names {names}, choose_tool(...) is "
                    f"{fmt(tied)}; expected 'search_products': on a tie, the first of the tied "
                    "names in the order given"
                )
            return
    scores = _ref_scores(prompt, TOOL_NAMES)  # it scores on its own: judge it on the model's
    want = max(TOOL_NAMES, key=lambda n: scores[n])
    got = learner.choose_tool(model, tokenizer, prompt, list(TOOL_NAMES))
    if got != want:
        worst = min(TOOL_NAMES, key=lambda n: scores[n])
        clue = ": that is the lowest score, not the highest" if got == worst else ""
        fail(
            f"choose_tool(...) is {fmt(got)}; expected {want!r}, the name with the highest "
            f"score ({', '.join(f'{n}: {s:.2f}' for n, s in scores.items())}){clue}"
        )
