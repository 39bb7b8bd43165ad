"""Judge a learner's *tests*: run them against the real component and against mutants.

A lab that teaches testing gives the learner a component (``ratelimiter.py``) and asks for a
test file.  The check runs that file against the real component (every test must pass) and
against mutants — copies of the component, each with one bug (every mutant must make some test
fail).  A mutant no test notices is a bug the suite lets through.

The learner's test file is executed directly, not in a pytest subprocess: for each
implementation the component module is swapped in ``sys.modules[component]``, the test module
is executed afresh (so ``from ratelimiter import TokenBucket`` binds the implementation under
test), and its tests are called with their fixtures and parameters.  A run of a small suite
takes a few milliseconds.  Each test case gets a CPU-time limit, so a loop that never ends
against a mutant counts as a kill instead of hanging the check.

::

    suite = Suite(learner_file, component="ratelimiter")
    reference = suite.run(LAB_DIR / "ratelimiter.py")
    mutants = suite.run_mutants(sorted((LAB_DIR / "mutants").glob("m*.py")))
    survivors = [name for name, run in mutants.items() if run.killed_by is None]

Supported: test functions and ``Test*`` classes (``setup_method``/``teardown_method``),
``@pytest.fixture`` (plain and yield, ``autouse``), ``tmp_path`` and ``monkeypatch``, stacked
``@pytest.mark.parametrize`` with ``pytest.param`` and ``ids``, ``skip``/``skipif``/``xfail``
marks, ``usefixtures``.  Anything else is reported as :class:`Unsupported`, with a message.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import random
import signal
import sys
import tempfile
import traceback
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "BUILTIN_FIXTURES",
    "Case",
    "CaseTimeout",
    "Outcome",
    "Run",
    "Suite",
    "Unsupported",
    "asserting_helpers",
    "mutant_description",
    "silent_tests",
]

BUILTIN_FIXTURES = ("tmp_path", "monkeypatch")
TESTS_MODULE = "aipath_learner_tests"


class CaseTimeout(BaseException):
    """A test case used more CPU time than any test of the component needs."""


class Unsupported(Exception):
    """The learner's file uses a pytest feature this runner does not implement."""


@dataclass
class Case:
    """One test case: a test function with one set of parameters."""

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
    """The outcomes of the suite against one implementation."""

    outcomes: list[Outcome] = field(default_factory=list)
    problem: str | None = None  # "todo", or why the file could not be collected

    def real(self) -> list[Outcome]:
        """The cases that ran (not skipped, not still ``raise NotImplementedError``)."""
        return [o for o in self.outcomes if o.status not in ("todo", "skipped")]

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in ("failed", "timeout")]

    @property
    def killed_by(self) -> Outcome | None:
        """The first failing case: against a mutant, the test that caught it."""
        return next(iter(self.failures()), None)

    def todo_functions(self) -> list[str]:
        """Test functions whose every case still raises NotImplementedError."""
        by_function: dict[str, set[str]] = {}
        for o in self.outcomes:
            by_function.setdefault(o.case.function, set()).add(o.status)
        return [name for name, statuses in by_function.items() if statuses == {"todo"}]


# ----- loading --------------------------------------------------------------------------------


def _load_component(name: str, path: Path) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)
    return module


def compile_tests(path: Path) -> types.CodeType:
    """The learner's test file, with pytest's assertion rewriting so failures show the values."""
    source = path.read_bytes()
    tree = ast.parse(source, filename=str(path))
    try:
        from _pytest.assertion.rewrite import rewrite_asserts

        rewrite_asserts(tree, source, str(path), None)
    except Exception:  # plain asserts still work, only the messages are shorter
        tree = ast.parse(source, filename=str(path))
    return compile(tree, str(path), "exec", dont_inherit=True)


def _fixture_marker(obj: Any) -> Any:
    return getattr(obj, "_fixture_function_marker", None) or getattr(
        obj, "_pytestfixturefunction", None
    )


def _fixture_function(obj: Any) -> Callable[..., Any]:
    """The plain function behind a @pytest.fixture (whose wrapper refuses direct calls)."""
    getter = getattr(obj, "_get_wrapped_function", None)
    if callable(getter):
        return getter()  # type: ignore[no-any-return]
    found: Callable[..., Any] = getattr(obj, "_fixture_function", None) or getattr(
        obj, "__wrapped__", obj
    )
    return found


@dataclass
class Fixture:
    name: str
    function: Callable[..., Any]
    autouse: bool


def _collect_fixtures(module: types.ModuleType) -> dict[str, Fixture]:
    fixtures: dict[str, Fixture] = {}
    for attribute, obj in vars(module).items():
        marker = _fixture_marker(obj)
        if marker is None:
            continue
        name = getattr(marker, "name", None) or attribute
        if getattr(marker, "params", None) is not None:
            raise Unsupported(
                f"fixture `{name}` uses params=: the checker does not support fixture "
                "parametrization; use @pytest.mark.parametrize on the tests instead"
            )
        fixtures[name] = Fixture(name, _fixture_function(obj), bool(getattr(marker, "autouse", 0)))
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
    """Every test case of an executed test module, in file order."""
    cases: list[Case] = []

    def add(qualname: str, function: Callable[..., Any], cls: type | None) -> None:
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
                Case(
                    name,
                    qualname,
                    _binder(function, cls),
                    params,
                    tuple(extra),
                    line,
                    skip or case_skip,
                )
            )

    for attribute, obj in vars(module).items():
        if _fixture_marker(obj) is not None:
            continue
        if attribute.startswith("test") and inspect.isfunction(obj):
            add(attribute, obj, None)
        elif attribute.startswith("Test") and inspect.isclass(obj) and "__init__" not in vars(obj):
            for method_name, method in vars(obj).items():
                if method_name.startswith("test") and inspect.isfunction(method):
                    add(f"{attribute}.{method_name}", method, obj)
    return cases


def _binder(function: Callable[..., Any], cls: type | None) -> Callable[..., Any]:
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
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    return call


# ----- running --------------------------------------------------------------------------------


def _on_cpu_limit(_signum: int, _frame: Any) -> None:
    raise CaseTimeout


@contextmanager
def cpu_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`CaseTimeout` in this thread once it has used ``seconds`` of CPU time."""
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


def describe_failure(exc: BaseException, learner_path: str) -> str:
    """``AssertionError at line 12: `assert bucket.take()``` and the first lines of the message."""
    text = str(exc).strip()
    lines = text.splitlines()
    if len(lines) > 6:
        text = "\n".join(lines[:6]) + "\n…"
    label = type(exc).__name__
    return f"{label}{_where(exc, learner_path)}" + (f"\n{text}" if text else "")


def _passthrough() -> tuple[type[BaseException], ...]:
    """Exceptions a test case must not swallow: the sandbox's verdicts and the interpreter's."""
    from aipath.grader.sandbox import LearnerExit, SandboxViolation

    return (
        Unsupported,
        SandboxViolation,
        LearnerExit,
        MemoryError,
        KeyboardInterrupt,
        SystemExit,
    )


def run_case(
    case: Case, fixtures: dict[str, Fixture], learner_path: str, *, cpu_limit_s: float = 0.5
) -> Outcome:
    """Run one case with its fixtures (set up and torn down around it) and a CPU-time limit."""
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
        value: Any
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
            patch = pytest.MonkeyPatch()
            teardowns.append(patch.undo)
            value = patch
        else:
            raise Unsupported(
                f"{case.function} asks for a fixture `{name}` that is not defined in the file "
                f"(the checker provides {', '.join(BUILTIN_FIXTURES)} and the fixtures you define)"
            )
        cache[name] = value
        return value

    random.seed(0)
    try:
        with cpu_limit(cpu_limit_s):
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
    except _passthrough():
        raise
    except CaseTimeout:
        return Outcome(case, "timeout", f"used more than {cpu_limit_s} s of CPU time")
    except NotImplementedError:
        return Outcome(case, "todo")
    except pytest.skip.Exception as exc:
        return Outcome(case, "skipped", str(exc))
    except BaseException as exc:  # any failure of a test is a verdict
        return Outcome(case, "failed", describe_failure(exc, learner_path))
    return Outcome(case, "passed")


class Suite:
    """The learner's test file, compiled once, run against any implementation of ``component``."""

    def __init__(self, path: Path, component: str, *, cpu_limit_s: float = 0.5) -> None:
        self.path = Path(path)
        self.component = component
        self.cpu_limit_s = cpu_limit_s
        self.code = compile_tests(self.path)

    def run(self, implementation: Path, *, stop_at_first_failure: bool = False) -> Run:
        """Every case against ``implementation`` (a file standing in for the component)."""
        saved = {name: sys.modules.get(name) for name in (self.component, TESTS_MODULE)}
        run = Run()
        try:
            _load_component(self.component, implementation)
            module = types.ModuleType(TESTS_MODULE)
            module.__file__ = str(self.path)
            sys.modules[module.__name__] = module
            try:
                exec(self.code, module.__dict__)  # the learner file, run as pytest would
            except NotImplementedError:
                run.problem = "todo"
                return run
            try:
                fixtures = _collect_fixtures(module)
                for case in collect_cases(module):
                    outcome = run_case(case, fixtures, str(self.path), cpu_limit_s=self.cpu_limit_s)
                    run.outcomes.append(outcome)
                    if stop_at_first_failure and outcome.status in ("failed", "timeout"):
                        break
            except Unsupported as exc:
                run.problem = str(exc)
        finally:
            for name, saved_module in saved.items():
                if saved_module is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = saved_module
        return run

    def run_mutants(self, mutants: Iterable[Path]) -> dict[str, Run]:
        """``{mutant file stem: run}``, each run stopped at its first failing case (a kill)."""
        return {path.stem: self.run(path, stop_at_first_failure=True) for path in mutants}


def mutant_description(path: Path) -> str:
    """A mutant's docstring without its ``Mutant:`` prefix: the bug it carries, in words."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or path.stem
    return doc.removeprefix("Mutant:").strip().rstrip(".")


# ----- tests that assert nothing --------------------------------------------------------------

_ASSERTING_CALLS = frozenset({"raises", "warns", "fail", "deprecated_call"})


def _asserts(node: ast.AST, helpers: set[str]) -> bool:
    for child in ast.walk(node):
        if isinstance(child, ast.Assert):
            return True
        if isinstance(child, ast.Call):
            func = child.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _ASSERTING_CALLS or name in helpers:
                return True
    return False


def asserting_helpers(tree: ast.Module) -> set[str]:
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


def silent_tests(path: Path, *, ignore: Iterable[str] = ()) -> list[str]:
    """``"test_x (line 12)"`` for each test that asserts nothing (no assert, no pytest.raises,
    no helper that asserts): it passes whatever the code returns.  ``ignore`` lists test names
    to leave out (tests still raising NotImplementedError)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    helpers = asserting_helpers(tree)
    skip = set(ignore)
    nodes: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            nodes[node.name] = node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                    nodes[f"{node.name}.{item.name}"] = item
    return [
        f"{name} (line {node.lineno})"
        for name, node in nodes.items()
        if name not in skip and not _asserts(node, helpers)
    ]
