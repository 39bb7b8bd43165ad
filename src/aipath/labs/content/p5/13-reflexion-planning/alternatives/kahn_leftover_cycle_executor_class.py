"""Plan-and-execute and Reflexion: cycles from what Kahn leaves over, a scanning order, a step state machine."""

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


# ----- task 1 -----------------------------------------------------------------------------------
def _leftover_cycle(plan: list[Step]) -> list[str] | None:
    """Peel off steps whose deps are all peeled; what is left contains a cycle: walk it."""
    left = {s.id: set(s.deps) for s in plan}
    changed = True
    while changed:
        changed = False
        for sid in list(left):
            if not (left[sid] & set(left)):
                del left[sid]
                changed = True
    if not left:
        return None
    # every step left has a dep that is left: walk until a step repeats
    order = [s.id for s in plan if s.id in left]
    walk = [order[0]]
    while True:
        here = walk[-1]
        nxt = next(d for s in plan if s.id == here for d in s.deps if d in left)
        if nxt in walk:
            return [*walk[walk.index(nxt) :], nxt]
        walk.append(nxt)


def validate_plan(plan: list[Step], tools: Tools | None = None) -> None:
    ids = [s.id for s in plan]
    for i, sid in enumerate(ids):
        if sid in ids[:i]:
            raise PlanError("duplicate_id", f"the id {sid!r} is used twice", [sid])
    if tools is not None:
        unknown = [s for s in plan if s.tool not in tools]
        if unknown:
            s = unknown[0]
            raise PlanError(
                "unknown_tool",
                f"{s.id!r} calls {s.tool!r}, not one of {', '.join(tools)}",
                [s.id, s.tool],
            )
    for s in plan:
        for d in s.deps:
            if d not in ids:
                raise PlanError(
                    "unknown_dependency", f"{s.id!r} waits for {d!r}: no such step", [s.id, d]
                )
    for s in plan:
        for value in s.args.values():
            if type(value) is str and value.startswith("$"):
                name = value.removeprefix("$")
                if name not in s.deps:
                    raise PlanError(
                        "undeclared_reference",
                        f"{s.id!r} reads {name!r} without depending on it",
                        [s.id, name],
                    )
    cycle = _leftover_cycle(plan)
    if cycle is not None:
        raise PlanError("cycle", "circular deps: " + " -> ".join(cycle), cycle)


def execution_order(plan: list[Step]) -> list[str]:
    validate_plan(plan)
    order: list[str] = []
    while len(order) < len(plan):
        for s in plan:
            if s.id not in order and set(s.deps) <= set(order):
                order.append(s.id)
                break
    return order


# ----- task 2 -----------------------------------------------------------------------------------
def resolve_args(step: Step, results: dict[str, Any]) -> dict[str, Any]:
    resolved = {}
    for key in step.args:
        value = step.args[key]
        is_ref = isinstance(value, str) and len(value) > 0 and value[0] == "$"
        resolved[key] = results[value[1:]] if is_ref else value
    return resolved


class _Executor:
    def __init__(
        self,
        plan: list[Step],
        tools: Tools,
        budget: Budget,
        step_retries: int,
        completed: dict[str, Any],
    ) -> None:
        self.plan = {s.id: s for s in plan}
        self.tools = tools
        self.budget = budget
        self.step_retries = step_retries
        self.completed = completed
        self.run = Run("succeeded")
        self.stopped = False

    def status_of(self, sid: str) -> str:
        return self.run.steps[sid].status

    def one(self, sid: str) -> StepOutcome:
        step = self.plan[sid]
        if sid in self.completed:
            self.run.results[sid] = self.completed[sid]
            return StepOutcome("done", 0, self.completed[sid])
        if self.stopped:
            return StepOutcome("not_run")
        if any(self.status_of(d) != "done" for d in step.deps):
            return StepOutcome("skipped")
        if not self.budget.tool_calls:
            self.stopped = True
            return StepOutcome("not_run")
        args = resolve_args(step, self.run.results)
        attempt = 1
        while True:
            self.budget.tool_calls -= 1
            try:
                result = self.tools[step.tool](**args)
            except Exception as exc:
                text = type(exc).__name__ + ": " + str(exc)
                self.run.calls.append(ToolCall(sid, attempt, step.tool, dict(args), False, text))
                retries_left = self.step_retries - (attempt - 1)
                if retries_left > 0 and self.budget.retries > 0:
                    if self.budget.tool_calls == 0:
                        self.stopped = True
                        return StepOutcome("failed", attempt, None, text)
                    self.budget.retries -= 1
                    attempt += 1
                    continue
                return StepOutcome("failed", attempt, None, text)
            self.run.calls.append(ToolCall(sid, attempt, step.tool, dict(args), True, result))
            self.run.results[sid] = result
            return StepOutcome("done", attempt, result)

    def all(self, order: list[str]) -> Run:
        for sid in order:
            self.run.steps[sid] = self.one(sid)
        statuses = {o.status for o in self.run.steps.values()}
        if self.stopped:
            self.run.status = "out_of_budget"
        elif statuses - {"done"}:
            self.run.status = "failed"
        return self.run


def execute(
    plan: list[Step],
    tools: Tools,
    budget: Budget,
    *,
    step_retries: int = 1,
    completed: dict[str, Any] | None = None,
) -> Run:
    validate_plan(plan, tools)
    executor = _Executor(plan, tools, budget, step_retries, completed or {})
    return executor.all(execution_order(plan))


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
    episode = Episode("failed")
    current = plan[:]
    repairs = 0
    while True:
        run = execute(
            current, tools, budget, step_retries=step_retries, completed=dict(episode.results)
        )
        episode.plans.append(current)
        episode.runs.append(run)
        episode.results = dict(run.results)
        if run.status in ("succeeded", "out_of_budget"):
            episode.status = run.status
            break
        if repairs >= max_replans:
            break
        repairs += 1
        failures = {}
        for sid, outcome in run.steps.items():
            if outcome.status == "failed":
                failures[sid] = outcome.error
        repair = planner(current[:], failures, dict(episode.results))  # type: ignore[arg-type]
        if len(repair) == 0:
            break
        kept = [s for s in current if s.id in run.results]
        try:
            validate_plan(kept + repair, tools)
        except PlanError as err:
            episode.status, episode.error = "bad_repair", err
            break
        current = kept + repair
    return episode


# ----- task 4 -----------------------------------------------------------------------------------
def run_tests(source: str, func_name: str, cases: list[Case]) -> TestReport:
    def whole(line: str) -> TestReport:
        return TestReport(0, len(cases), [line])

    try:
        code = compile(source, "<attempt>", "exec")
    except SyntaxError as problem:
        return whole(f"SyntaxError: {problem.msg} (line {problem.lineno})")
    names: dict[str, Any] = dict()
    try:
        exec(code, names)
    except Exception as problem:
        return whole(f"defining the code raised {type(problem).__name__}: {problem}")
    if not callable(names.get(func_name)):
        return whole(f"no function named {func_name!r}")
    func = names[func_name]
    lines = []
    for case in cases:
        label = func_name + "(" + ", ".join(repr(a) for a in case.args) + ")"
        try:
            out = func(*copy.deepcopy(case.args))
            ok = out == case.expected
        except Exception as problem:
            lines.append(f"{label} raised {type(problem).__name__}: {problem}")
            continue
        if not ok:
            lines.append(f"{label} returned {out!r}; expected {case.expected!r}")
    return TestReport(len(cases) - len(lines), len(cases), lines)


def render_prompt(task: CodeTask, lessons: list[str]) -> str:
    parts = [
        "Task: " + task.prompt + "\n",
        "Write a Python function named " + task.func_name + ".\n",
    ]
    if len(lessons) > 0:
        parts.append("Lessons from earlier attempts:\n")
        for lesson in lessons:
            parts.append("- " + lesson + "\n")
    return "".join(parts)


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
    memory: list[str] = []
    trials: list[Trial] = []
    spent = 0
    for number in range(1, max_trials + 1):
        shown = memory[-memory_size:] if (use_memory and memory_size) else []
        prompt = render_prompt(task, shown)
        if max_tokens is not None and spent + count_tokens(prompt) > max_tokens:
            return ReflexionRun("out_of_tokens", trials, memory, spent)
        spent += count_tokens(prompt)
        code = actor(prompt)
        verdict = run_tests(code, task.func_name, task.cases)
        if verdict.passed == verdict.total:
            trials.append(Trial(number, prompt, code, verdict))
            return ReflexionRun("solved", trials, memory, spent)
        memory.append(reflector(task.prompt, code, verdict.failures))
        trials.append(Trial(number, prompt, code, verdict, memory[-1]))
    return ReflexionRun("gave_up", trials, memory, spent)


def solve_rates(
    tasks: list[CodeTask],
    actor: Actor,
    reflector: Reflector,
    *,
    max_trials: int = 4,
    memory_size: int = 2,
) -> dict[str, list[float]]:
    def curve(use_memory: bool) -> list[float]:
        counts = [0] * max_trials
        for task in tasks:
            run = reflexion(
                task,
                actor,
                reflector,
                max_trials=max_trials,
                memory_size=memory_size,
                use_memory=use_memory,
            )
            if run.status == "solved":
                for k in range(len(run.trials) - 1, max_trials):
                    counts[k] += 1
        return [c / len(tasks) for c in counts]

    return {"with_memory": curve(True), "without_memory": curve(False)}
