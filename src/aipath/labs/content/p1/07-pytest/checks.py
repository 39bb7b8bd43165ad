"""Checks for p1-pytest: the learner's tests, run against the real TokenBucket and ten mutants.

``aipath.checks.mutation`` runs the learner's test file in-process against each implementation
of ``ratelimiter`` (the real one next to this file, and the mutants in ``mutants/``, which never
reach the learner's folder), with a CPU-time limit per test case, so a loop that never ends
against a mutant counts as a kill instead of hanging the check.
"""

from __future__ import annotations

import math
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


# ----- fixtures for the checks ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def suite(learner_file: Path) -> Suite:
    return Suite(learner_file, component="ratelimiter", cpu_limit_s=0.5)


@pytest.fixture(scope="session")
def reference_run(suite: Suite) -> Run:
    return suite.run(REFERENCE, stop_at_first_failure=False)


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


@pytest.mark.task(1)
def test_every_test_asserts(suite, reference_run):
    require_tests(reference_run)
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
def test_parametrized_refill_test(reference_run, mutant_runs):
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
    best = max(written, key=lambda name: len(written[name]))
    if len(written[best]) < 3:
        fail(
            f"your parametrized test {best} runs {len(written[best])} case(s); task 2 asks for "
            "at least three (rate, elapsed, expected) cases, with rates other than 1"
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
def test_mutation_score(reference_run, mutant_runs):
    require_tests(reference_run)
    require_green(reference_run)
    problems = [run.problem for run in mutant_runs.values() if run.problem not in (None, "todo")]
    if problems:
        fail(problems[0])
    survivors = [name for name, run in mutant_runs.items() if run.killed_by is None]
    total = len(mutant_runs)
    score = (total - len(survivors)) / total
    if score >= THRESHOLD:
        return
    words = "\n".join(
        f"  - {mutant_description(LAB_DIR / 'mutants' / f'{name}.py')}" for name in survivors
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
