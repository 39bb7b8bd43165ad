"""The ReAct loop, a fifth way (from the blind review): a line-by-line state machine with one
regular expression, the text filed under the label above it, and string-built transcripts."""

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


def cut_step(text: str) -> str:
    lines = text.split("\n")
    for n, line in enumerate(lines):
        if line.lstrip().startswith("Observation:"):
            lines = lines[:n]
            break
    return "\n".join(lines).strip()


LINE = re.compile(r"^\s*(Thought|Action Input|Action|Final Answer):(.*)$")


def parse_step(text: str) -> Action | FinalAnswer:
    current = "pre"
    parts: dict[str, list[str]] = {"pre": []}
    order: list[str] = []
    for line in cut_step(text).splitlines():
        m = LINE.match(line)
        if m and not (m.group(1) == "Thought" and order):
            current = m.group(1) if m.group(1) != "Thought" else "pre"
            if current in order:
                current = current + "#" + str(len(order))
            order.append(current)
            parts.setdefault(current, []).append(m.group(2))
        else:
            parts.setdefault(current, []).append(line)

    def body(key):
        return "\n".join(parts.get(key, [])).strip()

    has_action = any(k.startswith("Action") and not k.startswith("Action Input") for k in order)
    if has_action and "Final Answer" in order:
        raise ParseError("action_and_answer", "either an Action or a Final Answer")
    thought = body("pre")
    if "Final Answer" in order:
        answer = "\n".join(parts["Final Answer"]).strip()
        for k in order[order.index("Final Answer") + 1 :]:
            answer = (answer + "\n" + "\n".join(parts[k])).strip()
        if not answer:
            raise ParseError("empty_answer", "empty Final Answer")
        return FinalAnswer(thought, answer)
    actions = [k for k in order if k == "Action" or k.startswith("Action#")]
    if not actions:
        raise ParseError("no_action", "need 'Action:' or 'Final Answer:'")
    if len(actions) > 1:
        raise ParseError("multiple_actions", "one Action only")
    tool = body("Action")
    if not tool:
        raise ParseError("missing_tool", "Action has no tool")
    if "Action Input" not in order or order.index("Action Input") < order.index("Action"):
        raise ParseError("missing_input", "no Action Input")
    try:
        args = json.loads(body("Action Input"))
    except json.JSONDecodeError as e:
        raise ParseError("invalid_json", f"bad JSON: {e}") from None
    if not isinstance(args, dict):
        raise ParseError("input_not_object", "need a JSON object")
    return Action(thought, tool, args)


def run_tool(tools: Tools, action: Action) -> str:
    if action.tool not in tools:
        return "Error: unknown tool " + action.tool + ". Tools: " + ", ".join(tools.keys())
    try:
        out = tools[action.tool](**action.tool_input)
    except Exception as e:
        return "Error: " + type(e).__name__ + ": " + str(e)
    if isinstance(out, str):
        return out
    return json.dumps(out)


def render_transcript(question: str, records: list[StepRecord]) -> str:
    s = "Question: " + question + "\n"
    for r in records:
        s += r.text + "\n"
        if r.observation is not None:
            s += "Observation: " + r.observation + "\n"
    return s


def run_react(model: Model, tools: Tools, question: str, max_steps: int = 8) -> ReactResult:
    records = []
    done = []
    for i in range(max_steps):
        prompt = render_transcript(question, records)
        text = cut_step(model(prompt))
        try:
            step = parse_step(text)
        except ParseError as e:
            records.append(
                StepRecord(
                    index=i + 1, text=text, kind="parse_error", observation="Error: " + str(e)
                )
            )
            continue
        if isinstance(step, FinalAnswer):
            records.append(
                StepRecord(index=i + 1, text=text, kind="final_answer", thought=step.thought)
            )
            return ReactResult(
                "answered", step.answer, records, render_transcript(question, records)
            )
        if [step.tool, step.tool_input] in done:
            records.append(
                StepRecord(
                    index=i + 1,
                    text=text,
                    kind="repeated_action",
                    thought=step.thought,
                    tool=step.tool,
                    tool_input=step.tool_input,
                )
            )
            return ReactResult("loop_detected", None, records, render_transcript(question, records))
        done.append([step.tool, step.tool_input])
        obs = run_tool(tools, step)
        records.append(
            StepRecord(
                index=i + 1,
                text=text,
                kind="action",
                thought=step.thought,
                tool=step.tool,
                tool_input=step.tool_input,
                observation=obs,
            )
        )
    return ReactResult("max_steps", None, records, render_transcript(question, records))
