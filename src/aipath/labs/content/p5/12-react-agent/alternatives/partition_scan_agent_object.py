"""The ReAct loop, a third way: one label per line looked up in a list, str.partition
for the labels, and an agent object that grows its transcript as a string and
remembers every action it ran in a dict."""

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


# ----- task 1 -----------------------------------------------------------------------------------
LABELS = ("Thought:", "Action Input:", "Action:", "Final Answer:")


def cut_step(text: str) -> str:
    out = []
    for line in text.split("\n"):
        if line.strip().startswith("Observation:"):
            break
        out.append(line)
    return "\n".join(out).strip()


def parse_step(text: str) -> Action | FinalAnswer:
    lines = cut_step(text).split("\n")
    labels = [next((lab for lab in LABELS if ln.lstrip().startswith(lab)), "") for ln in lines]
    if "Action:" in labels and "Final Answer:" in labels:
        raise ParseError("action_and_answer", "Action and Final Answer in one step")
    if "Final Answer:" in labels:
        at = labels.index("Final Answer:")
        thought = _thought_of(lines[:at])
        answer = "\n".join([lines[at].lstrip().partition("Final Answer:")[2], *lines[at + 1 :]])
        if not answer.strip():
            raise ParseError("empty_answer", "give the Final Answer after its label")
        return FinalAnswer(thought, answer.strip())
    if labels.count("Action:") == 0:
        raise ParseError("no_action", "expected an 'Action:' or a 'Final Answer:' line")
    if labels.count("Action:") > 1:
        raise ParseError("multiple_actions", "several Action lines")
    at = labels.index("Action:")
    tool = lines[at].lstrip().partition("Action:")[2].strip()
    if tool == "":
        raise ParseError("missing_tool", "Action: needs a tool name")
    if "Action Input:" not in labels[at + 1 :]:
        raise ParseError("missing_input", "no Action Input after the Action")
    start = labels.index("Action Input:", at + 1)
    raw = "\n".join([lines[start].lstrip().partition("Action Input:")[2], *lines[start + 1 :]])
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ParseError("invalid_json", "bad JSON in Action Input: " + exc.msg) from None
    if not isinstance(value, dict):
        raise ParseError("input_not_object", "Action Input: a JSON object, please")
    return Action(_thought_of(lines[:at]), tool, value)


def _thought_of(lines: list[str]) -> str:
    body = "\n".join(lines).strip()
    head, sep, tail = body.partition("Thought:")
    return tail.strip() if sep and head == "" else body


# ----- task 2 -----------------------------------------------------------------------------------
def run_tool(tools: Tools, action: Action) -> str:
    try:
        func = tools[action.tool]
    except KeyError:
        return f"Error: unknown tool {action.tool}. Use one of: {', '.join(sorted(tools))}"
    try:
        result = func(**action.tool_input)
    except BaseException as exc:
        if not isinstance(exc, Exception):
            raise
        return f"Error: {type(exc).__name__}: {exc}"
    return result if type(result) is str else json.dumps(result)


def render_transcript(question: str, records: list[StepRecord]) -> str:
    return f"Question: {question}\n" + "".join(
        record.text
        + "\n"
        + ("" if record.observation is None else "Observation: " + record.observation + "\n")
        for record in records
    )


# ----- task 3 -----------------------------------------------------------------------------------
class Agent:
    def __init__(self, model: Model, tools: Tools, question: str) -> None:
        self.model, self.tools = model, tools
        self.question = question
        self.transcript = f"Question: {question}\n"
        self.records: list[StepRecord] = []
        self.ran: dict[str, list[dict[str, Any]]] = {}

    def add(self, record: StepRecord) -> None:
        self.records.append(record)
        self.transcript += record.text + "\n"
        if record.observation is not None:
            self.transcript += f"Observation: {record.observation}\n"

    def step(self, index: int) -> str | None:
        """One model call; the status if the run ends here."""
        text = cut_step(self.model(self.transcript))
        try:
            step = parse_step(text)
        except ParseError as exc:
            self.add(StepRecord(index, text, "parse_error", observation=f"Error: {exc}"))
            return None
        if isinstance(step, FinalAnswer):
            self.add(StepRecord(index, text, "final_answer", step.thought))
            return "answered"
        earlier = self.ran.setdefault(step.tool, [])
        if step.tool_input in earlier:
            self.add(
                StepRecord(index, text, "repeated_action", step.thought, step.tool, step.tool_input)
            )
            return "loop_detected"
        earlier.append(step.tool_input)
        observation = run_tool(self.tools, step)
        self.add(
            StepRecord(index, text, "action", step.thought, step.tool, step.tool_input, observation)
        )
        return None


def run_react(model: Model, tools: Tools, question: str, max_steps: int = 8) -> ReactResult:
    agent = Agent(model, tools, question)
    for index in range(1, max_steps + 1):
        status = agent.step(index)
        if status is not None:
            answer = None
            if status == "answered":
                answer = parse_step(agent.records[-1].text).answer  # type: ignore[union-attr]
            return ReactResult(status, answer, agent.records, agent.transcript)  # type: ignore[arg-type]
    return ReactResult("max_steps", None, agent.records, agent.transcript)
