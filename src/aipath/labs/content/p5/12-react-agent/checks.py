"""Checks for p5-react-agent: parsing a ReAct step, observations, and the loop with its trace.

Task 1 feeds `parse_step` well-formed steps (labels indented, multi-line thoughts and JSON, labels
mentioned mid-line, invented observations) and malformed ones, one per kind of ParseError. Task 2
runs `run_tool` on tools that return, raise and do not exist, and compares `render_transcript`
with the README's format. Task 3 drives the learner's `run_react` with scripted models (some
read the observations they are shown and change course) while the learner's task 1 and 2
functions are replaced by the reference, so the loop is judged on its own. Each run is checked
twice: first the learner's trace is *replayed* (did the model see what the trace says, does each
record say what the model wrote, did each recorded action run, and only those), then the
stopping rules are compared with the reference run (final answer, budget, repeated action).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from aipath.checks import fail, fmt, text_difference

# ----- the tools of the checks ------------------------------------------------------------------
CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Peru": "Lima"}
POPULATIONS = {"Paris": 2_102_650, "Tokyo": 13_960_000, "Lima": 10_092_000}


def capital(country: str) -> str:
    """The capital city of a country."""
    return CAPITALS[country]


def population(city: str) -> dict[str, Any]:
    """A city's population."""
    return {"city": city, "population": POPULATIONS[city]}


def multiply(a: float, b: float) -> float:
    """a times b."""
    return a * b


def divide(a: float, b: float) -> float:
    """a divided by b."""
    return a / b


def cities() -> list[str]:
    """Every city the population tool knows."""
    return sorted(POPULATIONS)


def nothing() -> None:
    """A tool that returns nothing."""
    return None


class ToolBox:
    """The tools of one run, each call logged as (name, arguments)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.tools: dict[str, Callable[..., Any]] = {
            f.__name__: self._logged(f) for f in (capital, population, multiply, divide)
        }

    def _logged(self, func: Callable[..., Any]) -> Callable[..., Any]:
        def tool(**kwargs: Any) -> Any:
            self.calls.append((func.__name__, copy.deepcopy(kwargs)))
            return func(**kwargs)

        tool.__name__ = func.__name__
        tool.__doc__ = func.__doc__
        return tool


# ----- reference implementations ----------------------------------------------------------------
class RefParseError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class RefAction:
    thought: str
    tool: str
    tool_input: dict[str, Any]


@dataclass
class RefFinal:
    thought: str
    answer: str


@dataclass
class RefRecord:
    index: int
    text: str
    kind: str
    thought: str = ""
    tool: str | None = None
    tool_input: dict[str, Any] | None = None
    observation: str | None = None


def _starts(line: str, label: str) -> bool:
    return line.lstrip().startswith(label)


def _after(line: str, label: str) -> str:
    return line.lstrip()[len(label) :]


def ref_cut(text: str) -> str:
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


def ref_parse(text: str, error: type[Exception] = RefParseError) -> Any:
    lines = ref_cut(text).splitlines()
    actions = [i for i, line in enumerate(lines) if _starts(line, "Action:")]
    finals = [i for i, line in enumerate(lines) if _starts(line, "Final Answer:")]
    if actions and finals:
        raise error(
            "action_and_answer",
            "the step has both an 'Action:' and a 'Final Answer:'; write one of them",
        )
    if finals:
        i = finals[0]
        answer = "\n".join([_after(lines[i], "Final Answer:"), *lines[i + 1 :]]).strip()
        if not answer:
            raise error("empty_answer", "nothing follows 'Final Answer:'; write the answer")
        return RefFinal(_thought(lines[:i]), answer)
    if not actions:
        raise error(
            "no_action",
            "the step has no 'Action:' line and no 'Final Answer:' line; write either "
            "'Action: <tool>' and 'Action Input: <JSON object>', or 'Final Answer: <answer>'",
        )
    if len(actions) > 1:
        raise error("multiple_actions", "the step has several 'Action:' lines; write one")
    i = actions[0]
    tool = _after(lines[i], "Action:").strip()
    if not tool:
        raise error("missing_tool", "'Action:' is not followed by a tool name")
    inputs = [j for j in range(i + 1, len(lines)) if _starts(lines[j], "Action Input:")]
    if not inputs:
        raise error("missing_input", f"the action {tool!r} has no 'Action Input:' line")
    j = inputs[0]
    raw = "\n".join([_after(lines[j], "Action Input:"), *lines[j + 1 :]]).strip()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise error("invalid_json", f"the Action Input {raw!r} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise error("input_not_object", f"the Action Input must be a JSON object; got {raw!r}")
    return RefAction(_thought(lines[:i]), tool, value)


def ref_run_tool(tools: dict[str, Callable[..., Any]], action: Any) -> str:
    if action.tool not in tools:
        return f"Error: unknown tool {action.tool!r}; the tools are: {', '.join(tools)}"
    try:
        result = tools[action.tool](**action.tool_input)
    except Exception as exc:
        return f"Error: {type(exc).__name__}: {exc}"
    return result if isinstance(result, str) else json.dumps(result)


def ref_render(question: str, records: list[Any]) -> str:
    parts = [f"Question: {question}\n"]
    for record in records:
        parts.append(f"{getattr(record, 'text', '')}\n")
        observation = getattr(record, "observation", None)
        if observation is not None:
            parts.append(f"Observation: {observation}\n")
    return "".join(parts)


def ref_run(model: Any, tools: dict[str, Any], question: str, max_steps: int) -> Any:
    records: list[RefRecord] = []
    taken: list[tuple[str, dict[str, Any]]] = []
    for index in range(1, max_steps + 1):
        text = ref_cut(model(ref_render(question, records)))
        try:
            step = ref_parse(text)
        except RefParseError as exc:
            records.append(RefRecord(index, text, "parse_error", observation=f"Error: {exc}"))
            continue
        if isinstance(step, RefFinal):
            records.append(RefRecord(index, text, "final_answer", step.thought))
            return "answered", step.answer, records
        key = (step.tool, step.tool_input)
        if key in taken:
            records.append(
                RefRecord(index, text, "repeated_action", step.thought, step.tool, step.tool_input)
            )
            return "loop_detected", None, records
        taken.append(key)
        observation = ref_run_tool(tools, step)
        records.append(
            RefRecord(index, text, "action", step.thought, step.tool, step.tool_input, observation)
        )
    return "max_steps", None, records


def _learner_parse_error(learner) -> type[Exception]:
    error = getattr(learner, "ParseError", None)
    if not (isinstance(error, type) and issubclass(error, Exception)):
        fail("exercise.py has no ParseError class: keep the given classes as they are")
    return error


def _record_class(learner) -> Any:
    record = getattr(learner, "StepRecord", None)
    if record is None:
        fail("exercise.py has no StepRecord class: keep the given classes as they are")
    return record


# ----- task 1 -----------------------------------------------------------------------------------
HALLUCINATED = (
    'Thought: I need the capital.\nAction: capital\nAction Input: {"country": "France"}\n'
    "Observation: Lyon\nThought: So it is Lyon.\nFinal Answer: Lyon"
)

CUTS = [
    (HALLUCINATED, "an invented observation and everything after it are dropped"),
    ("\n  Thought: hm\n\nFinal Answer: 3\n\n", "surrounding blank lines and spaces are stripped"),
    ("Observation: 12\nFinal Answer: 12", "a step that starts with an observation is empty"),
    (
        'Action: capital\nAction Input: {"country": "Peru"}\n   Observation: Lima',
        "an indented Observation: line is still a line that starts with the label",
    ),
    (
        "Thought: my last Observation: was odd\nFinal Answer: 3",
        "`Observation:` in the middle of a line does not start an observation",
    ),
]


def _call(what: str, func: Callable[..., Any], *args: Any, advice: str = "") -> Any:
    try:
        return func(*args)
    except NotImplementedError:
        raise
    except Exception as exc:
        fail(f"{what} raised {type(exc).__name__}: {str(exc)[:200]}{advice}")


@pytest.mark.task(1)
def test_cut_step_drops_invented_observations(learner) -> None:
    for text, why in CUTS:
        want = ref_cut(text)
        got = _call(f"cut_step({text!r})", learner.cut_step, text)
        if got is None:
            fail(f"cut_step({text!r}) is None: did you forget to `return` the text?")
        if got != want:
            clue = ""
            if isinstance(got, str) and got.strip() == want and got != want:
                clue = ": strip the result"
            fail(f"cut_step({text!r}) is {fmt(got)}; expected {fmt(want)} ({why}){clue}")


GOOD_STEPS: list[tuple[str, Any, str]] = [
    (
        'Thought: I need the capital of France.\nAction: capital\nAction Input: {"country": '
        '"France"}',
        RefAction("I need the capital of France.", "capital", {"country": "France"}),
        "a plain action",
    ),
    (
        'I should look up Paris.\nAction: population\nAction Input: {"city": "Paris"}',
        RefAction("I should look up Paris.", "population", {"city": "Paris"}),
        "a thought without its `Thought:` label (the prompt often ends with it)",
    ),
    (
        "Thought: Two numbers.\nI will multiply them.\nAction:   multiply  \nAction Input: {\n"
        '  "a": 3,\n  "b": 4\n}',
        RefAction("Two numbers.\nI will multiply them.", "multiply", {"a": 3, "b": 4}),
        "a two-line thought, spaces around the tool name and JSON over several lines",
    ),
    (
        '  Thought: ok\n  Action: capital\n  Action Input: {"country": "Peru"}',
        RefAction("ok", "capital", {"country": "Peru"}),
        "indented labels",
    ),
    (
        "Thought: I cannot give the Final Answer: not yet.\nAction: capital\nAction Input: "
        '{"country": "Japan"}',
        RefAction("I cannot give the Final Answer: not yet.", "capital", {"country": "Japan"}),
        "`Final Answer:` in the middle of a line is part of the thought, not a label",
    ),
    (
        "Thought: list them\nAction: cities\nAction Input: {}",
        RefAction("list them", "cities", {}),
        "a tool without arguments takes {}",
    ),
    (
        "Thought: I know it.\nFinal Answer: Paris",
        RefFinal("I know it.", "Paris"),
        "a plain final answer",
    ),
    (
        "Thought: Done.\nFinal Answer: The capital is Paris.\nIt has 2.1 million people.",
        RefFinal("Done.", "The capital is Paris.\nIt has 2.1 million people."),
        "an answer over two lines: everything after the label",
    ),
    ("Final Answer: 42", RefFinal("", "42"), "a final answer without a thought"),
    (
        "Thought: No further Action: needed.\nFinal Answer: 7",
        RefFinal("No further Action: needed.", "7"),
        "`Action:` in the middle of a line is part of the thought, not a label",
    ),
    (
        HALLUCINATED,
        RefAction("I need the capital.", "capital", {"country": "France"}),
        "the model went on to invent an observation and an answer: cut at the observation",
    ),
    (
        'Thought: x\nAction: population\nAction Input: {"city": "Lima"}\n  Observation: '
        '{"population": 5}',
        RefAction("x", "population", {"city": "Lima"}),
        "an indented invented observation after the JSON",
    ),
]


def _expected_type(learner, want: Any) -> tuple[type, str]:
    name = "Action" if isinstance(want, RefAction) else "FinalAnswer"
    cls = getattr(learner, name, None)
    if cls is None:
        fail(f"exercise.py has no {name} class: keep the given classes as they are")
    return cls, name


@pytest.mark.task(1)
def test_parse_step_reads_good_steps(learner) -> None:
    error = _learner_parse_error(learner)
    for text, want, why in GOOD_STEPS:
        what = f"parse_step({text!r})"
        cls, name = _expected_type(learner, want)
        try:
            got = learner.parse_step(text)
        except NotImplementedError:
            raise
        except error as exc:
            clue = ""
            kind = getattr(exc, "kind", None)
            if kind == "action_and_answer" and "\nObservation:" in text.replace(" ", ""):
                clue = (
                    ": nothing after the first line that starts with `Observation:` counts; "
                    "the model invented it (cut_step first)"
                )
            elif kind == "action_and_answer":
                clue = (
                    ": a label counts only at the start of a line (spaces before it allowed); "
                    "here one sits in the middle of the thought"
                )
            elif kind == "invalid_json" and "Observation" in text:
                clue = (
                    ": the invented `Observation:` line and what follows it were read as part "
                    "of the JSON; cut the text first (cut_step)"
                )
            elif kind == "invalid_json":
                clue = ": the Action Input is the rest of its line and every line after it"
            elif kind == "multiple_actions" and "Action Input:" in text:
                clue = (
                    ": an `Action Input:` line is not an `Action:` line (look for the label "
                    "with its colon)"
                )
            elif kind == "no_action" and "\n  " in "\n" + text:
                clue = ": spaces before a label are allowed (look at line.lstrip())"
            fail(f"{what} raised ParseError({kind!r}, {str(exc)!r}) ({why}); expected {name}{clue}")
        except Exception as exc:
            fail(f"{what} raised {type(exc).__name__}: {str(exc)[:200]} ({why}); expected {name}")
        if got is None:
            fail(f"{what} is None: did you forget to `return` the {name}?")
        if not isinstance(got, cls):
            other = type(got).__name__
            clue = ""
            if name == "Action" and other == "FinalAnswer":
                clue = (
                    ": `Final Answer:` counts only at the start of a line, and only before any "
                    "invented `Observation:` line"
                )
            elif name == "FinalAnswer" and other == "Action":
                clue = ": `Action:` counts only at the start of a line"
            fail(f"{what} is {fmt(got)[:200]} ({why}); expected a {name}{clue}")
        fields = ("thought", "tool", "tool_input") if name == "Action" else ("thought", "answer")
        for f in fields:
            value, expected = getattr(got, f, "(missing)"), getattr(want, f)
            if value == expected:
                continue
            clue = ""
            if f == "thought" and isinstance(value, str) and value.startswith("Thought:"):
                clue = ": drop the `Thought:` label"
            elif f == "thought" and isinstance(value, str) and value.strip() != value:
                clue = ": strip the thought"
            elif f == "tool" and isinstance(value, str) and value.strip() == expected:
                clue = ": strip the spaces around the tool name"
            elif f == "tool_input" and isinstance(value, str):
                clue = (
                    ": parse the Action Input with json.loads; the tool takes its keys as arguments"
                )
            elif (
                f in ("answer", "thought") and isinstance(value, str) and expected.startswith(value)
            ):
                clue = ": it continues on the next lines; keep them"
            elif f == "answer" and isinstance(value, str) and value.strip() == expected:
                clue = ": strip the answer"
            fail(f"{what}.{f} is {fmt(value)}; expected {fmt(expected)} ({why}){clue}")


BAD_STEPS: list[tuple[str, str, list[str], str]] = [
    # text, kind, words the message must hold, why
    ("I think the answer is Paris.", "no_action", ["Action", "Final Answer"], "no label at all"),
    ("", "no_action", ["Action", "Final Answer"], "an empty reply"),
    (
        "Observation: Paris\nFinal Answer: Paris",
        "no_action",
        ["Action", "Final Answer"],
        "only an invented observation and what follows it",
    ),
    (
        'Thought: x\nAction: capital\nAction Input: {"country": "France"}\nFinal Answer: Paris',
        "action_and_answer",
        ["Action", "Final Answer"],
        "an action and an answer in one step, no observation between them",
    ),
    (
        'Thought: both\nAction: capital\nAction Input: {"country": "France"}\nAction: capital\n'
        'Action Input: {"country": "Peru"}',
        "multiple_actions",
        ["Action"],
        "two actions in one step: the loop runs one per step",
    ),
    ('Thought: x\nAction:\nAction Input: {"a": 1}', "missing_tool", ["Action"], "no tool name"),
    ("Thought: x\nAction:    \nAction Input: {}", "missing_tool", ["Action"], "only spaces"),
    ("Thought: x\nAction: capital", "missing_input", ["Action Input"], "no Action Input line"),
    (
        'Thought: x\nAction: capital\nInput: {"country": "France"}',
        "missing_input",
        ["Action Input"],
        "a line labelled `Input:` is not an Action Input",
    ),
    (
        "Thought: x\nAction: capital\nAction Input: {'country': 'France'}",
        "invalid_json",
        ["JSON"],
        "single quotes are not JSON",
    ),
    (
        'Action: capital\nAction Input: {"country": "France"',
        "invalid_json",
        ["JSON"],
        "a missing brace",
    ),
    ("Action: capital\nAction Input: France", "invalid_json", ["JSON"], "a bare word"),
    (
        'Action: capital\nAction Input: ["France"]',
        "input_not_object",
        ["object"],
        "a JSON list: the tool takes named arguments",
    ),
    (
        'Action: capital\nAction Input: "France"',
        "input_not_object",
        ["object"],
        "a JSON string: the tool takes named arguments",
    ),
    ("Thought: hmm\nFinal Answer:   ", "empty_answer", ["Final Answer"], "nothing after the label"),
    (
        "Final Answer:\nObservation: Paris",
        "empty_answer",
        ["Final Answer"],
        "the only text after the label is an invented observation",
    ),
]


@pytest.mark.task(1)
def test_parse_step_rejects_malformed_steps_with_a_parse_error(learner) -> None:
    error = _learner_parse_error(learner)
    for text, kind, words, why in BAD_STEPS:
        what = f"parse_step({text!r})"
        try:
            got = learner.parse_step(text)
        except NotImplementedError:
            raise
        except error as exc:
            got_kind = getattr(exc, "kind", None)
            if got_kind != kind:
                clue = ""
                if kind == "action_and_answer" and got_kind in ("invalid_json",):
                    clue = (
                        ": look for both labels before reading the Action Input (the order of "
                        "the checks is in the README)"
                    )
                if kind == "multiple_actions" and got_kind == "invalid_json":
                    clue = ": count the `Action:` lines before reading the Action Input"
                if kind == "empty_answer" and got_kind == "no_action":
                    clue = ": a `Final Answer:` label with nothing after it is an empty answer"
                fail(
                    f"{what} raised ParseError({got_kind!r}, {str(exc)!r}); expected the kind "
                    f"{kind!r} ({why}){clue}"
                )
            message = str(exc)
            if not message.strip():
                fail(
                    f"{what} raised ParseError({kind!r}) with an empty message: the model reads it"
                )
            for word in words:
                if word.lower() not in message.lower():
                    fail(
                        f"{what} raised ParseError({kind!r}, {message!r}); the message should "
                        f"name {word!r}, so the model knows what to write ({why})"
                    )
            continue
        except Exception as exc:
            fail(
                f"{what} raised {type(exc).__name__}: {str(exc)[:200]}; expected ParseError("
                f"{kind!r}, ...) ({why}): the loop feeds a ParseError back to the model, any "
                "other exception would crash it"
            )
        clue = ""
        name = type(got).__name__
        if kind == "action_and_answer":
            clue = f": it returned a {name}; a step with both labels is an error, not a choice"
        elif kind == "multiple_actions":
            clue = ": a second `Action:` line is an error, not something to ignore"
        elif kind == "input_not_object":
            clue = ": check that the parsed JSON is a dict"
        elif kind == "empty_answer":
            clue = ": an empty answer is an error"
        elif kind == "missing_tool":
            clue = ": a tool name of nothing but spaces is no tool name"
        elif kind == "missing_input":
            clue = ": an action without `Action Input:` is an error (no input is `{}`)"
        fail(f"{what} is {fmt(got)[:200]}; expected ParseError({kind!r}, ...) ({why}){clue}")


# ----- task 2 -----------------------------------------------------------------------------------
def _action(learner, tool: str, tool_input: dict[str, Any]) -> Any:
    cls = getattr(learner, "Action", None)
    if cls is None:
        fail("exercise.py has no Action class: keep the given classes as they are")
    return cls("", tool, tool_input)


def _run_tool(learner, tools: dict[str, Any], tool: str, tool_input: dict[str, Any]) -> str:
    what = f"run_tool(tools, Action(thought, {tool!r}, {tool_input!r}))"
    try:
        got = learner.run_tool(tools, _action(learner, tool, tool_input))
    except NotImplementedError:
        raise
    except Exception as exc:
        fail(
            f"{what} raised {type(exc).__name__}: {str(exc)[:200]}: whatever a tool does, "
            "run_tool returns an observation (`Error: ...`) the model can read"
        )
    if got is None:
        fail(f"{what} is None: did you forget to `return` the observation?")
    if not isinstance(got, str):
        fail(f"{what} is {fmt(got)}; expected the observation as text (a str)")
    return got


TOOL_RESULTS: list[tuple[str, dict[str, Any]]] = [
    ("capital", {"country": "France"}),
    ("population", {"city": "Tokyo"}),
    ("multiply", {"a": 3, "b": 0.5}),
    ("multiply", {"a": 3, "b": 4}),
    ("cities", {}),
    ("nothing", {}),
]


@pytest.mark.task(2)
def test_run_tool_observes_results(learner) -> None:
    box = ToolBox()
    tools = {**box.tools, "cities": cities, "nothing": nothing}
    for tool, tool_input in TOOL_RESULTS:
        what = f"run_tool(tools, Action(thought, {tool!r}, {tool_input!r}))"
        before = len(box.calls)
        got = _run_tool(learner, tools, tool, tool_input)
        result = globals()[tool](**tool_input)
        want = ref_run_tool({tool: globals()[tool]}, RefAction("", tool, tool_input))
        if tool in box.tools and len(box.calls) - before != 1:
            fail(f"{what} called the tool {len(box.calls) - before} times; expected once")
        if isinstance(result, str):
            if got != want:
                clue = ""
                if got == json.dumps(result):
                    clue = ": a text result is the observation as it is, without JSON quotes"
                fail(f"{what} is {got!r}; expected {want!r}{clue}")
            continue
        try:
            same = json.loads(got) == result
        except json.JSONDecodeError:
            same = False
        if not same:
            clue = ""
            if got == str(result):
                clue = ": str(result) is Python's repr, not JSON; use json.dumps(result)"
            fail(f"{what} is {got!r}; expected {want!r} (json.dumps of the result){clue}")


@pytest.mark.task(2)
def test_run_tool_turns_failures_into_error_observations(learner) -> None:
    tools = ToolBox().tools
    for tool, tool_input in [
        ("population", {"city": "Atlantis"}),
        ("divide", {"a": 1, "b": 0}),
        ("capital", {"city": "Paris"}),
    ]:
        what = f"run_tool(tools, Action(thought, {tool!r}, {tool_input!r}))"
        got = _run_tool(learner, tools, tool, tool_input)
        try:
            globals()[tool](**tool_input)
        except Exception as exc:
            name, text = type(exc).__name__, str(exc)
        if not got.startswith("Error:"):
            fail(f"{what} is {got!r}; an observation of a failure starts with 'Error:'")
        if name not in got:
            fail(
                f"{what} is {got!r}; the tool raised {name}({text}): the observation should "
                f"name the exception ({name}), `Error: {name}: {text}`: the exception's text "
                f"alone ({text}) rarely says what went wrong"
            )
        if text not in got:
            fail(f"{what} is {got!r}; the observation should hold the exception's text {text!r}")
    for bad in ("capitol", "search"):
        what = f"run_tool(tools, Action(thought, {bad!r}, {{}}))"
        got = _run_tool(learner, tools, bad, {})
        if not got.startswith("Error:"):
            fail(f"{what} is {got!r}; an unknown tool's observation starts with 'Error:'")
        missing = [name for name in [bad, *tools] if name not in got]
        if missing:
            fail(
                f"{what} is {got!r}; the observation should name the unknown tool and list "
                f"every tool there is (missing: {', '.join(missing)}), so the model can pick one "
                "that exists"
            )


def _records(learner) -> list[Any]:
    record = _record_class(learner)
    records = [
        record(
            1,
            'Thought: The capital first.\nAction: capital\nAction Input: {"country": "Japan"}',
            "action",
            "The capital first.",
            "capital",
            {"country": "Japan"},
            "Tokyo",
        ),
        record(
            2,
            "Let me think.",
            "parse_error",
            observation="Error: the step has no 'Action:' line and no 'Final Answer:' line",
        ),
        record(
            3,
            'Action: population\nAction Input: {"city": "Tokyo"}',
            "action",
            "",
            "population",
            {"city": "Tokyo"},
            '{"city": "Tokyo", "population": 13960000}',
        ),
        record(
            4,
            'Action: capital\nAction Input: {"country": "Japan"}',
            "repeated_action",
            "",
            "capital",
            {"country": "Japan"},
        ),
    ]
    return records


@pytest.mark.task(2)
def test_render_transcript_follows_the_format(learner) -> None:
    question = "How many people live in the capital of Japan?"
    records = _records(learner)
    final = _record_class(learner)(
        5, "Thought: Done.\nFinal Answer: 13960000", "final_answer", "Done."
    )
    for upto in (0, 1, 3, 4):
        what = f"render_transcript(question, records[:{upto}])"
        got = _call(what, learner.render_transcript, question, records[:upto])
        want = ref_render(question, records[:upto])
        if got is None:
            fail(f"{what} is None: did you forget to `return` the transcript?")
        if got != want:
            if not isinstance(got, str):
                fail(f"{what} is {fmt(got)}; expected the transcript text")
            clue = ""
            if "Observation: None" in got:
                clue = " (a record whose observation is None has no Observation line)"
            elif got + "\n" == want:
                clue = " (every line ends with a newline, the last one too)"
            elif got.replace("\n\n", "\n") == want:
                clue = " (no blank lines between the parts)"
            fail(f"{what}: {text_difference(got, want)}{clue}")
    what = "render_transcript(question, records + [final answer])"
    got = _call(what, learner.render_transcript, question, [*records, final])
    want = ref_render(question, [*records, final])
    if got != want:
        clue = ""
        if isinstance(got, str) and "Observation: None" in got:
            clue = " (a record whose observation is None has no Observation line)"
        fail(f"{what}: {text_difference(str(got), want)}{clue}")


# ----- task 3 -----------------------------------------------------------------------------------
class Runaway(BaseException):
    """Raised by a scripted model called far past any budget (not an Exception on purpose)."""


def _observations(transcript: str) -> list[str]:
    return [
        line[len("Observation: ") :]
        for line in transcript.splitlines()
        if line.startswith("Observation: ")
    ]


class Scripted:
    """A model: ``policy(transcript, call_number) -> text``; records what it saw and wrote."""

    def __init__(self, policy: Callable[[str, int], str], cap: int) -> None:
        self.policy = policy
        self.cap = cap
        self.seen: list[Any] = []
        self.wrote: list[str] = []

    def __call__(self, transcript: Any) -> str:
        self.seen.append(copy.deepcopy(transcript))
        if len(self.seen) > self.cap:
            raise Runaway
        text = self.policy(transcript if isinstance(transcript, str) else "", len(self.seen))
        self.wrote.append(text)
        return text


def _act(tool: str, tool_input: Any, thought: str = "", extra: str = "") -> str:
    raw = tool_input if isinstance(tool_input, str) else json.dumps(tool_input)
    return f"Thought: {thought or 'Next step.'}\nAction: {tool}\nAction Input: {raw}{extra}"


def _answer(text: str, thought: str = "I have what I need.") -> str:
    return f"Thought: {thought}\nFinal Answer: {text}"


def _chain(transcript: str, call: int) -> str:
    """Capital → population → product: each action built from the last observation."""
    obs = _observations(transcript)
    if not obs:
        return _act("capital", {"country": "France"}, "First the capital of France.")
    if len(obs) == 1:
        return _act("population", {"city": obs[0]}, f"The capital is {obs[0]}.")
    if len(obs) == 2:
        try:
            people = json.loads(obs[1])["population"]
        except (ValueError, KeyError, TypeError):
            return _answer("I could not read the population.")
        return _act("multiply", {"a": people, "b": 2}, "Now double it.")
    return _answer(obs[2], "Twice the population of Paris.")


def _hallucinating(transcript: str, call: int) -> str:
    """Writes its own observations and an answer after each action."""
    obs = _observations(transcript)
    if not obs:
        return _act(
            "capital",
            {"country": "Peru"},
            "I need Peru's capital.",
            "\nObservation: Cusco\nThought: It is Cusco.\nFinal Answer: Cusco",
        )
    if len(obs) == 1:
        return _act(
            "population",
            {"city": obs[0]},
            f"The capital is {obs[0]}.",
            '\nObservation: {"population": 1}\nFinal Answer: 1',
        )
    return _answer(f"{obs[0]}, {obs[1]}")


def _corrects_itself(transcript: str, call: int) -> str:
    """Writes malformed steps until it has read two error observations, then behaves."""
    errors = [o for o in _observations(transcript) if o.startswith("Error:")]
    results = [o for o in _observations(transcript) if not o.startswith("Error:")]
    if results:
        return _answer(results[-1])
    if not errors:
        return "The capital of Japan is probably Tokyo."
    if len(errors) == 1:
        return "Thought: Use the tool.\nAction: capital\nAction Input: {'country': 'Japan'}"
    return _act("capital", {"country": "Japan"}, "Valid JSON this time.")


def _failing_tools(transcript: str, call: int) -> str:
    obs = _observations(transcript)
    steps = [
        lambda: _act("capitol", {"country": "France"}, "Look it up."),
        lambda: _act("population", {"city": "Atlantis"}, "Maybe this one."),
        lambda: _act("divide", {"a": 1, "b": 0}, "Try arithmetic."),
        lambda: _answer(f"I could not do it ({len(obs)} errors).", "Give up."),
    ]
    return steps[min(len(obs), 3)]()


def _never_answers(transcript: str, call: int) -> str:
    return _act("multiply", {"a": call, "b": 2}, f"Try {call}.")


def _always_malformed(transcript: str, call: int) -> str:
    return "Hmm, let me think about it some more."


def _answers_third(transcript: str, call: int) -> str:
    if call == 1:
        return _act("capital", {"country": "Japan"})
    if call == 2:
        return _act("population", {"city": "Tokyo"})
    return _answer("About 14 million.")


def _repeats_with_other_spelling(transcript: str, call: int) -> str:
    """The same multiply written three ways; the thoughts of calls 2 and 4 match."""
    if call == 1:
        return _act("multiply", '{"a": 3, "b": 4}', "Multiply.")
    if call == 2:
        return _act("multiply", '{ "b" : 4,\n  "a" : 3 }', "Again, to be sure.")
    if call == 3:
        return _act("multiply", '{"a": 3, "b": 4}', "Once more.")
    return _act("multiply", '{"b": 4, "a": 3}', "Again, to be sure.")


def _comes_back(transcript: str, call: int) -> str:
    if call == 2:
        return _act("population", {"city": "Paris"}, "Now its population.")
    return _act("capital", {"country": "France"}, "Capital first.")


def _repeats_at_the_end(transcript: str, call: int) -> str:
    return _act("capital", {"country": "Peru"}, f"Attempt {call}.")


def _new_inputs(transcript: str, call: int) -> str:
    countries = ["France", "Japan", "Peru"]
    if call <= 3:
        return _act("capital", {"country": countries[call - 1]}, f"Capital {call}.")
    return _answer(", ".join(_observations(transcript)))


def _retries_failure(transcript: str, call: int) -> str:
    if call <= 2:
        return _act("population", {"city": "Atlantis"}, "Try Atlantis.")
    return _act("population", {"city": "Lima"}, "Try Lima.")


def _one_step(transcript: str, call: int) -> str:
    if call == 1:
        return _act("capital", {"country": "Peru"})
    return _answer("Lima")


@dataclass
class Scenario:
    policy: Callable[[str, int], str]
    question: str
    max_steps: int
    about: str


SCENARIOS: dict[str, Scenario] = {
    "three hops": Scenario(
        _chain,
        "What is twice the population of the capital of France?",
        8,
        "capital, population, multiply, each built from the last observation, then the answer",
    ),
    "invents observations": Scenario(
        _hallucinating,
        "How many people live in the capital of Peru?",
        8,
        "after each action the model goes on to write its own Observation: and an answer",
    ),
    "corrects itself": Scenario(
        _corrects_itself,
        "What is the capital of Japan?",
        8,
        "no labels, then invalid JSON, then a valid action once it has read two error "
        "observations, then the answer",
    ),
    "failing tools": Scenario(
        _failing_tools,
        "What is the capital of France?",
        8,
        "an unknown tool, a KeyError and a ZeroDivisionError, then an answer",
    ),
    "never answers": Scenario(
        _never_answers,
        "Keep multiplying.",
        3,
        "a new multiply action at every call, never an answer",
    ),
    "always malformed": Scenario(
        _always_malformed,
        "What is the capital of Peru?",
        4,
        "text without labels at every call",
    ),
    "answers at the last step": Scenario(
        _answers_third,
        "How many people live in Tokyo?",
        3,
        "two actions, then the final answer at call max_steps",
    ),
    "one step": Scenario(
        _one_step, "What is the capital of Peru?", 1, "max_steps=1 and the first step an action"
    ),
    "repeats, spelled differently": Scenario(
        _repeats_with_other_spelling,
        "What is 3 times 4?",
        6,
        'multiply {"a": 3, "b": 4}, then the same with the keys swapped and other spaces, '
        "then again as at first",
    ),
    "comes back to an action": Scenario(
        _comes_back,
        "How many people live in the capital of France?",
        5,
        "capital(France), population(Paris), then capital(France) again and again",
    ),
    "repeats at the last call": Scenario(
        _repeats_at_the_end,
        "What is the capital of Peru?",
        2,
        "capital(Peru) twice with max_steps=2: the repeat comes at the last allowed call",
    ),
    "same tool, new inputs": Scenario(
        _new_inputs,
        "What are the capitals of France, Japan and Peru?",
        6,
        "capital of three countries, one after another, then the answer",
    ),
    "retries a failing call": Scenario(
        _retries_failure,
        "How many people live in Atlantis?",
        6,
        "population(Atlantis), which raises KeyError, twice, then population(Lima) again and again",
    ),
}


def _swap_in_reference(learner, monkeypatch) -> None:
    error = _learner_parse_error(learner)
    action_cls = getattr(learner, "Action", RefAction)
    final_cls = getattr(learner, "FinalAnswer", RefFinal)

    def parse_step(text: str) -> Any:
        step = ref_parse(text, error)
        if isinstance(step, RefAction):
            return action_cls(step.thought, step.tool, step.tool_input)
        return final_cls(step.thought, step.answer)

    monkeypatch.setattr(learner, "cut_step", ref_cut, raising=False)
    monkeypatch.setattr(learner, "parse_step", parse_step, raising=False)
    monkeypatch.setattr(learner, "run_tool", ref_run_tool, raising=False)
    monkeypatch.setattr(learner, "render_transcript", ref_render, raising=False)


def _show(record: Any) -> str:
    tool = getattr(record, "tool", None)
    if tool is None:
        return f"{getattr(record, 'kind', '?')}"
    return (
        f"{getattr(record, 'kind', '?')} {tool}({json.dumps(getattr(record, 'tool_input', None))})"
    )


def _replay(what: str, sc: Scenario, model: Scripted, box: ToolBox, trace: list[Any], result: Any):
    """The learner's trace against what happened: the model's inputs and outputs, the tool log."""
    if len(trace) != len(model.seen):
        fail(
            f"{what} called the model {len(model.seen)} times but its trace (result.steps) has "
            f"{len(trace)} records; expected one record per model call"
        )
    taken: list[tuple[Any, Any]] = []
    ran: list[tuple[str, dict[str, Any]]] = []
    fresh = ToolBox().tools
    for k, record in enumerate(trace):
        step = f"result.steps[{k}]"
        index = getattr(record, "index", "(missing)")
        if index != k + 1:
            fail(
                f"{what}: {step}.index is {fmt(index)}; expected {k + 1}, the model call it records"
            )
        shown = model.seen[k]
        if not isinstance(shown, str):
            fail(f"{what} called the model with {fmt(shown)[:200]}; expected the transcript text")
        want_shown = ref_render(sc.question, trace[:k])
        if shown != want_shown:
            clue = ""
            if shown.startswith(want_shown):
                clue = (
                    " (the model was shown more than the transcript: show it exactly "
                    "render_transcript(question, records))"
                )
            elif (
                k > 0
                and getattr(trace[k - 1], "observation", None) is not None
                and (f"Observation: {trace[k - 1].observation}" not in shown)
            ):
                clue = (
                    f" (the observation of step {k} never reached the model: append "
                    "'Observation: ...' to the transcript before the next call)"
                )
            fail(
                f"{what}: at model call {k + 1} the model was not shown what the trace up to "
                f"step {k} renders to (render_transcript(question, result.steps[:{k}])): "
                f"{text_difference(shown, want_shown, expected='the trace renders')}{clue}"
            )
        text = getattr(record, "text", "(missing)")
        wrote = model.wrote[k]
        if text != ref_cut(wrote):
            clue = ""
            if text == wrote or (isinstance(text, str) and "Observation:" in text):
                clue = (
                    ": the trace keeps the model's invented `Observation:` and what followed; "
                    "keep cut_step(text), so the model never reads its own invention back as fact"
                )
            fail(
                f"{what}: {step}.text is {fmt(text)[:300]}; expected cut_step of what the model "
                f"wrote at call {k + 1}: {fmt(ref_cut(wrote))[:300]}{clue}"
            )
        kind = getattr(record, "kind", "(missing)")
        try:
            parsed = ref_parse(text)
        except RefParseError as exc:
            want = {"kind": "parse_error", "observation": f"Error: {exc}"}
        else:
            if isinstance(parsed, RefFinal):
                want = {"kind": "final_answer", "thought": parsed.thought, "observation": None}
            else:
                key = (parsed.tool, parsed.tool_input)
                base = {
                    "thought": parsed.thought,
                    "tool": parsed.tool,
                    "tool_input": parsed.tool_input,
                }
                if kind == "repeated_action":
                    want = {"kind": "repeated_action", **base, "observation": None}
                    if key not in taken:
                        want["kind"] = "action"
                else:
                    want = {"kind": "action", **base, "observation": ref_run_tool(fresh, parsed)}
                    if parsed.tool in fresh:
                        ran.append(key)
                taken.append(key)
        for f, expected in want.items():
            got = getattr(record, f, "(missing)")
            if got == expected:
                continue
            clue = ""
            if f == "kind" and expected == "action" and kind == "repeated_action":
                clue = (
                    f": no earlier step ran {parsed.tool}({json.dumps(parsed.tool_input)}); a "
                    "repeat is the same tool with the same input"
                )
            elif f == "observation" and expected is None and kind == "repeated_action":
                clue = (
                    ": a repeated action does not run and gets no observation; the run stops "
                    "there with status 'loop_detected'"
                )
            elif f == "observation" and expected is None:
                clue = ": a final answer has no observation"
            elif f == "observation" and got is None and kind == "action":
                clue = (
                    f": every action runs and gets its observation, also the one at the last "
                    f"allowed step ({sc.max_steps})"
                )
            elif f == "observation" and kind == "parse_error":
                clue = ": a parse error's observation is 'Error: ' + the ParseError's message"
            fail(
                f"{what}: {step}.{f} is {fmt(got)[:300]}; expected {fmt(expected)[:300]} (the "
                f"model wrote {wrote!r} at call {k + 1}){clue}"
            )
    if box.calls != ran:
        repeats = [
            (r.tool, r.tool_input) for r in trace if getattr(r, "kind", None) == "repeated_action"
        ]
        if repeats and len(box.calls) == len(ran) + len(repeats) and box.calls[-1] in repeats:
            tool, tool_input = box.calls[-1]
            fail(
                f"{what}: the tools ran {len(box.calls)} times, the trace records only "
                f"{len(ran)} that ran: the repeated action "
                f"{tool}({json.dumps(tool_input)}) ran too; detect a repeat before running it"
            )
        fail(
            f"{what}: the tools were called as {box.calls}; the trace's actions are {ran}: "
            "run each action once, the tool the trace names with its tool_input"
        )
    transcript = getattr(result, "transcript", "(missing)")
    want_transcript = ref_render(sc.question, trace)
    if transcript != want_transcript:
        fail(
            f"{what}: result.transcript is not render_transcript(question, result.steps): "
            + (
                text_difference(transcript, want_transcript)
                if isinstance(transcript, str)
                else f"it is {fmt(transcript)[:200]}"
            )
        )


def _raw_input(text: str) -> str:
    return text.split("Action Input:", 1)[-1].strip()


RULES: dict[str, tuple[Callable[[Any, list[Any]], bool], str]] = {
    # a wrong rule: (is this record a repeat, given the earlier action records?) and what to say
    "compare the Action Input text": (
        lambda r, earlier: any(
            e.tool == r.tool and _raw_input(e.text) == _raw_input(r.text) for e in earlier
        ),
        "compare the parsed inputs as dicts: key order and spacing do not matter",
    ),
    "compare with the previous action only": (
        lambda r, earlier: (
            bool(earlier) and (earlier[-1].tool, earlier[-1].tool_input) == (r.tool, r.tool_input)
        ),
        "compare with every earlier action of the run, not only the last one",
    ),
    "remember only the actions that succeeded": (
        lambda r, earlier: any(
            (e.tool, e.tool_input) == (r.tool, r.tool_input)
            and not str(e.observation).startswith("Error:")
            for e in earlier
        ),
        "a failed action repeated will fail again: it is a loop too",
    ),
    "compare the thought too": (
        lambda r, earlier: any(
            (e.thought, e.tool, e.tool_input) == (r.thought, r.tool, r.tool_input) for e in earlier
        ),
        "a repeat is the same tool with the same input, whatever the thought says",
    ),
    "compare the tool name only": (
        lambda r, earlier: any(e.tool == r.tool for e in earlier),
        "a repeat is the same tool with the same input; a new input is a new action",
    ),
    "never detect a repeat": (
        lambda r, earlier: False,
        "an action identical to an earlier one stops the run (status 'loop_detected')",
    ),
}


def _which_rules(trace: list[Any]) -> list[str]:
    """The wrong detection rules that give exactly the learner's kinds on its own trace."""
    kinds = [getattr(r, "kind", None) for r in trace]
    records = [r for r in trace if getattr(r, "tool", None) is not None]
    matches: list[str] = []
    for name, (is_repeat, _) in RULES.items():
        earlier: list[Any] = []
        predicted = []
        for record in trace:
            kind = getattr(record, "kind", None)
            if kind not in ("action", "repeated_action"):
                predicted.append(kind)
                continue
            repeat = is_repeat(record, earlier)
            predicted.append("repeated_action" if repeat else "action")
            if not repeat:
                earlier.append(record)
        if predicted == kinds and records:
            matches.append(name)
    return matches


def _stops(what: str, sc: Scenario, trace: list[Any], result: Any, ref: Any, ref_calls: int):
    """The learner's run against the reference's: where it stopped and why."""
    status, answer, records = ref
    for k, (got, want) in enumerate(zip(trace, records, strict=False)):
        got_kind = getattr(got, "kind", None)
        if got_kind == want.kind:
            continue
        step = f"result.steps[{k}] (model call {k + 1})"
        if want.kind == "repeated_action" or got_kind == "repeated_action":
            first = next(
                (r for r in records[:k] if (r.tool, r.tool_input) == (want.tool, want.tool_input)),
                None,
            )
            rules = _which_rules(trace)
            if want.kind == "repeated_action" and first is not None:
                expected = (
                    f"expected repeated_action: it asks for {want.tool}"
                    f"({json.dumps(want.tool_input)}) again (step {first.index} ran it), so the "
                    "loop stops there with status 'loop_detected' and does not run it"
                )
            else:
                expected = (
                    f"expected {_show(want)}: no earlier step ran {want.tool}"
                    f"({json.dumps(want.tool_input)})"
                )
            fail(
                f"{what}: {step} is {_show(got)}; {expected}"
                + "".join(
                    f". Your trace is what a check that would {rule} gives: {RULES[rule][1]}"
                    for rule in rules
                )
            )
        fail(f"{what}: {step} is {_show(got)}; expected {_show(want)}")
    if len(trace) != len(records):
        last = records[-1] if len(trace) > len(records) else None
        clue = ""
        if len(trace) > len(records) and last is not None and last.kind == "final_answer":
            clue = f": the model gave its final answer at call {len(records)}; stop there"
        elif len(trace) > len(records) and last is not None and last.kind == "repeated_action":
            clue = f": call {len(records)} repeated an earlier action; stop there"
        elif status == "max_steps" and len(trace) == sc.max_steps + 1:
            clue = f": one call too many, the budget is max_steps={sc.max_steps} model calls"
        elif status == "max_steps" and len(trace) == sc.max_steps - 1:
            clue = (
                f": one call too few, the budget is max_steps={sc.max_steps} model calls, "
                "whatever each step is (a parse error counts too)"
            )
        elif len(trace) < len(records):
            stopped = trace[-1] if trace else None
            clue = (
                f": it stopped after a {getattr(stopped, 'kind', '?')} step; only a final "
                "answer, a repeated action or the budget stop the loop"
            )
            if getattr(stopped, "kind", None) == "parse_error":
                clue += " (a parse error is fed back as an observation, and the loop goes on)"
        times = "time" if len(trace) == 1 else "times"
        fail(f"{what} called the model {len(trace)} {times}; expected {ref_calls}{clue}")
    got = {
        "status": getattr(result, "status", "(missing)"),
        "answer": getattr(result, "answer", "(missing)"),
    }
    want = {"status": status, "answer": answer}
    if got != want:
        clue = ""
        if status == "answered" and got["status"] == "max_steps":
            clue = ": an answer at the last allowed call is still an answer"
        elif status == "loop_detected" and got["status"] == "max_steps":
            clue = ": the repeat came at the last allowed call; it is still a repeat"
        elif status == "answered" and isinstance(got["answer"], str) and "Thought" in got["answer"]:
            clue = ": the answer is the text after `Final Answer:`, not the whole step"
        fail(
            f"{what} returned status={got['status']!r}, answer={got['answer']!r}; expected "
            f"status={status!r}, answer={answer!r}{clue}"
        )


def _run_scenario(learner, monkeypatch, title: str) -> None:
    sc = SCENARIOS[title]
    _swap_in_reference(learner, monkeypatch)
    cap = sc.max_steps + 5
    ref_model, ref_box = Scripted(sc.policy, cap), ToolBox()
    ref = ref_run(ref_model, ref_box.tools, sc.question, sc.max_steps)
    model, box = Scripted(sc.policy, cap), ToolBox()
    what = (
        f"run_react(model, tools, {sc.question!r}, max_steps={sc.max_steps}) with the model "
        f"'{title}' ({sc.about})"
    )
    try:
        result = learner.run_react(model, box.tools, sc.question, max_steps=sc.max_steps)
    except NotImplementedError:
        raise
    except Runaway:
        fail(
            f"{what} called the model {cap} times and kept going: the budget is max_steps="
            f"{sc.max_steps} model calls, whatever each step turns out to be"
        )
    except Exception as exc:
        fail(
            f"{what} raised {type(exc).__name__}: {str(exc)[:200]}: nothing the model writes or "
            "a tool does may end the loop with an exception; turn it into an observation"
        )
    if result is None:
        fail(f"{what} is None: did you forget to `return` a ReactResult?")
    trace = getattr(result, "steps", None)
    if not isinstance(trace, list):
        fail(f"{what}.steps is {fmt(trace)[:200]}; expected the trace, a list of StepRecord")
    _replay(what, sc, model, box, trace, result)
    _stops(what, sc, trace, result, ref, len(ref_model.seen))


@pytest.mark.task(3)
def test_loop_feeds_observations_back(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "three hops")


@pytest.mark.task(3)
def test_loop_ignores_invented_observations(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "invents observations")


@pytest.mark.task(3)
def test_loop_feeds_parse_errors_back(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "corrects itself")


@pytest.mark.task(3)
def test_loop_survives_failing_tools(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "failing tools")


@pytest.mark.task(3)
def test_loop_stops_at_the_budget(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "never answers")
    _run_scenario(learner, monkeypatch, "one step")


@pytest.mark.task(3)
def test_loop_counts_malformed_steps_towards_the_budget(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "always malformed")


@pytest.mark.task(3)
def test_loop_answer_on_the_last_allowed_step(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "answers at the last step")


@pytest.mark.task(3)
def test_loop_new_inputs_are_not_a_repeat(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "same tool, new inputs")


@pytest.mark.task(3)
def test_loop_detects_a_repeat_written_differently(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "repeats, spelled differently")


@pytest.mark.task(3)
def test_loop_detects_a_repeat_of_any_earlier_action(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "comes back to an action")
    _run_scenario(learner, monkeypatch, "repeats at the last call")


@pytest.mark.task(3)
def test_loop_detects_a_retried_failing_call(learner, monkeypatch) -> None:
    _run_scenario(learner, monkeypatch, "retries a failing call")
