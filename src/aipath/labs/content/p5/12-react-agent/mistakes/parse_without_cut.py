# expect: cut_step first
# mistake: parse_step reads the whole text, invented observations included.
"""The ReAct loop: one learner answer."""

from __future__ import annotations

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


# ----- task 1: parse one step -------------------------------------------------------------------
def _starts(line: str, label: str) -> bool:
    return line.lstrip().startswith(label)


def _after(line: str, label: str) -> str:
    return line.lstrip()[len(label) :]


def cut_step(text: str) -> str:
    """The model's text up to its first ``Observation:`` line, stripped."""
    kept: list[str] = []
    for line in text.splitlines():
        if _starts(line, "Observation:"):
            break
        kept.append(line)
    return "\n".join(kept).strip()


def _thought(lines: list[str]) -> str:
    text = "\n".join(lines).strip()
    if text.startswith("Thought:"):
        text = text[len("Thought:") :]
    return text.strip()


def parse_step(text: str) -> Action | FinalAnswer:
    """One step of the model's text as an Action or a FinalAnswer; ParseError otherwise."""
    lines = text.strip().splitlines()
    actions = [i for i, line in enumerate(lines) if _starts(line, "Action:")]
    finals = [i for i, line in enumerate(lines) if _starts(line, "Final Answer:")]
    if actions and finals:
        raise ParseError(
            "action_and_answer",
            "the step has both an 'Action:' and a 'Final Answer:'; write one of them: an "
            "action waits for its observation",
        )
    if finals:
        i = finals[0]
        answer = "\n".join([_after(lines[i], "Final Answer:"), *lines[i + 1 :]]).strip()
        if not answer:
            raise ParseError("empty_answer", "nothing follows 'Final Answer:'; write the answer")
        return FinalAnswer(_thought(lines[:i]), answer)
    if not actions:
        raise ParseError(
            "no_action",
            "the step has no 'Action:' line and no 'Final Answer:' line; write either "
            "'Action: <tool>' and 'Action Input: <JSON object>', or 'Final Answer: <answer>'",
        )
    if len(actions) > 1:
        raise ParseError(
            "multiple_actions",
            f"the step has {len(actions)} 'Action:' lines; write one action per step and wait "
            "for its observation",
        )
    i = actions[0]
    tool = _after(lines[i], "Action:").strip()
    if not tool:
        raise ParseError("missing_tool", "'Action:' is not followed by a tool name")
    inputs = [j for j in range(i + 1, len(lines)) if _starts(lines[j], "Action Input:")]
    if not inputs:
        raise ParseError(
            "missing_input",
            f"the action {tool!r} has no 'Action Input:' line; give its arguments as a JSON object",
        )
    j = inputs[0]
    raw = "\n".join([_after(lines[j], "Action Input:"), *lines[j + 1 :]]).strip()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ParseError(
            "invalid_json", f"the Action Input {raw!r} is not valid JSON: {exc}"
        ) from None
    if not isinstance(value, dict):
        raise ParseError(
            "input_not_object",
            f"the Action Input must be a JSON object of named arguments; got {raw!r}",
        )
    return Action(_thought(lines[:i]), tool, value)


# ----- task 2: observations and the transcript --------------------------------------------------
def run_tool(tools: Tools, action: Action) -> str:
    """Run one action; its observation text, never an exception."""
    if action.tool not in tools:
        return f"Error: unknown tool {action.tool!r}; the tools are: {', '.join(tools)}"
    try:
        result = tools[action.tool](**action.tool_input)
    except Exception as exc:
        return f"Error: {type(exc).__name__}: {exc}"
    return result if isinstance(result, str) else json.dumps(result)


def render_transcript(question: str, records: list[StepRecord]) -> str:
    """The text the model reads: the question, then each step and its observation."""
    parts = [f"Question: {question}\n"]
    for record in records:
        parts.append(record.text + "\n")
        if record.observation is not None:
            parts.append(f"Observation: {record.observation}\n")
    return "".join(parts)


# ----- task 3: the loop -------------------------------------------------------------------------
def run_react(model: Model, tools: Tools, question: str, max_steps: int = 8) -> ReactResult:
    """Thought, action, observation, until a final answer, a repeated action or the budget."""
    records: list[StepRecord] = []
    taken: list[tuple[str, dict[str, Any]]] = []
    for index in range(1, max_steps + 1):
        text = cut_step(model(render_transcript(question, records)))
        try:
            step = parse_step(text)
        except ParseError as exc:
            records.append(StepRecord(index, text, "parse_error", observation=f"Error: {exc}"))
            continue
        if isinstance(step, FinalAnswer):
            records.append(StepRecord(index, text, "final_answer", step.thought))
            return ReactResult(
                "answered", step.answer, records, render_transcript(question, records)
            )
        key = (step.tool, step.tool_input)
        if key in taken:
            records.append(
                StepRecord(index, text, "repeated_action", step.thought, step.tool, step.tool_input)
            )
            return ReactResult("loop_detected", None, records, render_transcript(question, records))
        taken.append(key)
        observation = run_tool(tools, step)
        records.append(
            StepRecord(index, text, "action", step.thought, step.tool, step.tool_input, observation)
        )
    return ReactResult("max_steps", None, records, render_transcript(question, records))
