"""Warm-up for workers: import once what every check would otherwise import again.

The libraries a lab needs are read from the lab files themselves (their ``import`` statements),
so a new lab that uses a new library is warm without touching the worker.  Importing pytest's
built-in plugins ahead of time matters as much: ``pytest.main`` imports them lazily, and that
alone costs more than a NumPy check.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import os
import sys
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

ALWAYS = (
    "pytest",
    "numpy",
    "aipath.grader.plugin",
    "aipath.checks",
    "aipath.grader.child",
)


def imported_modules(paths: Iterable[Path]) -> list[str]:
    """Dotted module names imported at the top of the given Python files."""
    names: dict[str, None] = {}
    for path in paths:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    names[alias.name] = None
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names[node.module] = None
    return list(names)


def _pytest_plugins() -> list[str]:
    from _pytest.config import builtin_plugins, default_plugins

    return [
        f"_pytest.{name}" for name in (*default_plugins, *builtin_plugins) if name != "pytester"
    ]


def preload(lab_dirs: Iterable[Path] = ()) -> dict[str, float]:
    """Import the grader, pytest's plugins and every library the labs use; return seconds each."""
    from aipath.grader.sandbox import single_threaded_runtime

    single_threaded_runtime()
    # MLflow starts a telemetry thread on import that looks a host up: never from a grader.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    files: list[Path] = []
    for lab_dir in lab_dirs:
        files.extend(p for p in lab_dir.rglob("*.py") if "__pycache__" not in p.parts)
    modules = [*ALWAYS, *_pytest_plugins(), *imported_modules(files)]
    timings: dict[str, float] = {}
    sink = io.StringIO()
    for name in modules:
        if name in timings or name in {"exercise", "solution", "checks"}:
            continue
        started = time.perf_counter()
        with (
            contextlib.suppress(Exception),
            contextlib.redirect_stdout(sink),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")  # import-time deprecation notices are not the learner's
            importlib.import_module(name)
        timings[name] = time.perf_counter() - started
    _settle_runtime()
    return timings


def _settle_runtime() -> None:
    """One-time costs that every forked check would otherwise pay again.

    Thread pools are capped at one thread: checks run side by side (dev check) or next to an
    editor, and oversubscribed BLAS/OpenMP pools on a small machine are slower, not faster.
    Hypothesis scans the loaded modules and runs a full garbage collection on its first test;
    doing that once here keeps property-based checks as fast as the others.
    """
    with contextlib.suppress(Exception):
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    torch = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):
            torch.set_num_threads(1)
        # The first optimizer a process builds imports torch._dynamo (~3 s): once, here.
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module("torch._dynamo")
    if "mlflow" in sys.modules:
        # MLflow's first logged model scans every installed package (~1.4 s) and SQLAlchemy
        # configures its mappers on the first store (~1 s): once here, not once per check.
        with contextlib.suppress(Exception):
            from mlflow.utils.requirements_utils import _init_packages_to_modules_map

            _init_packages_to_modules_map()  # type: ignore[no-untyped-call]
        with contextlib.suppress(Exception):
            from sqlalchemy.orm import configure_mappers

            configure_mappers()
    _warm_pytest()
    if "hypothesis" in sys.modules:
        with contextlib.suppress(Exception):
            from hypothesis import given, settings
            from hypothesis import strategies as st

            @settings(max_examples=1, database=None, deadline=None)
            @given(st.integers())
            def warm(_value: int) -> None:
                return None

            warm()


def _warm_pytest() -> None:
    """Run one trivial check session in this process before any fork.

    pytest and pluggy build caches lazily on their first session; built here, every forked
    check shares them instead of building them again (~30 ms less per check, measured).
    """
    import tempfile
    from pathlib import Path

    with contextlib.suppress(Exception), tempfile.TemporaryDirectory() as tmp:
        import pytest

        from aipath.grader.child import PYTEST_INI, pytest_args

        folder = Path(tmp)
        (folder / "checks.py").write_text("def test_warm_up():\n    assert True\n")
        (folder / "pytest.ini").write_text(PYTEST_INI)
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            pytest.main(pytest_args(folder / "checks.py", folder / "pytest.ini", folder))
        sys.modules.pop("checks", None)
