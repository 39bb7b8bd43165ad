"""aipath.checks.mutation: a learner's tests run against a component and its mutants."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest

from aipath.checks.mutation import (
    Suite,
    Unsupported,
    asserting_helpers,
    mutant_description,
    silent_tests,
)

COMPONENT = '''\
"""A counter that never goes above its limit."""


class Counter:
    def __init__(self, limit):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.value = 0

    def add(self, n=1):
        self.value = min(self.value + n, self.limit)
        return self.value
'''

MUTANTS = {
    "m01_no_cap": (
        "Mutant: add() ignores the limit.",
        "self.value = min(self.value + n, self.limit)",
        "self.value = self.value + n",
    ),
    "m02_accepts_zero": ("Mutant: a limit of 0 is accepted.", "if limit < 1:", "if limit < 0:"),
    "m03_loops_forever": (
        "Mutant: add() never returns.",
        "        return self.value",
        "        while True:\n            pass",
    ),
}

TESTS = """\
import pytest

from counter import Counter


@pytest.fixture
def counter():
    yield Counter(3)


def check_value(counter, want):
    assert counter.value == want


@pytest.mark.parametrize(("n", "want"), [(1, 1), (2, 2), pytest.param(5, 3, id="capped")])
def test_add(counter, n, want):
    counter.add(n)
    check_value(counter, want)


class TestLimits:
    def setup_method(self, method):
        self.made = True

    def test_zero_is_refused(self):
        assert self.made
        with pytest.raises(ValueError):
            Counter(0)


def test_written_later():
    raise NotImplementedError


@pytest.mark.skip(reason="not today")
def test_skipped():
    assert False


def test_prints_only(tmp_path, monkeypatch):
    monkeypatch.setenv("X", "1")
    (tmp_path / "f").write_text("x")
    Counter(2).add()
"""


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    (tmp_path / "counter.py").write_text(COMPONENT, encoding="utf-8")
    mutants = tmp_path / "mutants"
    mutants.mkdir()
    for name, (doc, old, new) in MUTANTS.items():
        assert old in COMPONENT
        source = COMPONENT.replace(
            '"""A counter that never goes above its limit."""', f'"""{doc}"""'
        )
        (mutants / f"{name}.py").write_text(source.replace(old, new), encoding="utf-8")
    (tmp_path / "test_counter.py").write_text(TESTS, encoding="utf-8")
    return tmp_path


def test_the_suite_passes_on_the_real_component(lab: Path) -> None:
    suite = Suite(lab / "test_counter.py", component="counter")
    run = suite.run(lab / "counter.py")
    assert run.problem is None
    statuses = {o.case.name: o.status for o in run.outcomes}
    assert statuses == {
        "test_add[1-1]": "passed",
        "test_add[2-2]": "passed",
        "test_add[capped]": "passed",
        "TestLimits.test_zero_is_refused": "passed",
        "test_written_later": "todo",
        "test_skipped": "skipped",
        "test_prints_only": "passed",
    }
    assert run.failures() == [] and run.killed_by is None
    assert run.todo_functions() == ["test_written_later"]
    assert len(run.real()) == 5
    assert "counter" not in sys.modules  # the component is swapped back out


def test_mutants_are_killed_or_survive(lab: Path) -> None:
    suite = Suite(lab / "test_counter.py", component="counter", cpu_limit_s=0.2)
    runs = suite.run_mutants(sorted((lab / "mutants").glob("m*.py")))
    assert list(runs) == ["m01_no_cap", "m02_accepts_zero", "m03_loops_forever"]
    no_cap = runs["m01_no_cap"].killed_by
    assert no_cap is not None and no_cap.case.name == "test_add[capped]"
    assert no_cap.status == "failed"
    assert no_cap.detail.startswith("AssertionError at line 12: `assert counter.value == want`")
    assert runs["m02_accepts_zero"].killed_by is not None
    forever = runs["m03_loops_forever"].killed_by
    assert forever is not None and forever.status == "timeout"
    assert forever.detail == "used more than 0.2 s of CPU time"
    assert len(runs["m01_no_cap"].outcomes) == 3  # stopped at the first failing case


def test_a_surviving_mutant(lab: Path) -> None:
    weak = lab / "test_weak.py"
    weak.write_text(
        "from counter import Counter\n\n\ndef test_one():\n    assert Counter(3).add() == 1\n"
    )
    runs = Suite(weak, component="counter").run_mutants([lab / "mutants" / "m01_no_cap.py"])
    assert runs["m01_no_cap"].killed_by is None


def test_unsupported_features_are_reported(lab: Path) -> None:
    path = lab / "test_params.py"
    path.write_text(
        textwrap.dedent("""\
        import pytest

        @pytest.fixture(params=[1, 2])
        def n(request):
            return request.param

        def test_n(n):
            assert n
    """)
    )
    run = Suite(path, component="counter").run(lab / "counter.py")
    assert run.problem is not None and "fixture `n` uses params=" in run.problem
    missing = lab / "test_missing.py"
    missing.write_text("def test_x(capsys):\n    assert True\n")
    problem = Suite(missing, component="counter").run(lab / "counter.py").problem
    assert problem == (
        "test_x asks for a fixture `capsys` that is not defined in the file (the checker "
        "provides tmp_path, monkeypatch and the fixtures you define)"
    )
    assert issubclass(Unsupported, Exception)


def test_a_file_that_is_still_the_starter(lab: Path) -> None:
    path = lab / "test_starter.py"
    path.write_text("raise NotImplementedError\n")
    assert Suite(path, component="counter").run(lab / "counter.py").problem == "todo"


def test_silent_tests_and_asserting_helpers(lab: Path) -> None:
    assert silent_tests(lab / "test_counter.py", ignore=["test_written_later"]) == [
        "test_prints_only (line 40)"
    ]
    tree = ast.parse((lab / "test_counter.py").read_text())
    helpers = asserting_helpers(tree)
    assert "check_value" in helpers and "test_prints_only" not in helpers


def test_mutant_description(lab: Path) -> None:
    assert mutant_description(lab / "mutants" / "m01_no_cap.py") == "add() ignores the limit"
