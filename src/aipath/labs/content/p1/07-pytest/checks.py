"""Checks for p1-pytest: the learner's tests, run against the real TokenBucket and ten mutants.

The learner's test file is executed directly (no pytest subprocess): for each implementation
the component module is swapped in ``sys.modules["ratelimiter"]``, the test module is executed
afresh (so ``from ratelimiter import TokenBucket`` binds the implementation under test), and its
tests are called with their fixtures and parameters.  Eleven runs of a small suite take a few
milliseconds.  Each test case gets a CPU-time limit, so a loop that never ends against a mutant
counts as a kill instead of hanging the check.  Mutants live next to this file and never reach
the learner's folder.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import math
import random
import signal
import sys
import tempfile
import traceback
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aipath.checks import assert_close, fail
from aipath.grader.sandbox import LearnerExit, SandboxViolation

LAB_DIR = Path(__file__).resolve().parent
COMPONENT = "ratelimiter"
REFERENCE = LAB_DIR / "ratelimiter.py"
MUTANTS = sorted((LAB_DIR / "mutants").glob("m*.py"))
CASE_CPU_LIMIT_S = 0.5
THRESHOLD = 0.9
# The behaviours task 2 asks for, as the mutants that break them.
TASK2_MUTANTS = ("m02_no_cap", "m05_rate_divides", "m06_forgets_last_refill")
BUILTIN_FIXTURES = ("tmp_path", "monkeypatch")


class CaseTimeout(BaseException):
    """A test case used more CPU time than any test of this component needs."""


class Unsupported(Exception):
    """The learner's file uses a pytest feature this runner does not implement."""


@dataclass
class Case:
    name: str  # test_refill[2.0-0.5-1.0]
    function: str  # test_refill (or TestBucket.test_refill)
    call: Callable[..., Any]
    params: dict[str, Any]
    extra_fixtures: tuple[str, ...]
    line: int
    skip: str | None = None


@dataclass
class Outcome:
    case: Case
    status: str  # passed, failed, timeout, todo, skipped
    detail: str = ""


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    problem: str | None = None  # the file could not be collected

    def real(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status not in ("todo", "skipped")]

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in ("failed", "timeout")]

    def todo_functions(self) -> list[str]:
        by_function: dict[str, set[str]] = {}
        for o in self.outcomes:
            by_function.setdefault(o.case.function, set()).add(o.status)
        return [name for name, statuses in by_function.items() if statuses == {"todo"}]


# ----- loading modules -----------------------------------------------------------------------------


def load_component(path: Path) -> types.ModuleType:
    module = types.ModuleType(COMPONENT)
    module.__file__ = str(path)
    sys.modules[COMPONENT] = module
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)  # noqa: S102
    return module


def compile_learner(path: Path) -> types.CodeType:
    """The learner's code, with pytest's assertion rewriting so failures show the values."""
    source = path.read_bytes()
    tree = ast.parse(source, filename=str(path))
    try:
        from _pytest.assertion.rewrite import rewrite_asserts

        rewrite_asserts(tree, source, str(path), None)
    except Exception:  # noqa: BLE001 - plain asserts still work, only the messages are shorter
        tree = ast.parse(source, filename=str(path))
    return compile(tree, str(path), "exec", dont_inherit=True)


def fixture_marker(obj: Any) -> Any:
    return getattr(obj, "_fixture_function_marker", None) or getattr(
        obj, "_pytestfixturefunction", None
    )


def fixture_function(obj: Any) -> Callable[..., Any]:
    """The plain function behind a @pytest.fixture (whose wrapper refuses direct calls)."""
    getter = getattr(obj, "_get_wrapped_function", None)
    if callable(getter):
        return getter()
    return getattr(obj, "_fixture_function", None) or getattr(obj, "__wrapped__", obj)


@dataclass
class Fixture:
    name: str
    function: Callable[..., Any]
    autouse: bool


def collect_fixtures(module: types.ModuleType) -> dict[str, Fixture]:
    fixtures: dict[str, Fixture] = {}
    for attribute, obj in vars(module).items():
        marker = fixture_marker(obj)
        if marker is None:
            continue
        name = getattr(marker, "name", None) or attribute
        if getattr(marker, "params", None) is not None:
            raise Unsupported(
                f"fixture `{name}` uses params=: the checker does not support fixture "
                "parametrization; use @pytest.mark.parametrize on the tests instead"
            )
        fixtures[name] = Fixture(name, fixture_function(obj), bool(getattr(marker, "autouse", 0)))
    return fixtures


def _marks(obj: Any) -> list[Any]:
    marks = getattr(obj, "pytestmark", [])
    return list(marks) if isinstance(marks, list | tuple) else [marks]


def _skip_reason(marks: list[Any]) -> str | None:
    for mark in marks:
        if mark.name == "skip":
            return str(mark.kwargs.get("reason", mark.args[0] if mark.args else "skip"))
        if mark.name == "skipif" and (not mark.args or any(bool(a) for a in mark.args)):
            return str(mark.kwargs.get("reason", "skipif"))
        if mark.name == "xfail":
            return "xfail"
    return None


def _id(value: Any, argname: str, index: int) -> str:
    if isinstance(value, bool | int | float | str) or value is None:
        return str(value)
    return f"{argname}{index}"


def parameter_sets(function: Callable[..., Any]) -> list[tuple[str, dict[str, Any], str | None]]:
    """(id, parameters, skip reason) for every case of a (possibly stacked) parametrize."""
    combos: list[tuple[str, dict[str, Any], str | None]] = [("", {}, None)]
    for mark in _marks(function):
        if mark.name != "parametrize":
            continue
        if mark.kwargs.get("indirect"):
            raise Unsupported(
                f"{function.__name__} uses indirect= parametrization, which the checker does not "
                "support: pass the values to the test directly"
            )
        argnames = mark.args[0] if mark.args else mark.kwargs["argnames"]
        argvalues = mark.args[1] if len(mark.args) > 1 else mark.kwargs["argvalues"]
        ids = mark.kwargs.get("ids")
        names = (
            [n.strip() for n in argnames.split(",") if n.strip()]
            if isinstance(argnames, str)
            else list(argnames)
        )
        cases: list[tuple[str, dict[str, Any], str | None]] = []
        for index, raw in enumerate(argvalues):
            marks: list[Any] = []
            case_id = None
            if type(raw).__name__ == "ParameterSet" and hasattr(raw, "values"):
                values = tuple(raw.values)
                marks = list(raw.marks)
                case_id = raw.id
            elif len(names) == 1:
                values = (raw,)
            else:
                values = tuple(raw)
            if len(values) != len(names):
                raise Unsupported(
                    f"{function.__name__}: case {index} of parametrize({argnames!r}) has "
                    f"{len(values)} values for {len(names)} names"
                )
            if case_id is None and isinstance(ids, list | tuple) and index < len(ids):
                case_id = str(ids[index])
            if case_id is None:
                case_id = "-".join(_id(v, n, index) for v, n in zip(values, names, strict=True))
            cases.append((case_id, dict(zip(names, values, strict=True)), _skip_reason(marks)))
        combos = [
            ("-".join(p for p in (old_id, new_id) if p), {**old, **new}, old_skip or new_skip)
            for (old_id, old, old_skip), (new_id, new, new_skip) in itertools.product(combos, cases)
        ]
    return combos


def collect_cases(module: types.ModuleType) -> list[Case]:
    cases: list[Case] = []

    def add(qualname: str, function: Callable[..., Any], bind: Callable[[], Any] | None) -> None:
        marks = _marks(function)
        skip = _skip_reason(marks)
        extra: list[str] = []
        for mark in marks:
            if mark.name == "usefixtures":
                extra.extend(str(a) for a in mark.args)
        line = getattr(getattr(function, "__code__", None), "co_firstlineno", 0)
        for case_id, params, case_skip in parameter_sets(function):
            name = f"{qualname}[{case_id}]" if case_id else qualname
            cases.append(
                Case(name, qualname, _binder(function, bind), params, tuple(extra), line,
                     skip or case_skip)
            )

    for attribute, obj in vars(module).items():
        if fixture_marker(obj) is not None:
            continue
        if attribute.startswith("test") and inspect.isfunction(obj):
            add(attribute, obj, None)
        elif attribute.startswith("Test") and inspect.isclass(obj) and "__init__" not in vars(obj):
            for method_name, method in vars(obj).items():
                if method_name.startswith("test") and inspect.isfunction(method):
                    add(f"{attribute}.{method_name}", method, obj)
    return cases


def _binder(function: Callable[..., Any], cls: Any) -> Callable[..., Any]:
    """A callable taking the test's fixtures; for a method, a fresh instance per call."""
    if cls is None:
        return function

    def call(**kwargs: Any) -> Any:
        instance = cls()
        bound = getattr(instance, function.__name__)
        if callable(getattr(instance, "setup_method", None)):
            instance.setup_method(bound)
        try:
            return bound(**kwargs)
        finally:
            if callable(getattr(instance, "teardown_method", None)):
                instance.teardown_method(bound)

    signature = inspect.signature(function)
    call.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    return call


# ----- running -------------------------------------------------------------------------------------


def _on_cpu_limit(_signum: int, _frame: Any) -> None:
    raise CaseTimeout


@contextmanager
def cpu_limit(seconds: float) -> Iterator[None]:
    previous = signal.signal(signal.SIGVTALRM, _on_cpu_limit)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)


def _fixture_args(function: Callable[..., Any]) -> list[str]:
    signature = inspect.signature(function)
    return [
        name
        for name, parameter in signature.parameters.items()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]


def _where(exc: BaseException, learner_path: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == learner_path]
    if not frames:
        return ""
    frame = frames[-1]
    return f" at line {frame.lineno}: `{(frame.line or '').strip()}`"


def _describe(exc: BaseException, learner_path: str) -> str:
    text = str(exc).strip()
    lines = text.splitlines()
    if len(lines) > 6:
        text = "\n".join(lines[:6]) + "\n…"
    label = type(exc).__name__
    return f"{label}{_where(exc, learner_path)}" + (f"\n{text}" if text else "")


def run_case(
    case: Case, fixtures: dict[str, Fixture], learner_path: str
) -> Outcome:
    if case.skip is not None:
        return Outcome(case, "skipped", case.skip)
    cache: dict[str, Any] = {}
    teardowns: list[Callable[[], None]] = []

    def get(name: str, chain: tuple[str, ...]) -> Any:
        if name in case.params:
            return case.params[name]
        if name in cache:
            return cache[name]
        if name in chain:
            raise Unsupported(f"fixtures depend on each other in a circle: {' → '.join(chain)}")
        if name in fixtures:
            fixture = fixtures[name]
            kwargs = {p: get(p, (*chain, name)) for p in _fixture_args(fixture.function)}
            value = fixture.function(**kwargs)
            if inspect.isgenerator(value):
                generator = value
                value = next(generator)

                def finish(generator: Any = generator) -> None:
                    for _ in generator:
                        break

                teardowns.append(finish)
        elif name == "tmp_path":
            value = Path(tempfile.mkdtemp(prefix="tmp_path-"))
        elif name == "monkeypatch":
            value = pytest.MonkeyPatch()
            teardowns.append(value.undo)
        else:
            raise Unsupported(
                f"{case.function} asks for a fixture `{name}` that is not defined in the file "
                f"(the checker provides {', '.join(BUILTIN_FIXTURES)} and the fixtures you define)"
            )
        cache[name] = value
        return value

    random.seed(0)
    try:
        with cpu_limit(CASE_CPU_LIMIT_S):
            try:
                for fixture in fixtures.values():
                    if fixture.autouse:
                        get(fixture.name, ())
                for name in case.extra_fixtures:
                    get(name, ())
                kwargs = {name: get(name, ()) for name in _fixture_args(case.call)}
                case.call(**kwargs)
            finally:
                for teardown in reversed(teardowns):
                    teardown()
    except (Unsupported, SandboxViolation, LearnerExit, MemoryError, KeyboardInterrupt, SystemExit):
        raise
    except CaseTimeout:
        return Outcome(case, "timeout", f"used more than {CASE_CPU_LIMIT_S} s of CPU time")
    except NotImplementedError:
        return Outcome(case, "todo")
    except pytest.skip.Exception as exc:
        return Outcome(case, "skipped", str(exc))
    except BaseException as exc:  # noqa: BLE001 - any failure of a test is a verdict
        return Outcome(case, "failed", _describe(exc, learner_path))
    return Outcome(case, "passed")


@dataclass
class Suite:
    path: Path
    code: types.CodeType

    def run(self, component: Path, *, stop_at_first_failure: bool) -> Run:
        saved = {name: sys.modules.get(name) for name in (COMPONENT, "aipath_learner_tests")}
        run = Run()
        try:
            load_component(component)
            module = types.ModuleType("aipath_learner_tests")
            module.__file__ = str(self.path)
            sys.modules[module.__name__] = module
            try:
                exec(self.code, module.__dict__)  # noqa: S102 - the learner file, run as pytest would
            except NotImplementedError:
                run.problem = "todo"
                return run
            try:
                fixtures = collect_fixtures(module)
                cases = collect_cases(module)
                for case in cases:
                    outcome = run_case(case, fixtures, str(self.path))
                    run.outcomes.append(outcome)
                    if stop_at_first_failure and outcome.status in ("failed", "timeout"):
                        break
            except Unsupported as exc:
                run.problem = str(exc)
        finally:
            for name, module in saved.items():
                if module is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = module
        return run


def mutant_words(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or path.stem
    return doc.removeprefix("Mutant:").strip().rstrip(".")


# ----- fixtures for the checks ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def suite(learner_file: Path) -> Suite:
    return Suite(learner_file, compile_learner(learner_file))


@pytest.fixture(scope="session")
def reference_run(suite: Suite) -> Run:
    return suite.run(REFERENCE, stop_at_first_failure=False)


@pytest.fixture(scope="session")
def mutant_runs(suite: Suite) -> dict[str, Run]:
    return {path.stem: suite.run(path, stop_at_first_failure=True) for path in MUTANTS}


def require_tests(run: Run) -> None:
    if run.problem == "todo" or not run.real():
        raise NotImplementedError("no test is written yet")
    if run.problem:
        fail(run.problem)


def require_green(run: Run) -> None:
    failures = run.failures()
    if failures:
        fail(
            f"{len(failures)} of your tests fail on the correct TokenBucket, so they cannot tell "
            "working code from broken code; fix them first (see task 1)"
        )


def killed(run: Run) -> Outcome | None:
    return next(iter(run.failures()), None)


# ----- task 1 --------------------------------------------------------------------------------------


@pytest.mark.task(1)
def test_fake_clock(learner):
    clock = learner.FakeClock()
    assert_close(clock(), 0.0, name="FakeClock()()")
    clock.advance(2.5)
    clock.advance(0.25)
    assert_close(
        clock(),
        2.75,
        name="FakeClock() after advance(2.5) and advance(0.25)",
        mistakes={"advance() setting the time instead of moving it forward": 0.25},
    )
    later = learner.FakeClock(5.0)
    assert_close(later(), 5.0, name="FakeClock(5.0)()")
    later.advance(2.5)
    assert_close(
        later(),
        7.5,
        name="FakeClock(5.0) after advance(2.5)",
        mistakes={"advance() setting the time instead of moving it forward": 2.5},
    )
    if not math.isclose(later(), 7.5):
        fail("reading FakeClock twice changed its time: calling it must not move it")


@pytest.mark.task(1)
def test_suite_passes_on_the_real_bucket(reference_run):
    require_tests(reference_run)
    failures = reference_run.failures()
    if failures:
        shown = "\n".join(f"  - {o.case.name}: {o.detail}" for o in failures[:5])
        more = f"\n  … and {len(failures) - 5} more" if len(failures) > 5 else ""
        fail(
            f"{len(failures)} of {len(reference_run.real())} tests fail on the correct "
            "TokenBucket (a test must pass on working code before it can catch broken code; "
            f"re-read the contract in ratelimiter.py):\n{shown}{more}"
        )


def _asserting_helpers(tree: ast.Module) -> set[str]:
    """Module-level helper functions that assert (directly or through another helper)."""
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    asserting = {name for name, node in functions.items() if _asserts(node, set())}
    changed = True
    while changed:
        changed = False
        for name, node in functions.items():
            if name not in asserting and _asserts(node, asserting):
                asserting.add(name)
                changed = True
    return asserting


def _asserts(node: ast.AST, helpers: set[str]) -> bool:
    for child in ast.walk(node):
        if isinstance(child, ast.Assert):
            return True
        if isinstance(child, ast.Call):
            func = child.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"raises", "warns", "fail", "deprecated_call"} or name in helpers:
                return True
    return False


@pytest.mark.task(1)
def test_every_test_asserts(suite, reference_run):
    require_tests(reference_run)
    tree = ast.parse(suite.path.read_text(encoding="utf-8"))
    helpers = _asserting_helpers(tree)
    todo = set(reference_run.todo_functions())
    nodes: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            nodes[node.name] = node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                    nodes[f"{node.name}.{item.name}"] = item
    silent = [
        f"{name} (line {node.lineno})"
        for name, node in nodes.items()
        if name not in todo and not _asserts(node, helpers)
    ]
    if silent:
        who = "this test asserts" if len(silent) == 1 else "each of these tests asserts"
        fail(
            f"{', '.join(silent)}: {who} nothing. A test without an `assert` (or "
            "`pytest.raises`) passes whatever the code returns, so it can only catch crashes; "
            "assert on the result"
        )


# ----- task 2 --------------------------------------------------------------------------------------


@pytest.mark.task(2)
def test_parametrized_refill_test(reference_run, mutant_runs):
    require_tests(reference_run)
    by_function: dict[str, list[Outcome]] = {}
    for outcome in reference_run.outcomes:
        if outcome.case.params:
            by_function.setdefault(outcome.case.function, []).append(outcome)
    written = {
        name: [o for o in outcomes if o.status not in ("todo", "skipped")]
        for name, outcomes in by_function.items()
    }
    written = {name: outcomes for name, outcomes in written.items() if outcomes}
    if not written:
        raise NotImplementedError("no parametrized test is written yet")
    best = max(written, key=lambda name: len(written[name]))
    if len(written[best]) < 3:
        fail(
            f"your parametrized test {best} runs {len(written[best])} case(s); task 2 asks for "
            "at least three (rate, elapsed, expected) cases, with rates other than 1"
        )
    require_green(reference_run)
    survivors = [name for name in TASK2_MUTANTS if killed(mutant_runs[name]) is None]
    if survivors:
        words = "\n".join(f"  - {mutant_words(LAB_DIR / 'mutants' / f'{n}.py')}" for n in survivors)
        fail(
            "your tests pass on a bucket with a refill bug that task 2 is about — these "
            f"mutants survived:\n{words}\nAdd a case or a test that this bug would fail"
        )


# ----- task 3 --------------------------------------------------------------------------------------


@pytest.mark.task(3)
def test_mutation_score(reference_run, mutant_runs):
    require_tests(reference_run)
    require_green(reference_run)
    problems = [run.problem for run in mutant_runs.values() if run.problem not in (None, "todo")]
    if problems:
        fail(problems[0])
    survivors = [name for name, run in mutant_runs.items() if killed(run) is None]
    total = len(mutant_runs)
    score = (total - len(survivors)) / total
    if score >= THRESHOLD:
        return
    words = "\n".join(
        f"  - {mutant_words(LAB_DIR / 'mutants' / f'{name}.py')}" for name in survivors
    )
    todo = reference_run.todo_functions()
    still = (
        f"\n({len(todo)} test(s) still raise NotImplementedError: {', '.join(todo)})" if todo else ""
    )
    fail(
        f"mutation score {score:.0%} ({total - len(survivors)} of {total} mutants killed); "
        f"this lab asks for at least {THRESHOLD:.0%}. {len(survivors)} mutants survived — each "
        f"is a bug your tests let through:\n{words}{still}"
    )
