"""The ReAct loop, a fourth way: itertools.takewhile for the cut, a dict from label to its
line numbers, a match statement on the parsed step, and a recursive loop."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Model = Callable[[str], str]
Tools = dict[str, Callable[..., Any]]


# ----- given: do not change ---------------------------------------------------------------------
class ParseError(Exception):
    """A step the model wrote that the loop cannot act on: ``kind`` names the fault, the message
    explains it to the model.

    >>> error = ParseError("missing_input", "the Action has no 'Action Input:' line")
    >>> error.kind, str(error)
    ('missing_input', "the Action has no 'Action Input:' line")
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Action:
    """A step that asks for a tool: ``tool(**tool_input)``."""

    thought: str
    tool: str
    tool_input: dict[str, Any]


@dataclass
class FinalAnswer:
    """A step that ends the run with an answer."""

    thought: str
    answer: str


@dataclass
class StepRecord:
    """One model call of a run, as the trace keeps it.

    ``index`` counts the model calls from 1; ``text`` is the model's step as the loop kept it
    (``cut_step`` of what the model wrote); ``kind`` is what the loop made of it; ``tool`` and
    ``tool_input`` are set for ``"action"`` and ``"repeated_action"``; ``observation`` is the text
    fed back to the model (``None`` for ``"final_answer"`` and ``"repeated_action"``).
    """

    index: int
    text: str
    kind: Literal["action", "final_answer", "parse_error", "repeated_action"]
    thought: str = ""
    tool: str | None = None
    tool_input: dict[str, Any] | None = None
    observation: str | None = None


@dataclass
class ReactResult:
    """What ``run_react`` returns: how it ended, the answer (``None`` unless ``"answered"``), the
    trace (one record per model call) and the final transcript."""

    status: Literal["answered", "max_steps", "loop_detected"]
    answer: str | None
    steps: list[StepRecord] = field(default_factory=list)
    transcript: str = ""


# ----- task 1 -----------------------------------------------------------------------------------
def cut_step(text: str) -> str:
    lines = itertools.takewhile(
        lambda line: not line.lstrip().startswith("Observation:"), text.splitlines()
    )
    return "\n".join(lines).strip()


def _where(lines: list[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {"Action:": [], "Action Input:": [], "Final Answer:": []}
    for number, line in enumerate(lines):
        for label, at in found.items():
            if line.lstrip().startswith(label):
                at.append(number)
    return found


def _rest(lines: list[str], at: int, label: str) -> str:
    first = lines[at].lstrip().removeprefix(label)
    return "\n".join([first, *lines[at + 1 :]]).strip()


def _above(lines: list[str], at: int) -> str:
    return "\n".join(lines[:at]).strip().removeprefix("Thought:").strip()


def parse_step(text: str) -> Action | FinalAnswer:
    lines = cut_step(text).splitlines()
    where = _where(lines)
    acts, finals = where["Action:"], where["Final Answer:"]
    match (bool(acts), bool(finals)):
        case (True, True):
            raise ParseError("action_and_answer", "one of Action or Final Answer, not both")
        case (False, True):
            answer = _rest(lines, finals[0], "Final Answer:")
            if not answer:
                raise ParseError("empty_answer", "Final Answer: what is it?")
            return FinalAnswer(_above(lines, finals[0]), answer)
        case (False, False):
            raise ParseError("no_action", "missing both 'Action:' and 'Final Answer:'")
    if len(acts) != 1:
        raise ParseError("multiple_actions", f"{len(acts)} Action lines; one, please")
    tool = lines[acts[0]].lstrip().removeprefix("Action:").strip()
    if not tool:
        raise ParseError("missing_tool", "no tool after Action:")
    after = [n for n in where["Action Input:"] if n > acts[0]]
    if not after:
        raise ParseError("missing_input", "Action Input: missing")
    raw = _rest(lines, after[0], "Action Input:")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ParseError("invalid_json", f"JSON error: {exc}") from None
    if not isinstance(value, dict):
        raise ParseError("input_not_object", "Action Input must be a JSON object")
    return Action(_above(lines, acts[0]), tool, value)


# ----- task 2 -----------------------------------------------------------------------------------
def run_tool(tools: Tools, action: Action) -> str:
    if action.tool in tools:
        try:
            out = tools[action.tool](**action.tool_input)
            return out if isinstance(out, str) else json.dumps(out)
        except Exception as exc:
            return f"Error: {exc.__class__.__name__}: {exc!s}"
    return f"Error: {action.tool!r} is not a tool; tools: {' | '.join(tools)}"


def render_transcript(question: str, records: list[StepRecord]) -> str:
    chunks = ["Question: " + question]
    chunks += [
        piece
        for record in records
        for piece in (
            record.text,
            None if record.observation is None else "Observation: " + record.observation,
        )
        if piece is not None
    ]
    return "".join(chunk + "\n" for chunk in chunks)


# ----- task 3 -----------------------------------------------------------------------------------
def _go(
    model: Model,
    tools: Tools,
    question: str,
    records: list[StepRecord],
    left: int,
    actions: list[Action],
) -> ReactResult:
    if left == 0:
        return ReactResult("max_steps", None, records, render_transcript(question, records))
    index = len(records) + 1
    text = cut_step(model(render_transcript(question, records)))
    try:
        step = parse_step(text)
    except ParseError as exc:
        record = StepRecord(index, text, "parse_error", observation=f"Error: {exc}")
        return _go(model, tools, question, [*records, record], left - 1, actions)
    match step:
        case FinalAnswer(thought=thought, answer=answer):
            done = [*records, StepRecord(index, text, "final_answer", thought)]
            return ReactResult("answered", answer, done, render_transcript(question, done))
        case Action(thought=thought, tool=tool, tool_input=tool_input) if any(
            a.tool == tool and a.tool_input == tool_input for a in actions
        ):
            done = [*records, StepRecord(index, text, "repeated_action", thought, tool, tool_input)]
            return ReactResult("loop_detected", None, done, render_transcript(question, done))
    record = StepRecord(
        index, text, "action", step.thought, step.tool, step.tool_input, run_tool(tools, step)
    )
    return _go(model, tools, question, [*records, record], left - 1, [*actions, step])


def run_react(model: Model, tools: Tools, question: str, max_steps: int = 8) -> ReactResult:
    return _go(model, tools, question, [], max_steps, [])
