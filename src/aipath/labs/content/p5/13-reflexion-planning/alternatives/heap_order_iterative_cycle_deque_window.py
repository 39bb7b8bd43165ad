"""Plan-and-execute and Reflexion: heap-based Kahn order, iterative cycle search, deque windows."""

from __future__ import annotations

import copy
import heapq
from collections import deque
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
def _cycle_iterative(plan: list[Step]) -> list[str] | None:
    deps = {s.id: list(s.deps) for s in plan}
    colour = dict.fromkeys(deps, 0)  # 0 new, 1 on the path, 2 finished
    for root in deps:
        if colour[root]:
            continue
        path = [root]
        stack = [iter(deps[root])]
        colour[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
            elif colour[nxt] == 1:
                return [*path[path.index(nxt) :], nxt]
            elif colour[nxt] == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(deps[nxt]))
    return None


def validate_plan(plan: list[Step], tools: Tools | None = None) -> None:
    seen: set[str] = set()
    for s in plan:
        if s.id in seen:
            raise PlanError("duplicate_id", f"duplicate step id {s.id}", [s.id])
        seen.add(s.id)
    for s in plan if tools is not None else []:
        if s.tool not in tools:  # type: ignore[operator]
            raise PlanError(
                "unknown_tool", f"{s.id}: no tool {s.tool} (have {sorted(tools)})", [s.id, s.tool]
            )
    bad = [(s.id, d) for s in plan for d in s.deps if d not in seen]
    if bad:
        raise PlanError(
            "unknown_dependency", f"{bad[0][0]} needs unknown {bad[0][1]}", list(bad[0])
        )
    for s in plan:
        for v in s.args.values():
            if isinstance(v, str) and v[:1] == "$" and v[1:] not in s.deps:
                raise PlanError("undeclared_reference", f"{s.id} refers to {v[1:]}", [s.id, v[1:]])
    cycle = _cycle_iterative(plan)
    if cycle:
        raise PlanError("cycle", "cycle: " + ", ".join(cycle), cycle)


def execution_order(plan: list[Step]) -> list[str]:
    validate_plan(plan)
    index = {s.id: i for i, s in enumerate(plan)}
    missing = {s.id: len(set(s.deps)) for s in plan}
    users: dict[str, list[str]] = {s.id: [] for s in plan}
    for s in plan:
        for d in set(s.deps):
            users[d].append(s.id)
    heap = [index[sid] for sid, n in missing.items() if n == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        sid = plan[heapq.heappop(heap)].id
        order.append(sid)
        for user in users[sid]:
            missing[user] -= 1
            if missing[user] == 0:
                heapq.heappush(heap, index[user])
    return order


# ----- task 2 -----------------------------------------------------------------------------------
def resolve_args(step: Step, results: dict[str, Any]) -> dict[str, Any]:
    out = dict(step.args)
    for key, value in out.items():
        if isinstance(value, str) and value.startswith("$"):
            out[key] = results[value[1:]]
    return out


def execute(
    plan: list[Step],
    tools: Tools,
    budget: Budget,
    *,
    step_retries: int = 1,
    completed: dict[str, Any] | None = None,
) -> Run:
    validate_plan(plan, tools)
    done = dict(completed or {})
    steps = {s.id: s for s in plan}
    outcomes: dict[str, StepOutcome] = {}
    results: dict[str, Any] = {}
    calls: list[ToolCall] = []
    halted = False
    for sid in execution_order(plan):
        step = steps[sid]
        if sid in done:
            outcomes[sid] = StepOutcome("done", result=done[sid])
            results[sid] = done[sid]
        elif halted:
            outcomes[sid] = StepOutcome("not_run")
        elif not all(outcomes[d].status == "done" for d in step.deps):
            outcomes[sid] = StepOutcome("skipped")
        elif budget.tool_calls <= 0:
            halted = True
            outcomes[sid] = StepOutcome("not_run")
        else:
            args = resolve_args(step, results)
            outcome = StepOutcome("failed")
            while True:
                budget.tool_calls -= 1
                outcome.attempts += 1
                try:
                    value = tools[step.tool](**args)
                except Exception as exc:  # every tool error is a failed attempt
                    outcome.error = f"{type(exc).__name__}: {exc}"
                    calls.append(
                        ToolCall(sid, outcome.attempts, step.tool, dict(args), False, outcome.error)
                    )
                    may_retry = outcome.attempts - 1 < step_retries and budget.retries >= 1
                    if may_retry and budget.tool_calls == 0:
                        halted = True
                    elif may_retry:
                        budget.retries -= 1
                        continue
                    break
                calls.append(ToolCall(sid, outcome.attempts, step.tool, dict(args), True, value))
                outcome = StepOutcome("done", outcome.attempts, value)
                results[sid] = value
                break
            outcomes[sid] = outcome
    if halted:
        status = "out_of_budget"
    elif all(o.status == "done" for o in outcomes.values()):
        status = "succeeded"
    else:
        status = "failed"
    return Run(status, outcomes, results, calls)  # type: ignore[arg-type]


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
    plans: list[list[Step]] = []
    runs: list[Run] = []
    current, results = list(plan), {}
    for round_number in range(max_replans + 1):
        run = execute(current, tools, budget, step_retries=step_retries, completed=results)
        plans.append(current)
        runs.append(run)
        results = dict(run.results)
        if run.status != "failed" or round_number == max_replans:
            break
        failed = {k: v.error for k, v in run.steps.items() if v.status == "failed"}
        repair = planner(list(current), failed, dict(results))  # type: ignore[arg-type]
        if not repair:
            break
        candidate = [s for s in current if run.steps[s.id].status == "done"] + list(repair)
        try:
            validate_plan(candidate, tools)
        except PlanError as exc:
            return Episode("bad_repair", results, plans, runs, exc)
        current = candidate
    return Episode(runs[-1].status, results, plans, runs)


# ----- task 4 -----------------------------------------------------------------------------------
def run_tests(source: str, func_name: str, cases: list[Case]) -> TestReport:
    n = len(cases)
    try:
        compiled = compile(source, "<attempt>", "exec")
    except SyntaxError as err:
        return TestReport(0, n, [f"SyntaxError: {err.msg} (line {err.lineno})"])
    scope: dict[str, Any] = {"__name__": "attempt"}
    try:
        exec(compiled, scope)
    except Exception as err:
        return TestReport(0, n, [f"defining the code raised {type(err).__name__}: {err}"])
    fn = scope.get(func_name)
    if fn is None or not callable(fn):
        return TestReport(0, n, [f"no function named {func_name!r}"])
    report = TestReport(0, n, [])
    for case in cases:
        shown = "{}({})".format(func_name, ", ".join(map(repr, case.args)))
        args = copy.deepcopy(case.args)
        try:
            value = fn(*args)
        except Exception as err:
            report.failures.append(f"{shown} raised {type(err).__name__}: {err}")
        else:
            if value == case.expected:
                report.passed += 1
            else:
                report.failures.append(f"{shown} returned {value!r}; expected {case.expected!r}")
    return report


def render_prompt(task: CodeTask, lessons: list[str]) -> str:
    text = f"Task: {task.prompt}\nWrite a Python function named {task.func_name}.\n"
    if lessons:
        text += "Lessons from earlier attempts:\n" + "".join(f"- {x}\n" for x in lessons)
    return text


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
    window: deque[str] = deque(maxlen=memory_size)
    run = ReflexionRun("gave_up")
    number = 0
    while number < max_trials:
        number += 1
        prompt = render_prompt(task, list(window) if use_memory else [])
        if max_tokens is not None and run.tokens + count_tokens(prompt) > max_tokens:
            run.status = "out_of_tokens"
            break
        run.tokens += count_tokens(prompt)
        source = actor(prompt)
        report = run_tests(source, task.func_name, task.cases)
        if not report.failures and report.passed == report.total:
            run.trials.append(Trial(number, prompt, source, report, None))
            run.status = "solved"
            break
        note = reflector(task.prompt, source, report.failures)
        run.memory.append(note)
        window.append(note)
        run.trials.append(Trial(number, prompt, source, report, note))
    return run


def solve_rates(
    tasks: list[CodeTask],
    actor: Actor,
    reflector: Reflector,
    *,
    max_trials: int = 4,
    memory_size: int = 2,
) -> dict[str, list[float]]:
    out = {}
    for key, flag in [("with_memory", True), ("without_memory", False)]:
        solved_at = []
        for task in tasks:
            r = reflexion(
                task,
                actor,
                reflector,
                max_trials=max_trials,
                memory_size=memory_size,
                use_memory=flag,
            )
            solved_at.append(len(r.trials) if r.status == "solved" else None)
        out[key] = [
            len([t for t in solved_at if t is not None and t <= k]) / len(tasks)
            for k in range(1, max_trials + 1)
        ]
    return out
