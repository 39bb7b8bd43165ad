"""Plan-and-execute and Reflexion: graphlib for cycles and order, recursion for skips, accumulate for the rates."""

from __future__ import annotations

import copy
import graphlib
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
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


# ----- task 1 -----------------------------------------------------------------------------------
def _sorter(plan: list[Step]) -> graphlib.TopologicalSorter[str]:
    return graphlib.TopologicalSorter({step.id: step.deps for step in plan})


def validate_plan(plan: list[Step], tools: Tools | None = None) -> None:
    counts: dict[str, int] = {}
    for step in plan:
        counts[step.id] = counts.get(step.id, 0) + 1
        if counts[step.id] == 2:
            raise PlanError("duplicate_id", f"{step.id!r} appears twice", [step.id])
    checks: list[tuple[str, list[str], str]] = []
    if tools is not None:
        checks += [
            (
                "unknown_tool",
                [s.id, s.tool],
                f"{s.id!r}: unknown tool {s.tool!r}; tools: {list(tools)}",
            )
            for s in plan
            if s.tool not in tools
        ]
    checks += [
        ("unknown_dependency", [s.id, d], f"{s.id!r} depends on a missing step {d!r}")
        for s in plan
        for d in s.deps
        if d not in counts
    ]
    checks += [
        ("undeclared_reference", [s.id, v[1:]], f"{s.id!r} reads {v!r} but {v[1:]!r} is no dep")
        for s in plan
        for v in s.args.values()
        if isinstance(v, str) and v.startswith("$") and v[1:] not in s.deps
    ]
    if checks:
        kind, where, message = checks[0]
        raise PlanError(kind, message, where)
    try:
        _sorter(plan).prepare()
    except graphlib.CycleError as exc:
        cycle = list(reversed(exc.args[1]))  # graphlib lists each node before its dependant
        raise PlanError("cycle", "a cycle: " + " -> ".join(cycle), cycle) from None


def execution_order(plan: list[Step]) -> list[str]:
    validate_plan(plan)
    position = {step.id: i for i, step in enumerate(plan)}
    sorter = _sorter(plan)
    sorter.prepare()
    pool = [(position[sid], sid) for sid in sorter.get_ready()]
    heapq.heapify(pool)
    order = []
    while pool:
        _, sid = heapq.heappop(pool)
        order.append(sid)
        sorter.done(sid)
        for nxt in sorter.get_ready():
            heapq.heappush(pool, (position[nxt], nxt))
    return order


# ----- task 2 -----------------------------------------------------------------------------------
def resolve_args(step: Step, results: dict[str, Any]) -> dict[str, Any]:
    def one(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("$"):
            return results[value.removeprefix("$")]
        return value

    return {name: one(value) for name, value in step.args.items()}


def execute(
    plan: list[Step],
    tools: Tools,
    budget: Budget,
    *,
    step_retries: int = 1,
    completed: dict[str, Any] | None = None,
) -> Run:
    validate_plan(plan, tools)
    known = completed if completed is not None else {}
    steps = {step.id: step for step in plan}
    run = Run("succeeded")
    out_of_calls = False

    def attempt(step: Step, args: dict[str, Any], number: int) -> StepOutcome:
        nonlocal out_of_calls
        budget.tool_calls -= 1
        try:
            value = tools[step.tool](**args)
        except Exception as exc:
            text = f"{type(exc).__name__}: {exc}"
            run.calls.append(ToolCall(step.id, number, step.tool, dict(args), False, text))
            if number > step_retries or budget.retries == 0:
                return StepOutcome("failed", number, None, text)
            if budget.tool_calls == 0:
                out_of_calls = True
                return StepOutcome("failed", number, None, text)
            budget.retries -= 1
            return attempt(step, args, number + 1)
        run.calls.append(ToolCall(step.id, number, step.tool, dict(args), True, value))
        return StepOutcome("done", number, value)

    for sid in execution_order(plan):
        step = steps[sid]
        if sid in known:
            outcome = StepOutcome("done", 0, known[sid])
        elif out_of_calls:
            outcome = StepOutcome("not_run")
        elif {run.steps[d].status for d in step.deps} - {"done"}:
            outcome = StepOutcome("skipped")
        elif budget.tool_calls == 0:
            out_of_calls = True
            outcome = StepOutcome("not_run")
        else:
            outcome = attempt(step, resolve_args(step, run.results), 1)
        run.steps[sid] = outcome
        if outcome.status == "done":
            run.results[sid] = outcome.result
    if out_of_calls:
        run.status = "out_of_budget"
    elif len(run.results) < len(plan):
        run.status = "failed"
    return run


# ----- task 3 -----------------------------------------------------------------------------------
def plan_and_execute(
    plan: list[Step],
    tools: Tools,
    planner: Planner,
    budget: Budget,
    *,
    max_replans: int = 2,
    step_retries: int = 1,
) -> Episode:
    def go(current: list[Step], done: dict[str, Any], left: int, episode: Episode) -> Episode:
        run = execute(current, tools, budget, step_retries=step_retries, completed=done)
        episode.plans.append(current)
        episode.runs.append(run)
        episode.results = dict(run.results)
        if run.status != "failed":
            episode.status = run.status
            return episode
        if left == 0:
            return episode
        failures = {k: o.error for k, o in run.steps.items() if o.status == "failed"}
        repair = planner(list(current), failures, dict(run.results))  # type: ignore[arg-type]
        if not repair:
            return episode
        following = [s for s in current if s.id in run.results] + list(repair)
        try:
            validate_plan(following, tools)
        except PlanError as exc:
            episode.status = "bad_repair"
            episode.error = exc
            return episode
        return go(following, dict(run.results), left - 1, episode)

    return go(list(plan), {}, max_replans, Episode("failed"))


# ----- task 4 -----------------------------------------------------------------------------------
def run_tests(source: str, func_name: str, cases: list[Case]) -> TestReport:
    total = len(cases)
    try:
        code = compile(source, "<attempt>", "exec")
    except SyntaxError as exc:
        return TestReport(0, total, [f"SyntaxError: {exc.msg} (line {exc.lineno})"])
    env: dict[str, Any] = {}
    try:
        exec(code, env)
    except Exception as exc:
        return TestReport(0, total, [f"defining the code raised {type(exc).__name__}: {exc}"])
    func = env.get(func_name)
    if not callable(func):
        return TestReport(0, total, [f"no function named {func_name!r}"])

    def verdict(case: Case) -> str | None:
        call = f"{func_name}({', '.join(map(repr, case.args))})"
        try:
            got = func(*copy.deepcopy(case.args))
        except Exception as exc:
            return f"{call} raised {type(exc).__name__}: {exc}"
        return (
            None if got == case.expected else f"{call} returned {got!r}; expected {case.expected!r}"
        )

    failures = [line for line in map(verdict, cases) if line is not None]
    return TestReport(total - len(failures), total, failures)


def render_prompt(task: CodeTask, lessons: list[str]) -> str:
    lines = [f"Task: {task.prompt}", f"Write a Python function named {task.func_name}."]
    lines += ["Lessons from earlier attempts:", *(f"- {x}" for x in lessons)] if lessons else []
    return "".join(line + "\n" for line in lines)


# ----- task 5 -----------------------------------------------------------------------------------
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
    run = ReflexionRun("gave_up")
    budget = float("inf") if max_tokens is None else max_tokens
    for number in range(1, max_trials + 1):
        keep = min(memory_size, len(run.memory)) if use_memory else 0
        prompt = render_prompt(task, run.memory[len(run.memory) - keep :] if keep else [])
        if run.tokens + count_tokens(prompt) > budget:
            run.status = "out_of_tokens"
            break
        run.tokens += count_tokens(prompt)
        source = actor(prompt)
        report = run_tests(source, task.func_name, task.cases)
        solved = report.passed == report.total
        lesson = None if solved else reflector(task.prompt, source, report.failures)
        if lesson is not None:
            run.memory.append(lesson)
        run.trials.append(Trial(number, prompt, source, report, lesson))
        if solved:
            run.status = "solved"
            break
    return run


def solve_rates(
    tasks: list[CodeTask],
    actor: Actor,
    reflector: Reflector,
    *,
    max_trials: int = 4,
    memory_size: int = 2,
) -> dict[str, list[float]]:
    rates = {}
    for name, use in {"with_memory": True, "without_memory": False}.items():
        first_solved = [0] * (max_trials + 1)
        for task in tasks:
            run = reflexion(
                task,
                actor,
                reflector,
                max_trials=max_trials,
                memory_size=memory_size,
                use_memory=use,
            )
            if run.status == "solved":
                first_solved[len(run.trials)] += 1
        rates[name] = [n / len(tasks) for n in accumulate(first_solved[1:])]
    return rates
