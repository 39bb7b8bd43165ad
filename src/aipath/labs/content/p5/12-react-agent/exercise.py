"""The ReAct loop: the file you edit.

Read README.md first. A *model* is any callable ``model(transcript: str) -> str``: it reads the
transcript so far and writes the text of its next step, for example::

    Thought: I need the capital of France first.
    Action: capital
    Action Input: {"country": "France"}

or, once it knows enough::

    Thought: I know it now.
    Final Answer: Paris

The loop parses the step, runs the tool, appends ``Observation: <result>`` to the transcript and
calls the model again. The checks pass scripted models (ones that reason well, write malformed
steps, invent observations, never stop, repeat themselves).
"""

from __future__ import annotations

import json  # noqa: F401  (tasks 1 and 2)
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
def cut_step(text: str) -> str:
    """The model's text up to (not including) its first line that starts with ``Observation:``
    (spaces before the label allowed), with surrounding whitespace stripped.

    Observations are the loop's to write: anything after one the model invented is dropped.

    >>> cut_step("Action: capital\\nAction Input: {}\\nObservation: Lyon\\nFinal Answer: Lyon")
    'Action: capital\\nAction Input: {}'
    """
    raise NotImplementedError  # TODO


def parse_step(text: str) -> Action | FinalAnswer:
    """One step of the model's text (``cut_step`` first) as an Action or a FinalAnswer.

    Labels (``Thought:``, ``Action:``, ``Action Input:``, ``Final Answer:``) count only at the
    start of a line. A step that cannot be acted on raises ``ParseError(kind, message)``; the
    kinds and their order are in the README.

    >>> parse_step('Thought: Look it up.\\nAction: capital\\nAction Input: {"country": "Peru"}')
    Action(thought='Look it up.', tool='capital', tool_input={'country': 'Peru'})
    >>> parse_step("Thought: Done.\\nFinal Answer: Lima")
    FinalAnswer(thought='Done.', answer='Lima')
    >>> parse_step("Action: capital")
    Traceback (most recent call last):
    ParseError: the action 'capital' has no 'Action Input:' line; give its arguments as a JSON object
    """
    raise NotImplementedError  # TODO


# ----- task 2: observations and the transcript --------------------------------------------------
def run_tool(tools: Tools, action: Action) -> str:
    """The observation of one action: ``tools[action.tool](**action.tool_input)`` as text.

    A ``str`` result as it is, anything else ``json.dumps(result)``; an unknown tool or a tool
    that raises gives an observation starting with ``Error:``. Never raises.

    >>> run_tool({"capital": capital}, Action("", "capital", {"country": "Peru"}))
    'Lima'
    >>> run_tool({"capital": capital}, Action("", "capital", {"country": "Mars"}))
    "Error: KeyError: 'Mars'"
    """
    raise NotImplementedError  # TODO


def render_transcript(question: str, records: list[StepRecord]) -> str:
    """The text the model reads: ``Question: ...``, then each record's text, each followed by
    ``Observation: ...`` when the record has one; every line ends with a newline.

    >>> render_transcript("Capital of Peru?", [StepRecord(1, "Action: capital\\nAction Input: "
    ...     '{"country": "Peru"}', "action", "", "capital", {"country": "Peru"}, "Lima")])
    'Question: Capital of Peru?\\nAction: capital\\nAction Input: {"country": "Peru"}\\nObservation: Lima\\n'
    """
    raise NotImplementedError  # TODO


# ----- task 3: the loop -------------------------------------------------------------------------
def run_react(model: Model, tools: Tools, question: str, max_steps: int = 8) -> ReactResult:
    """Thought, action, observation, until a final answer, a repeated action or the budget.

    Each step: show the model ``render_transcript(question, records)``, keep ``cut_step`` of what
    it writes, parse it, and record one ``StepRecord``: a parse error is fed back as an
    observation ``Error: <message>``; an action runs (``run_tool``) unless it repeats an earlier
    action (same tool, same input), which stops the run; a final answer ends it. At most
    ``max_steps`` model calls.

    >>> result = run_react(model, {"capital": capital}, "What is the capital of Peru?")
    >>> result.status, result.answer, [record.kind for record in result.steps]
    ('answered', 'Lima', ['action', 'final_answer'])
    """
    raise NotImplementedError  # TODO
