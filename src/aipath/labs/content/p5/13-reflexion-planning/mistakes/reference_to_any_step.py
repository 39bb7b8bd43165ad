# expect: must name one of the step's own deps
# mistake: a `$x` is accepted when x is any step of the plan, not a dep.
"""Plan-and-execute and Reflexion: one learner answer."""

from __future__ import annotations

import copy
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
def _is_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$")


def _find_cycle(plan: list[Step]) -> list[str] | None:
    """A cycle [a, b, ..., a] where each step depends on the next, or None (depth-first)."""
    deps = {step.id: step.deps for step in plan}
    state: dict[str, str] = {}  # "open" while on the path, "closed" once fully explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for dep in deps[node]:
            if state.get(dep) == "open":
                return [*path[path.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = "closed"
        return None

    for step in plan:
        if step.id not in state:
            found = visit(step.id)
            if found:
                return found
    return None


def validate_plan(plan: list[Step], tools: Tools | None = None) -> None:
    """Raise PlanError at the first broken rule (see the README for the order)."""
    ids: set[str] = set()
    for step in plan:
        if step.id in ids:
            raise PlanError("duplicate_id", f"two steps have the id {step.id!r}", [step.id])
        ids.add(step.id)
    if tools is not None:
        for step in plan:
            if step.tool not in tools:
                raise PlanError(
                    "unknown_tool",
                    f"step {step.id!r} uses the tool {step.tool!r}; the tools are: "
                    f"{', '.join(sorted(tools))}",
                    [step.id, step.tool],
                )
    for step in plan:
        for dep in step.deps:
            if dep not in ids:
                raise PlanError(
                    "unknown_dependency",
                    f"step {step.id!r} depends on {dep!r}, which is not a step of the plan",
                    [step.id, dep],
                )
    for step in plan:
        for value in step.args.values():
            if _is_reference(value) and value[1:] not in ids:
                raise PlanError(
                    "undeclared_reference",
                    f"step {step.id!r} uses {value!r} but does not depend on {value[1:]!r}",
                    [step.id, value[1:]],
                )
    cycle = _find_cycle(plan)
    if cycle is not None:
        raise PlanError(
            "cycle", f"the steps depend on each other in a circle: {' -> '.join(cycle)}", cycle
        )


def execution_order(plan: list[Step]) -> list[str]:
    """The step ids in the order they run: a ready step that comes first in the plan goes first."""
    validate_plan(plan)
    placed: list[str] = []
    done: set[str] = set()
    waiting = list(plan)
    while waiting:
        ready = next(step for step in waiting if all(dep in done for dep in step.deps))
        placed.append(ready.id)
        done.add(ready.id)
        waiting.remove(ready)
    return placed


# ----- task 2: run a plan -----------------------------------------------------------------------
def resolve_args(step: Step, results: dict[str, Any]) -> dict[str, Any]:
    """The step's arguments with every ``"$id"`` replaced by that step's result (a new dict)."""
    return {
        name: results[value[1:]] if _is_reference(value) else value
        for name, value in step.args.items()
    }


def execute(
    plan: list[Step],
    tools: Tools,
    budget: Budget,
    *,
    step_retries: int = 1,
    completed: dict[str, Any] | None = None,
) -> Run:
    """Run every step in execution order, with retries, skips and the episode's budget."""
    validate_plan(plan, tools)
    completed = completed or {}
    by_id = {step.id: step for step in plan}
    run = Run("succeeded")
    stopped = False
    for sid in execution_order(plan):
        step = by_id[sid]
        if sid in completed:
            run.steps[sid] = StepOutcome("done", 0, completed[sid])
            run.results[sid] = completed[sid]
            continue
        if stopped:
            run.steps[sid] = StepOutcome("not_run")
            continue
        if any(run.steps[dep].status != "done" for dep in step.deps):
            run.steps[sid] = StepOutcome("skipped")
            continue
        if budget.tool_calls == 0:
            stopped = True
            run.steps[sid] = StepOutcome("not_run")
            continue
        args = resolve_args(step, run.results)
        attempts = 0
        while True:
            budget.tool_calls -= 1
            attempts += 1
            try:
                result = tools[step.tool](**args)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                run.calls.append(ToolCall(sid, attempts, step.tool, dict(args), False, error))
                if attempts <= step_retries and budget.retries > 0:
                    if budget.tool_calls > 0:
                        budget.retries -= 1
                        continue
                    stopped = True
                run.steps[sid] = StepOutcome("failed", attempts, None, error)
                break
            run.calls.append(ToolCall(sid, attempts, step.tool, dict(args), True, result))
            run.steps[sid] = StepOutcome("done", attempts, result)
            run.results[sid] = result
            break
    if stopped:
        run.status = "out_of_budget"
    elif any(outcome.status != "done" for outcome in run.steps.values()):
        run.status = "failed"
    return run


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
    """Execute; after a failed run ask the planner for a repair, keep what is done, run again."""
    episode = Episode("failed")
    current = list(plan)
    completed: dict[str, Any] = {}
    while True:
        run = execute(current, tools, budget, step_retries=step_retries, completed=completed)
        episode.plans.append(current)
        episode.runs.append(run)
        completed = dict(run.results)
        episode.results = completed
        if run.status != "failed":
            episode.status = run.status
            return episode
        if len(episode.runs) > max_replans:
            return episode
        failures = {sid: o.error or "" for sid, o in run.steps.items() if o.status == "failed"}
        repair = planner(list(current), failures, dict(completed))
        if not repair:
            return episode
        new_plan = [step for step in current if step.id in completed] + list(repair)
        try:
            validate_plan(new_plan, tools)
        except PlanError as exc:
            episode.status = "bad_repair"
            episode.error = exc
            return episode
        current = new_plan


# ----- task 4: the evaluator and the actor's prompt ---------------------------------------------
def run_tests(source: str, func_name: str, cases: list[Case]) -> TestReport:
    """Define the attempt in a fresh namespace and run every hidden test on it."""
    total = len(cases)
    try:
        code = compile(source, "<attempt>", "exec")
    except SyntaxError as exc:
        return TestReport(0, total, [f"SyntaxError: {exc.msg} (line {exc.lineno})"])
    namespace: dict[str, Any] = {}
    try:
        exec(code, namespace)
    except Exception as exc:
        return TestReport(0, total, [f"defining the code raised {type(exc).__name__}: {exc}"])
    func = namespace.get(func_name)
    if not callable(func):
        return TestReport(0, total, [f"no function named {func_name!r}"])
    failures = []
    for case in cases:
        call = f"{func_name}({', '.join(repr(arg) for arg in case.args)})"
        try:
            got = func(*copy.deepcopy(case.args))
        except Exception as exc:
            failures.append(f"{call} raised {type(exc).__name__}: {exc}")
            continue
        if got != case.expected:
            failures.append(f"{call} returned {got!r}; expected {case.expected!r}")
    return TestReport(total - len(failures), total, failures)


def render_prompt(task: CodeTask, lessons: list[str]) -> str:
    """What the actor reads: the task, the function's name, then the lessons, if any."""
    lines = [f"Task: {task.prompt}", f"Write a Python function named {task.func_name}."]
    if lessons:
        lines.append("Lessons from earlier attempts:")
        lines.extend(f"- {lesson}" for lesson in lessons)
    return "\n".join(lines) + "\n"


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
    """Attempt, test, reflect, remember; the next attempt reads the latest lessons."""
    run = ReflexionRun("gave_up")
    for number in range(1, max_trials + 1):
        shown = run.memory[max(0, len(run.memory) - memory_size) :] if use_memory else []
        prompt = render_prompt(task, shown)
        cost = count_tokens(prompt)
        if max_tokens is not None and run.tokens + cost > max_tokens:
            run.status = "out_of_tokens"
            return run
        run.tokens += cost
        source = actor(prompt)
        report = run_tests(source, task.func_name, task.cases)
        if report.passed == report.total:
            run.trials.append(Trial(number, prompt, source, report))
            run.status = "solved"
            return run
        lesson = reflector(task.prompt, source, list(report.failures))
        run.memory.append(lesson)
        run.trials.append(Trial(number, prompt, source, report, lesson))
    return run


def solve_rates(
    tasks: list[CodeTask],
    actor: Actor,
    reflector: Reflector,
    *,
    max_trials: int = 4,
    memory_size: int = 2,
) -> dict[str, list[float]]:
    """The fraction of tasks solved within k trials, k = 1..max_trials, with and without memory."""
    rates: dict[str, list[float]] = {}
    for name, use_memory in (("with_memory", True), ("without_memory", False)):
        runs = [
            reflexion(
                task,
                actor,
                reflector,
                max_trials=max_trials,
                memory_size=memory_size,
                use_memory=use_memory,
            )
            for task in tasks
        ]
        rates[name] = [
            sum(run.status == "solved" and len(run.trials) <= k for run in runs) / len(tasks)
            for k in range(1, max_trials + 1)
        ]
    return rates
