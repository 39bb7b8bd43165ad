"""Checks for p1-pytest: the learner's tests, run against the real TokenBucket and ten mutants.

``aipath.checks.mutation`` runs the learner's test file in-process against each implementation
of ``ratelimiter`` (the real one next to this file, and the mutants in ``mutants/``, which never
reach the learner's folder), with a CPU-time limit per test case, so a loop that never ends
against a mutant counts as a kill instead of hanging the check.
"""

from __future__ import annotations

import ast
import math
import re
import sys
from itertools import permutations
from pathlib import Path

import pytest

from aipath.checks import assert_close, fail
from aipath.checks.mutation import Run, Suite, mutant_description, silent_tests

LAB_DIR = Path(__file__).resolve().parent
REFERENCE = LAB_DIR / "ratelimiter.py"
MUTANTS = sorted((LAB_DIR / "mutants").glob("m*.py"))
THRESHOLD = 0.9
# The behaviours task 2 asks for, as the mutants that break them.
TASK2_MUTANTS = ("m02_no_cap", "m05_rate_divides", "m06_forgets_last_refill")
# Task 3 asks in so many words for a wait_time case at a rate other than 1: this mutant must die
# even when the score would allow one survivor.
WAIT_RATE_MUTANT = "m07_wait_ignores_rate"


# ----- fixtures for the checks ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def suite(learner_file: Path) -> Suite:
    return Suite(learner_file, component="ratelimiter", cpu_limit_s=0.5)


@pytest.fixture(scope="session")
def traced_reference(suite: Suite) -> tuple[Run, set[int]]:
    """The run on the real bucket, and the lines of the learner's file that it executed."""
    lines: set[int] = set()
    filename = str(suite.path)

    def tracer(frame, event, _arg):
        if frame.f_code.co_filename != filename:
            return None
        if event == "line":
            lines.add(frame.f_lineno)
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        run = suite.run(REFERENCE, stop_at_first_failure=False)
    finally:
        sys.settrace(previous)
    return run, lines


@pytest.fixture(scope="session")
def reference_run(traced_reference) -> Run:
    return traced_reference[0]


@pytest.fixture(scope="session")
def mutant_runs(suite: Suite) -> dict[str, Run]:
    return suite.run_mutants(MUTANTS)


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


_NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?"


def failure_clue(outcome) -> str:
    """Why a test fails on the real bucket, when its own numbers show it: float `==`, or an
    expected value computed as one parameter divided by another where the bucket multiplies."""
    detail = outcome.detail
    pair = re.search(rf"assert ({_NUMBER}) == ({_NUMBER})(?![\d.e]| ±)", detail)
    if pair:
        got, want = float(pair[1]), float(pair[2])
        if got != want and math.isclose(got, want, rel_tol=1e-9):
            return (
                f" ({pair[1]} and {pair[2]} differ only by floating-point rounding: compare "
                "floats with `pytest.approx(...)`, not `==`)"
            )
    obtained = re.search(rf"Obtained: ({_NUMBER})", detail)
    expected = re.search(rf"Expected: ({_NUMBER})", detail)
    if obtained and expected:
        got, want = float(obtained[1]), float(expected[1])
    elif pair:
        got, want = float(pair[1]), float(pair[2])
    else:
        return ""
    numbers = {
        k: float(v)
        for k, v in outcome.case.params.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v != 0
    }
    for (a, x), (b, y) in permutations(numbers.items(), 2):
        if math.isclose(want, y / x, rel_tol=1e-9) and math.isclose(got, x * y, rel_tol=1e-9):
            if math.isclose(x * y, y / x, rel_tol=1e-9):
                continue
            return (
                f" (your expected {fmt_number(want)} is {b} / {a}; the bucket refills "
                f"{a} × {b} = {fmt_number(got)} tokens)"
            )
    return ""


def fmt_number(value: float) -> str:
    return f"{value:g}"


def _is_raises(item: ast.withitem) -> bool:
    call = item.context_expr
    if not isinstance(call, ast.Call):
        return False
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name == "raises"


def dead_lines(path: Path, executed: set[int]) -> list[str]:
    """Statements of the learner's file that never ran on the real bucket although they look
    like they test something: after the raising call of a `with pytest.raises` block, or in a
    function that asserts but is never collected (not named `test…`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    source = path.read_text(encoding="utf-8").splitlines()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and any(_is_raises(i) for i in node.items):
            if node.lineno not in executed and node.items[0].context_expr.lineno not in executed:
                continue
            for statement in node.body[1:]:
                if statement.lineno not in executed:
                    found.append(
                        f"line {statement.lineno} `{source[statement.lineno - 1].strip()}` never "
                        "runs: the call before it already raised, and that ends the "
                        "`with pytest.raises(...)` block; give each call its own block"
                    )
                    break
    fixtures = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any("fixture" in ast.unparse(d) for d in node.decorator_list)
    }

    def never_collected(function: ast.FunctionDef, why: str) -> None:
        if function.name in fixtures or not function.body:
            return
        if not any(isinstance(n, ast.Assert) for n in ast.walk(function)):
            return
        if any(s.lineno in executed for s in function.body):
            return
        found.append(f"{function.name} (line {function.lineno}) asserts but never runs: {why}")

    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("test"):
            never_collected(node, "pytest collects only functions whose names start with `test`")
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if not isinstance(item, ast.FunctionDef) or item.name.startswith("_"):
                    continue
                if not node.name.startswith("Test"):
                    never_collected(
                        item, f"pytest collects only classes named `Test…`, not {node.name}"
                    )
                elif not item.name.startswith("test") and item.name not in (
                    "setup_method",
                    "teardown_method",
                ):
                    never_collected(
                        item, "pytest collects only methods whose names start with `test`"
                    )
    return found


def tuple_asserts(path: Path) -> list[str]:
    """`assert (a, b)`: a non-empty tuple is always true, so the assert checks nothing."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"line {node.lineno}: `{ast.unparse(node)}` is always true (a non-empty tuple); "
        f"write `assert {ast.unparse(node.test.elts[0])} == {ast.unparse(node.test.elts[1])}`"
        if len(node.test.elts) == 2
        else f"line {node.lineno}: `{ast.unparse(node)}` is always true (a non-empty tuple)"
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Tuple) and node.test.elts
    ]


def refill_like(path: Path) -> set[str]:
    """Test functions that let time pass or read `tokens`: the ones a refill test is among."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()

    def visit(node: ast.AST, prefix: str) -> None:
        for child in getattr(node, "body", []):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef):
                attrs = {a.attr for a in ast.walk(child) if isinstance(a, ast.Attribute)}
                if attrs & {"advance", "tokens"} or "refill" in child.name:
                    names.add(prefix + child.name)

    visit(tree, "")
    return names


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
        mistakes={
            "advance() setting the time instead of moving it forward": 0.25,
            "advance() dropping the fraction of a second (int(seconds))": 2.0,
            "advance() not changing what calling the clock returns": 0.0,
            "advance() moving the time backwards (a subtraction)": -2.75,
        },
    )
    later = learner.FakeClock(5.0)
    assert_close(later(), 5.0, name="FakeClock(5.0)()")
    later.advance(2.5)
    assert_close(
        later(),
        7.5,
        name="FakeClock(5.0) after advance(2.5)",
        mistakes={
            "advance() setting the time instead of moving it forward": 2.5,
            "advance() dropping the fraction of a second (int(seconds))": 7.0,
            "advance() not changing what calling the clock returns (it still reads the start)": 5.0,
        },
    )
    if not math.isclose(later(), 7.5):
        fail("reading FakeClock twice changed its time: calling it must not move it")


@pytest.mark.task(1)
def test_suite_passes_on_the_real_bucket(reference_run):
    require_tests(reference_run)
    failures = reference_run.failures()
    if failures:
        shown = "\n".join(f"  - {o.case.name}: {o.detail}{failure_clue(o)}" for o in failures[:5])
        more = f"\n  … and {len(failures) - 5} more" if len(failures) > 5 else ""
        fail(
            f"{len(failures)} of {len(reference_run.real())} tests fail on the correct "
            "TokenBucket (a test must pass on working code before it can catch broken code; "
            f"re-read the contract in ratelimiter.py):\n{shown}{more}"
        )


@pytest.mark.task(1)
def test_every_test_asserts(suite, reference_run):
    require_tests(reference_run)
    always_true = tuple_asserts(suite.path)
    if always_true:
        fail("an assert that can never fail:\n  - " + "\n  - ".join(always_true))
    silent = silent_tests(suite.path, ignore=reference_run.todo_functions())
    if silent:
        who = "this test asserts" if len(silent) == 1 else "each of these tests asserts"
        fail(
            f"{', '.join(silent)}: {who} nothing. A test without an `assert` (or "
            "`pytest.raises`) passes whatever the code returns, so it can only catch crashes; "
            "assert on the result"
        )


# ----- task 2 --------------------------------------------------------------------------------------


@pytest.mark.task(2)
def test_parametrized_refill_test(suite, reference_run, mutant_runs):
    require_tests(reference_run)
    by_function: dict[str, list] = {}
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
    refills = refill_like(suite.path) & set(written)
    pool = refills or set(written)
    best = max(pool, key=lambda name: len(written[name]))
    if len(written[best]) < 3:
        others = sorted(name for name in set(written) - pool if len(written[name]) >= 3)
        besides = (
            f" ({', '.join(others)} has enough cases but does not let time pass)" if others else ""
        )
        fail(
            f"your parametrized refill test {best} runs {len(written[best])} case(s); task 2 "
            f"asks for at least three (rate, elapsed, expected) cases, with rates other than 1"
            f"{besides}"
        )
    require_green(reference_run)
    survivors = [name for name in TASK2_MUTANTS if mutant_runs[name].killed_by is None]
    if survivors:
        words = "\n".join(
            f"  - {mutant_description(LAB_DIR / 'mutants' / f'{n}.py')}" for n in survivors
        )
        fail(
            "your tests pass on a bucket with a refill bug that task 2 is about — these "
            f"mutants survived:\n{words}\nAdd a case or a test that this bug would fail"
        )


# ----- task 3 --------------------------------------------------------------------------------------


@pytest.mark.task(3)
def test_mutation_score(suite, traced_reference, mutant_runs):
    reference_run, executed = traced_reference
    require_tests(reference_run)
    require_green(reference_run)
    dead = dead_lines(suite.path, executed)
    if dead:
        fail(
            "part of your tests never runs on the real TokenBucket, so it cannot catch a "
            "bug:\n  - " + "\n  - ".join(dead)
        )
    problems = [run.problem for run in mutant_runs.values() if run.problem not in (None, "todo")]
    if problems:
        fail(problems[0])
    survivors = [name for name, run in mutant_runs.items() if run.killed_by is None]
    total = len(mutant_runs)
    score = (total - len(survivors)) / total
    if score >= THRESHOLD and WAIT_RATE_MUTANT in survivors:
        fail(
            "no test of yours divides wait_time by the rate: a bucket whose wait_time returns "
            "the missing tokens without dividing by the rate passes every one of your tests. "
            "Task 3 asks for a wait_time case with a rate other than 1 (at rate 1, dividing "
            "changes nothing)"
        )
    if score >= THRESHOLD:
        return
    words = "\n".join(
        f"  - {mutant_description(LAB_DIR / 'mutants' / f'{name}.py')}" for name in survivors
    )
    todo = reference_run.todo_functions()
    still = (
        f"\n({len(todo)} test(s) still raise NotImplementedError: {', '.join(todo)})"
        if todo
        else ""
    )
    fail(
        f"mutation score {score:.0%} ({total - len(survivors)} of {total} mutants killed); "
        f"this lab asks for at least {THRESHOLD:.0%}. {len(survivors)} mutants survived — each "
        f"is a bug your tests let through:\n{words}{still}"
    )
