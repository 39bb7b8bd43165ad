"""The parent side of a check: start isolated children, watch the clock, read their verdicts.

Children are started either by ``fork`` (from a process that has already imported the heavy
libraries: milliseconds) or as a fresh interpreter (cold: seconds, but needs nothing warm).  Either
way each child leads its own process group, so when it ends — or is killed at the deadline —
everything it started is killed with it.  The verdict is rebuilt from the child's event log, which
survives however the child died.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aipath.grader.child import WALL_CLOCK_FACTOR
from aipath.grader.events import (
    EVENTS_FILE,
    LEARNER_OUTPUT_FILE,
    OUTPUT_FILE,
    REQUEST_FILE,
    CollectErrorEvent,
    ConfinementEvent,
    DoneEvent,
    ErrorEvent,
    StartEvent,
    TestEvent,
    TimeoutEvent,
    read_events,
)
from aipath.grader.request import CheckRequest
from aipath.grader.results import (
    OUTPUT_CAP,
    CheckResult,
    ErrorInfo,
    ErrorKind,
    Status,
    TestOutcome,
    overall_status,
    summarize,
)
from aipath.grader.sandbox import CPU_GRACE_S

Mode = Literal["fork", "cold"]
# Beyond the lab's own limit, the child's alarm normally fires first; this is the backstop for
# code stuck where Python cannot interrupt it.  Cold children also pay for their imports.
GRACE_S = 2.0
COLD_IMPORT_ALLOWANCE_S = 20.0


@dataclass
class Running:
    request: CheckRequest
    pid: int
    pidfd: int
    run_dir: Path
    started: float
    deadline: float
    mode: Mode
    popen: subprocess.Popen[bytes] | None = None


def _new_run_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="aipath-check-"))


def start(request: CheckRequest, mode: Mode) -> Running:
    """Start one check in a new child process."""
    if mode == "fork":
        # Once per forking process, before the clock starts: every later child shares the weights
        # and the reference values its checks mark as precomputed.
        from aipath.grader.precompute import warm_checks

        if request.models:
            from aipath.checks.models import warm

            warm(request.models)
        warm_checks(request.lab_dir)
    else:
        # A cold child starts with bytecode writing off: its checks' rewritten pyc is made here.
        from aipath.grader.preload import rewrite_checks

        rewrite_checks(Path(request.lab_dir) / "checks.py")
        if request.models:
            # A confined child cannot write the model cache: convert a checkpoint here, once.
            from aipath.checks.models import prepare

            prepare(request.models)
    run_dir = _new_run_dir()
    started = time.monotonic()
    popen: subprocess.Popen[bytes] | None = None
    if mode == "fork":
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                # A check must not outlive the process that waits for its verdict (a worker
                # killed mid-check, a cohort pool process SIGKILLed): the kernel ends it then.
                from aipath.grader import sandbox

                sandbox.die_with_parent()
                if os.getppid() != parent:  # the parent died before the line above
                    os._exit(70)
                from aipath.grader.child import run_child

                run_child(request, run_dir)
            finally:
                os._exit(70)
        allowance = 0.0
    else:
        (run_dir / REQUEST_FILE).write_text(request.model_dump_json(), encoding="utf-8")
        popen = subprocess.Popen(
            [sys.executable, "-m", "aipath.grader.child", str(run_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(run_dir / "bootstrap-stderr.txt", "wb"),  # noqa: SIM115 - owned by child
            start_new_session=True,
            close_fds=True,
        )
        pid = popen.pid
        allowance = COLD_IMPORT_ALLOWANCE_S
    pidfd = os.pidfd_open(pid)
    # The child stops itself (CPU limit, then its wall-clock alarm); this deadline is the backstop.
    deadline = started + request.timeout_s * WALL_CLOCK_FACTOR + GRACE_S + allowance
    return Running(request, pid, pidfd, run_dir, started, deadline, mode, popen)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _reap(running: Running, killed_at_deadline: bool) -> CheckResult:
    _kill_group(running.pid)
    _, status, usage = os.wait4(running.pid, 0)
    os.close(running.pidfd)
    if running.popen is not None:
        running.popen.returncode = os.waitstatus_to_exitcode(status)
        if running.popen.stderr is not None:
            running.popen.stderr.close()
    duration = time.monotonic() - running.started
    try:
        return assemble(
            running.request,
            running.run_dir,
            status,
            killed_at_deadline,
            duration,
            running.mode,
            cpu_s=usage.ru_utime + usage.ru_stime,
            peak_mb=usage.ru_maxrss / 1024,  # Linux reports kilobytes
        )
    finally:
        shutil.rmtree(running.run_dir, ignore_errors=True)


def run_many(
    requests: Sequence[CheckRequest],
    *,
    mode: Mode = "fork",
    parallel: int = 1,
    on_result: Callable[[int, CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run checks, at most ``parallel`` at a time, without threads (safe to fork)."""
    results: list[CheckResult | None] = [None] * len(requests)
    pending = list(enumerate(requests))
    running: dict[int, tuple[int, Running]] = {}
    poller = select.poll()
    try:
        _run_loop(pending, running, poller, results, mode, parallel, on_result)
    except BaseException:
        # Ctrl-C (KeyboardInterrupt) or any failure here: no child outlives the one waiting.
        for _index, job in running.values():
            _abandon(job)
        raise
    return [r for r in results if r is not None]


def _abandon(job: Running) -> None:
    _kill_group(job.pid)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(job.pid, 0)
    os.close(job.pidfd)
    if job.popen is not None:
        job.popen.returncode = -signal.SIGKILL
        if job.popen.stderr is not None:
            job.popen.stderr.close()
    shutil.rmtree(job.run_dir, ignore_errors=True)


def _run_loop(
    pending: list[tuple[int, CheckRequest]],
    running: dict[int, tuple[int, Running]],
    poller: select.poll,
    results: list[CheckResult | None],
    mode: Mode,
    parallel: int,
    on_result: Callable[[int, CheckResult], None] | None,
) -> None:
    while pending or running:
        while pending and len(running) < max(1, parallel):
            index, request = pending.pop(0)
            job = start(request, mode)
            running[job.pidfd] = (index, job)
            poller.register(job.pidfd, select.POLLIN)
        now = time.monotonic()
        wait_ms = max(0, int((min(job.deadline for _, job in running.values()) - now) * 1000))
        ready = {fd for fd, _event in poller.poll(min(wait_ms, 1000))}
        now = time.monotonic()
        for fd in list(running):
            index, job = running[fd]
            expired = now >= job.deadline
            if fd in ready or expired:
                poller.unregister(fd)
                del running[fd]
                result = _reap(job, killed_at_deadline=expired and fd not in ready)
                results[index] = result
                if on_result is not None:
                    on_result(index, result)


def run_one(request: CheckRequest, *, mode: Mode = "cold") -> CheckResult:
    return run_many([request], mode=mode)[0]


def _read_output(run_dir: Path) -> str:
    text = _read_capped(run_dir / OUTPUT_FILE)
    learner = _read_capped(run_dir / LEARNER_OUTPUT_FILE)  # a split check's learner process
    return text + learner


def _read_capped(path: Path) -> str:
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            if size > OUTPUT_CAP:
                handle.seek(size - OUTPUT_CAP)
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    if size > OUTPUT_CAP:
        text = f"… {size - OUTPUT_CAP} characters of output cut …\n" + text
    return text


def abnormal_end(
    request: CheckRequest,
    status: int,
    killed_at_deadline: bool,
    current: str | None,
    cpu_s: float = 0.0,
    peak_mb: float | None = None,
) -> ErrorInfo:
    during = f" during the check {current}" if current else ""
    if killed_at_deadline:
        return ErrorInfo(
            kind=ErrorKind.TIMEOUT,
            message=f"timeout after {request.timeout_s:g} s{during}: your code did not finish "
            "in time. Look for an infinite loop or a very slow step.",
        )
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        # The kernel's CPU limit (sandbox.cpu_backstop): SIGXCPU, or SIGKILL at the hard limit
        # (process 1 of the check's PID namespace ignores SIGXCPU), with the CPU time to show.
        cpu_limit = sig == signal.SIGKILL and cpu_s >= request.timeout_s + CPU_GRACE_S
        if sig == signal.SIGXCPU or cpu_limit:
            return ErrorInfo(
                kind=ErrorKind.TIMEOUT,
                message=f"timeout after {request.timeout_s:g} s of CPU time{during}: the "
                "system stopped one long computation that never returned to Python (a single "
                "huge call such as sum(range(10**10)) or a giant matrix product).",
            )
        if sig == signal.SIGKILL and (peak_mb is None or peak_mb >= request.memory_mb / 2):
            return ErrorInfo(
                kind=ErrorKind.MEMORY,
                message=f"the check was killed by the system{during}, most likely for using "
                f"too much memory (the lab allows {request.memory_mb} MB).",
            )
        if sig == signal.SIGKILL:
            # Neither the lab's CPU limit nor much memory: say what was measured, blame nothing.
            return ErrorInfo(
                kind=ErrorKind.CRASH,
                message=f"the check was killed by the system (SIGKILL){during} after {cpu_s:.1f} "
                f"s of CPU time and at most {peak_mb:.0f} MB of memory, both below the lab's "
                f"limits ({request.timeout_s:g} s, {request.memory_mb} MB). Does your code lower "
                "its own limits (resource.setrlimit) or end processes?",
            )
        name = signal.Signals(sig).name
        return ErrorInfo(
            kind=ErrorKind.CRASH,
            message=f"the process crashed with {name}{during}. This happens when native code "
            "(NumPy, torch) is given invalid memory; check shapes and dtypes you pass in.",
        )
    code = os.waitstatus_to_exitcode(status)
    return ErrorInfo(
        kind=ErrorKind.EXIT,
        message=f"the process ended with exit code {code}{during} before the checks finished; "
        "does your code end the program (os._exit, sys.exit in a thread)?",
    )


def assemble(
    request: CheckRequest,
    run_dir: Path,
    status: int,
    killed_at_deadline: bool,
    duration: float,
    mode: Mode,
    *,
    cpu_s: float = 0.0,
    peak_mb: float | None = None,
) -> CheckResult:
    """Rebuild the verdict from the child's event log and how it ended."""
    events = read_events(run_dir / EVENTS_FILE)
    tests: list[TestOutcome] = []
    error: ErrorInfo | None = None
    current: str | None = None
    finished = False
    confinement = "" if request.isolate_network else "OS confinement turned off for this check"
    for event in events:
        if isinstance(event, ConfinementEvent):
            confinement = event.notice
        elif isinstance(event, StartEvent):
            current = event.name
        elif isinstance(event, TestEvent):
            tests.append(event.outcome)
            current = None
        elif isinstance(event, ErrorEvent):
            error = event.error
            finished = True
        elif isinstance(event, CollectErrorEvent):
            error = ErrorInfo(kind=ErrorKind.INTERNAL, message=event.message)
            finished = True
        elif isinstance(event, TimeoutEvent):
            error = _timeout_error(request, event, current)
            finished = True
        elif isinstance(event, DoneEvent):
            finished = True
            if not tests and event.exitstatus not in (0, 1, 5):
                error = ErrorInfo(
                    kind=ErrorKind.INTERNAL,
                    message=f"pytest could not run the lab's checks (exit {event.exitstatus})"
                    f": {_read_output(run_dir)[-1200:]}",
                )
    if not finished:
        error = abnormal_end(request, status, killed_at_deadline, current, cpu_s, peak_mb)
        bootstrap = run_dir / "bootstrap-stderr.txt"  # only a cold child has one
        if not events and bootstrap.exists():
            tail = bootstrap.read_text(errors="replace")[-800:]
            if tail.strip():
                error = ErrorInfo(
                    kind=ErrorKind.INTERNAL, message=f"the checker could not start: {tail}"
                )
    if error is not None and current is not None:
        tests.append(TestOutcome(name=current, status=Status.ERROR, message=error.message))
    if error is not None:
        lab_status = Status.ERROR
    elif not tests:
        lab_status = Status.ERROR
        error = ErrorInfo(kind=ErrorKind.INTERNAL, message="no checks ran: the lab has no tests")
    else:
        lab_status = overall_status([t.status for t in tests])
    result = CheckResult(
        lab=request.lab_id,
        status=lab_status,
        duration_s=round(duration, 4),
        file=request.learner_file,
        tests=tests,
        error=error,
        output=_read_output(run_dir),
        mode="warm" if mode == "fork" else "cold",
        confinement=confinement,
    )
    result.summary = summarize(result)
    return result


def _timeout_error(request: CheckRequest, event: TimeoutEvent, current: str | None) -> ErrorInfo:
    line = event.line
    source = event.source
    during = f" during the check {current}" if current else ""
    where = ""
    if line:
        func = event.function
        where = f"; it was running line {line}" + (f" in {func}()" if func else "")
        if source:
            where += f": {source}"
    return ErrorInfo(
        kind=ErrorKind.TIMEOUT,
        message=f"timeout after {request.timeout_s:g} s{during}{where}. "
        "Look for a loop that never ends or a step that is far too slow.",
        line=line if isinstance(line, int) else None,
        source=source if isinstance(source, str) else None,
    )
