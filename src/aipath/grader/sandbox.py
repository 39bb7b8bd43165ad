"""Limits for the child process that runs a learner's code.

The child is already a separate process (so a crash cannot touch the worker or the store); this
module adds what keeps a runaway from hurting the machine: an address-space limit so a memory bomb
fails fast with ``MemoryError``, a cap on file size, no core dumps, a CPU-time limit the kernel
enforces (it also stops one long C call and outlives nothing: children inherit it), a network of
its own (only a loopback device, so a lab's server works and nothing else on the machine or
beyond is reachable), and an audit hook that refuses process creation and signals *from the
learner's own frames* (a fork loop is the classic way to take a laptop down).  Checks themselves
may still start processes (a check that runs mypy or git).
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import signal
import sys
import threading
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

MAX_FILE_BYTES = 512 * 1024 * 1024

_BLOCKED_EVENTS = {
    "os.fork": "start a new process (os.fork)",
    "os.forkpty": "start a new process (os.forkpty)",
    "os.posix_spawn": "start a new process (os.posix_spawn)",
    "os.spawn": "start a new process (os.spawn*)",
    "os.system": "run a shell command (os.system)",
    "os.exec": "replace the process (os.exec*)",
    "subprocess.Popen": "start a new process (subprocess)",
    "os.kill": "send a signal to a process (os.kill)",
    "os.killpg": "send a signal to a process group (os.killpg)",
}


class SandboxViolation(BaseException):
    """Raised into learner code that tries something a lab never needs.

    A BaseException so that a learner's ``except Exception`` cannot swallow it in a loop.
    """


class LearnerExit(BaseException):
    """Raised instead of ending the process when learner code calls ``os._exit``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _vm_size_bytes() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def set_limits(limits: Iterable[tuple[int, int]], *, lock: bool = False) -> None:
    """Lower each ``(resource, value)`` soft limit, never above the hard limit; skip unsupported.

    With ``lock`` the hard limit comes down to the soft one: code cannot raise it again.
    """
    for name, value in limits:
        try:
            _soft, hard = resource.getrlimit(name)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(name, (value, value if lock else hard))
        except (ValueError, OSError):
            continue


SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1",  # Hugging Face tokenizers' thread pool
    "TOKENIZERS_PARALLELISM": "false",
    # pandas 3 keeps strings in pyarrow when it is installed (MLflow brings it); pyarrow's own
    # allocator reserves address space far beyond what it uses, which a forked check's memory
    # limit counts: with malloc instead, NumPy labs stopped failing with MemoryError.
    "ARROW_DEFAULT_MEMORY_POOL": "system",
}
"""Thread pools sized by these variables start one thread, not one per core; pyarrow uses malloc."""

_M_ARENA_MAX = -8  # glibc's mallopt parameter number


def single_threaded_runtime() -> None:
    """Keep native thread pools and malloc arenas small before any library sizes them.

    The memory limit counts address space, not memory used: on a machine with many cores each
    pool thread reserves a stack and each new glibc malloc arena 64 MB, so a lab whose budget
    fits on a 2-core laptop would run out of address space (a MemoryError in no one's code) on
    a 64-core CI runner.  Set before the libraries are imported (their pools read the variables
    once) and before the limit is applied.
    """
    for name, value in SINGLE_THREAD_ENV.items():
        os.environ.setdefault(name, value)
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 2)
    except (OSError, AttributeError):  # not glibc: its allocator has no arenas to cap
        pass


def apply_limits(memory_mb: int, *, tools: bool = False) -> None:
    """Cap memory at what the process already maps plus the lab's budget, for good.

    The hard limits come down to the soft ones, so ``resource.setrlimit`` in learner code cannot
    lift them — except the address space of a lab whose checks run external tools (``tools``):
    a Go or Haskell linter reserves gigabytes of address space it never uses, so
    :func:`aipath.checks.tools.run_tool` lifts the soft limit in the tool's own process.
    """
    single_threaded_runtime()
    budget = memory_mb * 1024 * 1024
    set_limits(((resource.RLIMIT_AS, _vm_size_bytes() + budget),), lock=not tools)
    set_limits(((resource.RLIMIT_FSIZE, MAX_FILE_BYTES), (resource.RLIMIT_CORE, 0)), lock=True)


CPU_GRACE_S = 3
"""CPU seconds past the lab's limit before the kernel stops the child: the interval timer
(which names the learner's line) fires first whenever Python code is running."""


def cpu_backstop(timeout_s: float) -> None:
    """A kernel CPU-time limit a little past the lab's: SIGXCPU, then SIGKILL if ignored.

    The interval timer's handler runs only between bytecodes, so a single long C call
    (``sum(range(2 * 10**9))``) would outrun it; RLIMIT_CPU does not.  Processes the learner's
    code starts inherit the limit, so one left behind cannot burn a core for minutes.  The hard
    limit is the soft one plus two seconds: code cannot raise it past that unless it has the
    capability to, which a check in its own user namespace does not.
    """
    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(used.ru_utime + used.ru_stime + timeout_s + CPU_GRACE_S)
    try:
        _old_soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        ceiling = soft + 2 if hard == resource.RLIM_INFINITY else min(soft + 2, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (min(soft, ceiling), ceiling))
    except (ValueError, OSError):
        pass


_CLONE_NEWNS = 0x00020000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_MS_RDONLY = 0x1
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000
_MOUNT_ATTR_RDONLY = 0x1
_SYS_MOUNT_SETATTR = {"x86_64": 442, "aarch64": 442}
_PR_SET_PDEATHSIG = 1


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)


def _loopback_up() -> None:
    """Bring ``lo`` up in a fresh network namespace (it starts down): 127.0.0.1 then works."""
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _map_ids(uid: int, gid: int) -> None:
    """Map the uid and gid this process had (read them before ``unshare``: inside, until
    mapped, they read as the overflow id) to themselves in its new user namespace."""
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")


def isolate_network() -> bool:
    """Move this process into a network namespace of its own with only a loopback device.

    The fallback of :func:`confine` where mount and PID namespaces are refused: a check's servers
    (bound to 127.0.0.1) keep working; the machine's own services and the internet do not.  Must
    run while the process has one thread.  Returns False where the system allows neither.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = _libc()
    except OSError:
        return False
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0:
        try:
            _map_ids(uid, gid)
        except OSError:
            return False
    elif libc.unshare(_CLONE_NEWNET) != 0:
        return False
    try:
        _loopback_up()
    except OSError:
        return False
    return True


class ConfinementError(OSError):
    """A step of :func:`confine` the kernel refused (the check then runs less confined)."""


def _check(result: int, what: str) -> None:
    if result != 0:
        import ctypes

        errno = ctypes.get_errno()
        raise ConfinementError(errno, f"{what}: {os.strerror(errno)}")


def _mount(
    libc: Any,
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int,
    data: str | None = None,
) -> None:
    _check(
        libc.mount(
            None if source is None else source.encode(),
            target.encode(),
            None if fstype is None else fstype.encode(),
            flags,
            None if data is None else data.encode(),
        ),
        f"mount {target}",
    )


def _set_read_only(libc: Any, path: str, read_only: bool) -> None:
    """Make the mount tree at ``path`` read-only (or writable again), every submount included."""
    import ctypes
    import platform

    number = _SYS_MOUNT_SETATTR.get(platform.machine())
    if number is None:
        raise ConfinementError(0, f"mount_setattr: unknown on {platform.machine()}")

    class MountAttr(ctypes.Structure):
        _fields_ = [  # the kernel's struct mount_attr
            ("attr_set", ctypes.c_uint64),
            ("attr_clr", ctypes.c_uint64),
            ("propagation", ctypes.c_uint64),
            ("userns_fd", ctypes.c_uint64),
        ]

    attr = MountAttr(
        _MOUNT_ATTR_RDONLY if read_only else 0, 0 if read_only else _MOUNT_ATTR_RDONLY, 0, 0
    )
    _check(
        libc.syscall(
            number,
            _AT_FDCWD,
            path.encode(),
            _AT_RECURSIVE,
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        f"mount_setattr {path}",
    )


def confine(
    writable: Sequence[Path], hidden_files: Sequence[Path], hidden_dirs: Sequence[Path]
) -> str:
    """Put this process in namespaces of its own: the check's world from here on.

    - a **user** namespace (no capability over anything outside it: hard limits stay put);
    - a **network** namespace with only a loopback device (a lab's server works, nothing else);
    - a **mount** namespace where the whole filesystem is read-only except ``writable`` (the lab
      folder and a private temporary folder), ``hidden_files`` read as empty (/dev/null bound
      over them: the reference solutions) and ``hidden_dirs`` as empty folders (the known
      mistakes and alternatives), and /dev/shm is a fresh tmpfs;
    - a **PID** namespace: the process forks once; the parent stays outside, waits and ends as
      its child ended (same code, same signal), and the child — process 1 of a namespace
      holding nothing else — returns from this function and runs the check.  When it ends, the
      kernel kills every process it left behind, and it can see or signal no process outside.

    Returns "" when all of that holds; otherwise (not Linux, or the kernel refuses a namespace)
    what is missing, in one line, after confining as far as the system allows.  Must run while
    the process has one thread.
    """
    if not sys.platform.startswith("linux"):
        return f"no OS confinement on {sys.platform}: checks run with the Python-level guards only"
    uid, gid = os.getuid(), os.getgid()
    try:
        libc = _libc()
        _check(
            libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWPID),
            "unshare",
        )
    except OSError as exc:
        partial = isolate_network()
        return f"no OS confinement here ({exc}): checks run with the Python-level guards only" + (
            "" if partial else ", and with the machine's network"
        )
    try:
        _map_ids(uid, gid)
        _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)
        for folder in writable:
            _mount(libc, str(folder), str(folder), None, _MS_BIND | _MS_REC)
        for path in hidden_files:
            if path.is_file():
                _mount(libc, os.devnull, str(path), None, _MS_BIND)
        for path in hidden_dirs:
            if path.is_dir():
                _mount(libc, "none", str(path), "tmpfs", _MS_NOSUID | _MS_NODEV, "size=4k,mode=555")
        _set_read_only(libc, "/", True)
        for folder in writable:
            _set_read_only(libc, str(folder), False)
        if os.path.isdir("/dev/shm"):
            _mount(libc, "none", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, "size=256m")
        _loopback_up()
    except OSError as exc:
        # Past unshare the process may be half-configured: going on would grade in a world
        # the harness did not intend, so stop here and let the check fail as an engine error.
        raise ConfinementError(getattr(exc, "errno", 0) or 0, f"confinement failed: {exc}") from exc
    _enter_pid_namespace(libc)
    return ""


_PROBE = (
    "import os, sys\n"
    "from aipath.grader.sandbox import confine\n"
    "notice = confine([], [], [])\n"
    "sys.stdout.write(notice or 'confined')\n"
    "sys.stdout.flush()\n"
    "os._exit(0)\n"
)


def confinement_notice() -> str:
    """What a check on this system would lack: "" when checks are fully confined.

    Runs :func:`confine` in a throwaway interpreter (never in the caller, which may have
    threads), for the dashboard's grader badge before any check has run.
    """
    import subprocess

    try:
        out = subprocess.run(
            [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"could not test OS confinement: {exc}"
    text = out.stdout.strip()
    if out.returncode == 0 and text == "confined":
        return ""
    return text or f"could not test OS confinement: {out.stderr.strip()[-200:]}"


def _enter_pid_namespace(libc: Any) -> None:
    """Fork into the new PID namespace; the parent outside mirrors how the child ends."""
    pid = os.fork()
    if pid == 0:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        with contextlib.suppress(OSError):
            _mount(libc, "proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV)
        return
    # The parent: only waits.  Signals meant for the check (the supervisor's SIGKILL reaches the
    # whole process group, the namespace's process 1 included) need no forwarding.
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGPROF, signal.SIGALRM):
        signal.signal(number, signal.SIG_IGN)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            REAL_EXIT(EXIT_ENGINE)
        except InterruptedError:
            continue
    if os.WIFEXITED(status):
        REAL_EXIT(os.WEXITSTATUS(status))
    number = signal.Signals(os.WTERMSIG(status))
    if number not in (signal.SIGKILL, signal.SIGSTOP):  # these two take no handler
        signal.signal(number, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.kill(os.getpid(), number)
    REAL_EXIT(EXIT_ENGINE)


EXIT_ENGINE = 70


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent ends (however the parent ended)."""
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def close_inherited_descriptors(keep: Iterable[int]) -> None:
    """Close what a forked child inherits and learner code must not hold.

    A warm worker's listening socket, the CLI's connection, a database the parent had open: a
    descriptor survives the read-only filesystem (it was opened before), so learner code could
    write through it.  Sockets, pipes and anything open for writing go; read-only files that a
    library keeps open (and 0–2, redirected next) stay.
    """
    import stat

    keep = set(keep) | {0, 1, 2}
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd in keep:
            continue
        try:
            mode = os.fstat(fd).st_mode
            import fcntl

            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        except OSError:
            continue
        writable = flags & os.O_ACCMODE != os.O_RDONLY
        if stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode) or writable:
            with contextlib.suppress(OSError):
                os.close(fd)


def learner_frame(frame: FrameType | None, learner_path: str) -> FrameType | None:
    """The innermost frame that belongs to the learner's file, if any."""
    while frame is not None:
        if frame.f_code.co_filename == learner_path:
            return frame
        frame = frame.f_back
    return None


def _tag_learner_threads(learner_path: str) -> weakref.WeakSet[threading.Thread]:
    """Remember threads started from learner code (directly or through an executor).

    The audit hook sees only the stack of the thread an event happens in; a thread the learner
    started has none of their frames, so it is tagged at start and judged by its origin.
    """
    tagged: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
    original_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        parent = threading.current_thread()
        if parent in tagged or learner_frame(sys._getframe(1), learner_path) is not None:
            tagged.add(self)
        original_start(self)

    threading.Thread.start = start  # type: ignore[method-assign]
    return tagged


def install_guards(learner_path: str) -> None:
    """Refuse process creation and signals from learner code; turn os._exit into an exception."""
    learner_threads = _tag_learner_threads(learner_path)

    def hook(event: str, _args: tuple[Any, ...]) -> None:
        what = _BLOCKED_EVENTS.get(event)
        if what is None:
            return
        frame = learner_frame(sys._getframe(1), learner_path)
        if frame is not None:
            raise SandboxViolation(
                f"your code tried to {what} at line {frame.f_lineno}; labs run in a sandbox "
                "that does not allow it, and no lab needs it — remove that call"
            )
        if threading.current_thread() in learner_threads:
            raise SandboxViolation(
                f"a thread your code started tried to {what}; labs run in a sandbox that does "
                "not allow it, and no lab needs it — remove that call"
            )

    sys.addaudithook(hook)

    def learner_exit(code: int) -> NoReturn:
        frame = learner_frame(sys._getframe(1), learner_path)
        if frame is None:
            REAL_EXIT(code)
        raise LearnerExit(code)

    setattr(os, "_exit", learner_exit)  # noqa: B010 - mypy rejects replacing a NoReturn builtin


REAL_EXIT = os._exit
