"""A check split in two processes: the verdict in one that learner code cannot reach.

In the shared mode (:func:`aipath.grader.child._run`) the checks, the pytest plugin and the
event writer run in the interpreter that imported the learner's module, so learner code could
write the event file itself, patch ``aipath.checks`` or walk ``gc`` to the check functions.
Here (``verdict_process = "trusted"`` in ``lab.toml``):

- the **trusted** process (this one: the child the supervisor started or forked) runs pytest,
  ``checks.py``, the plugin and the event writer.  It never imports the learner's module and
  keeps the learner's folder off ``sys.path``; it is limited by rlimits (its checks handle
  learner data) but is in no namespace, because it holds the verdict and only it writes it;
- the **learner** process, forked from it before any check runs, closes every descriptor but
  one end of a socket pair (and its own output file), enters the OS confinement of
  :func:`aipath.grader.sandbox.confine`, imports the learner's module and serves the checks'
  calls (:mod:`aipath.grader.remote`).  The ``learner`` fixture is a proxy of that module.

Whatever the learner process does — writes to the socket, exits, dies, hangs — the trusted side
turns it into the same outcomes as today: an exception of the learner's becomes the check's
error (or not-attempted), its timeout alarm a timeout event, its death the abnormal-end error
the supervisor would have given.  Forged bytes on the socket end the check as an error.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from aipath.grader import sandbox
from aipath.grader.child import (
    EXIT_OK,
    EXIT_TIMEOUT,
    WALL_CLOCK_FACTOR,
    arm_timeout,
    enter_confinement,
    import_lab_libraries,
    import_learner,
    pytest_args,
)
from aipath.grader.events import (
    LEARNER_OUTPUT_FILE,
    ConfinementEvent,
    DoneEvent,
    ErrorEvent,
    EventWriter,
    TimeoutEvent,
)
from aipath.grader.remote import Channel, LearnerPeer, RemoteProxy, TrustedPeer
from aipath.grader.request import CheckRequest
from aipath.grader.results import ErrorInfo, ErrorKind

LEARNER_EXIT_INTERNAL = 71
TRUSTED_CPU_FACTOR = 2.0
"""The trusted process's CPU limit, in multiples of the lab's (see ``_arm_backstops``)."""
TRUSTED_WALL_MARGIN_S = 1.0
"""The trusted side's own wall-clock alarm fires this long after the learner process's, so a
learner line that was running is named whenever the learner's alarm can still fire."""


def _trusted_sys_path(workdir: Path, learner: Path) -> None:
    """Drop the current folder and the learner's folders from ``sys.path``.

    The learner process can write files into its lab folder; an ``import`` in the trusted
    process (a lazy submodule of SciPy, say) must never find a ``numpy.py`` planted there.
    """
    mine = {os.path.realpath(workdir), os.path.realpath(learner.parent)}

    def foreign(entry: str) -> bool:
        if entry in ("", "."):
            return True
        real = os.path.realpath(entry)
        return any(real == root or real.startswith(root + os.sep) for root in mine)

    sys.path[:] = [entry for entry in sys.path if not foreign(entry)]


class LearnerCodeInTrustedProcess(RuntimeError):
    """A check tried to run code from the learner's folder in the process that holds the verdict."""


def refuse_learner_code(workdir: Path, learner: Path) -> None:
    """Refuse, from here on, to run any code object compiled from a file in the learner's folder.

    The trusted process never imports the learner's module, but a check could still run the
    learner's file itself (``runpy``, ``exec(compile(source, path, "exec"))``, a test runner
    pointed at a learner's test file) and so hand learner code the verdict.  Python reports
    every ``exec`` of a code object (imports included) to audit hooks; this one stops those whose
    file lies in the lab folder.  A check may still *read* the file (``ast``, ``no_loops``): only
    running it is refused.  A lab whose checks must run learner files stays ``shared``.
    """
    roots = tuple(
        root + os.sep for root in {os.path.realpath(workdir), os.path.realpath(learner.parent)}
    )
    learner_real = os.path.realpath(learner)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event != "exec" or not args:
            return
        filename = getattr(args[0], "co_filename", None)
        if not isinstance(filename, str) or not filename.startswith(os.sep):
            return
        real = os.path.realpath(filename)
        if real == learner_real or real.startswith(roots):
            raise LearnerCodeInTrustedProcess(
                f"a check ran code from {filename} in the trusted verdict process; in "
                "verdict_process = 'trusted' learner code runs only in its confined process "
                "(keep this lab 'shared', or call the learner's functions through `learner`)"
            )

    sys.addaudithook(hook)


def run_trusted(
    request: CheckRequest, run_dir: Path, writer: EventWriter, ini: Path, checks: Path
) -> int:
    """Fork the confined learner process, then run the lab's checks against it here."""
    workdir = Path(request.workdir)
    learner = Path(request.learner_file).resolve()
    learner_path = str(learner)
    private_tmp = run_dir / "tmp"
    private_tmp.mkdir(mode=0o700, exist_ok=True)
    os.chdir(workdir)
    _trusted_sys_path(workdir, learner)
    sys.dont_write_bytecode = True
    os.environ.setdefault("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    os.environ["TMPDIR"] = str(private_tmp)
    sandbox.single_threaded_runtime()
    tempfile.tempdir = str(private_tmp)
    import_lab_libraries(checks)  # both processes share them: the fork comes next

    share_one_cpu()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    trusted_pid = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the learner process
        code = LEARNER_EXIT_INTERNAL
        try:
            ours.close()
            code = _learner_process(request, run_dir, theirs, trusted_pid)
        finally:
            sandbox.REAL_EXIT(code)
    theirs.close()
    refuse_learner_code(workdir, learner)
    runner = _TrustedRunner(request, writer, pid, Channel(ours))
    return runner.run(ini, checks, run_dir, learner_path, workdir)


def share_one_cpu() -> None:
    """Keep this process and the learner process it forks next on the CPU this one runs on.

    The conversation takes turns: one side always waits for the other's reply, and both run
    their libraries on one thread (:func:`sandbox.single_threaded_runtime`), so the pair never
    needs two CPUs at once.  On one CPU each turn is a switch between two processes whose data
    is still in that CPU's caches; on two it is a wake-up of the other CPU, with cold caches.
    A check that calls learner code thousands of times (a statistical test of a sampler, an
    environment stepped by learner code) spends most of its time in those turns.  On a machine
    with one CPU allowed, or where the platform does not say which CPU this is, nothing changes.
    """
    try:
        allowed = os.sched_getaffinity(0)
        cpu = _current_cpu()
        if len(allowed) > 1 and cpu in allowed:
            os.sched_setaffinity(0, {cpu})
    except (OSError, AttributeError, ValueError):  # no affinity calls here (macOS), or no /proc
        pass


def _current_cpu() -> int:
    """The CPU this process is running on: field 39 of ``/proc/self/stat``."""
    with open("/proc/self/stat", encoding="ascii") as stat:
        after_name = stat.read().rpartition(")")[2].split()
    return int(after_name[39 - 3])  # the fields after the name start at field 3


class _TrustedRunner:
    """The trusted side's state: the learner process, the conversation, the check running."""

    def __init__(self, request: CheckRequest, writer: EventWriter, pid: int, channel: Channel):
        self.request = request
        self.writer = writer
        self.pid = pid
        self.peer = TrustedPeer(
            channel,
            on_timeout=self._timed_out,
            on_lost=self._lost,
            learner_dir=request.workdir,
        )
        self.peer.activate()  # the check library reads the learner's random generators through it
        self.plugin: Any = None
        self.started = time.monotonic()

    def current(self) -> str | None:
        return getattr(self.plugin, "current", None)

    def run(self, ini: Path, checks: Path, run_dir: Path, learner_path: str, workdir: Path) -> int:
        from aipath.grader.preload import imported_modules

        sandbox.apply_limits(
            self.request.memory_mb, tools="aipath.checks.tools" in imported_modules([checks])
        )
        self._arm_backstops()
        ready = self.peer.receive_ready()
        notice = ready.get("notice")
        if self.request.isolate_network:
            self.writer.write(ConfinementEvent(notice=self._confinement(notice)))
        error = ready.get("error")
        if error is not None:
            self.writer.write(ErrorEvent(error=_error_info(error)))
            return EXIT_OK
        module = ready.get("module")
        if not isinstance(module, RemoteProxy):
            self._lost("protocol: the learner process sent no module")

        import pytest

        from aipath.grader.plugin import LabPlugin, reseed

        reseed(self.request.seed)
        plugin = LabPlugin(
            module,
            learner_path,
            workdir,
            self.request.seed,
            self.writer,
            on_reseed=lambda seed: self.peer.notify({"op": "reseed", "seed": seed}),
            order=self.request.test_order,
        )
        self.plugin = plugin
        args = pytest_args(checks, ini, run_dir)
        if self.request.max_failures is not None:
            args.append(f"--maxfail={self.request.max_failures}")
        status = pytest.main(args, plugins=[plugin])
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        if int(status) == int(pytest.ExitCode.INTERRUPTED):
            # Never a verdict from a session cut short: a check left unrun is not a pass.
            self.writer.write(
                ErrorEvent(
                    error=ErrorInfo(
                        kind=ErrorKind.INTERNAL,
                        message="the checks were interrupted before they all ran",
                    )
                )
            )
        self.writer.write(DoneEvent(exitstatus=int(status)))
        return EXIT_OK

    def _confinement(self, notice: Any) -> str:
        """What the learner process lacks; "" only when the kernel shows its namespaces."""
        claimed = notice if isinstance(notice, str) else "no confinement notice"
        if claimed:
            return claimed
        for name in ("user", "mnt", "net"):
            try:
                if os.readlink(f"/proc/{self.pid}/ns/{name}") == os.readlink(
                    f"/proc/self/ns/{name}"
                ):
                    return f"the learner process shares the {name} namespace of the checks"
            except OSError:
                return "the learner process's namespaces could not be read"
        return ""

    def _arm_backstops(self) -> None:
        """The trusted side's own limits: its checks' CPU time and a wall-clock backstop.

        The lab's ``timeout_s`` is the learner process's CPU budget, enforced there as in the
        shared mode.  This process also encodes every argument and decodes every result (a
        300k-row table each way), so its own CPU limit is ``TRUSTED_CPU_FACTOR`` times that.
        """

        def on_alarm(_signum: int, _frame: FrameType | None) -> None:
            self._end_with_timeout(TimeoutEvent(elapsed=round(time.monotonic() - self.started, 2)))

        cpu = self.request.timeout_s * TRUSTED_CPU_FACTOR
        signal.signal(signal.SIGPROF, on_alarm)
        signal.setitimer(signal.ITIMER_PROF, cpu)
        signal.signal(signal.SIGALRM, on_alarm)
        wall = self.request.timeout_s * WALL_CLOCK_FACTOR + TRUSTED_WALL_MARGIN_S
        signal.setitimer(signal.ITIMER_REAL, wall)
        sandbox.cpu_backstop(cpu)

    def _end_with_timeout(self, event: TimeoutEvent) -> NoReturn:
        with contextlib.suppress(BaseException):
            self.writer.write(event)
        self._kill_learner()
        sandbox.REAL_EXIT(EXIT_TIMEOUT)

    def _timed_out(self, message: dict[str, Any]) -> NoReturn:
        """The learner process's alarm fired in learner code: the same event as today."""
        line, source, function = message.get("line"), message.get("source"), message.get("function")
        self._end_with_timeout(
            TimeoutEvent(
                line=line if type(line) is int else None,
                source=source if isinstance(source, str) else None,
                function=function if isinstance(function, str) else None,
                elapsed=round(time.monotonic() - self.started, 2),
            )
        )

    def _kill_learner(self) -> None:
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)

    def _lost(self, reason: str) -> NoReturn:
        """The learner process ended, died or broke the protocol mid-call: record how."""
        from aipath.grader.supervisor import abnormal_end

        if reason.startswith("protocol:"):
            self._kill_learner()
        _, status, usage = os.wait4(self.pid, 0)
        if reason.startswith("protocol:"):
            info = ErrorInfo(
                kind=ErrorKind.SANDBOX,
                message="your code wrote to the checker's private channel (or sent it something "
                f"it does not accept: {reason.removeprefix('protocol: ')[:200]}); a lab function "
                "must return its result, not talk to the grader",
            )
        else:
            info = abnormal_end(
                self.request,
                status,
                False,
                self.current(),
                usage.ru_utime + usage.ru_stime,
                usage.ru_maxrss / 1024,
            )
        with contextlib.suppress(BaseException):
            self.writer.write(ErrorEvent(error=info))
        sandbox.REAL_EXIT(EXIT_OK)


def _error_info(data: Any) -> ErrorInfo:
    """The learner process's import error, validated (it could send anything)."""
    try:
        return ErrorInfo.model_validate(data)
    except Exception:
        return ErrorInfo(kind=ErrorKind.INTERNAL, message="the learner process sent a bad error")


# ----- the learner process ----------------------------------------------------------------------
def _learner_process(
    request: CheckRequest, run_dir: Path, sock: socket.socket, trusted_pid: int
) -> int:
    """Confine this process, import the learner's module and serve calls; the exit code."""
    with contextlib.suppress(OSError, AttributeError):
        sandbox.die_with_parent()
    if os.getppid() != trusted_pid:
        return LEARNER_EXIT_INTERNAL
    fd = os.open(
        run_dir / LEARNER_OUTPUT_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600
    )
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sandbox.close_inherited_descriptors(keep=[sock.fileno()])
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    # while this process has one thread (a user namespace needs it)
    _private_tmp, notice = enter_confinement(request, run_dir)
    # Again after the mounts changed, as the shared child does: a relative path in learner code
    # ("pipeline.yaml") is in its writable lab folder, not in the read-only view of the old one.
    os.chdir(request.workdir)
    learner = Path(request.learner_file).resolve()
    learner_path = str(learner)
    sys.path.insert(0, str(learner.parent))
    peer = LearnerPeer(Channel(sock), learner_path)
    sandbox.apply_limits(request.memory_mb)
    sandbox.install_guards(learner_path)

    def report_timeout(event: TimeoutEvent) -> None:
        peer.send({"op": "timeout", **event.model_dump(exclude={"event"})})

    arm_timeout(request, learner_path, report_timeout)
    sandbox.cpu_backstop(request.timeout_s)
    from aipath.grader.plugin import reseed

    peer.on_reseed = reseed
    reseed(request.seed)
    errors: list[ErrorInfo] = []
    import io

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        module = import_learner(request, learner, errors.append)
    finally:
        sys.stdout, sys.stderr = saved
    ready: dict[str, Any] = {"op": "ready", "notice": notice, "out": out.getvalue()}
    ready["err"] = err.getvalue()
    if module is None:
        ready["error"] = (
            errors[0] if errors else ErrorInfo(kind=ErrorKind.INTERNAL, message="no module")
        ).model_dump(mode="json")
    else:
        ready["module"] = module
    peer.send(ready)
    # Even after an import error: alive until the trusted side is done, which reads this
    # process's namespaces (/proc/PID/ns) to confirm the confinement it claims.
    peer.serve_forever()
    return EXIT_OK
