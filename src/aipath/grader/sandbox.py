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

import math
import os
import resource
import sys
import threading
import weakref
from collections.abc import Iterable
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


def set_limits(limits: Iterable[tuple[int, int]]) -> None:
    """Lower each ``(resource, value)`` soft limit, never above the hard limit; skip unsupported."""
    for name, value in limits:
        try:
            _soft, hard = resource.getrlimit(name)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(name, (value, hard))
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


def apply_limits(memory_mb: int) -> None:
    """Cap memory at what the process already maps plus the lab's budget."""
    single_threaded_runtime()
    budget = memory_mb * 1024 * 1024
    set_limits(
        (
            (resource.RLIMIT_AS, _vm_size_bytes() + budget),
            (resource.RLIMIT_FSIZE, MAX_FILE_BYTES),
            (resource.RLIMIT_CORE, 0),
        )
    )


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


_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000


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


def isolate_network() -> bool:
    """Move this process into a network namespace of its own with only a loopback device.

    A check's servers (bound to 127.0.0.1) keep working; the machine's own services (a database,
    Redis) and the internet are unreachable from learner code.  A user namespace comes first
    where it can (any user may create one; root then loses the capabilities that would let it
    raise its hard limits), with the process's own uid and gid mapped to themselves so files it
    writes keep their owner.  Must run while the process has one thread.  Returns False where
    the system allows neither (the check then runs with the machine's network).
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0:
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        except OSError:
            return False
    elif libc.unshare(_CLONE_NEWNET) != 0:
        return False
    try:
        _loopback_up()
    except OSError:
        return False
    return True


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
