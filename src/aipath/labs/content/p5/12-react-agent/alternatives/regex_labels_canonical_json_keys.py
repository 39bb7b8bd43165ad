"""The ReAct loop, another way: regular expressions in MULTILINE mode for the labels, a while
loop, and loop detection through a set of canonical JSON keys."""

from __future__ import annotations

import json
import re
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
OBSERVATION = re.compile(r"^[ \t]*Observation:", re.MULTILINE)
LABEL = re.compile(r"^[ \t]*(Action Input|Action|Final Answer):", re.MULTILINE)


def cut_step(text: str) -> str:
    match = OBSERVATION.search(text)
    return (text[: match.start()] if match else text).strip()


def _thought(text: str) -> str:
    return re.sub(r"^Thought:", "", text.strip()).strip()


def parse_step(text: str) -> Action | FinalAnswer:
    text = cut_step(text)
    labels = list(LABEL.finditer(text))
    actions = [m for m in labels if m.group(1) == "Action"]
    finals = [m for m in labels if m.group(1) == "Final Answer"]
    if actions and finals:
        raise ParseError("action_and_answer", "write an Action or a Final Answer, not both")
    if finals:
        first = finals[0]
        answer = text[first.end() :].strip()
        if not answer:
            raise ParseError("empty_answer", "the Final Answer is empty")
        return FinalAnswer(_thought(text[: first.start()]), answer)
    if not actions:
        raise ParseError(
            "no_action", "no Action and no Final Answer: write 'Action:' + 'Action Input:' lines"
        )
    if len(actions) > 1:
        raise ParseError("multiple_actions", "only one Action per step")
    action = actions[0]
    line_end = text.find("\n", action.end())
    tool = text[action.end() : line_end if line_end >= 0 else len(text)].strip()
    if not tool:
        raise ParseError("missing_tool", "the Action line names no tool")
    inputs = [m for m in labels if m.group(1) == "Action Input" and m.start() > action.start()]
    if not inputs:
        raise ParseError("missing_input", "an Action needs an Action Input line")
    raw = text[inputs[0].end() :].strip()
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ParseError("invalid_json", f"Action Input is not JSON ({exc})") from None
    if type(value) is not dict:
        raise ParseError("input_not_object", "Action Input must be an object")
    return Action(_thought(text[: action.start()]), tool, value)


# ----- task 2 -----------------------------------------------------------------------------------
def run_tool(tools: Tools, action: Action) -> str:
    func = tools.get(action.tool)
    if func is None:
        return "Error: no tool named " + repr(action.tool) + ". Available: " + ", ".join(tools)
    try:
        result = func(**action.tool_input)
    except Exception as exc:
        return "Error: " + exc.__class__.__name__ + ": " + str(exc)
    if isinstance(result, str):
        return result
    return json.dumps(result)


def render_transcript(question: str, records: list[StepRecord]) -> str:
    lines = [f"Question: {question}"]
    for record in records:
        lines.append(record.text)
        if record.observation is not None:
            lines.append(f"Observation: {record.observation}")
    return "\n".join(lines) + "\n"


# ----- task 3 -----------------------------------------------------------------------------------
def run_react(model: Model, tools: Tools, question: str, max_steps: int = 8) -> ReactResult:
    records: list[StepRecord] = []
    seen: set[str] = set()
    status: Literal["answered", "max_steps", "loop_detected"] = "max_steps"
    answer = None
    while len(records) < max_steps:
        index = len(records) + 1
        text = cut_step(model(render_transcript(question, records)))
        try:
            step = parse_step(text)
        except ParseError as exc:
            records.append(StepRecord(index, text, "parse_error", observation="Error: " + str(exc)))
            continue
        if isinstance(step, FinalAnswer):
            records.append(StepRecord(index, text, "final_answer", thought=step.thought))
            status, answer = "answered", step.answer
            break
        key = json.dumps([step.tool, step.tool_input], sort_keys=True)
        if key in seen:
            records.append(
                StepRecord(index, text, "repeated_action", step.thought, step.tool, step.tool_input)
            )
            status = "loop_detected"
            break
        seen.add(key)
        records.append(
            StepRecord(
                index,
                text,
                "action",
                step.thought,
                step.tool,
                step.tool_input,
                observation=run_tool(tools, step),
            )
        )
    return ReactResult(status, answer, records, render_transcript(question, records))
