"""Checks for p5-reflexion-planning: task graphs, an executor with retries and budgets,
replanning, a unit-test evaluator and the Reflexion loop.

Task 1 gives `validate_plan` valid plans (diamonds, plans listed backwards) and plans with each
kind of fault, and follows every reported cycle edge by edge through the plan; `execution_order`
is compared with the reference on plans where the plausible wrong tie-breaks all differ. Tasks 2
and 3 drive `execute` and `plan_and_execute` with tools that log every call and fail on purpose.
Each run's trace is first replayed against the tools' log, then compared call by call and step
by step with the reference run (task 3 with the reference `execute` swapped in, so that the
replanning loop is judged on its own: which plan each round ran, with which completed results,
budget and planner calls). Task 4 compares `run_tests` reports line by line; task 5 replays
Reflexion runs of a scripted actor and reflector (the reference `run_tests` and `render_prompt`
swapped in) and compares the solve rates with the reference's.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from aipath.checks import call_with_inputs, fail, fmt, matching_mistake, text_difference


# ----- the reference's own types ----------------------------------------------------------------
class RefPlanError(Exception):
    def __init__(self, kind: str, message: str, where: list[str]) -> None:
        super().__init__(message)
        self.kind = kind
        self.where = where


@dataclass
class RefStep:
    id: str
    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    deps: tuple[str, ...] = ()


@dataclass
class RefBudget:
    tool_calls: int
    retries: int


@dataclass
class RefCall:
    step: str
    attempt: int
    tool: str
    args: dict[str, Any]
    ok: bool
    output: Any


@dataclass
class RefOutcome:
    status: str
    attempts: int = 0
    result: Any = None
    error: str | None = None


@dataclass
class RefRun:
    status: str
    steps: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    calls: list[Any] = field(default_factory=list)


@dataclass
class RefEpisode:
    status: str
    results: dict[str, Any] = field(default_factory=dict)
    plans: list[list[Any]] = field(default_factory=list)
    runs: list[Any] = field(default_factory=list)
    error: Exception | None = None


@dataclass
class RefCase:
    args: tuple[Any, ...]
    expected: Any


@dataclass
class RefTask:
    name: str
    prompt: str
    func_name: str
    cases: list[Any]


@dataclass
class RefReport:
    passed: int
    total: int
    failures: list[str] = field(default_factory=list)


@dataclass
class RefTrial:
    number: int
    prompt: str
    source: str
    report: Any
    lesson: str | None = None


@dataclass
class RefReflexionRun:
    status: str
    trials: list[Any] = field(default_factory=list)
    memory: list[str] = field(default_factory=list)
    tokens: int = 0


@dataclass
class Classes:
    """The types a reference function builds its answer from (its own, or the learner's)."""

    PlanError: Any = RefPlanError
    Step: Any = RefStep
    Budget: Any = RefBudget
    ToolCall: Any = RefCall
    StepOutcome: Any = RefOutcome
    Run: Any = RefRun
    Episode: Any = RefEpisode
    Case: Any = RefCase
    CodeTask: Any = RefTask
    TestReport: Any = RefReport
    Trial: Any = RefTrial
    ReflexionRun: Any = RefReflexionRun


REF = Classes()


def _learner_classes(learner) -> Classes:
    found = {}
    for name in Classes.__dataclass_fields__:
        cls = getattr(learner, name, None)
        if not isinstance(cls, type):
            fail(f"exercise.py has no {name} class: keep the given classes as they are")
        found[name] = cls
    return Classes(**found)


# ----- the reference: task 1 --------------------------------------------------------------------
def _is_ref(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$")


def ref_cycle(plan: list[Any]) -> list[str] | None:
    deps = {step.id: tuple(step.deps) for step in plan}
    state: dict[str, str] = {}
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


def ref_validate(plan: list[Any], tools: Any = None, C: Classes = REF) -> None:
    ids: set[str] = set()
    for step in plan:
        if step.id in ids:
            raise C.PlanError("duplicate_id", f"two steps have the id {step.id!r}", [step.id])
        ids.add(step.id)
    if tools is not None:
        for step in plan:
            if step.tool not in tools:
                raise C.PlanError(
                    "unknown_tool",
                    f"step {step.id!r} uses the tool {step.tool!r}; the tools are: "
                    f"{', '.join(sorted(tools))}",
                    [step.id, step.tool],
                )
    for step in plan:
        for dep in step.deps:
            if dep not in ids:
                raise C.PlanError(
                    "unknown_dependency",
                    f"step {step.id!r} depends on {dep!r}, which is not a step of the plan",
                    [step.id, dep],
                )
    for step in plan:
        for value in step.args.values():
            if _is_ref(value) and value[1:] not in step.deps:
                raise C.PlanError(
                    "undeclared_reference",
                    f"step {step.id!r} uses {value!r} but does not depend on {value[1:]!r}",
                    [step.id, value[1:]],
                )
    cycle = ref_cycle(plan)
    if cycle is not None:
        raise C.PlanError(
            "cycle", f"the steps depend on each other in a circle: {' -> '.join(cycle)}", cycle
        )


def ref_order(plan: list[Any], C: Classes = REF) -> list[str]:
    ref_validate(plan, None, C)
    placed: list[str] = []
    done: set[str] = set()
    waiting = list(plan)
    while waiting:
        ready = next(step for step in waiting if all(dep in done for dep in step.deps))
        placed.append(ready.id)
        done.add(ready.id)
        waiting.remove(ready)
    return placed


# ----- the reference: tasks 2 and 3 -------------------------------------------------------------
def ref_resolve(step: Any, results: dict[str, Any]) -> dict[str, Any]:
    return {k: results[v[1:]] if _is_ref(v) else v for k, v in step.args.items()}


def ref_execute(
    plan: list[Any],
    tools: dict[str, Any],
    budget: Any,
    *,
    step_retries: int = 1,
    completed: dict[str, Any] | None = None,
    C: Classes = REF,
) -> Any:
    ref_validate(plan, tools, C)
    completed = completed or {}
    by_id = {step.id: step for step in plan}
    run = C.Run("succeeded", {}, {}, [])
    stopped = False
    for sid in ref_order(plan, C):
        step = by_id[sid]
        if sid in completed:
            run.steps[sid] = C.StepOutcome("done", 0, completed[sid], None)
            run.results[sid] = completed[sid]
            continue
        if stopped:
            run.steps[sid] = C.StepOutcome("not_run", 0, None, None)
            continue
        if any(run.steps[dep].status != "done" for dep in step.deps):
            run.steps[sid] = C.StepOutcome("skipped", 0, None, None)
            continue
        if budget.tool_calls == 0:
            stopped = True
            run.steps[sid] = C.StepOutcome("not_run", 0, None, None)
            continue
        args = ref_resolve(step, run.results)
        attempts = 0
        while True:
            budget.tool_calls -= 1
            attempts += 1
            try:
                result = tools[step.tool](**args)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                run.calls.append(C.ToolCall(sid, attempts, step.tool, dict(args), False, error))
                if attempts <= step_retries and budget.retries > 0:
                    if budget.tool_calls > 0:
                        budget.retries -= 1
                        continue
                    stopped = True
                run.steps[sid] = C.StepOutcome("failed", attempts, None, error)
                break
            run.calls.append(C.ToolCall(sid, attempts, step.tool, dict(args), True, result))
            run.steps[sid] = C.StepOutcome("done", attempts, result, None)
            run.results[sid] = result
            break
    if stopped:
        run.status = "out_of_budget"
    elif any(outcome.status != "done" for outcome in run.steps.values()):
        run.status = "failed"
    return run


def ref_plan_and_execute(
    plan: list[Any],
    tools: dict[str, Any],
    planner: Callable[..., Any],
    budget: Any,
    *,
    max_replans: int = 2,
    step_retries: int = 1,
    execute: Callable[..., Any] = ref_execute,
    C: Classes = REF,
) -> Any:
    episode = C.Episode("failed", {}, [], [], None)
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
            ref_validate(new_plan, tools, C)
        except C.PlanError as exc:
            episode.status = "bad_repair"
            episode.error = exc
            return episode
        current = new_plan


# ----- the reference: tasks 4 and 5 -------------------------------------------------------------
def ref_run_tests(source: str, func_name: str, cases: list[Any], C: Classes = REF) -> Any:
    total = len(cases)
    try:
        code = compile(source, "<attempt>", "exec")
    except SyntaxError as exc:
        return C.TestReport(0, total, [f"SyntaxError: {exc.msg} (line {exc.lineno})"])
    namespace: dict[str, Any] = {}
    try:
        exec(code, namespace)
    except Exception as exc:
        return C.TestReport(0, total, [f"defining the code raised {type(exc).__name__}: {exc}"])
    func = namespace.get(func_name)
    if not callable(func):
        return C.TestReport(0, total, [f"no function named {func_name!r}"])
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
    return C.TestReport(total - len(failures), total, failures)


def ref_render(task: Any, lessons: list[str]) -> str:
    lines = [f"Task: {task.prompt}", f"Write a Python function named {task.func_name}."]
    if lessons:
        lines.append("Lessons from earlier attempts:")
        lines.extend(f"- {lesson}" for lesson in lessons)
    return "\n".join(lines) + "\n"


def ref_tokens(text: str) -> int:
    return len(text.split())


def ref_shown(memory: list[str], memory_size: int, use_memory: bool) -> list[str]:
    return memory[max(0, len(memory) - memory_size) :] if use_memory else []


def ref_reflexion(
    task: Any,
    actor: Callable[[str], str],
    reflector: Callable[..., str],
    *,
    max_trials: int = 4,
    memory_size: int = 2,
    use_memory: bool = True,
    max_tokens: int | None = None,
    C: Classes = REF,
) -> Any:
    run = C.ReflexionRun("gave_up", [], [], 0)
    for number in range(1, max_trials + 1):
        prompt = ref_render(task, ref_shown(run.memory, memory_size, use_memory))
        cost = ref_tokens(prompt)
        if max_tokens is not None and run.tokens + cost > max_tokens:
            run.status = "out_of_tokens"
            return run
        run.tokens += cost
        source = actor(prompt)
        report = ref_run_tests(source, task.func_name, task.cases, C)
        if report.passed == report.total:
            run.trials.append(C.Trial(number, prompt, source, report, None))
            run.status = "solved"
            return run
        lesson = reflector(task.prompt, source, list(report.failures))
        run.memory.append(lesson)
        run.trials.append(C.Trial(number, prompt, source, report, lesson))
    return run


def ref_rates(runs_by_memory: dict[str, list[Any]], n_tasks: int, max_trials: int) -> Any:
    return {
        name: [
            sum(r.status == "solved" and len(r.trials) <= k for r in runs) / n_tasks
            for k in range(1, max_trials + 1)
        ]
        for name, runs in runs_by_memory.items()
    }


# ----- plans of the checks ----------------------------------------------------------------------
Spec = tuple[str, str, dict[str, Any], tuple[str, ...]]


def S(sid: str, tool: str, args: dict[str, Any] | None = None, deps: tuple[str, ...] = ()) -> Spec:
    return (sid, tool, dict(args or {}), tuple(deps))


def _build(cls: Any, spec: list[Spec]) -> list[Any]:
    return [cls(sid, tool, copy.deepcopy(args), tuple(deps)) for sid, tool, args, deps in spec]


def _snapshot(plan: Any) -> Any:
    try:
        return [
            (s.id, s.tool, copy.deepcopy(s.args), tuple(s.deps))
            for s in plan  # type: ignore
        ]
    except Exception:
        return repr(plan)


def _show_spec(spec: list[Spec]) -> str:
    parts = []
    for sid, tool, args, deps in spec:
        inner = [repr(sid), repr(tool)]
        if args:
            inner.append(repr(args))
        if deps:
            inner.append(f"deps={deps!r}")
        parts.append(f"Step({', '.join(inner)})")
    return "[" + ", ".join(parts) + "]"


def _unchanged(what: str, before: Any, plan: Any, name: str = "plan") -> None:
    after = _snapshot(plan)
    if after == before:
        return
    if isinstance(after, list) and len(after) != len(before):
        fail(
            f"{what} changed the {name} list it was given: it had {len(before)} steps and now "
            f"has {len(after)} (work on a copy, e.g. `waiting = list(plan)`)"
        )
    for old, new in zip(before, after, strict=False):
        if old != new:
            fail(
                f"{what} changed step {old[0]!r} of the {name} it was given: it was "
                f"{old[1:]!r}, it is now {new[1:]!r}; build new dicts and lists instead of "
                "editing the step's"
            )
    fail(f"{what} reordered the {name} list it was given: sort or remove from a copy")


def _tool_names() -> dict[str, Any]:
    return {name: (lambda **kwargs: None) for name in ("load", "total", "scale", "report")}


VALID_PLANS: list[tuple[list[Spec], Any, str]] = [
    (
        [
            S("a", "load", {"source": "north"}),
            S("b", "total", {"values": "$a"}, ("a",)),
            S("c", "scale", {"x": "$a", "factor": 2}, ("a",)),
            S("d", "report", {"title": "$b", "value": "$c"}, ("b", "c")),
        ],
        _tool_names(),
        "a diamond: d needs b and c, both need a (a step two others need is not a cycle)",
    ),
    (
        [
            S("d", "report", {"value": "$c"}, ("c",)),
            S("c", "scale", {"x": "$b"}, ("b",)),
            S("b", "total", {"values": "$a"}, ("a",)),
            S("a", "load", {"source": "north"}),
        ],
        None,
        "a chain listed backwards",
    ),
    ([], None, "an empty plan"),
    (
        [
            S("a", "load", {"source": "north", "note": "costs in US$", "tag": "5$"}),
            S("b", "total", {"values": "$a", "label": "a"}, ("a",)),
        ],
        None,
        "only a string that starts with `$` is a reference",
    ),
    (
        [S("a", "load", {"sources": ["$north", "$south"], "meta": {"k": "$a"}})],
        None,
        "an argument that is a list or a dict is no reference, whatever it holds",
    ),
    (
        [
            S("x1", "load"),
            S("x2", "load"),
            S("y", "total", {}, ("x1", "x2")),
            S("z", "total", {}, ("x1", "x2", "y")),
            S("w", "scale", {}, ("y", "z", "x1")),
        ],
        None,
        "steps that several others need, and deps listed in any order",
    ),
    (
        [S("f", "fetch", {"url": "https://example.org"}), S("g", "parse", {"text": "$f"}, ("f",))],
        None,
        "tools=None: the tools are not checked (`fetch` and `parse` are not tools of the checks)",
    ),
]


def _plan_error(learner) -> type:
    error = getattr(learner, "PlanError", None)
    if not (isinstance(error, type) and issubclass(error, Exception)):
        fail("exercise.py has no PlanError class: keep the given classes as they are")
    return error


def _validate_call(plan_spec: list[Spec], tools: Any) -> str:
    return f"validate_plan({_show_spec(plan_spec)}{', tools' if tools is not None else ''})"


@pytest.mark.task(1)
def test_validate_plan_accepts_plans_that_can_run(learner) -> None:
    error = _plan_error(learner)
    for spec, tools, why in VALID_PLANS:
        plan = _build(learner.Step, spec)
        before = _snapshot(plan)
        what = _validate_call(spec, tools)
        try:
            got = learner.validate_plan(plan, tools)
        except NotImplementedError:
            raise
        except error as exc:
            kind = getattr(exc, "kind", None)
            clue = ""
            if kind == "cycle" and "diamond" in why:
                clue = (
                    ": reaching a step again through another path is no cycle; only a step that "
                    "is still on the current path (not yet finished) closes one"
                )
            elif kind == "cycle":
                clue = ": a cycle needs a step to depend, through its deps, on itself"
            elif kind == "unknown_tool":
                clue = ": check the tools only when `tools` is given (not None)"
            elif kind == "undeclared_reference":
                clue = ": a reference is a string argument that starts with `$`"
            fail(
                f"{what} raised PlanError({kind!r}, {str(exc)!r}, "
                f"{getattr(exc, 'where', None)!r}); expected no error ({why}){clue}"
            )
        except Exception as exc:
            clue = ""
            if "diamond" in why:
                clue = (
                    ". This plan has no cycle: a step reached again through another path has "
                    "been finished already, it is not on the current path"
                )
            fail(f"{what} raised {type(exc).__name__}: {str(exc)[:200]} ({why}){clue}")
        if got is not None:
            fail(f"{what} returned {fmt(got)[:100]}; expected None (it raises or returns nothing)")
        _unchanged(what, before, plan)


BAD_PLANS: list[tuple[list[Spec], Any, str, list[str], str]] = [
    # plan, give tools? ("empty": {}), kind, where, why
    (
        [S("a", "load"), S("b", "total", {}, ("a",)), S("a", "scale")],
        False,
        "duplicate_id",
        ["a"],
        "two steps called 'a'",
    ),
    (
        [S("a", "load"), S("f", "fetch", {"url": "x"}), S("g", "total", {}, ("f",))],
        True,
        "unknown_tool",
        ["f", "fetch"],
        "a tool the planner invented",
    ),
    (
        [S("a", "load"), S("c", "total", {}, ("a", "x"))],
        False,
        "unknown_dependency",
        ["c", "x"],
        "a dependency on a step that does not exist",
    ),
    (
        [S("a", "load"), S("b", "total", {"values": "$a"})],
        False,
        "undeclared_reference",
        ["b", "a"],
        "b uses a's result without depending on a",
    ),
    (
        [S("a", "load"), S("c", "load"), S("b", "total", {"values": "$a"}, ("c",))],
        False,
        "undeclared_reference",
        ["b", "a"],
        "b depends on c but uses a's result",
    ),
    (
        [S("a", "load"), S("b", "total", {"values": "$missing"}, ("a",))],
        False,
        "undeclared_reference",
        ["b", "missing"],
        "a reference to no step at all",
    ),
    # the order of the rules
    (
        [S("a", "load"), S("b", "total", {}, ("x",)), S("a", "scale")],
        False,
        "duplicate_id",
        ["a"],
        "a duplicate id and an unknown dependency: the duplicate is rule 1",
    ),
    (
        [S("a", "load", {}, ("zz",)), S("f", "fetch")],
        True,
        "unknown_tool",
        ["f", "fetch"],
        "an unknown tool (rule 2) in a later step than an unknown dependency (rule 3)",
    ),
    (
        [S("b", "total", {"values": "$a"}), S("a", "load"), S("c", "total", {}, ("nope",))],
        False,
        "unknown_dependency",
        ["c", "nope"],
        "an unknown dependency (rule 3) in a later step than an undeclared reference (rule 4)",
    ),
    (
        [S("a", "load", {}, ("b",)), S("b", "load", {}, ("a",)), S("c", "total", {}, ("q",))],
        False,
        "unknown_dependency",
        ["c", "q"],
        "a cycle and an unknown dependency: the unknown dependency is rule 3",
    ),
    (
        [S("a", "load", {}, ("b",)), S("b", "load", {}, ("a",)), S("c", "total", {"v": "$a"})],
        False,
        "undeclared_reference",
        ["c", "a"],
        "a cycle and an undeclared reference: the reference is rule 4",
    ),
    (
        [S("a", "load"), S("p", "total", {}, ("a", "y")), S("q", "total", {}, ("x",))],
        False,
        "unknown_dependency",
        ["p", "y"],
        "two unknown dependencies: the first in plan order",
    ),
    (
        [S("a", "load")],
        "empty",
        "unknown_tool",
        ["a", "load"],
        "tools={} is given (not None), and it has no tools at all",
    ),
]


def _expect_plan_error(
    learner,
    what: str,
    kind: str,
    why: str,
    func: Callable[..., Any],
    *args: Any,
    clue: str = "",
) -> Any:
    error = _plan_error(learner)
    try:
        got = func(*args)
    except NotImplementedError:
        raise
    except error as exc:
        return exc
    except Exception as exc:
        fail(
            f"{what} raised {type(exc).__name__}: {str(exc)[:200]}; expected PlanError({kind!r}, "
            f"...) ({why})"
        )
    fail(
        f"{what} returned {fmt(got)[:120]}; expected it to raise PlanError({kind!r}, ...) "
        f"({why}){clue}"
    )


@pytest.mark.task(1)
def test_validate_plan_names_the_first_fault(learner) -> None:
    for spec, with_tools, kind, where, why in BAD_PLANS:
        tools = {} if with_tools == "empty" else _tool_names() if with_tools else None
        plan = _build(learner.Step, spec)
        what = _validate_call(spec, tools)
        clue = ""
        ids = [sid for sid, _, _, _ in spec]
        if kind == "undeclared_reference" and where[1] in ids:
            clue = (
                f": {where[1]!r} is a step of the plan, but not one of the deps of "
                f"{where[0]!r}; a '$x' must name one of the step's own deps"
            )
        exc = _expect_plan_error(
            learner, what, kind, why, learner.validate_plan, plan, tools, clue=clue
        )
        got_kind = getattr(exc, "kind", None)
        got_where = getattr(exc, "where", None)
        if got_kind != kind:
            clue = ""
            if "rule" in why or "first" in why:
                clue = ": check the rules in the README's order, each over the whole plan"
            fail(
                f"{what} raised PlanError({got_kind!r}, {str(exc)!r}); expected the kind {kind!r} "
                f"({why}){clue}"
            )
        if not isinstance(got_where, (list, tuple)) or list(got_where) != where:
            clue = ""
            if isinstance(got_where, (list, tuple)) and list(got_where) == where[::-1]:
                clue = ": the step's id comes first, then the name it got wrong"
            elif "first in plan order" in why:
                clue = ": the first fault in plan order"
            fail(
                f"{what} raised PlanError({kind!r}, ...) with where={got_where!r}; expected "
                f"{where!r} ({why}){clue}"
            )
        message = str(exc)
        names = list(where) + (sorted(tools) if kind == "unknown_tool" and tools else [])
        missing = [name for name in names if name not in message]
        if missing:
            fail(
                f"{what} raised PlanError({kind!r}, {message!r}); the message should name "
                f"{', '.join(map(repr, missing))}, so the planner knows what to fix ({why})"
            )
        _unchanged(what, _snapshot(_build(learner.Step, spec)), plan)


CYCLES: list[tuple[list[Spec], str]] = [
    ([S("a", "load", {}, ("a",))], "a step that depends on itself"),
    ([S("a", "load", {}, ("b",)), S("b", "load", {}, ("a",))], "two steps that need each other"),
    (
        [S("a", "load", {}, ("b",)), S("b", "total", {}, ("c",)), S("c", "scale", {}, ("a",))],
        "three steps in a circle: a needs b, b needs c, c needs a",
    ),
    (
        [
            S("start", "load", {}, ("b",)),
            S("b", "total", {}, ("c",)),
            S("c", "scale", {}, ("d",)),
            S("d", "report", {}, ("b",)),
        ],
        "a step that leads into a circle it is not on",
    ),
    (
        [
            S("a", "load"),
            S("b", "total", {}, ("a",)),
            S("x", "scale", {}, ("a", "y")),
            S("y", "report", {}, ("x",)),
        ],
        "a circle among the last steps, not reachable from the first",
    ),
    (
        [
            S("a", "load"),
            S("b", "total", {}, ("a",)),
            S("c", "total", {}, ("a",)),
            S("d", "report", {}, ("b", "c")),
            S("e", "scale", {}, ("d", "f")),
            S("f", "scale", {}, ("g",)),
            S("g", "scale", {}, ("e",)),
        ],
        "a diamond (no cycle) and, after it, a circle of three",
    ),
]


def _check_cycle(what: str, spec: list[Spec], cycle: Any, message: str, why: str) -> None:
    deps = {sid: set(d) for sid, _, _, d in spec}
    shown = f"where={cycle!r}"
    if not isinstance(cycle, (list, tuple)) or not all(isinstance(s, str) for s in cycle):
        fail(f"{what} raised PlanError('cycle') with {shown}; expected the cycle as a list of ids")
    cycle = list(cycle)
    unknown = [s for s in cycle if s not in deps]
    if unknown:
        fail(f"{what}: {shown} names {unknown[0]!r}, which is not a step of the plan ({why})")

    def valid(c: list[str]) -> bool:
        return (
            len(c) >= 2
            and c[0] == c[-1]
            and len(set(c[:-1])) == len(c) - 1
            and all(b in deps[a] for a, b in itertools.pairwise(c))
        )

    if not valid(cycle):
        for i in range(1, len(cycle) - 1):
            if valid(cycle[i:]):
                fail(
                    f"{what} raised PlanError('cycle') with {shown}; {cycle[:i]!r} only lead(s) "
                    f"into the circle: the cycle is the part of the path from the step met again, "
                    f"{cycle[i:]!r} ({why})"
                )
        if cycle and cycle[0] != cycle[-1] and valid([*cycle, cycle[0]]):
            fail(
                f"{what} raised PlanError('cycle') with {shown}; a cycle starts and ends with the "
                f"same step: close it, {[*cycle, cycle[0]]!r} ({why})"
            )
        if valid(cycle[::-1]):
            fail(
                f"{what} raised PlanError('cycle') with {shown}; it runs backwards: each step "
                f"must depend on the next one, {cycle[::-1]!r} ({why})"
            )
        if len(cycle) < 2 or cycle[0] != cycle[-1]:
            fail(
                f"{what} raised PlanError('cycle') with {shown}; a cycle starts and ends with the "
                f"same step, like ['a', 'b', 'a'] ({why})"
            )
        if len(set(cycle[:-1])) != len(cycle) - 1:
            fail(f"{what}: {shown} passes a step twice; a cycle visits each step once ({why})")
        a, b = next((a, b) for a, b in itertools.pairwise(cycle) if b not in deps[a])
        fail(
            f"{what}: {shown} says {a!r} depends on {b!r}, but {a!r} depends on "
            f"{sorted(deps[a])!r} ({why})"
        )
    missing = [s for s in cycle[:-1] if s not in message]
    if missing:
        fail(
            f"{what} raised PlanError('cycle', {message!r}); the message should name every step "
            f"of the cycle (missing {', '.join(map(repr, missing))}) ({why})"
        )


@pytest.mark.task(1)
def test_validate_plan_finds_every_cycle(learner) -> None:
    for spec, why in CYCLES:
        plan = _build(learner.Step, spec)
        what = _validate_call(spec, None)
        exc = _expect_plan_error(learner, what, "cycle", why, learner.validate_plan, plan)
        kind = getattr(exc, "kind", None)
        if kind != "cycle":
            fail(f"{what} raised PlanError({kind!r}, {str(exc)!r}); expected 'cycle' ({why})")
        _check_cycle(what, spec, getattr(exc, "where", None), str(exc), why)


# ----- task 1: the order ------------------------------------------------------------------------
def _deps(plan: list[Any]) -> dict[str, tuple[str, ...]]:
    return {s.id: tuple(s.deps) for s in plan}


def _order_by(plan: list[Any], pick: Callable[[list[Any]], Any]) -> list[str]:
    """Repeatedly place ``pick(ready steps, in plan order)``."""
    placed: list[str] = []
    waiting = list(plan)
    while waiting:
        ready = [s for s in waiting if all(d in placed for d in s.deps)]
        step = pick(ready)
        placed.append(step.id)
        waiting.remove(step)
    return placed


def _kahn(plan: list[Any], lifo: bool) -> list[str]:
    deps = _deps(plan)
    queue = [s.id for s in plan if not s.deps]
    placed: list[str] = []
    while queue:
        sid = queue.pop() if lifo else queue.pop(0)
        placed.append(sid)
        for s in plan:
            if s.id not in placed and s.id not in queue and all(d in placed for d in deps[s.id]):
                queue.append(s.id)
    return placed


def _waves(plan: list[Any]) -> list[str]:
    placed: list[str] = []
    while len(placed) < len(plan):
        wave = [s.id for s in plan if s.id not in placed and all(d in placed for d in s.deps)]
        placed.extend(wave)
    return placed


def _dfs(plan: list[Any]) -> list[str]:
    deps = _deps(plan)
    placed: list[str] = []

    def visit(sid: str) -> None:
        if sid in placed:
            return
        for dep in deps[sid]:
            visit(dep)
        placed.append(sid)

    for s in plan:
        visit(s.id)
    return placed


def order_mistakes(plan: list[Any]) -> dict[str, Callable[[], Any]]:
    return {
        "ties broken alphabetically by id instead of by position in the plan": lambda: _order_by(
            plan, lambda ready: min(ready, key=lambda s: s.id)
        ),
        "the last ready step of the plan first": lambda: _order_by(plan, lambda ready: ready[-1]),
        "a first-in-first-out queue (steps in the order they became ready)": lambda: _kahn(
            plan, lifo=False
        ),
        "a last-in-first-out stack of ready steps": lambda: _kahn(plan, lifo=True),
        "waves (all the ready steps, then all the newly ready ones)": lambda: _waves(plan),
        "a depth-first order (each step's deps chased first)": lambda: _dfs(plan),
        "the plan's own order (the deps ignored)": lambda: [s.id for s in plan],
    }


ORDER_PLANS: list[tuple[list[Spec], str]] = [
    (
        [S("c", "total", {}, ("a",)), S("b", "load"), S("a", "load")],
        "the docstring's example",
    ),
    (
        [
            S("write", "report", {}, ("draft",)),
            S("fetch", "load"),
            S("draft", "total", {}, ("fetch",)),
            S("index", "load"),
            S("check", "scale", {}, ("index",)),
        ],
        "a step that becomes ready comes before a later ready one",
    ),
    (
        [
            S("z", "report", {}, ("y",)),
            S("x", "load"),
            S("y", "total", {}, ("w",)),
            S("w", "load"),
        ],
        "the earliest ready step, not the chain of the first step",
    ),
    (
        [
            S("p", "load"),
            S("q", "load"),
            S("r", "total", {}, ("q",)),
            S("s", "total", {}, ("p",)),
        ],
        "ready at the same time: plan order, not the order they became ready",
    ),
    (
        [S(name, "load") for name in ("m", "e", "t", "h", "o", "d", "i", "c")],
        "eight independent steps run in the plan's order (no sets: their order is not fixed)",
    ),
    (
        [
            S("report", "report", {}, ("profit",)),
            S("sales", "load"),
            S("costs", "load"),
            S("profit", "subtract", {}, ("sales", "costs")),
        ],
        "the README's example",
    ),
]


def _orders_of(learner) -> list[tuple[list[Spec], str, str, Any]]:
    """The learner's order of every plan (each call checked for its contract first)."""
    found = []
    for spec, why in ORDER_PLANS:
        plan = _build(learner.Step, spec)
        before = _snapshot(plan)
        what = f"execution_order({_show_spec(spec)})"
        got = call_with_inputs(what, learner.execution_order, plan, given="that plan")
        _unchanged(what, before, plan)
        if got is None:
            fail(f"{what} is None: did you forget to `return` the order?")
        if not isinstance(got, list):
            fail(f"{what} is {fmt(got)[:200]}; expected a list of step ids")
        found.append((spec, why, what, got))
    return found


@pytest.mark.task(1)
def test_execution_order_puts_the_first_ready_step_first(learner) -> None:
    orders = _orders_of(learner)
    for spec, why, what, got in orders:
        want = ref_order(_build(RefStep, spec))
        if got == want:
            continue
        if sorted(map(str, got)) != sorted(want):
            fail(f"{what} is {got!r}; expected every step id once: {want!r}")
        deps = _deps(_build(RefStep, spec))
        placed: set[str] = set()
        early = None
        for sid in got:
            if not all(d in placed for d in deps[sid]):
                early = sid
                break
            placed.add(sid)
        labels = [
            label
            for label in order_mistakes(_build(RefStep, ORDER_PLANS[0][0]))
            if all(o == order_mistakes(_build(RefStep, sp))[label]() for sp, _, _, o in orders)
        ]
        clue = f": that is {labels[0]}" if labels else ""
        if early is not None and not labels:
            clue = f": {early!r} comes before its deps {list(deps[early])!r}"
        fail(
            f"{what} is {got!r}; expected {want!r} ({why}){clue}. Of the steps whose deps are "
            "all placed, the one that comes first in the plan goes next"
        )


@pytest.mark.task(1)
def test_execution_order_refuses_invalid_plans(learner) -> None:
    for spec, kind in [
        ([S("a", "load", {}, ("b",)), S("b", "load", {}, ("a",)), S("c", "load")], "cycle"),
        ([S("c", "load"), S("a", "total", {}, ("x",))], "unknown_dependency"),
    ]:
        plan = _build(learner.Step, spec)
        what = f"execution_order({_show_spec(spec)})"
        exc = _expect_plan_error(
            learner,
            what,
            kind,
            "an invalid plan has no order: call validate_plan(plan) first",
            learner.execution_order,
            plan,
        )
        if getattr(exc, "kind", None) != kind:
            fail(f"{what} raised PlanError({getattr(exc, 'kind', None)!r}); expected {kind!r}")


# ----- the tools of tasks 2 and 3 ---------------------------------------------------------------
DATA = {
    "sales": [3, 5, 8],
    "costs": [2, 4],
    "north": [1, 2, 3],
    "south": [4, 5],
    "south_mirror": [4, 5],
    "east": [7],
    "west": [2, 2],
}


class Runaway(BaseException):
    """Tools, a planner or an actor called far more often than any right answer would (a
    BaseException, so that the learner's `except Exception` cannot swallow it)."""


class ToolBox:
    """The tools of one run; every call is logged as (tool, args, ok, output)."""

    def __init__(self, fails: dict[str, int] | None = None) -> None:
        self.fails = dict(fails or {})
        self.log: list[tuple[str, dict[str, Any], bool, Any]] = []
        funcs: dict[str, Callable[..., Any]] = {
            "load": self.load,
            "total": self.total,
            "add": self.add,
            "subtract": self.subtract,
            "scale": self.scale,
            "divide": self.divide,
            "report": self.report,
            "flaky": self.flaky,
            "broken": self.broken,
        }
        self.tools = {name: self._logged(name, f) for name, f in funcs.items()}

    def _logged(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def tool(*positional: Any, **kwargs: Any) -> Any:
            if len(self.log) >= 200:
                raise Runaway
            if positional:
                self.log.append((name, {"<positional>": positional}, False, "TypeError"))
                raise TypeError(f"{name}() takes keyword arguments only")
            args = copy.deepcopy(kwargs)
            try:
                result = func(**kwargs)
            except Exception as exc:
                self.log.append((name, args, False, f"{type(exc).__name__}: {exc}"))
                raise
            self.log.append((name, args, True, copy.deepcopy(result)))
            return result

        tool.__name__ = name
        return tool

    @staticmethod
    def load(source: str) -> list[int]:
        return list(DATA[source])

    @staticmethod
    def total(values: list[int]) -> int:
        return sum(values)

    @staticmethod
    def add(a: int, b: int) -> int:
        return a + b

    @staticmethod
    def subtract(a: int, b: int) -> int:
        return a - b

    @staticmethod
    def scale(x: int, factor: int) -> int:
        return x * factor

    @staticmethod
    def divide(a: float, b: float) -> float:
        return a / b

    @staticmethod
    def report(title: str, value: Any) -> str:
        return f"{title}: {value}"

    def flaky(self, key: str, value: Any) -> Any:
        if self.fails.get(key, 0) > 0:
            self.fails[key] -= 1
            raise TimeoutError(f"{key} timed out")
        return value

    @staticmethod
    def broken(reason: str) -> Any:
        raise RuntimeError(reason)


@dataclass
class ExecCase:
    plan: list[Spec]
    budget: tuple[int, int]
    step_retries: int = 1
    fails: dict[str, int] = field(default_factory=dict)
    completed: dict[str, Any] | None = None
    about: str = ""


CHAIN = [
    S("report", "report", {"title": "profit", "value": "$profit"}, ("profit",)),
    S(
        "profit",
        "subtract",
        {"a": "$sales_total", "b": "$costs_total"},
        ("sales_total", "costs_total"),
    ),
    S("costs_total", "total", {"values": "$costs"}, ("costs",)),
    S("sales_total", "total", {"values": "$sales"}, ("sales",)),
    S("costs", "load", {"source": "costs"}),
    S("sales", "load", {"source": "sales"}),
]
FLAKY_CHAIN = [
    S("a", "flaky", {"key": "a", "value": 5}),
    S("b", "scale", {"x": "$a", "factor": 2}, ("a",)),
    S("c", "scale", {"x": "$b", "factor": 3}, ("b",)),
    S("d", "load", {"source": "east"}),
]
BRANCHES = [
    S("north", "load", {"source": "north"}),
    S("south", "load", {"source": "south_primary"}),
    S("north_total", "total", {"values": "$north"}, ("north",)),
    S("south_total", "total", {"values": "$south"}, ("south",)),
    S("both", "add", {"a": "$north_total", "b": "$south_total"}, ("north_total", "south_total")),
    S("label", "report", {"title": "both", "value": "$both"}, ("both",)),
    S("east", "load", {"source": "east"}),
]
TOTALS = [
    S("north", "load", {"source": "north"}),
    S("north_total", "total", {"values": "$north"}, ("north",)),
    S("south", "load", {"source": "south"}),
    S("south_total", "total", {"values": "$south"}, ("south",)),
    S("both", "add", {"a": "$north_total", "b": "$south_total"}, ("north_total", "south_total")),
]

EXEC_CASES: dict[str, ExecCase] = {
    "chain": ExecCase(
        CHAIN, (20, 2), about="six steps listed backwards, each using results of the earlier ones"
    ),
    "a retry that works": ExecCase(
        FLAKY_CHAIN, (10, 2), fails={"a": 1}, about="'a' times out once, then answers"
    ),
    "a step that keeps failing": ExecCase(
        BRANCHES,
        (20, 3),
        about="'south' loads a source that does not exist: its dependents are skipped, the "
        "other branches run",
    ),
    "three retries": ExecCase(
        [S("x", "broken", {"reason": "disk full"}), S("y", "load", {"source": "west"})],
        (20, 5),
        step_retries=3,
        about="step_retries=3 on a tool that always fails",
    ),
    "no retries": ExecCase(
        FLAKY_CHAIN, (10, 2), step_retries=0, fails={"a": 1}, about="step_retries=0"
    ),
    "the episode's retries run out": ExecCase(
        [
            S("p", "flaky", {"key": "p", "value": 1}),
            S("q", "flaky", {"key": "q", "value": 2}),
            S("r", "flaky", {"key": "r", "value": 3}),
            S("s", "add", {"a": "$p", "b": "$q"}, ("p", "q")),
        ],
        (20, 2),
        fails={"p": 1, "q": 1, "r": 1},
        about="three steps fail once each, the budget has 2 retries",
    ),
    "every error is a failed attempt": ExecCase(
        [
            S("d", "divide", {"a": 1, "b": 0}),
            S("k", "load", {"source": "nowhere"}),
            S("t", "total", {"values": 5}),
            S("ok", "load", {"source": "west"}),
        ],
        (20, 0),
        about="ZeroDivisionError, KeyError, TypeError: each one a failed step, none escapes",
    ),
    "exactly enough calls": ExecCase(
        FLAKY_CHAIN,
        (5, 1),
        fails={"a": 1},
        about="the 5 calls it needs (one of them a retry), not one more",
    ),
    "one call short": ExecCase(
        FLAKY_CHAIN, (3, 1), fails={"a": 1}, about="3 tool calls for 5 needed"
    ),
    "out of calls at a retry": ExecCase(
        [
            S("a", "load", {"source": "north"}),
            S("b", "flaky", {"key": "b", "value": [1]}),
            S("c", "total", {"values": "$b"}, ("b",)),
        ],
        (2, 2),
        fails={"b": 1},
        about="the last call fails and a retry would be allowed, but no call is left",
    ),
    "budget spent, only skips left": ExecCase(
        [
            S("a", "load", {"source": "north"}),
            S("b", "broken", {"reason": "no route"}),
            S("c", "total", {"values": "$b"}, ("b",)),
            S("d", "scale", {"x": "$c", "factor": 2}, ("c",)),
        ],
        (2, 1),
        step_retries=0,
        about="the last call is spent, and the steps left need no call: they are only skipped",
    ),
    "completed after the stop": ExecCase(
        [
            S("a", "load", {"source": "north"}),
            S("b", "load", {"source": "south"}),
            S("c", "load", {"source": "east"}),
            S("d", "total", {"values": "$c"}, ("c",)),
        ],
        (1, 1),
        completed={"c": [70], "d": 70},
        about="one call for 'a', none for 'b'; 'c' and 'd' come later but are done already",
    ),
    "completed steps": ExecCase(
        TOTALS,
        (10, 1),
        completed={"north": [10, 20], "north_total": 30},
        about="north and north_total are done already (completed=...), with their results",
    ),
}


# ----- task 2: judging a run --------------------------------------------------------------------
def _call_text(step: str, attempt: Any, tool: str, args: Any, ok: Any = None) -> str:
    arg_text = ", ".join(f"{k}={v!r}" for k, v in args.items()) if isinstance(args, dict) else args
    outcome = "" if ok is None else (" → ok" if ok else " → error")
    return f"{tool}({arg_text}) for step {step!r}, attempt {attempt}{outcome}"


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(n, f"{n}th")


def _escaped(exc: Exception, box: ToolBox) -> bool:
    """Did this exception come straight out of a tool?"""
    return bool(box.log) and any(
        not ok and output == f"{type(exc).__name__}: {exc}" for _, _, ok, output in box.log
    )


def _replay_calls(what: str, trace: Any, box: ToolBox, plan_spec: dict[str, Spec]) -> None:
    """run.calls against the tools' own log: every call recorded, as made, nothing invented."""
    if not isinstance(trace, list):
        fail(f"{what}: run.calls is {fmt(trace)[:100]}; expected the list of ToolCall records")
    log = box.log
    seen: dict[str, int] = {}
    for i, call in enumerate(trace):
        step = getattr(call, "step", "(missing)")
        attempt = getattr(call, "attempt", "(missing)")
        tool = getattr(call, "tool", "(missing)")
        args = getattr(call, "args", "(missing)")
        ok = getattr(call, "ok", "(missing)")
        output = getattr(call, "output", "(missing)")
        here = f"{what}: run.calls[{i}] ({_call_text(step, attempt, tool, args)})"
        if i >= len(log):
            fail(
                f"{here} has no matching tool call: the tools were called only {len(log)} "
                "times. Record a ToolCall for each call made, when it is made"
            )
        real_tool, real_args, real_ok, real_output = log[i]
        if "<positional>" in real_args:
            fail(
                f"{what}: the tools' call {i + 1} passed positional arguments, "
                f"{real_tool}{real_args['<positional>']!r}: call the tool with the step's "
                "arguments as keywords, tools[step.tool](**args)"
            )
        if tool != real_tool or args != real_args:
            clue = ""
            if isinstance(args, dict) and any(_is_ref(v) for v in args.values()):
                clue = ": ToolCall.args holds the resolved arguments, as the tool got them"
            fail(
                f"{here}: the tools' call {i + 1} was {real_tool}("
                + ", ".join(f"{k}={v!r}" for k, v in real_args.items())
                + f"){clue}"
            )
        if step not in plan_spec or plan_spec[step][1] != real_tool:
            fail(f"{here}: the plan has no step {step!r} that uses {real_tool!r}")
        if ok is not real_ok:
            clue = ""
            if not real_ok:
                clue = (
                    f": the tools' call {i + 1} raised ({real_output}); every call goes into "
                    "run.calls as it is made, the failed ones too (ok=False)"
                )
            fail(f"{here}: ok is {ok!r}; the tool {'returned' if real_ok else 'raised'}{clue}")
        seen[step] = seen.get(step, 0) + 1
        if attempt != seen[step]:
            fail(
                f"{here}: this is call {seen[step]} of step {step!r} in this run, so its attempt "
                f"is {seen[step]} (attempts count from 1)"
            )
        if output != real_output:
            clue = ""
            if not real_ok and isinstance(output, str) and real_output.endswith(output):
                clue = ": the error text is f'{type(exc).__name__}: {exc}'"
            elif not real_ok and isinstance(output, Exception):
                clue = ": output holds the error text, f'{type(exc).__name__}: {exc}'"
            fail(f"{here}: output is {fmt(output)[:200]}; expected {fmt(real_output)[:200]}{clue}")
    if len(trace) < len(log):
        tool, args, ok, _ = log[len(trace)]
        clue = ""
        if not ok and all(getattr(c, "ok", True) for c in trace):
            clue = ": failed calls belong in the trace too"
        fail(
            f"{what}: the tools were called {len(log)} times, run.calls records {len(trace)}; "
            f"call {len(trace) + 1}, {tool}("
            + ", ".join(f"{k}={v!r}" for k, v in args.items())
            + f"), is missing{clue}"
        )


def _compare_calls(what: str, sc: ExecCase, trace: list[Any], ref: Any) -> None:
    """The calls made against the reference's: the first one that differs, and why."""
    want = ref.calls
    got = [(c.step, c.attempt) for c in trace]
    expected = [(c.step, c.attempt) for c in want]
    if got == expected:
        return
    calls, retries = sc.budget
    completed = sc.completed or {}
    ref_status = {sid: o.status for sid, o in ref.steps.items()}
    deps = {sid: d for sid, _, _, d in sc.plan}
    if sorted(got) == sorted(expected):
        fail(
            f"{what} made the right calls in the wrong order: {got!r}; expected {expected!r} (take "
            "the steps in execution_order(plan), and retry a step before moving on)"
        )
    for i in range(max(len(got), len(expected))):
        g = got[i] if i < len(got) else None
        w = expected[i] if i < len(expected) else None
        if g == w:
            continue
        retried = sum(1 for _, a in got[:i] if a > 1)
        if g is not None and w is not None and g in expected and w in got:
            fail(
                f"{what}: call {i + 1} was "
                f"{_call_text(g[0], g[1], trace[i].tool, trace[i].args)}; the reference's call "
                f"{i + 1} is for step {w[0]!r}, attempt {w[1]}: take the steps in "
                "execution_order(plan), each with its retries, before the next one"
            )
        if g is not None and (w is None or g not in expected):
            step, attempt = g
            shown = _call_text(step, attempt, trace[i].tool, trace[i].args)
            clue = ""
            if step in completed:
                clue = (
                    f"step {step!r} is in `completed`: it is done already, with the result "
                    "given, and is never called again"
                )
            elif attempt > sc.step_retries + 1:
                clue = (
                    f"that is a {_ordinal(attempt)} attempt of {step!r}: step_retries="
                    f"{sc.step_retries} allows {sc.step_retries} retr"
                    f"{'y' if sc.step_retries == 1 else 'ies'} after the first attempt, so at "
                    f"most {sc.step_retries + 1} attempts (one retry too many)"
                )
            elif attempt > 1 and retried >= retries:
                clue = (
                    f"the episode had no retries left: Budget(retries={retries}) allows "
                    f"{retries} retries in all, whatever the step, and {retried} were made "
                    "(spend one from budget.retries per retry)"
                )
            elif i >= calls:
                clue = (
                    f"Budget(tool_calls={calls}) allows {calls} calls; this is call {i + 1}, one "
                    "too many: before each call, if budget.tool_calls is 0 the run stops"
                )
            elif any(ref_status.get(d) != "done" for d in deps.get(step, ())):
                bad = next(d for d in deps[step] if ref_status.get(d) != "done")
                clue = (
                    f"{step!r} needs {bad!r}, which is {ref_status.get(bad)}: a step with a dep "
                    "that is not done is skipped, and skips spread to its own dependents"
                )
            elif w is None:
                clue = "the reference run made no more calls"
            else:
                clue = f"the reference's call {i + 1} is for step {w[0]!r}, attempt {w[1]}"
            fail(f"{what}: call {i + 1} was {shown}; {clue}")
        step, attempt = w
        shown = _call_text(step, attempt, want[i].tool, want[i].args)
        if attempt > 1:
            clue = (
                f"after a failed attempt a step is retried while attempts <= step_retries "
                f"({sc.step_retries}) and budget.retries > 0 (Budget(retries={retries}), "
                f"{retried} spent so far)"
            )
            if sc.step_retries == 1 and retried == 0 and attempt == 2:
                clue += "; step_retries=1 means one retry after the first attempt"
        elif i < calls and len(got) == i:
            clue = (
                f"your run stopped after {i} calls, but Budget(tool_calls={calls}) allows "
                f"{calls}: the run stops only when it needs a call and none is left, and a failed "
                "step does not stop the steps that do not need it"
            )
        else:
            clue = "every step whose deps are all done gets its call"
        fail(
            f"{what}: the reference's call {i + 1} is {shown}, which your run did not make; {clue}"
        )


STATUS_CLUES = {
    ("skipped", "not_run"): (
        "the run had stopped (out of budget) before this step: every step after the stop is "
        "not_run, even one that would be skipped"
    ),
    ("not_run", "skipped"): (
        "a step with a dep that is not done needs no call, so it is skipped; only a step that "
        "needs a call stops the run when budget.tool_calls is 0"
    ),
    ("failed", "skipped"): "a step with a dep that is not done never runs: it is skipped",
    ("not_run", "failed"): (
        "it made an attempt that failed and could not be retried (the budget had no call "
        "left): it is failed, and the run stops"
    ),
    ("failed", "not_run"): "it never got a call: the run had stopped, so it is not_run",
    ("skipped", "done"): (
        "its deps are all done (completed steps count as done): it runs, or, if it is in "
        "`completed`, it is done with that result"
    ),
    ("not_run", "done"): "it is in `completed`: it is done, whatever the budget",
    ("done", "skipped"): "one of its deps is not done, so it is skipped",
}


def _judge_run(what: str, sc: ExecCase, run: Any, box: ToolBox, budget: Any, ref: Any) -> None:
    if run is None:
        fail(f"{what} is None: did you forget to `return` the Run?")
    spec = {s[0]: s for s in sc.plan}
    _replay_calls(what, getattr(run, "calls", None), box, spec)
    _compare_calls(what, sc, run.calls, ref)
    steps = getattr(run, "steps", None)
    if not isinstance(steps, dict):
        fail(f"{what}: run.steps is {fmt(steps)[:100]}; expected a dict from step id to outcome")
    missing = [sid for sid in ref.steps if sid not in steps]
    if missing:
        fail(
            f"{what}: run.steps has no outcome for {missing[0]!r}; it holds every step of the "
            f"plan, {list(ref.steps)!r}"
        )
    for sid, want in ref.steps.items():
        got = steps[sid]
        for name in ("status", "attempts", "result", "error"):
            value, expected = getattr(got, name, "(missing)"), getattr(want, name)
            if value == expected and type(value) is type(expected):
                continue
            clue = ""
            if name == "status":
                clue = STATUS_CLUES.get((value, expected), "")
                clue = f": {clue}" if clue else ""
            elif name == "attempts" and want.status == "done" and sid in (sc.completed or {}):
                clue = ": a completed step made no attempt in this run (0)"
            elif name == "error" and isinstance(value, str) and expected and expected != value:
                if expected.endswith(value):
                    clue = ": the error text is f'{type(exc).__name__}: {exc}'"
                else:
                    clue = ": the error of the step's last attempt"
            elif name == "error" and expected is None:
                clue = ": only a failed step has an error"
            fail(
                f"{what}: run.steps[{sid!r}].{name} is {fmt(value)[:200]}; expected "
                f"{fmt(expected)[:200]} (status {want.status!r}){clue}"
            )
    extra = [sid for sid in steps if sid not in ref.steps]
    if extra:
        fail(f"{what}: run.steps has {extra[0]!r}, which is not a step of the plan")
    if list(steps) != list(ref.steps):
        fail(
            f"{what}: run.steps is keyed {list(steps)!r}; expected the execution order "
            f"{list(ref.steps)!r}"
        )
    results = getattr(run, "results", None)
    if results != ref.results or not isinstance(results, dict):
        clue = ""
        if isinstance(results, dict):
            left_out = [k for k in ref.results if k not in results]
            if left_out and all(k in (sc.completed or {}) for k in left_out):
                clue = ": results holds every done step, the completed ones too"
        fail(
            f"{what}: run.results is {fmt(results)[:300]}; expected {fmt(ref.results)[:300]}{clue}"
        )
    if list(results) != list(ref.results):
        fail(f"{what}: run.results is keyed {list(results)!r}; expected {list(ref.results)!r}")
    status = getattr(run, "status", "(missing)")
    if status != ref.status:
        clue = ""
        if status == "out_of_budget" and ref.status in ("succeeded", "failed"):
            clue = (
                ": the run stops only when a step needs a call and none is left; spending the "
                "last call is not running out"
            )
        elif ref.status == "failed" and status == "succeeded":
            clue = ": a plan with a failed or skipped step has not succeeded"
        fail(f"{what}: run.status is {status!r}; expected {ref.status!r}{clue}")


def _judge_budget(what: str, sc: ExecCase, budget: Any, ref_budget: Any) -> None:
    got = (getattr(budget, "tool_calls", None), getattr(budget, "retries", None))
    want = (ref_budget.tool_calls, ref_budget.retries)
    if got == want:
        return
    calls, retries = sc.budget
    if got == (calls, retries):
        fail(
            f"{what}: the Budget is still Budget(tool_calls={calls}, retries={retries}) after the "
            f"run; expected Budget(tool_calls={want[0]}, retries={want[1]}): execute spends the "
            "budget it was given, in place (one Budget spans a whole episode)"
        )
    if got[0] != want[0]:
        fail(
            f"{what}: budget.tool_calls is {got[0]} after the run; expected {want[0]} (one per "
            "call, retries included)"
        )
    clue = ""
    if isinstance(got[1], int) and got[1] > want[1]:
        clue = ": every retry made spends one from budget.retries"
    if isinstance(got[1], int) and got[1] < want[1]:
        clue = (
            ": spend a retry only when the retry is made (the step has retries left and a call "
            "is left for it)"
        )
    fail(f"{what}: budget.retries is {got[1]} after the run; expected {want[1]}{clue}")


def _run_exec_case(learner, title: str) -> None:
    sc = EXEC_CASES[title]
    C = _learner_classes(learner)
    ref_box, ref_budget = ToolBox(sc.fails), RefBudget(*sc.budget)
    ref = ref_execute(
        _build(RefStep, sc.plan),
        ref_box.tools,
        ref_budget,
        step_retries=sc.step_retries,
        completed=copy.deepcopy(sc.completed),
    )
    box, budget = ToolBox(sc.fails), C.Budget(*sc.budget)
    plan = _build(C.Step, sc.plan)
    before = _snapshot(plan)
    completed = copy.deepcopy(sc.completed)
    kwargs: dict[str, Any] = {"step_retries": sc.step_retries}
    if completed is not None:
        kwargs["completed"] = completed
    args = f"Budget({sc.budget[0]}, {sc.budget[1]}), step_retries={sc.step_retries}"
    if completed is not None:
        args += f", completed={completed!r}"
    what = f"execute(plan, tools, {args}) on the plan '{title}' ({sc.about})"
    try:
        run = learner.execute(plan, box.tools, budget, **kwargs)
    except NotImplementedError:
        raise
    except Runaway:
        fail(
            f"{what} called the tools {len(box.log)} times and kept going; the reference makes "
            f"{len(ref.calls)} calls (every attempt counts towards step_retries and the budget)"
        )
    except Exception as exc:
        clue = ""
        if _escaped(exc, box):
            clue = (
                ": that exception came from a tool; a tool that raises is a failed attempt "
                "(catch every Exception), it never ends execute"
            )
        elif (
            isinstance(exc, KeyError)
            and exc.args
            and exc.args[0] in (sc.completed or {})
            and exc.args[0] in ref.steps
        ):
            clue = (
                f": {exc.args[0]!r} is in `completed`, so it is done and its result belongs in "
                "run.results, where a later step's '$id' reads it"
            )
        elif isinstance(exc, KeyError) and exc.args and exc.args[0] in ref.steps:
            sid = exc.args[0]
            clue = (
                f": {sid!r} has no result (it is {ref.steps[sid].status}), yet a step that needs "
                "it was run; a step whose dep is not done is skipped, and skips spread"
            )
        fail(f"{what} raised {type(exc).__name__}: {str(exc)[:200]}{clue}")
    _unchanged(what, before, plan)
    if completed != sc.completed:
        fail(f"{what} changed the `completed` dict it was given: it is now {completed!r}")
    _judge_run(what, sc, run, box, budget, ref)
    _judge_budget(what, sc, budget, ref_budget)


@pytest.mark.task(2)
def test_resolve_args_replaces_references(learner) -> None:
    step = learner.Step(
        "t", "total", {"values": "$n", "label": "n", "price": "5$", "other": "$m"}, ("n", "m")
    )
    results = {"n": [1, 2], "m": {"k": 3}, "z": 9}
    what = (
        "resolve_args(Step('t', 'total', {'values': '$n', 'label': 'n', 'price': '5$', "
        "'other': '$m'}, ('n', 'm')), {'n': [1, 2], 'm': {'k': 3}, 'z': 9})"
    )
    got = call_with_inputs(what, learner.resolve_args, step, results, given="that step")
    want = {"values": [1, 2], "label": "n", "price": "5$", "other": {"k": 3}}
    if step.args != {"values": "$n", "label": "n", "price": "5$", "other": "$m"}:
        fail(
            f"{what} changed step.args to {step.args!r}: the step keeps its '$id' strings (a retry "
            "or a later round resolves them again); build a new dict"
        )
    if got is None:
        fail(f"{what} is None: did you forget to `return` the arguments?")
    if got != want:
        fail(f"{what} is {fmt(got)}; expected {fmt(want)} (only a string that starts with `$`)")
    if got is step.args:
        fail(f"{what} returned step.args itself; expected a new dict")


@pytest.mark.task(2)
def test_execute_runs_a_chain_with_references(learner) -> None:
    _run_exec_case(learner, "chain")


@pytest.mark.task(2)
def test_execute_retries_a_failed_attempt(learner) -> None:
    _run_exec_case(learner, "a retry that works")


@pytest.mark.task(2)
def test_execute_skips_the_dependents_of_a_failed_step(learner) -> None:
    _run_exec_case(learner, "a step that keeps failing")


@pytest.mark.task(2)
def test_execute_counts_retries_per_step(learner) -> None:
    _run_exec_case(learner, "three retries")
    _run_exec_case(learner, "no retries")


@pytest.mark.task(2)
def test_execute_counts_retries_per_episode(learner) -> None:
    _run_exec_case(learner, "the episode's retries run out")


@pytest.mark.task(2)
def test_execute_turns_every_tool_error_into_a_failure(learner) -> None:
    _run_exec_case(learner, "every error is a failed attempt")


@pytest.mark.task(2)
def test_execute_spends_the_tool_call_budget_exactly(learner) -> None:
    _run_exec_case(learner, "exactly enough calls")
    _run_exec_case(learner, "budget spent, only skips left")


@pytest.mark.task(2)
def test_execute_stops_when_it_needs_a_call_and_has_none(learner) -> None:
    _run_exec_case(learner, "one call short")
    _run_exec_case(learner, "out of calls at a retry")


@pytest.mark.task(2)
def test_execute_does_not_rerun_completed_steps(learner) -> None:
    _run_exec_case(learner, "completed steps")
    _run_exec_case(learner, "completed after the stop")


@pytest.mark.task(2)
def test_execute_refuses_an_invalid_plan_before_any_call(learner) -> None:
    C = _learner_classes(learner)
    for spec, kind in [
        (
            [S("a", "load", {"source": "north"}), S("b", "fetch", {"url": "x"}, ("a",))],
            "unknown_tool",
        ),
        (
            [
                S("a", "load", {"source": "north"}),
                S("b", "total", {"values": "$c"}, ("c",)),
                S("c", "total", {"values": "$b"}, ("b",)),
            ],
            "cycle",
        ),
    ]:
        box = ToolBox()
        plan = _build(C.Step, spec)
        what = f"execute({_show_spec(spec)}, tools, Budget(10, 1))"
        exc = _expect_plan_error(
            learner,
            what,
            kind,
            "validate_plan(plan, tools) first",
            learner.execute,
            plan,
            box.tools,
            C.Budget(10, 1),
        )
        if getattr(exc, "kind", None) != kind:
            fail(f"{what} raised PlanError({getattr(exc, 'kind', None)!r}); expected {kind!r}")
        if box.log:
            fail(
                f"{what} called {box.log[0][0]} before refusing the plan: validate the whole plan "
                "before any tool runs"
            )


# ----- task 3: replanning -----------------------------------------------------------------------
def _south_repair(source: str) -> list[Spec]:
    return [
        S("south", "load", {"source": source}),
        S("south_total", "total", {"values": "$south"}, ("south",)),
        S(
            "both",
            "add",
            {"a": "$north_total", "b": "$south_total"},
            ("north_total", "south_total"),
        ),
        S("label", "report", {"title": "both", "value": "$both"}, ("both",)),
    ]


def _mirror(plan: Any, failures: Any, results: Any, call: int) -> list[Spec]:
    return _south_repair("south_mirror")


def _backup_then_mirror(plan: Any, failures: Any, results: Any, call: int) -> list[Spec]:
    return _south_repair("south_backup" if call == 1 else "south_mirror")


def _gives_up(plan: Any, failures: Any, results: Any, call: int) -> list[Spec]:
    return []


def _reuses_done_id(plan: Any, failures: Any, results: Any, call: int) -> list[Spec]:
    return [S("north", "load", {"source": "north"}), *_south_repair("south_mirror")]


def _forgets_a_step(plan: Any, failures: Any, results: Any, call: int) -> list[Spec]:
    repair = _south_repair("south_mirror")
    return [repair[0], repair[2], repair[3]]


TWO_FAILURES = [
    S("a", "load", {"source": "north"}),
    S("s", "load", {"source": "south_primary"}),
    S("w", "load", {"source": "west_primary"}),
    S("sw", "add", {"a": "$s", "b": "$w"}, ("s", "w")),
    S("at", "total", {"values": "$a"}, ("a",)),
]


def _both_sources(plan: Any, failures: Any, results: Any, call: int) -> list[Spec]:
    return [
        S("s", "load", {"source": "south"}),
        S("w", "load", {"source": "west"}),
        S("sw", "add", {"a": "$s", "b": "$w"}, ("s", "w")),
    ]


def _flaky_again(plan: Any, failures: Any, results: Any, call: int) -> list[Spec]:
    return [s for s in FLAKY_CHAIN if s[0] in ("a", "b", "c")]


class ScriptedPlanner:
    """planner(plan, failures, results) -> repair; logs what it was shown."""

    def __init__(self, policy: Callable[..., list[Spec]], step_cls: Any) -> None:
        self.policy = policy
        self.step_cls = step_cls
        self.calls: list[tuple[Any, Any, Any]] = []

    def __call__(self, plan: Any, failures: Any, results: Any) -> list[Any]:
        self.calls.append((_snapshot(plan), copy.deepcopy(failures), copy.deepcopy(results)))
        if len(self.calls) > 8:
            raise Runaway
        return _build(self.step_cls, self.policy(plan, failures, results, len(self.calls)))


@dataclass
class ReplanCase:
    plan: list[Spec]
    policy: Callable[..., list[Spec]]
    budget: tuple[int, int]
    max_replans: int = 2
    step_retries: int = 1
    fails: dict[str, int] = field(default_factory=dict)
    about: str = ""


REPLAN_CASES: dict[str, ReplanCase] = {
    "a mirror": ReplanCase(
        BRANCHES,
        _mirror,
        (30, 4),
        about="'south' fails for good; the repair loads a mirror and redoes its dependents",
    ),
    "a second repair": ReplanCase(
        BRANCHES,
        _backup_then_mirror,
        (40, 6),
        max_replans=2,
        about="the first repair fails too, the second works",
    ),
    "repairs run out": ReplanCase(
        BRANCHES,
        _backup_then_mirror,
        (40, 6),
        max_replans=1,
        about="max_replans=1 and the first repair fails too",
    ),
    "no replanning": ReplanCase(
        BRANCHES, _mirror, (30, 4), max_replans=0, about="max_replans=0: a plain execute"
    ),
    "the planner gives up": ReplanCase(
        BRANCHES, _gives_up, (30, 4), about="the planner returns no steps"
    ),
    "a repair that reuses a done id": ReplanCase(
        BRANCHES, _reuses_done_id, (30, 4), about="the repair adds 'north' again, which is done"
    ),
    "a repair that forgets a step": ReplanCase(
        BRANCHES,
        _forgets_a_step,
        (30, 4),
        about="the repair's 'both' needs 'south_total', which the repair does not bring back",
    ),
    "one budget for the episode": ReplanCase(
        BRANCHES,
        _mirror,
        (8, 1),
        about="8 tool calls and 1 retry for the whole episode: round 1 spends 5 of them",
    ),
    "two failures at once": ReplanCase(
        TWO_FAILURES,
        _both_sources,
        (30, 2),
        step_retries=0,
        about="two steps fail in one round; one planner call repairs both",
    ),
    "step_retries for every round": ReplanCase(
        FLAKY_CHAIN,
        _flaky_again,
        (20, 3),
        step_retries=0,
        fails={"a": 1},
        about="step_retries=0: the flaky step fails in round 1 and the repair runs it again",
    ),
}


@dataclass
class ExecRecord:
    plan: Any
    completed: Any
    budget: Any
    before: tuple[Any, Any]
    step_retries: Any


def _logged_execute(execute: Callable[..., Any], log: list[ExecRecord]) -> Callable[..., Any]:
    def logged(
        plan: Any, tools: Any, budget: Any, *, step_retries: int = 1, completed: Any = None
    ) -> Any:
        log.append(
            ExecRecord(
                _snapshot(plan),
                copy.deepcopy(completed),
                budget,
                (getattr(budget, "tool_calls", None), getattr(budget, "retries", None)),
                step_retries,
            )
        )
        if len(log) > 10:
            raise Runaway
        return execute(plan, tools, budget, step_retries=step_retries, completed=completed)

    return logged


def _swap_in_reference_execute(learner, monkeypatch, log: list[ExecRecord]) -> Classes:
    C = _learner_classes(learner)

    def execute(plan: Any, tools: Any, budget: Any, **kwargs: Any) -> Any:
        return ref_execute(plan, tools, budget, C=C, **kwargs)

    def validate_plan(plan: Any, tools: Any = None) -> None:
        ref_validate(plan, tools, C)

    monkeypatch.setattr(learner, "execute", _logged_execute(execute, log), raising=False)
    monkeypatch.setattr(learner, "validate_plan", validate_plan, raising=False)
    monkeypatch.setattr(learner, "execution_order", lambda p: ref_order(p, C), raising=False)
    monkeypatch.setattr(learner, "resolve_args", ref_resolve, raising=False)
    return C


def _ids(snapshot: Any) -> Any:
    return [s[0] for s in snapshot] if isinstance(snapshot, list) else snapshot


def _compare_rounds(
    what: str,
    sc: ReplanCase,
    log: list[ExecRecord],
    ref_log: list[ExecRecord],
    budget: Any,
    ref_episode: Any,
    episode: Any,
) -> None:
    for k, (got, want) in enumerate(zip(log, ref_log, strict=False)):
        here = f"{what}: round {k + 1} (execute call {k + 1})"
        if got.budget is not budget:
            fail(
                f"{here} was given another Budget object than the episode's: pass the same "
                "`budget` to every round, so the calls and retries are counted for the whole "
                "episode"
            )
        if got.step_retries != want.step_retries:
            fail(
                f"{here} ran with step_retries={got.step_retries!r}; expected "
                f"{want.step_retries!r}: pass plan_and_execute's step_retries on to execute"
            )
        if got.plan != want.plan:
            g, w = _ids(got.plan), _ids(want.plan)
            clue = ""
            previous = ref_episode.runs[k - 1] if k > 0 else None
            if isinstance(g, list) and previous is not None:
                dropped = [
                    sid for sid, o in previous.steps.items() if o.status in ("failed", "skipped")
                ]
                kept_bad = [sid for sid in g if sid in dropped and g.count(sid) > 1]
                done = [sid for sid, o in previous.steps.items() if o.status == "done"]
                if kept_bad:
                    clue = (
                        f": {kept_bad[0]!r} is there twice; the next plan is the done steps of "
                        "the last round followed by the repair (failed and skipped steps are "
                        "dropped, the repair replaces them)"
                    )
                elif any(sid not in g for sid in done):
                    missing = next(sid for sid in done if sid not in g)
                    clue = (
                        f": the done step {missing!r} is missing; keep the done steps of the "
                        "last round, then add the repair"
                    )
                elif sorted(g) == sorted(w):
                    clue = ": the done steps first, in their order, then the repair"
            if g == w and not clue:
                clue = ": the same ids, but the steps differ (the repair's steps as given)"
            fail(f"{here} ran the plan {g!r}; expected {w!r}{clue}")
        if (got.completed or {}) != (want.completed or {}):
            clue = ""
            if not got.completed and want.completed:
                clue = (
                    ": pass the results of the done steps as completed=..., or the steps that "
                    "are done run (and are paid for) again"
                )
            fail(
                f"{here} ran with completed={fmt(got.completed)[:200]}; expected "
                f"{fmt(want.completed)[:200]}{clue}"
            )
    if len(log) != len(ref_log):
        clue = ""
        last = ref_episode.runs[min(len(log), len(ref_log)) - 1] if ref_episode.runs else None
        if len(log) > len(ref_log) and ref_episode.status == "failed" and last is not None:
            clue = (
                f": max_replans={sc.max_replans} allows {sc.max_replans} repair(s), so at most "
                f"{sc.max_replans + 1} rounds"
            )
            if ref_episode.status == "failed" and sc.policy is _gives_up:
                clue = ": the planner returned no steps: it gave up, and the episode ends 'failed'"
        elif len(log) > len(ref_log) and ref_episode.status == "bad_repair":
            clue = ": the repaired plan is invalid; nothing more runs (status 'bad_repair')"
        elif len(log) > len(ref_log):
            clue = f": the episode ends when a round's status is {ref_episode.runs[-1].status!r}"
        elif len(log) < len(ref_log) and getattr(episode, "status", None) == "bad_repair":
            error = getattr(episode, "error", None)
            clue = (
                f": your episode ended 'bad_repair' with PlanError({getattr(error, 'kind', None)!r}, "
                f"where={getattr(error, 'where', None)!r}), but the reference's next plan is "
                f"valid, {_ids(ref_log[len(log)].plan)!r}: the done steps of the round, in their "
                "order, then the repair (failed and skipped steps are dropped)"
            )
        elif len(log) < len(ref_log):
            clue = (
                ": after a failed round, ask the planner for a repair and run again, until "
                f"max_replans={sc.max_replans} repairs have been made"
            )
        fail(f"{what} ran {len(log)} round(s); expected {len(ref_log)}{clue}")


def _compare_planner(what: str, sc: ReplanCase, planner: ScriptedPlanner, ref: ScriptedPlanner):
    for k, (got, want) in enumerate(zip(planner.calls, ref.calls, strict=False)):
        here = f"{what}: planner call {k + 1}"
        if got[0] != want[0]:
            clue = ""
            if k > 0 and _ids(got[0]) == [s[0] for s in sc.plan]:
                clue = ": the planner reads the plan of the round that failed, not the first plan"
            fail(f"{here} was shown the plan {_ids(got[0])!r}; expected {_ids(want[0])!r}{clue}")
        if got[1] != want[1]:
            clue = ""
            if isinstance(got[1], dict) and set(want[1]) < set(got[1]):
                clue = ": failures holds the failed steps only, not the skipped ones"
            elif isinstance(got[1], dict) and set(got[1]) < set(want[1]):
                clue = ": failures holds every failed step of the round"
            fail(
                f"{here} was shown failures={fmt(got[1])[:300]}; expected {fmt(want[1])[:300]}{clue}"
            )
        if got[2] != want[2]:
            fail(f"{here} was shown results={fmt(got[2])[:300]}; expected {fmt(want[2])[:300]}")
    if len(planner.calls) != len(ref.calls):
        clue = ""
        if len(planner.calls) > len(ref.calls) and sc.max_replans == 0:
            clue = ": max_replans=0 means no repairs at all"
        fail(
            f"{what} called the planner {len(planner.calls)} time(s); expected {len(ref.calls)}"
            f"{clue}"
        )


def _run_replan_case(learner, monkeypatch, title: str) -> None:
    sc = REPLAN_CASES[title]
    log: list[ExecRecord] = []
    C = _swap_in_reference_execute(learner, monkeypatch, log)
    ref_log: list[ExecRecord] = []
    ref_box, ref_budget = ToolBox(sc.fails), RefBudget(*sc.budget)
    ref_planner = ScriptedPlanner(sc.policy, RefStep)
    ref = ref_plan_and_execute(
        _build(RefStep, sc.plan),
        ref_box.tools,
        ref_planner,
        ref_budget,
        max_replans=sc.max_replans,
        step_retries=sc.step_retries,
        execute=_logged_execute(ref_execute, ref_log),
    )
    box, budget = ToolBox(sc.fails), C.Budget(*sc.budget)
    planner = ScriptedPlanner(sc.policy, C.Step)
    plan = _build(C.Step, sc.plan)
    before = _snapshot(plan)
    what = (
        f"plan_and_execute(plan, tools, planner, Budget({sc.budget[0]}, {sc.budget[1]}), "
        f"max_replans={sc.max_replans}, step_retries={sc.step_retries}) on '{title}' ({sc.about})"
    )
    try:
        episode = learner.plan_and_execute(
            plan,
            box.tools,
            planner,
            budget,
            max_replans=sc.max_replans,
            step_retries=sc.step_retries,
        )
    except NotImplementedError:
        raise
    except Runaway:
        fail(
            f"{what} kept going: it ran {len(log)} rounds and called the planner "
            f"{len(planner.calls)} times; expected {len(ref_log)} and {len(ref_planner.calls)}"
        )
    except C.PlanError as exc:
        fail(
            f"{what} raised PlanError({getattr(exc, 'kind', None)!r}, {str(exc)!r}): an invalid "
            "repair ends the episode with status 'bad_repair' and the error in episode.error; "
            "check the repaired plan with validate_plan(new_plan, tools) before running it"
        )
    except Exception as exc:
        fail(f"{what} raised {type(exc).__name__}: {str(exc)[:200]}")
    _unchanged(what, before, plan)
    if episode is None:
        fail(f"{what} is None: did you forget to `return` the Episode?")
    _compare_rounds(what, sc, log, ref_log, budget, ref, episode)
    _compare_planner(what, sc, planner, ref_planner)
    if box.log != ref_box.log:
        fail(
            f"{what}: the tools were called {len(box.log)} times; expected {len(ref_box.log)}, "
            "the same calls as the reference"
        )
    status = getattr(episode, "status", "(missing)")
    if status != ref.status:
        clue = ""
        if ref.status == "bad_repair":
            clue = ": validate the repaired plan before running it; if it is invalid, stop there"
        elif ref.status == "failed" and status in ("gave_up", "max_replans"):
            clue = ": the statuses are the four of the README"
        fail(f"{what}: episode.status is {status!r}; expected {ref.status!r}{clue}")
    results = getattr(episode, "results", None)
    if results != ref.results:
        clue = ""
        if isinstance(results, dict) and set(results) < set(ref.results):
            clue = ": the episode's results are the last run's results (the kept ones included)"
        fail(
            f"{what}: episode.results is {fmt(results)[:300]}; expected {fmt(ref.results)[:300]}{clue}"
        )
    plans = getattr(episode, "plans", None)
    runs = getattr(episode, "runs", None)
    if not isinstance(plans, list) or [_ids(_snapshot(p)) for p in plans] != [
        _ids(_snapshot(p)) for p in ref.plans
    ]:
        got_plans = [_ids(_snapshot(p)) for p in plans] if isinstance(plans, list) else plans
        fail(
            f"{what}: episode.plans is {fmt(got_plans)[:300]}; expected the plan of each round, "
            f"{[_ids(_snapshot(p)) for p in ref.plans]!r}"
        )
    if not isinstance(runs, list) or len(runs) != len(ref.runs):
        fail(
            f"{what}: episode.runs has {len(runs) if isinstance(runs, list) else fmt(runs)} "
            f"run(s); expected {len(ref.runs)}, the Run of each round"
        )
    got_status = [getattr(r, "status", None) for r in runs]
    if got_status != [r.status for r in ref.runs]:
        fail(
            f"{what}: the runs' statuses are {got_status!r}; expected "
            f"{[r.status for r in ref.runs]!r} (keep each round's Run as execute returned it)"
        )
    error = getattr(episode, "error", "(missing)")
    if ref.error is None and error is not None:
        fail(f"{what}: episode.error is {fmt(error)[:200]}; expected None (no invalid repair)")
    if ref.error is not None:
        if not isinstance(error, C.PlanError):
            fail(
                f"{what}: episode.error is {fmt(error)[:200]}; expected the PlanError that "
                f"validate_plan raised for the repaired plan ({ref.error.kind!r})"
            )
        if getattr(error, "kind", None) != ref.error.kind or list(error.where) != ref.error.where:
            fail(
                f"{what}: episode.error is PlanError({error.kind!r}, where={error.where!r}); "
                f"expected PlanError({ref.error.kind!r}, where={ref.error.where!r})"
            )
    if (budget.tool_calls, budget.retries) != (ref_budget.tool_calls, ref_budget.retries):
        fail(
            f"{what}: the budget left is Budget({budget.tool_calls}, {budget.retries}); expected "
            f"Budget({ref_budget.tool_calls}, {ref_budget.retries})"
        )


@pytest.mark.task(3)
def test_replan_repairs_a_failed_branch_and_keeps_what_is_done(learner, monkeypatch) -> None:
    _run_replan_case(learner, monkeypatch, "a mirror")


@pytest.mark.task(3)
def test_replan_tries_again_up_to_max_replans(learner, monkeypatch) -> None:
    _run_replan_case(learner, monkeypatch, "a second repair")
    _run_replan_case(learner, monkeypatch, "repairs run out")
    _run_replan_case(learner, monkeypatch, "no replanning")


@pytest.mark.task(3)
def test_replan_ends_when_the_planner_gives_up(learner, monkeypatch) -> None:
    _run_replan_case(learner, monkeypatch, "the planner gives up")


@pytest.mark.task(3)
def test_replan_refuses_an_invalid_repair(learner, monkeypatch) -> None:
    _run_replan_case(learner, monkeypatch, "a repair that reuses a done id")
    _run_replan_case(learner, monkeypatch, "a repair that forgets a step")
    log: list[ExecRecord] = []
    C = _swap_in_reference_execute(learner, monkeypatch, log)
    spec = [S("a", "load", {"source": "north"}, ("b",)), S("b", "total", {"values": "$a"}, ("a",))]
    box, planner = ToolBox(), ScriptedPlanner(_mirror, C.Step)
    what = f"plan_and_execute({_show_spec(spec)}, tools, planner, Budget(10, 1))"
    _expect_plan_error(
        learner,
        what,
        "cycle",
        "an invalid first plan is the caller's mistake: its PlanError comes out, as in execute",
        learner.plan_and_execute,
        _build(C.Step, spec),
        box.tools,
        planner,
        C.Budget(10, 1),
    )
    if planner.calls or box.log:
        fail(f"{what} called the planner or a tool; an invalid first plan runs nothing")


@pytest.mark.task(3)
def test_replan_spends_one_budget_for_the_episode(learner, monkeypatch) -> None:
    _run_replan_case(learner, monkeypatch, "one budget for the episode")


@pytest.mark.task(3)
def test_replan_reports_every_failure_of_a_round(learner, monkeypatch) -> None:
    _run_replan_case(learner, monkeypatch, "two failures at once")


@pytest.mark.task(3)
def test_replan_passes_step_retries_to_every_round(learner, monkeypatch) -> None:
    _run_replan_case(learner, monkeypatch, "step_retries for every round")


# ----- task 4: the evaluator --------------------------------------------------------------------
MEDIAN_OK = """def median(values):
    xs = sorted(values)
    n = len(xs)
    if n % 2 == 1:
        return xs[n // 2]
    return (xs[n // 2 - 1] + xs[n // 2]) / 2
"""
MEDIAN_CASES = [
    ((([1, 2, 3]),), 2),
    (([3, 1, 2],), 2),
    (([1, 2, 3, 4],), 2.5),
    (([4, 1, 3, 2],), 2.5),
]

TEST_SOURCES: list[tuple[str, str, str, list[tuple[tuple[Any, ...], Any]], str]] = [
    # title, source, func_name, cases, why
    ("passes", MEDIAN_OK, "median", MEDIAN_CASES, "a right answer"),
    (
        "unsorted",
        "def median(values):\n    return values[len(values) // 2]\n",
        "median",
        MEDIAN_CASES,
        "wrong results: one line per failed case, in case order",
    ),
    (
        "raises",
        "def median(values):\n    xs = sorted(values)\n    if len(xs) % 2 == 0:\n"
        "        raise ValueError('even length')\n    return xs[len(xs) // 2]\n",
        "median",
        MEDIAN_CASES,
        "an attempt that raises on some cases",
    ),
    (
        "syntax",
        "def median(values)\n    return sorted(values)[len(values) // 2]\n",
        "median",
        MEDIAN_CASES,
        "code that does not compile",
    ),
    (
        "defining fails",
        "import math\nHALF = 1 / 0\ndef median(values):\n    return 0\n",
        "median",
        MEDIAN_CASES,
        "code whose definition raises",
    ),
    (
        "wrong name",
        "def middle(values):\n    return sorted(values)[len(values) // 2]\n",
        "median",
        MEDIAN_CASES,
        "no function with the task's name",
    ),
    (
        "not callable",
        "median = 2\n",
        "median",
        MEDIAN_CASES,
        "a name that is not a function",
    ),
    (
        "sorts in place",
        "def median(values):\n    values.sort()\n    return values[len(values) // 2]\n",
        "median",
        MEDIAN_CASES,
        "an attempt that sorts its argument in place: the cases and the failure lines keep the "
        "original args",
    ),
    (
        "several args and strings",
        "def clamp(x, low, high):\n    return max(low, x) if x < high else high - 1\n",
        "clamp",
        [
            ((5, 0, 10), 5),
            ((-3, 0, 10), 0),
            ((12, 0, 10), 10),
            (("b", "a", "c"), "b"),
            (("z", "a", "c"), "c"),
        ],
        "several arguments, one of them strings: repr of each, joined by ', '",
    ),
    (
        "equal values of other types",
        "def mean(values):\n    return sum(values) / len(values)\n",
        "mean",
        [(([1, 3],), 2), (([2, 2, 2],), 2), (([1, 2],), 1)],
        "2.0 == 2: a result passes when it is == the expected value, whatever its type",
    ),
    (
        "a helper",
        "def _key(x):\n    return -x\n\ndef top(values):\n    return sorted(values, key=_key)[0]\n",
        "top",
        [(([3, 9, 1],), 9), (([2],), 2)],
        "a helper function defined next to the answer",
    ),
]


def _cases(cls: Any, raw: list[tuple[tuple[Any, ...], Any]]) -> list[Any]:
    return [cls(copy.deepcopy(args), copy.deepcopy(expected)) for args, expected in raw]


def _report_fields(report: Any) -> tuple[Any, Any, Any]:
    return (
        getattr(report, "passed", "(missing)"),
        getattr(report, "total", "(missing)"),
        getattr(report, "failures", "(missing)"),
    )


def _call_part(line: str) -> str:
    for word in (" returned ", " raised "):
        if word in line:
            return line.split(word)[0]
    return line


def _failure_clue(got: str, want: str) -> str:
    if want.startswith("SyntaxError") and got.startswith("defining the code raised SyntaxError"):
        return ": compile the source first; a SyntaxError has a line of its own format"
    if ",)" in got and ",)" not in want:
        return (
            ": write the call as func(arg1, arg2), the args' reprs joined by ', ' (a tuple "
            "of one prints with a trailing comma)"
        )
    if got.replace("'", "") == want.replace("'", "") and got != want:
        return ": write each argument and value with repr (strings in quotes)"
    if " raised " in want and " raised " in got:
        error = want.split(" raised ", 1)[1]
        if got.split(" raised ", 1)[1] == error.split(": ", 1)[-1]:
            return ": name the exception's type, f'{type(exc).__name__}: {exc}'"
    if _call_part(got) != _call_part(want) and _call_part(want) != want:
        return (
            ": write the call with the case's original args; the function may have changed "
            "its copy of them"
        )
    return ""


def _judge_report(what: str, got: Any, want: Any, why: str) -> None:
    if got is None:
        fail(f"{what} is None: did you forget to `return` the TestReport?")
    passed, total, failures = _report_fields(got)
    if not isinstance(failures, list):
        fail(f"{what}.failures is {fmt(failures)[:200]}; expected a list of lines ({why})")
    extra = [g for g in failures if g not in want.failures]
    missing = [w for w in want.failures if w not in failures]
    for g in extra:
        same_call = [w for w in missing if _call_part(w) == _call_part(str(g))]
        if same_call or len(extra) == len(missing):
            w = same_call[0] if same_call else missing[extra.index(g)]
            fail(
                f"{what}.failures[{failures.index(g)}] is {g!r}; expected {w!r} ({why})"
                f"{_failure_clue(str(g), w)}"
            )
        clue = ""
        if want.failures and want.failures[0].startswith("no function named"):
            clue = (
                ": this attempt defines no such function, so the one that ran came from an "
                "earlier attempt; exec each attempt in a new, empty dict"
            )
            if "not callable" in str(g):
                clue = ": the name is there but is no function (check callable(...))"
        elif " returned " in str(g) and "; expected " in str(g):
            clue = (
                ": that case passes, since a result passes when it is == the expected value "
                "(2.0 == 2 and True == 1), whatever its type"
            )
        fail(
            f"{what}.failures holds {g!r}, but the reference's failures are {want.failures!r} "
            f"({why}){clue}"
        )
    if missing:
        at = want.failures.index(missing[0])
        clue = _failure_clue(str(failures[at]), missing[0]) if at < len(failures) else ""
        fail(f"{what}.failures lacks {missing[0]!r}; it is {failures!r} ({why}){clue}")
    if failures != want.failures:
        fail(
            f"{what}.failures is {failures!r}; expected the same lines in case order, "
            f"{want.failures!r}"
        )
    if len(failures) != len(want.failures):
        fail(
            f"{what}.failures has {len(failures)} line(s), {failures[:4]!r}; expected "
            f"{len(want.failures)}, {want.failures[:4]!r} ({why})"
        )
    if (passed, total) != (want.passed, want.total):
        clue = ""
        if total != want.total:
            clue = ": total is the number of cases, also when the code cannot be used at all"
        fail(
            f"{what} has passed={passed!r}, total={total!r}; expected passed={want.passed}, "
            f"total={want.total} ({why}){clue}"
        )


@pytest.mark.task(4)
def test_run_tests_reports_each_failure(learner) -> None:
    C = _learner_classes(learner)
    for title, source, func_name, raw, why in TEST_SOURCES:
        cases = _cases(C.Case, raw)
        kept = copy.deepcopy([(c.args, c.expected) for c in cases])
        what = f"run_tests({source!r}, {func_name!r}, cases) ('{title}')"
        got = call_with_inputs(
            what, learner.run_tests, source, func_name, cases, given="that attempt"
        )
        if [(c.args, c.expected) for c in cases] != kept:
            fail(
                f"{what} changed the hidden test cases: their args are now "
                f"{[c.args for c in cases]!r}, they were {[a for a, _ in kept]!r}; call the "
                "function on copy.deepcopy(case.args)"
            )
        want = ref_run_tests(source, func_name, _cases(RefCase, raw))
        _judge_report(what, got, want, why)


@pytest.mark.task(4)
def test_run_tests_starts_each_attempt_from_a_fresh_namespace(learner) -> None:
    C = _learner_classes(learner)
    first = (
        "def _key(x):\n    return -x\n\ndef top(values):\n    return sorted(values, key=_key)[0]\n"
    )
    second = "def top(values):\n    return sorted(values, key=_key)[0]\n"
    third = "def best(values):\n    return max(values)\n"
    raw = [(([3, 9, 1],), 9)]
    for source in (first, second, third):
        what = f"run_tests({source!r}, 'top', cases), after the attempts before it"
        got = call_with_inputs(
            what, learner.run_tests, source, "top", _cases(C.Case, raw), given="that attempt"
        )
        want = ref_run_tests(source, "top", _cases(RefCase, raw))
        if got is not None and getattr(got, "passed", None) == 1 and want.passed == 0:
            fail(
                f"{what} passed; expected {want.failures!r}: the earlier attempt's definitions "
                "leaked into this one. exec each attempt in a new, empty dict"
            )
        _judge_report(what, got, want, "each attempt in a fresh namespace")


@pytest.mark.task(4)
def test_render_prompt_writes_the_task_and_the_lessons(learner) -> None:
    C = _learner_classes(learner)
    task = C.CodeTask("median", "Return the median of a list of numbers.", "median", [])
    for lessons in (
        [],
        ["median: sort the values before taking the middle one [sort]"],
        ["first lesson", "second lesson", "third lesson"],
    ):
        given = list(lessons)
        what = f"render_prompt(task, {lessons!r})"
        got = call_with_inputs(what, learner.render_prompt, task, given, given="that task")
        if given != lessons:
            fail(f"{what} changed the lessons it was given to {given!r}")
        want = ref_render(task, lessons)
        if got is None:
            fail(f"{what} is None: did you forget to `return` the prompt?")
        if got != want:
            clue = ""
            if not lessons and "Lessons" in str(got):
                clue = ": without lessons there is no header line"
            elif isinstance(got, str) and got + "\n" == want:
                clue = ": every line ends in a newline, the last one too"
            elif got == ref_render(task, lessons[::-1]):
                clue = ": the lessons go in the order given (the memory's order, oldest first)"
            fail(f"{what} is {got!r}; expected {want!r}: " + text_difference(str(got), want) + clue)


# ----- task 5: the scripted actor and reflector -------------------------------------------------
def _median_code(fixes: set[str]) -> str:
    xs = "sorted(values)" if "sort" in fixes else "list(values)"
    even = "(xs[n // 2 - 1] + xs[n // 2]) / 2" if "even" in fixes else "xs[n // 2]"
    return (
        f"def median(values):\n    xs = {xs}\n    n = len(xs)\n    if n % 2 == 1:\n"
        f"        return xs[n // 2]\n    return {even}\n"
    )


def _slugify_code(fixes: set[str]) -> str:
    lines = ["def slugify(title):", "    text = title" + (".lower()" if "lower" in fixes else "")]
    if "punct" in fixes:
        lines.append('    text = "".join(c for c in text if c.isalnum() or c == " ")')
    joiner = '"-"' if "dash" in fixes else '" "'
    lines.append(f"    return {joiner}.join(text.split())")
    return "\n".join(lines) + "\n"


def _fizzbuzz_code(fixes: set[str]) -> str:
    first, second = ("15", "3") if "order" in fixes else ("3", "15")
    words = {"15": "FizzBuzz", "3": "Fizz"}
    return (
        f"def fizzbuzz(n):\n    if n % {first} == 0:\n        return {words[first]!r}\n"
        f"    if n % {second} == 0:\n        return {words[second]!r}\n"
        "    if n % 5 == 0:\n        return 'Buzz'\n    return str(n)\n"
    )


def _clamp_code(fixes: set[str]) -> str:
    body = "max(low, min(x, high))" if "bounds" in fixes else "min(low, max(x, high))"
    return f"def clamp(x, low, high):\n    return {body}\n"


def _add_code(fixes: set[str]) -> str:
    return "def add(a, b):\n    return a + b\n"


def _running_max_code(fixes: set[str]) -> str:
    colon = ":" if "syntax" in fixes else ""
    if "empty" in fixes:
        body = (
            "    out = []\n    for v in values:\n"
            "        out.append(v if not out else max(out[-1], v))\n    return out\n"
        )
    else:
        body = (
            "    best = values[0]\n    out = []\n    for v in values:\n"
            "        best = max(best, v)\n        out.append(best)\n    return out\n"
        )
    return f"def running_max(values){colon}\n{body}"


@dataclass
class Scripted:
    prompt: str
    cases: list[tuple[tuple[Any, ...], Any]]
    code: Callable[[set[str]], str]
    tags: list[str]
    lessons: list[tuple[str, str]]  # (how a failure line starts, the lesson it gets)


SCRIPTED: dict[str, Scripted] = {
    "median": Scripted(
        "Return the median of a list of numbers.",
        MEDIAN_CASES,
        _median_code,
        ["sort", "even"],
        [
            ("median([3, 1, 2])", "median: sort the values before taking the middle one [sort]"),
            (
                "median([1, 2, 3, 4])",
                "median: with an even count, average the two middle values [even]",
            ),
        ],
    ),
    "slugify": Scripted(
        "Turn a title into a URL slug: lower case, words joined by '-', no punctuation.",
        [
            (("hello",), "hello"),
            (("Hello",), "hello"),
            (("big day",), "big-day"),
            (("wow!",), "wow"),
            (("Big Day!",), "big-day"),
        ],
        _slugify_code,
        ["lower", "dash", "punct"],
        [
            ("slugify('Hello')", "slugify: lower-case the title first [lower]"),
            ("slugify('big day')", "slugify: join the words with '-' [dash]"),
            ("slugify('wow!')", "slugify: drop punctuation, keep letters and digits [punct]"),
        ],
    ),
    "fizzbuzz": Scripted(
        "Return 'Fizz', 'Buzz', 'FizzBuzz' or the number as text.",
        [((3,), "Fizz"), ((5,), "Buzz"), ((15,), "FizzBuzz"), ((7,), "7")],
        _fizzbuzz_code,
        ["order"],
        [("fizzbuzz(15)", "fizzbuzz: test divisibility by 15 before 3 and 5 [order]")],
    ),
    "add": Scripted("Add two numbers.", [((2, 3), 5), ((-1, 1), 0)], _add_code, [], []),
    "clamp": Scripted(
        "Limit x to the range from low to high.",
        [((5, 0, 10), 5), ((-3, 0, 10), 0), ((12, 0, 10), 10)],
        _clamp_code,
        ["bounds"],
        [("clamp(5, 0, 10)", "clamp: max(low, min(x, high)), not the other way round [bounds]")],
    ),
    "running_max": Scripted(
        "Return the running maximum of a list.",
        [(([1, 3, 2],), [1, 3, 3]), (([],), []), (([5],), [5])],
        _running_max_code,
        ["syntax", "empty"],
        [
            ("SyntaxError", "running_max: the def line needs its colon [syntax]"),
            ("running_max([])", "running_max: an empty list has no first value [empty]"),
        ],
    ),
}


def _task(cls_task: Any, cls_case: Any, name: str) -> Any:
    sc = SCRIPTED[name]
    return cls_task(name, sc.prompt, name, _cases(cls_case, sc.cases))


def _prompt_lessons(prompt: Any) -> list[str]:
    if not isinstance(prompt, str):
        return []
    lines = prompt.splitlines()
    if "Lessons from earlier attempts:" not in lines:
        return []
    start = lines.index("Lessons from earlier attempts:") + 1
    return [line[2:] for line in lines[start:] if line.startswith("- ")]


class Actor:
    """Writes the task's code with the fixes named by the lessons in its prompt; logs it all."""

    def __init__(self, cap: int = 12) -> None:
        self.cap = cap
        self.seen: list[Any] = []
        self.wrote: list[str] = []

    def __call__(self, prompt: Any) -> str:
        self.seen.append(copy.deepcopy(prompt))
        if len(self.seen) > self.cap:
            raise Runaway
        text = prompt if isinstance(prompt, str) else ""
        name = next(
            (
                line.removeprefix("Write a Python function named ").rstrip(".")
                for line in text.splitlines()
                if line.startswith("Write a Python function named ")
            ),
            "",
        )
        sc = SCRIPTED.get(name)
        if sc is None:
            source = "# I do not know what to write\n"
        else:
            lessons = _prompt_lessons(text)
            fixes = {tag for tag in sc.tags if any(f"[{tag}]" in lesson for lesson in lessons)}
            source = sc.code(fixes)
        self.wrote.append(source)
        return source


class Reflector:
    """The lesson for the first failure it recognises; logs what it was shown."""

    def __init__(self, cap: int = 12) -> None:
        self.cap = cap
        self.seen: list[tuple[Any, Any, Any]] = []
        self.wrote: list[str] = []

    def __call__(self, task_prompt: Any, source: Any, failures: Any) -> str:
        self.seen.append(
            (copy.deepcopy(task_prompt), copy.deepcopy(source), copy.deepcopy(failures))
        )
        if len(self.seen) > self.cap:
            raise Runaway
        lesson = "read the failing tests again [none]"
        sc = next((s for s in SCRIPTED.values() if s.prompt == task_prompt), None)
        first = failures[0] if isinstance(failures, list) and failures else ""
        if sc is not None:
            for start, text in sc.lessons:
                if isinstance(first, str) and first.startswith(start):
                    lesson = text
                    break
        self.wrote.append(lesson)
        return lesson


@dataclass
class ReflexionCase:
    task: str
    max_trials: int = 4
    memory_size: int = 2
    use_memory: bool = True
    tokens: str | None = None  # "two trials" or "none": a budget computed from the reference
    about: str = ""


REFLEXION_CASES: dict[str, ReflexionCase] = {
    "median, window 2": ReflexionCase(
        "median", about="two bugs, a lesson for each; the window holds both"
    ),
    "median, window 1": ReflexionCase(
        "median",
        memory_size=1,
        about="two bugs and a window of one lesson: each fix is forgotten when the next lesson "
        "pushes it out",
    ),
    "median, window 0": ReflexionCase(
        "median", max_trials=3, memory_size=0, about="memory_size=0: no lesson is ever shown"
    ),
    "median, without memory": ReflexionCase(
        "median",
        max_trials=3,
        use_memory=False,
        about="use_memory=False: lessons are written, never shown",
    ),
    "add, solved at once": ReflexionCase("add", about="the first attempt passes"),
    "slugify, window 3": ReflexionCase(
        "slugify", max_trials=5, memory_size=3, about="three bugs, a window of three"
    ),
    "slugify, window 2": ReflexionCase(
        "slugify", max_trials=5, memory_size=2, about="three bugs, a window of two"
    ),
    "running_max, a syntax error first": ReflexionCase(
        "running_max", about="the first attempt does not compile"
    ),
    "fizzbuzz, one trial": ReflexionCase("fizzbuzz", max_trials=1, about="max_trials=1"),
    "fizzbuzz": ReflexionCase("fizzbuzz", about="one bug"),
    "median, tokens for two trials": ReflexionCase(
        "median",
        tokens="two trials",
        about="max_tokens is exactly the tokens of the first two prompts",
    ),
    "median, tokens for no trial": ReflexionCase(
        "median", tokens="none", about="max_tokens is one token short of the first prompt"
    ),
}


def _swap_in_reference_evaluator(learner, monkeypatch) -> Classes:
    C = _learner_classes(learner)
    monkeypatch.setattr(
        learner, "run_tests", lambda s, f, c: ref_run_tests(s, f, c, C), raising=False
    )
    monkeypatch.setattr(learner, "render_prompt", ref_render, raising=False)
    monkeypatch.setattr(learner, "count_tokens", ref_tokens, raising=False)
    return C


def _max_tokens(rc: ReflexionCase) -> int | None:
    if rc.tokens is None:
        return None
    task = _task(RefTask, RefCase, rc.task)
    run = ref_reflexion(
        task,
        Actor(),
        Reflector(),
        max_trials=rc.max_trials,
        memory_size=rc.memory_size,
        use_memory=rc.use_memory,
    )
    costs = [ref_tokens(t.prompt) for t in run.trials]
    return costs[0] + costs[1] if rc.tokens == "two trials" else costs[0] - 1


def _dedupe(lessons: list[str]) -> list[str]:
    return [x for i, x in enumerate(lessons) if x not in lessons[:i]]


LESSON_RULES: dict[str, tuple[Callable[[list[str], int, bool], list[str]], str]] = {
    # what a wrong loop does: (the lessons it shows, given the lessons so far), and the advice
    "shows no lessons at all": (
        lambda m, size, use: [],
        "pass the latest lessons of the memory into render_prompt",
    ),
    "builds each prompt before the latest lesson is in the memory": (
        lambda m, size, use: ref_shown(m[:-1], size, use),
        "append each lesson to the memory as soon as the reflector writes it, before the next "
        "prompt is built",
    ),
    "shows every lesson when memory_size is 0": (
        lambda m, size, use: list(m) if size == 0 and use else ref_shown(m, size, use),
        "memory_size=0 shows no lesson; careful, memory[-0:] is the whole list, since -0 is 0",
    ),
    "shows the oldest lessons": (
        lambda m, size, use: m[:size] if use else [],
        "show the latest memory_size lessons, memory[len(memory) - memory_size:]",
    ),
    "shows every lesson in the memory": (
        lambda m, size, use: list(m) if use else [],
        "show only the latest memory_size lessons",
    ),
    "shows lessons with use_memory=False": (
        lambda m, size, use: ref_shown(m, size, True),
        "use_memory=False means the actor is shown no lessons at all",
    ),
    "shows the lessons newest first": (
        lambda m, size, use: ref_shown(m, size, use)[::-1],
        "keep the memory's order, oldest first",
    ),
    "shows one lesson too many": (
        lambda m, size, use: m[max(0, len(m) - size - 1) :] if use else [],
        "memory_size lessons at most",
    ),
    "shows one lesson too few": (
        lambda m, size, use: m[max(0, len(m) - size + 1) :] if use and size > 1 else [],
        "memory_size lessons, when the memory has that many",
    ),
    "drops a lesson that is already in the memory": (
        lambda m, size, use: ref_shown(_dedupe(m), size, use),
        "the memory keeps every lesson, repeats too (a repeat means an old fix was forgotten)",
    ),
}


def _lesson_rules(task: Any, rc: ReflexionCase, actor: Actor, reflector: Reflector) -> list[str]:
    """The wrong window rules that give exactly the prompts the learner's actor read."""
    written: list[int] = []  # lessons written before each trial
    failed = 0
    for source in actor.wrote:
        written.append(failed)
        report = ref_run_tests(source, task.func_name, task.cases)
        failed += report.passed != report.total
    shown = [_prompt_lessons(p) for p in actor.seen]
    names = []
    for name, (rule, _) in LESSON_RULES.items():
        if all(
            shown[k] == rule(reflector.wrote[: written[k]], rc.memory_size, rc.use_memory)
            for k in range(len(shown))
            if k < len(written)
        ):
            names.append(name)
    return names


def _replay_reflexion(
    what: str, rc: ReflexionCase, task: Any, run: Any, actor: Actor, reflector: Reflector
) -> None:
    trials = getattr(run, "trials", None)
    if not isinstance(trials, list):
        fail(f"{what}: run.trials is {fmt(trials)[:100]}; expected a list of Trial")
    if len(trials) != len(actor.seen):
        clue = ""
        if len(trials) == len(actor.seen) + 1 and getattr(run, "status", None) == "out_of_tokens":
            clue = ": the trial the token budget refused never happened, so it has no Trial"
        fail(
            f"{what} called the actor {len(actor.seen)} time(s) but run.trials has {len(trials)} "
            f"Trial(s); expected one Trial per attempt{clue}"
        )
    memory: list[str] = []
    reflected = 0
    tokens = 0
    for k, trial in enumerate(trials):
        here = f"{what}: trial {k + 1}"
        number = getattr(trial, "number", "(missing)")
        if number != k + 1:
            fail(f"{here} has number={number!r}; expected {k + 1} (trials count from 1)")
        shown_prompt = actor.seen[k]
        want_prompt = ref_render(task, ref_shown(memory, rc.memory_size, rc.use_memory))
        if shown_prompt != want_prompt:
            shown = _prompt_lessons(shown_prompt)
            want = _prompt_lessons(want_prompt)
            rules = _lesson_rules(task, rc, actor, reflector)
            fail(
                f"{here}: the actor was shown the lessons {shown!r}; expected {want!r} (the "
                f"memory then held {memory!r}, memory_size={rc.memory_size}, use_memory="
                f"{rc.use_memory})"
                + "".join(
                    f". Your prompts are what a loop that {rule} gives: {LESSON_RULES[rule][1]}"
                    for rule in rules[:1]
                )
            )
        tokens += ref_tokens(shown_prompt)
        if getattr(trial, "prompt", None) != shown_prompt:
            fail(f"{here}: Trial.prompt is not the prompt the actor was shown at that trial")
        source = getattr(trial, "source", None)
        if source != actor.wrote[k]:
            fail(f"{here}: Trial.source is not what the actor wrote at that trial")
        want_report = ref_run_tests(source, task.func_name, task.cases)
        report = getattr(trial, "report", None)
        if _report_fields(report) != (want_report.passed, want_report.total, want_report.failures):
            fail(
                f"{here}: Trial.report is {fmt(report)[:300]}; expected run_tests of that "
                f"attempt: passed={want_report.passed}, total={want_report.total}, "
                f"failures={want_report.failures!r}"
            )
        lesson = getattr(trial, "lesson", "(missing)")
        if want_report.passed == want_report.total:
            if reflected < len(reflector.seen) and reflector.seen[reflected][1] == source:
                fail(
                    f"{here} passed every test, yet the reflector was asked about it: a lesson "
                    "is written only after a failed attempt"
                )
            if lesson is not None:
                fail(f"{here} passed every test; its lesson is {lesson!r}, expected None")
            continue
        if reflected >= len(reflector.seen):
            fail(
                f"{here} failed {len(want_report.failures)} test(s), but the reflector was not "
                "asked for a lesson about it: reflector(task.prompt, source, report.failures)"
            )
        got_args = reflector.seen[reflected]
        want_args = (task.prompt, source, want_report.failures)
        if got_args != want_args:
            names = ("the task's prompt", "the attempt's source", "the attempt's failures")
            i = next(i for i in range(3) if got_args[i] != want_args[i])
            clue = ""
            if i == 0 and got_args[0] == shown_prompt:
                clue = ": the task's own prompt (task.prompt), not the rendered one"
            elif i == 2 and k > 0 and got_args[2] == trials[k - 1].report.failures:
                clue = ": the failures of this attempt, not of the one before"
            fail(
                f"{here}: the reflector was given {fmt(got_args[i])[:200]} as {names[i]}; "
                f"expected {fmt(want_args[i])[:200]}{clue}"
            )
        if lesson != reflector.wrote[reflected]:
            fail(
                f"{here}: Trial.lesson is {lesson!r}; expected what the reflector wrote, "
                f"{reflector.wrote[reflected]!r}"
            )
        reflected += 1
        memory.append(lesson)
    if reflected != len(reflector.seen):
        fail(
            f"{what} asked the reflector {len(reflector.seen)} time(s); expected {reflected}, "
            "once per failed trial"
        )
    got_memory = getattr(run, "memory", None)
    if got_memory != memory:
        clue = ""
        if not rc.use_memory and got_memory == []:
            clue = (
                ": with use_memory=False the lessons are still written into the memory, only "
                "never shown"
            )
        fail(
            f"{what}: run.memory is {fmt(got_memory)[:300]}; expected every lesson, {memory!r}{clue}"
        )
    got_tokens = getattr(run, "tokens", None)
    if got_tokens != tokens:
        clue = ""
        sources = sum(ref_tokens(t.source) for t in trials)
        if got_tokens == tokens + sources:
            clue = ": count the prompts' tokens only, not what the actor wrote"
        fail(
            f"{what}: run.tokens is {got_tokens!r}; expected {tokens}, the count_tokens of every "
            f"prompt the actor read{clue}"
        )


def _run_reflexion_case(learner, monkeypatch, title: str) -> None:
    rc = REFLEXION_CASES[title]
    C = _swap_in_reference_evaluator(learner, monkeypatch)
    max_tokens = _max_tokens(rc)
    ref_actor, ref_reflector = Actor(), Reflector()
    ref = ref_reflexion(
        _task(RefTask, RefCase, rc.task),
        ref_actor,
        ref_reflector,
        max_trials=rc.max_trials,
        memory_size=rc.memory_size,
        use_memory=rc.use_memory,
        max_tokens=max_tokens,
    )
    task = _task(C.CodeTask, C.Case, rc.task)
    actor, reflector = Actor(rc.max_trials + 4), Reflector(rc.max_trials + 4)
    what = (
        f"reflexion(task {rc.task!r}, actor, reflector, max_trials={rc.max_trials}, "
        f"memory_size={rc.memory_size}, use_memory={rc.use_memory}, max_tokens={max_tokens}) "
        f"('{title}': {rc.about})"
    )
    try:
        run = learner.reflexion(
            task,
            actor,
            reflector,
            max_trials=rc.max_trials,
            memory_size=rc.memory_size,
            use_memory=rc.use_memory,
            max_tokens=max_tokens,
        )
    except NotImplementedError:
        raise
    except Runaway:
        fail(
            f"{what} called the actor {len(actor.seen)} times and kept going: at most "
            f"max_trials={rc.max_trials} attempts"
        )
    except Exception as exc:
        fail(f"{what} raised {type(exc).__name__}: {str(exc)[:200]}")
    if run is None:
        fail(f"{what} is None: did you forget to `return` the ReflexionRun?")
    _replay_reflexion(what, rc, task, run, actor, reflector)
    trials, want = len(run.trials), len(ref.trials)
    if trials != want:
        clue = ""
        last = ref.trials[-1] if ref.trials else None
        if trials > want and ref.status == "solved":
            clue = f": trial {want} passed every test; stop there with status 'solved'"
        elif trials > want and ref.status == "gave_up":
            clue = f": max_trials={rc.max_trials} attempts, not one more"
        elif trials > want and ref.status == "out_of_tokens":
            spent = sum(ref_tokens(t.prompt) for t in ref.trials)
            nxt = ref_tokens(ref_render(task, ref_shown(ref.memory, rc.memory_size, True)))
            clue = (
                f": trial {want + 1}'s prompt would take the tokens to {spent + nxt} > "
                f"max_tokens={max_tokens}; stop before calling the actor"
            )
        elif trials < want and getattr(run, "status", None) == "out_of_tokens":
            spent = sum(ref_tokens(t.prompt) for t in ref.trials[: trials + 1])
            clue = (
                f": trial {trials + 1} brings the tokens to {spent}, which is not more than "
                f"max_tokens={max_tokens}; stop only when a prompt would go past the budget"
            )
        elif trials < want:
            clue = (
                f": the loop stops only on an attempt that passes, after max_trials="
                f"{rc.max_trials} trials, or on the token budget"
            )
        del last
        fail(f"{what} made {trials} trial(s); expected {want}{clue}")
    status = getattr(run, "status", "(missing)")
    if status != ref.status:
        fail(f"{what}: run.status is {status!r}; expected {ref.status!r}")


@pytest.mark.task(5)
def test_reflexion_carries_each_lesson_into_the_next_prompt(learner, monkeypatch) -> None:
    _run_reflexion_case(learner, monkeypatch, "median, window 2")
    _run_reflexion_case(learner, monkeypatch, "running_max, a syntax error first")


@pytest.mark.task(5)
def test_reflexion_stops_on_success(learner, monkeypatch) -> None:
    _run_reflexion_case(learner, monkeypatch, "add, solved at once")
    _run_reflexion_case(learner, monkeypatch, "fizzbuzz")


@pytest.mark.task(5)
def test_reflexion_shows_only_the_latest_lessons(learner, monkeypatch) -> None:
    _run_reflexion_case(learner, monkeypatch, "median, window 1")
    _run_reflexion_case(learner, monkeypatch, "slugify, window 3")
    _run_reflexion_case(learner, monkeypatch, "slugify, window 2")


@pytest.mark.task(5)
def test_reflexion_without_memory(learner, monkeypatch) -> None:
    _run_reflexion_case(learner, monkeypatch, "median, window 0")
    _run_reflexion_case(learner, monkeypatch, "median, without memory")


@pytest.mark.task(5)
def test_reflexion_stops_after_max_trials(learner, monkeypatch) -> None:
    _run_reflexion_case(learner, monkeypatch, "fizzbuzz, one trial")


@pytest.mark.task(5)
def test_reflexion_keeps_to_the_token_budget(learner, monkeypatch) -> None:
    _run_reflexion_case(learner, monkeypatch, "median, tokens for two trials")
    _run_reflexion_case(learner, monkeypatch, "median, tokens for no trial")


# ----- task 5: what the memory buys -------------------------------------------------------------
RATE_TASKS = ["median", "slugify", "fizzbuzz", "add", "running_max", "clamp"]


def _rate_mistakes(runs: dict[str, list[Any]], n: int, max_trials: int) -> dict[str, Any]:
    def table(count: Callable[[Any, int], bool], per: Callable[[list[Any]], int]) -> Any:
        return {
            name: [sum(count(r, k) for r in rs) / max(per(rs), 1) for k in range(1, max_trials + 1)]
            for name, rs in runs.items()
        }

    def solved(r: Any, k: int) -> bool:
        return r.status == "solved" and len(r.trials) <= k

    right = ref_rates(runs, n, max_trials)
    return {
        "the tasks solved at exactly trial k, not within k trials": table(
            lambda r, k: r.status == "solved" and len(r.trials) == k, lambda rs: n
        ),
        "a fraction of the solved tasks, not of all tasks": table(
            solved, lambda rs: sum(r.status == "solved" for r in rs)
        ),
        "runs that gave up counted as solved once k reaches their number of trials": table(
            lambda r, k: len(r.trials) <= k, lambda rs: n
        ),
        "k counted from 0 (within k - 1 trials)": table(
            lambda r, k: r.status == "solved" and len(r.trials) <= k - 1, lambda rs: n
        ),
        "the two runs swapped": {
            "with_memory": right["without_memory"],
            "without_memory": right["with_memory"],
        },
        "counts instead of fractions": table(solved, lambda rs: 1),
        "fractions rounded to one decimal": {
            name: [round(x, 1) for x in rates] for name, rates in right.items()
        },
        "fractions rounded to two decimals": {
            name: [round(x, 2) for x in rates] for name, rates in right.items()
        },
    }


def _swap_in_reference_reflexion(learner, monkeypatch, log: list[dict[str, Any]]) -> None:
    C = _swap_in_reference_evaluator(learner, monkeypatch)

    def reflexion(task: Any, actor: Any, reflector: Any, **kwargs: Any) -> Any:
        log.append({"task": getattr(task, "name", None), **kwargs})
        if len(log) > 40:
            raise Runaway
        return ref_reflexion(task, actor, reflector, C=C, **kwargs)

    monkeypatch.setattr(learner, "reflexion", reflexion, raising=False)


def _check_rates(learner, monkeypatch, max_trials: int, memory_size: int) -> None:
    log: list[dict[str, Any]] = []
    _swap_in_reference_reflexion(learner, monkeypatch, log)
    C = _learner_classes(learner)
    tasks = [_task(C.CodeTask, C.Case, name) for name in RATE_TASKS]
    what = (
        f"solve_rates({RATE_TASKS} tasks, actor, reflector, max_trials={max_trials}, "
        f"memory_size={memory_size})"
    )
    try:
        got = learner.solve_rates(
            tasks, Actor(200), Reflector(200), max_trials=max_trials, memory_size=memory_size
        )
    except NotImplementedError:
        raise
    except Exception as exc:
        fail(f"{what} raised {type(exc).__name__}: {str(exc)[:200]}")
    runs = {
        name: [
            ref_reflexion(
                _task(RefTask, RefCase, t),
                Actor(),
                Reflector(),
                max_trials=max_trials,
                memory_size=memory_size,
                use_memory=use,
            )
            for t in RATE_TASKS
        ]
        for name, use in (("with_memory", True), ("without_memory", False))
    }
    want = ref_rates(runs, len(RATE_TASKS), max_trials)
    calls = [(c.get("task"), c.get("use_memory", True)) for c in log]
    wanted = [(t, use) for use in (True, False) for t in RATE_TASKS]
    if sorted(calls, key=repr) != sorted(wanted, key=repr):
        fail(
            f"{what} ran reflexion {len(log)} time(s) ({calls!r}); expected once per task with "
            "use_memory=True and once with use_memory=False"
        )
    for call in log:
        for name, value in (("max_trials", max_trials), ("memory_size", memory_size)):
            if call.get(name, {"max_trials": 4, "memory_size": 2}[name]) != value:
                fail(
                    f"{what} ran reflexion with {name}={call.get(name, '(default)')}; expected "
                    f"{value}: pass solve_rates' {name} on"
                )
    if got is None:
        fail(f"{what} is None: did you forget to `return` the rates?")
    if not isinstance(got, dict) or set(got) != set(want):
        fail(
            f"{what} is {fmt(got)[:200]}; expected a dict with the keys 'with_memory' and "
            "'without_memory'"
        )
    for name in ("with_memory", "without_memory"):
        rates = got[name]
        if not isinstance(rates, list) or len(rates) != max_trials:
            fail(
                f"{what}[{name!r}] is {fmt(rates)[:200]}; expected a list of {max_trials} "
                "fractions, one for each k = 1..max_trials"
            )
    if all(
        all(abs(float(a) - b) < 1e-12 for a, b in zip(got[n], want[n], strict=True)) for n in want
    ):
        return
    label = matching_mistake(got, _rate_mistakes(runs, len(RATE_TASKS), max_trials), exact=True)
    solved = {
        name: [
            f"{r.trials[-1].number}" if r.status == "solved" else "no"
            for r in rs  # the trial each task was solved at
        ]
        for name, rs in runs.items()
    }
    fail(
        f"{what} is {got!r}; expected {want!r}"
        + (f": that looks like {label}" if label else "")
        + f". The tasks {RATE_TASKS} are solved at trials {solved['with_memory']} with memory "
        f"and {solved['without_memory']} without"
    )


@pytest.mark.task(5)
def test_solve_rates_measure_what_the_memory_buys(learner, monkeypatch) -> None:
    _check_rates(learner, monkeypatch, max_trials=4, memory_size=2)
    _check_rates(learner, monkeypatch, max_trials=5, memory_size=3)
    _check_rates(learner, monkeypatch, max_trials=3, memory_size=1)
