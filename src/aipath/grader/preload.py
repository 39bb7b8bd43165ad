"""Warm-up for workers: import once what every check would otherwise import again.

The libraries a lab needs are read from the lab files themselves (their ``import`` statements),
so a new lab that uses a new library is warm without touching the worker.  Importing pytest's
built-in plugins ahead of time matters as much: ``pytest.main`` imports them lazily, and that
alone costs more than a NumPy check.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import importlib.util
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
    "numpy.ma",  # loaded lazily by np.median, which the check library's diagnoses call (10 ms)
    "aipath.grader.plugin",
    "aipath.checks",
    "aipath.grader.child",
    "aipath.grader.split",  # the trusted verdict process and its codec (20 ms a trusted check)
)


def imported_modules(paths: Iterable[Path], *, submodules: bool = False) -> list[str]:
    """Dotted module names imported by the given Python files.

    With ``submodules``, ``from scipy import ndimage`` also names ``scipy.ndimage``: packages
    that load their submodules lazily would otherwise import them in every forked check (0.3 s
    for ``scipy.ndimage``).  Names that are not modules fail to import and are skipped.
    """
    names: dict[str, None] = {}
    for path in paths:
        for name in _modules_of(path, submodules=submodules):
            names[name] = None
    return list(names)


def _modules_of(path: Path, *, submodules: bool) -> tuple[str, ...]:
    try:
        stat = path.stat()
    except OSError:
        return ()
    return _parsed_modules(str(path), stat.st_mtime_ns, stat.st_size, submodules)


@functools.lru_cache(maxsize=512)
def _parsed_modules(path: str, _mtime_ns: int, _size: int, submodules: bool) -> tuple[str, ...]:
    """The imports of one file, parsed once per version of it.

    The key carries the file's mtime and size, so an edited file is parsed again; a check forked
    from a warm worker finds its lab's ``checks.py`` parsed already (it was, in the preload).
    """
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return ()
    names: dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.name] = None
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names[node.module] = None
            if submodules:
                for alias in node.names:
                    if alias.name != "*":
                        names[f"{node.module}.{alias.name}"] = None
    return tuple(names)


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
    dirs = list(lab_dirs)
    files: list[Path] = []
    for lab_dir in dirs:
        files.extend(p for p in lab_dir.rglob("*.py") if "__pycache__" not in p.parts)
    modules = [*ALWAYS, *_pytest_plugins(), *imported_modules(files, submodules=True)]
    for lab_dir in dirs:
        imported_modules([lab_dir / "checks.py"])  # parsed here, once, for every forked check
        rewrite_checks(lab_dir / "checks.py")
    timings: dict[str, float] = {}
    sink = io.StringIO()
    for name in modules:
        if name in timings or name.split(".")[0] in {"exercise", "solution", "checks"}:
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


def rewrite_checks(checks: Path) -> bool:
    """Leave pytest's assertion-rewritten bytecode of a lab's ``checks.py`` beside it.

    A check runs with bytecode writing off (learner code must not leave files behind), so pytest
    used to parse, rewrite and compile the whole checks file in every check: 0.3 s of a
    1,300-line file, paid again by each of a lab's hundred mistakes in ``dev check``.  Written
    here, on the trusted side before any fork, the check only reads it; pytest checks the pyc
    against a hash of the source, so an edited ``checks.py`` is rewritten as before.  A lab
    folder that cannot be written (a system-wide install) keeps the old cost; False then.
    """
    try:
        from _pytest.assertion.rewrite import (
            PYC_TAIL,
            _read_pyc,
            _write_pyc_fp,
            get_cache_dir,
            rewrite_asserts,
        )
    except ImportError:  # pytest moved its internals: only the shortcut is lost
        return False
    try:
        source = checks.read_bytes()
        cache_dir = get_cache_dir(checks)
        pyc = cache_dir / (checks.name[:-3] + PYC_TAIL)
        if _read_pyc(checks, pyc) is not None:
            return True
        tree = ast.parse(source, filename=str(checks))
        # config=None: pytest's defaults, as in a check (no assertion pass hook)
        rewrite_asserts(tree, source, str(checks), None)
        code = compile(tree, str(checks), "exec", dont_inherit=True)
        cache_dir.mkdir(exist_ok=True)
        partial = pyc.with_name(f"{pyc.name}.{os.getpid()}")
        with partial.open("wb") as handle:
            _write_pyc_fp(handle, importlib.util.source_hash(source), code)
        os.replace(partial, pyc)
    except (OSError, SyntaxError, ValueError):
        return False
    return True
