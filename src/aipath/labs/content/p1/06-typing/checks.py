"""Checks for p1-typing: mypy --strict on the learner's file, probe calls, no escape hatches.

mypy runs once per check session, in-process, on the learner's file together with a small
probe file that imports it and makes calls whose verdict is known: some must type-check, some
must be rejected, and some reveal the type mypy inferred.  That tells an honest signature from a
loose one (``object``, a non-generic ``batched``) even when both make mypy quiet.  Every task
also has behaviour checks, so the two crashes must really be fixed, not only hidden.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import tokenize
import typing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aipath.checks import assert_close, fail, raised

MYPY_OPTIONS = ["--strict", "--config-file=", "--no-error-summary", "--no-color-output"]
PROBE_MODULE = "aipath_typing_probe"

TASK_NAMES: dict[int, tuple[str, ...]] = {
    1: ("Role", "Message", "ModelSpec", "CATALOG", "count_tokens", "prompt_tokens"),
    2: ("UnknownModelError", "find_model", "cost_usd", "parse_usage", "total_cost"),
    3: ("batched", "trim_history"),
}


@dataclass(frozen=True)
class Probe:
    """One line of the probe file: `ok` must type-check, `error` must be rejected, `reveal`
    must show a type equal to `want` (after dropping `builtins.`)."""

    task: int
    kind: str
    code: str
    why: str
    want: tuple[str, ...] = ()


PROBES: tuple[Probe, ...] = (
    # task 1
    Probe(
        1,
        "ok",
        '_m1: ex.Message = {"role": "user", "content": "hi"}',
        'a Message literal {"role": "user", "content": "hi"} is rejected',
    ),
    Probe(
        1,
        "error",
        '_m2: ex.Message = {"role": "robot", "content": "hi"}',
        "Message accepts the role 'robot': type the role key as "
        "Role = Literal['system', 'user', 'assistant']",
    ),
    Probe(
        1,
        "error",
        '_m3: ex.Message = {"role": "user"}',
        "Message accepts a dict without 'content': make Message a TypedDict whose two keys "
        "are both required",
    ),
    Probe(1, "ok", '_n1: int = ex.count_tokens("hello")', "count_tokens(str) does not give an int"),
    Probe(
        1,
        "error",
        "ex.count_tokens(42)",
        "count_tokens(42) type-checks: the text parameter should be a str",
    ),
    Probe(
        1,
        "ok",
        '_s1 = ex.ModelSpec("m", 1000, 0.5, 1.5)',
        'ModelSpec("m", 1000, 0.5, 1.5) is rejected',
    ),
    Probe(1, "ok", "_w1: int = _s1.context_window", "ModelSpec.context_window is not an int"),
    Probe(
        1,
        "ok",
        "_f1: float = _s1.input_per_1k + _s1.output_per_1k",
        "ModelSpec's prices are not floats",
    ),
    Probe(
        1,
        "error",
        'ex.ModelSpec("m", "1000", 0.5, 1.5)',
        'ModelSpec("m", "1000", 0.5, 1.5) type-checks: context_window should be an int',
    ),
    Probe(
        1,
        "error",
        'ex.ModelSpec("m", 1000, "0.5", 1.5)',
        'ModelSpec("m", 1000, "0.5", 1.5) type-checks: input_per_1k should be a float',
    ),
    Probe(
        1,
        "reveal",
        'reveal_type(ex.CATALOG["base"])',
        "CATALOG's values are not typed as ModelSpec",
        ("exercise.ModelSpec",),
    ),
    Probe(
        1,
        "ok",
        '_p1: int = ex.prompt_tokens([{"role": "user", "content": "hi"}])',
        "prompt_tokens([a Message]) does not type-check as an int",
    ),
    Probe(
        1,
        "error",
        'ex.prompt_tokens(["hi"])',
        'prompt_tokens(["hi"]) type-checks: it should take a list of Message, not of str',
    ),
    # task 2
    Probe(
        2,
        "reveal",
        'reveal_type(ex.find_model("base"))',
        "find_model should return `ModelSpec | None` (None for an unknown name)",
        (
            "exercise.ModelSpec | None",
            "None | exercise.ModelSpec",
            "Union[exercise.ModelSpec, None]",
            "Optional[exercise.ModelSpec]",
        ),
    ),
    Probe(
        2,
        "ok",
        '_c1: float = ex.cost_usd("base", 100, 20)',
        'cost_usd("base", 100, 20) does not type-check as a float',
    ),
    Probe(
        2,
        "error",
        'ex.cost_usd("base", "100", 20)',
        'cost_usd("base", "100", 20) type-checks: token counts should be int',
    ),
    Probe(
        2,
        "error",
        "ex.cost_usd(7, 100, 20)",
        "cost_usd(7, 100, 20) type-checks: the model name should be a str",
    ),
    Probe(
        2,
        "ok",
        '_c2: float = ex.cost_usd("m", 1, 1, {"m": _s1})',
        "cost_usd does not accept a dict[str, ModelSpec] as its catalog",
    ),
    Probe(
        2,
        "ok",
        '_u1: tuple[str, int, int] = ex.parse_usage("model=base input=1 output=2")',
        "parse_usage does not return a tuple[str, int, int]",
    ),
    Probe(
        2,
        "ok",
        '_t1: float = ex.total_cost(["model=base input=1 output=2"])',
        "total_cost(list of str) does not type-check as a float",
    ),
    Probe(
        2,
        "ok",
        '_t2: float = ex.total_cost(line for line in ["# empty"])',
        "total_cost does not accept a generator of lines: take any Iterable[str]",
    ),
    Probe(
        2,
        "error",
        "ex.total_cost([1, 2])",
        "total_cost([1, 2]) type-checks: the lines should be str",
    ),
    # task 3
    Probe(
        3,
        "reveal",
        "reveal_type(next(iter(ex.batched([1, 2, 3], 2))))",
        "batched([1, 2, 3], 2) should give chunks typed list[int]: make it generic with a "
        "TypeVar T (Iterable[T] in, lists of T out)",
        ("list[int]",),
    ),
    Probe(
        3,
        "reveal",
        'reveal_type(next(iter(ex.batched(["a", "b"], 1))))',
        'batched(["a", "b"], 1) should give chunks typed list[str]: make it generic with a '
        "TypeVar T (Iterable[T] in, lists of T out)",
        ("list[str]",),
    ),
    Probe(
        3,
        "ok",
        "_g1 = ex.batched((x for x in range(3)), 2)",
        "batched rejects a generator: its items parameter should be any Iterable[T]",
    ),
    Probe(
        3,
        "ok",
        "_g2: int = next(ex.batched([1], 1))[0]",
        "batched(...) is not an Iterator (next() on it does not type-check)",
    ),
    Probe(
        3, "error", 'ex.batched([1], "2")', 'batched([1], "2") type-checks: size should be an int'
    ),
    Probe(
        3,
        "ok",
        '_h1: list[ex.Message] = ex.trim_history([{"role": "user", "content": "hi"}], 9)',
        "trim_history(list of Message, int) does not type-check as a list of Message",
    ),
    Probe(
        3,
        "ok",
        "_h2 = ex.trim_history([], 100, count=len)",
        "trim_history(..., count=len) is rejected: type count as Callable[[str], int]",
    ),
    Probe(
        3,
        "error",
        "ex.trim_history([], 100, count=str.upper)",
        "trim_history(..., count=str.upper) type-checks, but str.upper returns a str: "
        "type count as Callable[[str], int]",
    ),
    Probe(
        3,
        "error",
        "ex.trim_history([], 100, count=lambda text: len(text) / 4)",
        "trim_history(..., count=lambda text: len(text) / 4) type-checks, but that counter "
        "returns a float: type count as Callable[[str], int] (a float return type lets it through)",
    ),
    Probe(
        3,
        "error",
        'ex.trim_history([], "100")',
        'trim_history([], "100") type-checks: the budget should be an int',
    ),
)

HINTS_BY_CODE = {
    "no-untyped-def": "annotate every parameter and the return type",
    "no-untyped-call": "the function called here has no annotations yet",
    "var-annotated": "mypy cannot guess the type of an empty container: annotate it, "
    "e.g. `kept: list[Message] = []`",
    "type-arg": "give the generic type its parameters, e.g. dict[str, ModelSpec], not dict",
    "no-any-return": "the value returned is untyped (Any): make the types it comes from precise",
}
NONE_HINT = (
    "a value that can be None is used as if it were always there: that is one of the crashes "
    "of task 2 — check for None and raise the error the README asks for"
)

MYPY_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+): (?P<severity>error|note): (?P<message>.*?)"
    r"(?:  \[(?P<code>[a-z0-9-]+)\])?$"
)


@dataclass(frozen=True)
class Diagnostic:
    path: str
    line: int
    severity: str
    message: str
    code: str | None


@dataclass
class MypyReport:
    learner: list[Diagnostic] = field(default_factory=list)
    probe: dict[int, list[Diagnostic]] = field(default_factory=dict)
    probe_lines: dict[Probe, int] = field(default_factory=dict)
    crashed: str | None = None


# ----- reading the learner's file ----------------------------------------------------------------


@dataclass
class Source:
    text: str
    tree: ast.Module
    spans: dict[int, list[tuple[int, int, str]]]  # task -> (first line, last line, name)
    annotated_lines: set[int]
    names: set[str]


def _defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def read_source(path: Path) -> Source:
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    task_of = {name: task for task, names in TASK_NAMES.items() for name in names}
    spans: dict[int, list[tuple[int, int, str]]] = {task: [] for task in TASK_NAMES}
    names: set[str] = set()
    for node in tree.body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        for name in _defined_names(node):
            names.add(name)
            if name in task_of:
                spans[task_of[name]].append((first, node.end_lineno or node.lineno, name))
    annotated: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            arguments += [a for a in (node.args.vararg, node.args.kwarg) if a is not None]
            if node.returns is not None or any(a.annotation is not None for a in arguments):
                annotated.add(node.lineno)
        elif isinstance(node, ast.AnnAssign):
            annotated.add(node.lineno)
    return Source(text, tree, spans, annotated, names)


def in_task(source: Source, task: int, line: int) -> bool:
    return any(first <= line <= last for first, last, _ in source.spans[task])


def require_attempt(source: Source, task: int | None) -> None:
    """Not attempted (NotImplementedError) while the task's code carries no annotation at all."""
    if task is None:
        attempted = bool(source.annotated_lines) or "Message" in source.names
    else:
        attempted = any(in_task(source, task, line) for line in source.annotated_lines)
        attempted = attempted or (
            task == 1 and ("Message" in source.names or "Role" in source.names)
        )
    if not attempted:
        raise NotImplementedError(f"task {task}: no type annotations yet")


def escape_hatches(source: Source) -> list[tuple[int, str]]:
    """(line, what) for every way of switching the type checker off."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(source.tree):
        if isinstance(node, ast.ImportFrom) and node.module in {"typing", "typing_extensions"}:
            for alias in node.names:
                if alias.name in {"Any", "cast", "no_type_check"}:
                    found.append((node.lineno, f"imports `{alias.name}`"))
        elif (isinstance(node, ast.Name) and node.id == "Any") or (
            isinstance(node, ast.Attribute) and node.attr == "Any"
        ):
            found.append((node.lineno, "`Any`"))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "cast":
                found.append((node.lineno, "`cast(...)`"))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = getattr(target, "id", None) or getattr(target, "attr", None)
                if name in {"no_type_check", "no_type_check_decorator"}:
                    found.append((decorator.lineno, f"`@{name}`"))
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source.text).readline))
    except (tokenize.TokenError, SyntaxError):
        tokens = []
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        if re.search(r"type:\s*ignore", token.string):
            found.append((token.start[0], "a `# type: ignore` comment"))
        elif re.match(r"#\s*mypy\s*:", token.string):
            found.append((token.start[0], "a `# mypy:` configuration comment"))
    return sorted(set(found))


def escape_message(hatches: list[tuple[int, str]], where: str) -> str:
    lines = [f"{where} switches type checking off instead of fixing the types:"]
    for line, what in hatches:
        lines.append(f"  line {line}: {what}")
    lines.append(
        "Remove it: `Any` and `cast` make mypy trust a value blindly, and `# type: ignore` hides "
        "the error instead of the bug. Write the precise type, or fix the code mypy points at."
    )
    return "\n".join(lines)


# ----- running mypy --------------------------------------------------------------------------------


def probe_text() -> tuple[str, dict[Probe, int]]:
    header = [
        '"""Calls whose verdict is known, type-checked together with exercise.py."""',
        "from __future__ import annotations",
        "",
        "import exercise as ex",
        "",
    ]
    lines = list(header)
    numbers: dict[Probe, int] = {}
    for probe in PROBES:
        lines.append(probe.code)
        numbers[probe] = len(lines)
    return "\n".join(lines) + "\n", numbers


def run_mypy(learner_file: Path, workdir: Path) -> MypyReport:
    from mypy import api

    # The probe lives at a stable path inside mypy's own cache folder: mypy caches modules by
    # name, and a probe at a new path each run would be found "fresh" under its old path.
    cache_dir = workdir / ".mypy_cache"
    probe_path = cache_dir / "aipath-probe" / f"{PROBE_MODULE}.py"
    text, numbers = probe_text()
    probe_path.parent.mkdir(parents=True, exist_ok=True)
    if not probe_path.is_file() or probe_path.read_text(encoding="utf-8") != text:
        probe_path.write_text(text, encoding="utf-8")
    args = [
        *MYPY_OPTIONS,
        "--cache-dir",
        str(cache_dir),
        str(learner_file),
        str(probe_path),
    ]
    stdout, stderr, status = api.run(args)
    report = MypyReport(probe_lines=numbers)
    learner_resolved = learner_file.resolve()
    probe_resolved = probe_path.resolve()
    for raw in stdout.splitlines():
        match = MYPY_LINE.match(raw)
        if match is None:
            continue
        path = Path(match["path"])
        resolved = (workdir / path).resolve() if not path.is_absolute() else path.resolve()
        diagnostic = Diagnostic(
            path=match["path"],
            line=int(match["line"]),
            severity=match["severity"],
            message=match["message"],
            code=match["code"],
        )
        # mypy replays a cached module's messages under the path it had when it was checked,
        # so a moved workspace still reports the right file: match by name as well.
        if resolved == learner_resolved or path.name == learner_file.name:
            report.learner.append(diagnostic)
        elif resolved == probe_resolved or path.name == probe_path.name:
            report.probe.setdefault(diagnostic.line, []).append(diagnostic)
    if status not in (0, 1) or (status == 1 and not stdout.strip()):
        report.crashed = (stderr or stdout).strip()[-1500:] or f"exit status {status}"
    return report


@pytest.fixture(scope="session")
def source(learner_file: Path) -> Source:
    return read_source(learner_file)


@functools.cache
def mypy_report(learner_file: Path, workdir: Path) -> MypyReport:
    """mypy's verdict, computed once per check run and only when a check needs it."""
    return run_mypy(learner_file, workdir)


def describe_diagnostic(diagnostic: Diagnostic, name: str) -> str:
    code = f"  [{diagnostic.code}]" if diagnostic.code else ""
    text = f"  {name}:{diagnostic.line}: {diagnostic.message}{code}"
    hint = HINTS_BY_CODE.get(diagnostic.code or "")
    mentions_none = '"None"' in diagnostic.message or "| None" in diagnostic.message
    if mentions_none and diagnostic.code in {"union-attr", "index", "operator", "arg-type"}:
        hint = NONE_HINT
    elif mentions_none and diagnostic.code == "return-value":
        hint = (
            "the value returned can be None, but the annotation says it cannot: keep the "
            "honest return type and handle None where the value is used"
        )
    return text + (f"\n      ↳ {hint}" if hint else "")


def check_mypy(source: Source, report: MypyReport, learner_file: Path, task: int | None) -> None:
    if report.crashed:
        fail(f"mypy could not check {learner_file.name}: {report.crashed}")
    errors = [d for d in report.learner if d.severity == "error"]
    if task is not None:
        errors = [d for d in errors if in_task(source, task, d.line)]
        names = ", ".join(TASK_NAMES[task])
        where = f"task {task}'s code ({names})"
    else:
        where = learner_file.name
    hatches = escape_hatches(source)
    if task is not None:
        hatches = [h for h in hatches if in_task(source, task, h[0])]
    if hatches:
        fail(escape_message(hatches, where))
    if errors:
        count = f"{len(errors)} error" + ("s" if len(errors) != 1 else "")
        listing = "\n".join(describe_diagnostic(d, learner_file.name) for d in errors[:12])
        more = f"\n  … and {len(errors) - 12} more" if len(errors) > 12 else ""
        fail(f"mypy --strict reports {count} in {where}:\n{listing}{more}")


def check_probes(report: MypyReport, task: int) -> None:
    if report.crashed:
        fail(f"mypy could not run: {report.crashed}")
    problems: list[str] = []
    for probe in PROBES:
        if probe.task != task:
            continue
        line = report.probe_lines[probe]
        found = report.probe.get(line, [])
        errors = [d for d in found if d.severity == "error"]
        if probe.kind == "ok" and errors:
            problems.append(f"{probe.why}:\n      `{probe.code}` → {errors[0].message}")
        elif probe.kind == "error" and not errors:
            problems.append(f"{probe.why}\n      (`{probe.code}` should be a type error)")
        elif probe.kind == "reveal":
            if errors:
                problems.append(f"{probe.why}:\n      `{probe.code}` → {errors[0].message}")
                continue
            revealed = [
                d.message.split("Revealed type is ", 1)[1].strip('"')
                for d in found
                if "Revealed type is" in d.message
            ]
            shown = revealed[0].replace("builtins.", "") if revealed else "nothing"
            if shown not in probe.want:
                problems.append(f"{probe.why}; mypy infers `{shown}`")
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        fail(
            f"your annotations for task {task} are too loose or too tight: a probe file that "
            f"calls your functions gets these verdicts from mypy:\n{listing}"
        )


# ----- behaviour helpers ---------------------------------------------------------------------------


def shown_call(name: str, args: tuple[object, ...]) -> str:
    return f"{name}({', '.join(repr(a) for a in args)})"


def expect_error(
    learner: typing.Any,
    name: str,
    args: tuple[object, ...],
    expected: type[BaseException],
    must_mention: str,
) -> None:
    call = shown_call(name, args)
    error = raised(getattr(learner, name), *args)
    if error is None:
        fail(f"{call} returned normally; it should raise {expected.__name__}")
    if isinstance(error, AssertionError):
        fail(
            f"{call} raised AssertionError (an `assert`): the README asks for "
            f"{expected.__name__} naming {must_mention!r}. An assert only narrows the type for "
            "mypy; it still crashes, with a message that does not help, and vanishes under "
            "`python -O`"
        )
    if not isinstance(error, expected):
        fail(
            f"{call} still crashes with {type(error).__name__}: {error} — this is the bug "
            f"mypy showed you; raise {expected.__name__} naming {must_mention!r} instead"
        )
    if must_mention not in str(error):
        fail(
            f"{call} raised {expected.__name__}({str(error)!r}); its message should contain "
            f"{must_mention!r}"
        )


def member(learner: typing.Any, name: str) -> typing.Any:
    if not hasattr(learner, name):
        fail(f"exercise.py has no `{name}`: the README asks for it (task 1)")
    return getattr(learner, name)


# ----- task 1 --------------------------------------------------------------------------------------


@pytest.mark.task(1)
def test_task1_mypy_clean(source, learner_file, workdir):
    require_attempt(source, 1)
    check_mypy(source, mypy_report(learner_file, workdir), learner_file, 1)


@pytest.mark.task(1)
def test_task1_probe(source, learner_file, workdir):
    require_attempt(source, 1)
    check_probes(mypy_report(learner_file, workdir), 1)


@pytest.mark.task(1)
def test_task1_behaviour(source, learner):
    require_attempt(source, 1)
    message = member(learner, "Message")
    if not typing.is_typeddict(message):
        fail(f"Message is {message!r}, not a TypedDict")
    keys = set(getattr(message, "__required_keys__", set()))
    if keys != {"role", "content"}:
        fail(f"Message's required keys are {sorted(keys)}; expected ['content', 'role']")
    roles = set(typing.get_args(member(learner, "Role")))
    if roles != {"system", "user", "assistant"}:
        fail(f"Role allows {sorted(roles)}; expected Literal['system', 'user', 'assistant']")
    for text, want in (("", 0), ("abcd", 1), ("hello", 2), ("x" * 401, 101)):
        got = learner.count_tokens(text)
        if got != want:
            fail(
                f"count_tokens({text[:8]!r}{'…' if len(text) > 8 else ''}) is {got!r}; "
                f"expected {want} — keep what the function does"
            )
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
    got = learner.prompt_tokens(chat)
    if got != 13:
        fail(f"prompt_tokens of a 2-message chat is {got!r}; expected 13 (3 + 4 and 2 + 4)")
    spec = learner.ModelSpec("m", 1000, 0.5, 1.5)
    fields = (spec.name, spec.context_window, spec.input_per_1k, spec.output_per_1k)
    if fields != ("m", 1000, 0.5, 1.5):
        fail(
            f'ModelSpec("m", 1000, 0.5, 1.5) has fields {fields}; keep the field order '
            "(name, context_window, input_per_1k, output_per_1k)"
        )
    catalog = {
        name: (s.name, s.context_window, s.input_per_1k, s.output_per_1k)
        for name, s in learner.CATALOG.items()
    }
    expected = {
        "tiny": ("tiny", 8_000, 0.0002, 0.0006),
        "base": ("base", 32_000, 0.0015, 0.002),
        "large": ("large", 128_000, 0.01, 0.03),
    }
    if catalog != expected:
        fail(f"CATALOG changed: it is {catalog}; keep the three models as they were")


# ----- task 2 --------------------------------------------------------------------------------------


@pytest.mark.task(2)
def test_task2_mypy_clean(source, learner_file, workdir):
    require_attempt(source, 2)
    check_mypy(source, mypy_report(learner_file, workdir), learner_file, 2)


@pytest.mark.task(2)
def test_task2_probe(source, learner_file, workdir):
    require_attempt(source, 2)
    check_probes(mypy_report(learner_file, workdir), 2)


@pytest.mark.task(2)
def test_task2_unknown_model_is_reported(source, learner):
    require_attempt(source, 2)
    if learner.find_model("gpt-9") is not None:
        fail("find_model('gpt-9') should return None (keep its contract)")
    if learner.find_model("base") is not learner.CATALOG["base"]:
        fail("find_model('base') should return CATALOG['base']")
    assert_close(learner.cost_usd("base", 2000, 500), 0.004, name='cost_usd("base", 2000, 500)')
    assert_close(learner.cost_usd("large", 1000, 1000), 0.04, name='cost_usd("large", 1000, 1000)')
    own = {"mini": learner.ModelSpec("mini", 100, 1.0, 2.0)}
    assert_close(learner.cost_usd("mini", 500, 250, own), 1.0, name="cost_usd with a catalog")
    expect_error(learner, "cost_usd", ("gpt-9", 10, 10), learner.UnknownModelError, "gpt-9")
    expect_error(learner, "cost_usd", ("base", 10, 10, own), learner.UnknownModelError, "base")


@pytest.mark.task(2)
def test_task2_bad_line_is_reported(source, learner):
    require_attempt(source, 2)
    for line, want in (
        ("model=base input=1200 output=300", ("base", 1200, 300)),
        ("  model=gpt-4.1-mini input=0 output=5\n", ("gpt-4.1-mini", 0, 5)),
    ):
        got = tuple(learner.parse_usage(line))
        if got != want or not all(isinstance(v, int) for v in got[1:]):
            fail(f"parse_usage({line!r}) is {got!r}; expected {want!r}")
    expect_error(learner, "parse_usage", ("garbage",), ValueError, "garbage")
    expect_error(
        learner,
        "parse_usage",
        ("model=base input=ten output=3\n",),
        ValueError,
        "model=base input=ten output=3",
    )
    trailing = "model=base input=1 output=2 extra=9"
    if raised(learner.parse_usage, trailing) is None:
        fail(
            f"parse_usage({trailing!r}) returned {tuple(learner.parse_usage(trailing))!r}; the "
            "original code reads the whole line with USAGE_LINE.fullmatch, so a line with "
            "trailing text is not a usage line: keep fullmatch (re.match and re.search accept more after it) "
            "and raise ValueError"
        )


@pytest.mark.task(2)
def test_task2_total_cost(source, learner):
    require_attempt(source, 2)
    log = [
        "# March",
        "model=tiny input=1000 output=1000",
        "",
        "  ",
        "model=base input=2000 output=500",
    ]
    assert_close(learner.total_cost(log), 0.0048, name="total_cost(log)")
    assert_close(learner.total_cost(iter(log)), 0.0048, name="total_cost(an iterator of lines)")
    assert_close(learner.total_cost([]), 0.0, name="total_cost([])")
    expect_error(
        learner,
        "total_cost",
        (["model=gpt-9 input=1 output=1"],),
        learner.UnknownModelError,
        "gpt-9",
    )
    expect_error(
        learner, "total_cost", (["model=base input=1 output=1", "oops"],), ValueError, "oops"
    )


# ----- task 3 --------------------------------------------------------------------------------------


@pytest.mark.task(3)
def test_task3_mypy_clean(source, learner_file, workdir):
    require_attempt(source, 3)
    check_mypy(source, mypy_report(learner_file, workdir), learner_file, 3)


@pytest.mark.task(3)
def test_task3_probe(source, learner_file, workdir):
    require_attempt(source, 3)
    check_probes(mypy_report(learner_file, workdir), 3)


class ReadTooMuch(Exception):
    """batched consumed more of its input than its first chunk needs."""


def watched(n: int, limit: int) -> typing.Iterator[int]:
    for i in range(n):
        if i >= limit:
            raise ReadTooMuch
        yield i


@pytest.mark.task(3)
def test_task3_behaviour(source, learner):
    require_attempt(source, 3)
    cases = (
        (([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]),
        ((("a", "b", "c"), 3), [["a", "b", "c"]]),
        (((c for c in "abcd"), 3), [["a", "b", "c"], ["d"]]),
        (([], 4), []),
    )
    for args, want in cases:
        got = list(learner.batched(*args))
        if got != want:
            fail(f"list(batched(..., {args[1]})) is {got!r}; expected {want!r}")
    try:
        first = next(iter(learner.batched(watched(10**6, 10), 2)))
    except ReadTooMuch:
        fail(
            "batched read more than 10 items of its input before returning its first chunk: "
            "keep it lazy (a generator that yields one chunk at a time)"
        )
    if first != [0, 1]:
        fail(f"the first chunk of batched(range-like, 2) is {first!r}; expected [0, 1]")
    error = raised(lambda: list(learner.batched([1], 0)))
    if not isinstance(error, ValueError):
        fail(f"list(batched([1], 0)) should raise ValueError; got {error!r}")

    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a" * 40},
        {"role": "assistant", "content": "ok"},
    ]
    snapshot = [dict(m) for m in chat]
    cases_h = (
        ((chat, 12), ["Be brief.", "ok"]),
        ((chat, 100), ["Be brief.", "a" * 40, "ok"]),
        ((chat, 3), ["Be brief."]),
        ((chat[1:], 19), ["a" * 40, "ok"]),
        ((chat[1:], 18), ["ok"]),
        (([], 10), []),
    )
    for args, want in cases_h:
        got = [m["content"] for m in learner.trim_history(*args)]
        if got != want:
            short = [w if len(w) < 12 else w[:6] + "…" for w in got]
            fail(
                f"trim_history(<{len(args[0])} messages>, {args[1]}) keeps {short}; expected "
                f"{[w if len(w) < 12 else w[:6] + '…' for w in want]}"
            )
    got = [m["content"] for m in learner.trim_history(chat, 5, count=lambda text: 0)]
    if got != ["Be brief."]:
        fail(
            f"trim_history(chat, 5, count=lambda text: 0) keeps {got}; expected ['Be brief.'] "
            "(each message still costs MESSAGE_OVERHEAD = 4)"
        )
    got = [m["content"] for m in learner.trim_history(chat, 30, count=len)]
    if got != ["Be brief.", "ok"]:
        short = [w if len(w) < 12 else w[:6] + "…" for w in got]
        fail(
            f"trim_history(chat, 30, count=len) keeps {short}; expected ['Be brief.', 'ok']: "
            "use the count function it is given"
        )
    if chat != snapshot:
        fail("trim_history changed the list it was given")


# ----- task 4 --------------------------------------------------------------------------------------


@pytest.mark.task(4)
def test_whole_file_is_strict_clean(source, learner_file, workdir):
    require_attempt(source, None)
    check_mypy(source, mypy_report(learner_file, workdir), learner_file, None)


@pytest.mark.task(4)
def test_no_escape_hatches(source, learner_file):
    require_attempt(source, None)
    hatches = escape_hatches(source)
    if hatches:
        fail(escape_message(hatches, learner_file.name))
