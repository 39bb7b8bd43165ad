"""Plan-and-execute and Reflexion: the file you edit.

Read README.md first. Part one runs a *plan*, a list of ``Step``s that depend on each other::

    plan = [
        Step("north", "load", {"source": "north"}),
        Step("total", "total", {"values": "$north"}, deps=("north",)),
    ]
    run = execute(plan, tools, Budget(tool_calls=10, retries=2))
    run.status, run.results["total"]        # ('succeeded', 6)

Part two lets an *actor* (``actor(prompt) -> source code``) try a coding task several times:
hidden tests judge each attempt, a *reflector* turns the failures into a lesson, and the next
prompt carries the latest lessons. The checks supply the tools, planners, actors and reflectors;
all of them are scripted, so every run is the same twice.
"""

from __future__ import annotations

import copy  # noqa: F401  (task 4)
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Tools = dict[str, Callable[..., Any]]


# ----- given: do not change ---------------------------------------------------------------------
class PlanError(Exception):
    """A plan that cannot run: ``kind`` names the fault, ``where`` the steps (and names) involved.

    >>> error = PlanError("unknown_dependency", "step 'b' depends on 'x'", ["b", "x"])
    >>> error.kind, error.where, str(error)
    ('unknown_dependency', ['b', 'x'], "step 'b' depends on 'x'")
    """

    def __init__(self, kind: str, message: str, where: list[str]) -> None:
        super().__init__(message)
        self.kind = kind
        self.where = where


@dataclass
class Step:
    """One step of a plan: call ``tool`` with ``args`` once every step in ``deps`` is done.

    An argument written ``"$<id>"`` stands for the result of step ``<id>`` (one of ``deps``).
    """

    id: str
    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    deps: tuple[str, ...] = ()


@dataclass
class Budget:
    """What an episode may still spend; ``execute`` spends from it in place."""

    tool_calls: int
    retries: int


@dataclass
class ToolCall:
    """One tool call of a run: the step, its attempt (1, 2, ...), the resolved args, the outcome
    (``output`` is the result, or the error text when ``ok`` is False)."""

    step: str
    attempt: int
    tool: str
    args: dict[str, Any]
    ok: bool
    output: Any


@dataclass
class StepOutcome:
    """What became of one step in a run."""

    status: Literal["done", "failed", "skipped", "not_run"]
    attempts: int = 0
    result: Any = None
    error: str | None = None


@dataclass
class Run:
    """One ``execute``: its status, every step's outcome (keyed by id, in execution order), the
    results of the done steps, and every tool call in the order made."""

    status: Literal["succeeded", "failed", "out_of_budget"]
    steps: dict[str, StepOutcome] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    calls: list[ToolCall] = field(default_factory=list)


Planner = Callable[[list[Step], dict[str, str], dict[str, Any]], list[Step]]


@dataclass
class Episode:
    """``plan_and_execute``: how it ended, the results, and the plan and run of every round."""

    status: Literal["succeeded", "failed", "out_of_budget", "bad_repair"]
    results: dict[str, Any] = field(default_factory=dict)
    plans: list[list[Step]] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    error: PlanError | None = None


@dataclass
class Case:
    """One hidden unit test: ``func(*args) == expected``."""

    args: tuple[Any, ...]
    expected: Any


@dataclass
class CodeTask:
    """A small coding task: what the actor is asked, the function's name, the hidden tests."""

    name: str
    prompt: str
    func_name: str
    cases: list[Case]


@dataclass
class TestReport:
    """The hidden tests' verdict on one attempt."""

    passed: int
    total: int
    failures: list[str] = field(default_factory=list)


@dataclass
class Trial:
    """One attempt of a Reflexion run: what the actor read and wrote, the verdict, the lesson."""

    number: int
    prompt: str
    source: str
    report: TestReport
    lesson: str | None = None


@dataclass
class ReflexionRun:
    """``reflexion``: how it ended, every trial, every lesson (oldest first), prompt tokens."""

    status: Literal["solved", "gave_up", "out_of_tokens"]
    trials: list[Trial] = field(default_factory=list)
    memory: list[str] = field(default_factory=list)
    tokens: int = 0


Actor = Callable[[str], str]
Reflector = Callable[[str, str, list[str]], str]


def count_tokens(text: str) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word.

    >>> count_tokens("Task: add two numbers.\\n")
    4
    """
    return len(text.split())


# ----- task 1: a plan is a graph ----------------------------------------------------------------
def validate_plan(plan: list[Step], tools: Tools | None = None) -> None:
    """Return None for a plan that can run; otherwise raise ``PlanError(kind, message, where)``
    at the first broken rule, in the README's order: ``duplicate_id``, ``unknown_tool`` (only
    when ``tools`` is given), ``unknown_dependency``, ``undeclared_reference``, ``cycle``.

    >>> validate_plan([Step("a", "load", deps=("b",)), Step("b", "load", deps=("a",))])
    Traceback (most recent call last):
    PlanError: the steps depend on each other in a circle: a -> b -> a

    That error's ``kind`` is ``"cycle"`` and its ``where`` is ``["a", "b", "a"]``: each step
    in it depends on the next one.
    """
    raise NotImplementedError  # TODO


def execution_order(plan: list[Step]) -> list[str]:
    """Every step id once, each after all of its deps; among the steps that are ready, the one
    that comes first in the plan goes first. Validates the plan first (``validate_plan(plan)``).

    >>> execution_order([Step("c", "total", deps=("a",)), Step("b", "load"), Step("a", "load")])
    ['b', 'a', 'c']
    """
    raise NotImplementedError  # TODO


# ----- task 2: run a plan -----------------------------------------------------------------------
def resolve_args(step: Step, results: dict[str, Any]) -> dict[str, Any]:
    """The step's arguments with each ``"$id"`` value replaced by ``results[id]``; a new dict
    (the step itself stays as it was).

    >>> resolve_args(Step("t", "total", {"values": "$n", "label": "n"}, ("n",)), {"n": [1, 2]})
    {'values': [1, 2], 'label': 'n'}
    """
    raise NotImplementedError  # TODO


def execute(
    plan: list[Step],
    tools: Tools,
    budget: Budget,
    *,
    step_retries: int = 1,
    completed: dict[str, Any] | None = None,
) -> Run:
    """Validate the plan (``validate_plan(plan, tools)``), then take the steps in
    ``execution_order``: a step in ``completed`` is done already; a step with a dependency that
    is not done is skipped; any other step calls ``tools[step.tool](**resolve_args(...))``,
    retrying a failure while the step and the episode have retries left. ``budget`` is spent in
    place; the run stops when it needs a tool call and has none left. The README has the rules.

    >>> run = execute(plan, tools, Budget(tool_calls=10, retries=2))
    >>> run.status, {sid: o.status for sid, o in run.steps.items()}
    ('failed', {'north': 'done', 'south': 'failed', 'total': 'skipped'})
    """
    raise NotImplementedError  # TODO


# ----- task 3: replan around a failure ----------------------------------------------------------
def plan_and_execute(
    plan: list[Step],
    tools: Tools,
    planner: Planner,
    budget: Budget,
    *,
    max_replans: int = 2,
    step_retries: int = 1,
) -> Episode:
    """Execute the plan; after a failed run, ask ``planner(plan, failures, results)`` for steps
    that replace everything not done, run the repaired plan without re-running what is done, at
    most ``max_replans`` times. One ``budget`` for the whole episode.

    >>> episode = plan_and_execute(plan, tools, planner, Budget(tool_calls=20, retries=2))
    >>> episode.status, len(episode.runs)
    ('succeeded', 2)
    """
    raise NotImplementedError  # TODO


# ----- task 4: the evaluator and the actor's prompt ---------------------------------------------
def run_tests(source: str, func_name: str, cases: list[Case]) -> TestReport:
    """Define ``source`` in a fresh namespace and call ``func_name`` on every case (a deep copy
    of its args). One failure line per failed case, or one line when the code cannot be used at
    all; the README gives the exact wording.

    >>> run_tests("def add(a, b):\n    return a - b\n", "add", [Case((2, 2), 4), Case((1, 0), 1)])
    TestReport(passed=1, total=2, failures=['add(2, 2) returned 0; expected 4'])
    """
    raise NotImplementedError  # TODO


def render_prompt(task: CodeTask, lessons: list[str]) -> str:
    """The actor's prompt: ``Task: ...``, ``Write a Python function named ...``, then, when
    there are lessons, a header line and one ``- lesson`` line each; every line ends in a newline.

    >>> render_prompt(CodeTask("add", "Add two numbers.", "add", []), ["return a + b, not a - b"])
    'Task: Add two numbers.\nWrite a Python function named add.\nLessons from earlier attempts:\n- return a + b, not a - b\n'
    """
    raise NotImplementedError  # TODO


# ----- task 5: Reflexion ------------------------------------------------------------------------
def reflexion(
    task: CodeTask,
    actor: Actor,
    reflector: Reflector,
    *,
    max_trials: int = 4,
    memory_size: int = 2,
    use_memory: bool = True,
    max_tokens: int | None = None,
) -> ReflexionRun:
    """Up to ``max_trials`` attempts: prompt with the latest ``memory_size`` lessons (none when
    ``use_memory`` is False), the actor writes code, the hidden tests judge it; stop when it
    passes, otherwise ``reflector(task.prompt, source, failures)`` writes a lesson into memory.
    A trial whose prompt would take the prompt tokens past ``max_tokens`` is not made.

    >>> run = reflexion(task, actor, reflector, max_trials=4, memory_size=2)
    >>> run.status, len(run.trials), len(run.memory)
    ('solved', 3, 2)
    """
    raise NotImplementedError  # TODO


def solve_rates(
    tasks: list[CodeTask],
    actor: Actor,
    reflector: Reflector,
    *,
    max_trials: int = 4,
    memory_size: int = 2,
) -> dict[str, list[float]]:
    """``{"with_memory": [...], "without_memory": [...]}``: for k = 1..max_trials, the fraction
    of ``tasks`` that ``reflexion`` solved within k trials.

    >>> solve_rates(tasks, actor, reflector, max_trials=3)
    {'with_memory': [0.25, 0.75, 1.0], 'without_memory': [0.25, 0.25, 0.25]}
    """
    raise NotImplementedError  # TODO
