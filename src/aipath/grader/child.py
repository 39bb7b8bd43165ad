"""The code that runs inside the isolated child process, forked from a warm worker or started cold.

Order matters: limits and guards first, then the learner file is compiled (syntax errors become a
message with the line) and imported (import-time errors likewise) *before* pytest starts, so a
broken file gives one clear error instead of the same traceback once per check.  The whole check
runs under a wall-clock alarm that reports the learner's line it interrupted.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import FrameType, ModuleType
from typing import NoReturn

from aipath.grader import sandbox
from aipath.grader.events import (
    EVENTS_FILE,
    OUTPUT_FILE,
    REQUEST_FILE,
    ConfinementEvent,
    DoneEvent,
    ErrorEvent,
    EventWriter,
    TimeoutEvent,
)
from aipath.grader.learnerframes import describe_exception
from aipath.grader.request import CheckRequest
from aipath.grader.results import ErrorInfo, ErrorKind

EXIT_OK = 0
EXIT_TIMEOUT = 124
EXIT_INTERNAL = 70
# pytest plugins a lab check never needs; each one skipped shortens every warm check.
DISABLED_PLUGINS = (
    "doctest",
    "junitxml",
    "pastebin",
    "legacypath",
    "setuponly",
    "setupplan",
    "logging",
    "unraisableexception",  # its gc.collect() at exit alone costs ~50 ms
    "threadexception",
)

PYTEST_INI = """[pytest]
python_files = checks.py
python_functions = test_*
markers =
    task(n): the lab task a check belongs to
"""


def run_child(request: CheckRequest, run_dir: Path) -> NoReturn:
    """Check the learner's file and end the process; never returns."""
    writer = EventWriter(run_dir / EVENTS_FILE)
    code = EXIT_INTERNAL
    try:
        code = _run(request, run_dir, writer)
    except MemoryError:
        # The learner's code filled the lab's memory budget and something later (pytest's report
        # of the failure, say) could not allocate: a verdict about memory, not a broken engine.
        with contextlib.suppress(BaseException):
            gc.collect()
            writer.write(
                ErrorEvent(
                    error=ErrorInfo(
                        kind=ErrorKind.MEMORY,
                        message=f"memory limit: the check ran out of the {request.memory_mb} MB "
                        "the lab allows. Look for a huge allocation such as [0] * 10**12 or a "
                        "list that grows in a loop that never ends.",
                    )
                )
            )
    except BaseException as exc:  # the engine itself failed: still leave a verdict behind
        with contextlib.suppress(BaseException):
            writer.write(
                ErrorEvent(
                    error=ErrorInfo(
                        kind=ErrorKind.INTERNAL,
                        message=f"the checker failed: {type(exc).__name__}: {exc}",
                    )
                )
            )
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        sandbox.REAL_EXIT(code)
    sandbox.REAL_EXIT(code)  # pragma: no cover - for the type checker


def _redirect_output(run_dir: Path) -> None:
    """Send everything printed (by the learner, pytest or a library) to a file, not a terminal."""
    fd = os.open(run_dir / OUTPUT_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # A forked child inherits the parent's Python-level streams (which may be a test runner's
    # capture objects): point them at the new descriptors too.
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    # Likewise the hooks that report uncaught errors (a test runner may have replaced them).
    threading.excepthook = threading.__excepthook__
    sys.excepthook = sys.__excepthook__
    sys.unraisablehook = sys.__unraisablehook__


WALL_CLOCK_FACTOR = 3.0
"""A check may take this many times its CPU limit in wall-clock time (a busy machine shares its
cores) before the wall-clock alarm stops it."""


def arm_timeout(
    request: CheckRequest, learner_path: str, report: Callable[[TimeoutEvent], None]
) -> None:
    """Stop the check at the lab's limit, reporting the learner's line it was running.

    ``report`` records the event (the event file; in a confined learner process, the message
    to the trusted side) before the process ends.
    """
    started = time.monotonic()

    def on_alarm(_signum: int, frame: FrameType | None) -> None:
        learner = sandbox.learner_frame(frame, learner_path)
        line = learner.f_lineno if learner is not None else None
        source = None
        if learner is not None:
            import linecache

            source = linecache.getline(learner_path, learner.f_lineno).strip() or None
        with contextlib.suppress(BaseException):
            report(
                TimeoutEvent(
                    line=line,
                    source=source,
                    function=learner.f_code.co_name if learner is not None else None,
                    elapsed=round(time.monotonic() - started, 2),
                )
            )
        sandbox.REAL_EXIT(EXIT_TIMEOUT)

    # The lab's limit is CPU time: a loop that never ends is stopped after the same amount of
    # computing on an idle laptop and on a loaded CI machine, inside the learner's own line.
    # Wall-clock time is the backstop for code that blocks without computing (a sleep, a read).
    signal.signal(signal.SIGPROF, on_alarm)
    signal.setitimer(signal.ITIMER_PROF, request.timeout_s)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, request.timeout_s * WALL_CLOCK_FACTOR)


def import_lab_libraries(checks: Path) -> None:
    """Import the libraries the lab's checks use before the clock starts.

    A warm worker has them already; a cold child would otherwise spend the learner's time limit
    importing torch.  Only the trusted checks file is read: a name in the learner's file must
    not choose what runs before the guards are up.
    """
    from aipath.grader.preload import imported_modules

    names = imported_modules([checks])
    if "torch" in names or any(n.startswith("torch.") for n in names):
        names.append("torch._dynamo")  # the first optimizer imports it (~3 s)
    for name in names:
        if name in sys.modules or name.startswith("aipath.labs"):
            continue
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module(name)


def _error(
    report: Callable[[ErrorInfo], None],
    kind: ErrorKind,
    message: str,
    *,
    line: int | None = None,
    source: str | None = None,
) -> None:
    report(ErrorInfo(kind=kind, message=message, line=line, source=source))


def import_learner(
    request: CheckRequest, path: Path, report: Callable[[ErrorInfo], None]
) -> ModuleType | None:
    """Compile and import the learner's file; None (after ``report``-ing why) when it cannot."""
    learner_path = str(path)
    try:
        source = path.read_bytes()
    except FileNotFoundError:
        _error(
            report,
            ErrorKind.MISSING_FILE,
            f"{path.name} is missing from {path.parent}: it was deleted or renamed. "
            f"Rename it back, or run `aipath reset {request.lab_id}` for a fresh starter.",
        )
        return None
    except OSError as exc:
        _error(report, ErrorKind.MISSING_FILE, f"{path} cannot be read: {exc.strerror}")
        return None
    try:
        code = compile(source, learner_path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = exc.lineno
        text = (exc.text or "").rstrip("\n")
        pointer = ""
        if text and exc.offset:
            stripped = text.lstrip()
            pointer = "\n    " + " " * max(0, exc.offset - 1 - (len(text) - len(stripped))) + "^"
            text = stripped
        _error(
            report,
            ErrorKind.SYNTAX,
            f"syntax error at line {line}: {exc.msg}\n    {text}{pointer}",
            line=line,
            source=text,
        )
        return None
    except ValueError as exc:  # e.g. null bytes in the file
        _error(report, ErrorKind.SYNTAX, f"{path.name}: {exc}")
        return None

    spec = importlib.util.spec_from_file_location(request.module_name, learner_path)
    if spec is None:
        _error(report, ErrorKind.INTERNAL, "cannot load module")
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[request.module_name] = module
    try:
        exec(code, module.__dict__)
    except NotImplementedError:
        return module  # a TODO at module level: the checks will report it as not attempted
    except BaseException as exc:
        report(describe_exception(exc, learner_path, context="while importing your file"))
        return None
    return module


def hidden_content(lab_dir: Path) -> tuple[list[Path], list[Path]]:
    """The files and folders a check must not show learner code: every lab's answers.

    Reference solutions read as empty, known mistakes and alternatives as empty folders; the
    checks and data next to them stay readable (read-only) because the checks need them.
    """
    import aipath.labs

    content = Path(aipath.labs.__file__).parent / "content"
    labs = {lab.parent.resolve() for lab in content.glob("p*/*/lab.toml")}
    labs.add(lab_dir.resolve())
    files = [lab / "solution.py" for lab in sorted(labs)]
    folders = [lab / name for lab in sorted(labs) for name in ("mistakes", "alternatives")]
    return files, folders


def _enter_confinement(request: CheckRequest, run_dir: Path, writer: EventWriter) -> Path:
    """Confine this process (see :func:`sandbox.confine`); the private temporary folder.

    The run folder (events, output, pytest.ini) becomes read-only to the check: the descriptors
    opened on it before stay usable, its paths do not.
    """
    private_tmp, notice = enter_confinement(request, run_dir)
    if notice is not None:
        writer.write(ConfinementEvent(notice=notice))
    return private_tmp


def enter_confinement(request: CheckRequest, run_dir: Path) -> tuple[Path, str | None]:
    """Confine this process; the private temporary folder and what confinement lacks.

    The notice is None when the request turned confinement off, "" when it is complete.
    """
    private_tmp = run_dir / "tmp"
    private_tmp.mkdir(mode=0o700, exist_ok=True)
    if not request.isolate_network:
        return private_tmp, None
    hidden_files, hidden_dirs = hidden_content(Path(request.lab_dir))
    writable = [Path(os.path.realpath(request.workdir)), Path(os.path.realpath(private_tmp))]
    notice = sandbox.confine(writable, hidden_files, hidden_dirs)
    # Tools a check runs (jupytext, IPython) create state folders under the read-only home.
    for name, folder in PRIVATE_STATE_DIRS.items():
        os.environ[name] = str(private_tmp / folder)
    return private_tmp, notice


PRIVATE_STATE_DIRS = {
    "JUPYTER_DATA_DIR": "jupyter-data",
    "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
    "IPYTHONDIR": "ipython",
}
"""Where tools that keep per-user state write it during a check: the private temporary folder."""


def _run(request: CheckRequest, run_dir: Path, writer: EventWriter) -> int:
    with contextlib.suppress(OSError):
        os.setsid()  # a group of our own, so the parent can end every descendant at once
    sandbox.close_inherited_descriptors(keep=[writer.fileno()])
    _redirect_output(run_dir)
    ini = run_dir / "pytest.ini"
    ini.write_text(PYTEST_INI, encoding="ascii")
    checks = Path(request.lab_dir) / "checks.py"
    if request.verdict_process == "trusted":
        from aipath.grader.split import run_trusted

        return run_trusted(request, run_dir, writer, ini, checks)
    # while this process has one thread (a user namespace needs it)
    private_tmp = _enter_confinement(request, run_dir, writer)
    workdir = Path(request.workdir)
    os.chdir(workdir)
    learner = Path(request.learner_file).resolve()
    learner_path = str(learner)
    sys.path.insert(0, str(learner.parent))
    sys.dont_write_bytecode = True
    os.environ.setdefault("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    os.environ["TMPDIR"] = str(private_tmp)
    sandbox.single_threaded_runtime()  # before the lab's libraries start their thread pools
    tempfile.tempdir = str(private_tmp)

    import_lab_libraries(checks)
    from aipath.grader.preload import imported_modules

    sandbox.apply_limits(
        request.memory_mb, tools="aipath.checks.tools" in imported_modules([checks])
    )
    if not request.dev_apply:
        sandbox.install_guards(learner_path)
    arm_timeout(request, learner_path, writer.write)
    sandbox.cpu_backstop(request.timeout_s)

    from aipath.grader.plugin import LabPlugin, reseed

    reseed(request.seed)
    module = import_learner(request, learner, lambda info: writer.write(ErrorEvent(error=info)))
    if module is None:
        return EXIT_OK

    if request.dev_apply:
        apply = getattr(module, request.dev_apply, None)
        if not callable(apply):
            _error(
                lambda info: writer.write(ErrorEvent(error=info)),
                ErrorKind.INTERNAL,
                f"candidate has no function {request.dev_apply}()",
            )
            return EXIT_OK
        try:
            apply(workdir)
        except BaseException as exc:
            info = describe_exception(exc, learner_path, context="while applying the candidate")
            writer.write(ErrorEvent(error=info))
            return EXIT_OK
        # dev_apply runs only author files in `aipath dev check` (e.g. git steps via subprocess);
        # the guards go up once it is done, before any check runs.
        sandbox.install_guards(learner_path)

    import pytest

    plugin = LabPlugin(
        module, learner_path, workdir, request.seed, writer, order=request.test_order
    )
    args = pytest_args(checks, ini, run_dir)
    if request.max_failures is not None:
        args.append(f"--maxfail={request.max_failures}")
    status = pytest.main(args, plugins=[plugin])
    signal.setitimer(signal.ITIMER_PROF, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)
    writer.write(DoneEvent(exitstatus=int(status)))
    return EXIT_OK


def pytest_args(checks: Path, ini: Path, rootdir: Path) -> list[str]:
    """The pytest command line of a check (also used by the worker's warm-up run)."""
    return [
        str(checks),
        "-c",
        str(ini),
        "--rootdir",
        str(rootdir),
        # pytest's own report (dots, FAILURES, the summary line) is not the learner's output:
        # without the terminal reporter, what lands in the output file is what their code printed.
        "-p",
        "no:terminal",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:faulthandler",
        "-p",
        "no:stepwise",
        *(arg for name in DISABLED_PLUGINS for arg in ("-p", f"no:{name}")),
        "--import-mode=importlib",
        "-W",
        "ignore::DeprecationWarning",
    ]


def main() -> None:
    """Entry point of a cold check: ``python -m aipath.grader.child RUN_DIR``."""
    run_dir = Path(sys.argv[1])
    request = CheckRequest.model_validate_json((run_dir / REQUEST_FILE).read_text("utf-8"))
    run_child(request, run_dir)


if __name__ == "__main__":
    main()
