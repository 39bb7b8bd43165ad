"""Confinement by the kernel: a network of the check's own and a CPU limit code cannot lift.

Each test runs learner code that tries something a careless or curious learner might, in the
tiny fixture lab, and reads the outcome from what the learner's ``double`` returns (or from the
process it left behind).  Where the system allows no namespaces the network tests are skipped.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from aipath.grader import sandbox
from aipath.grader.request import CheckRequest
from aipath.grader.results import CheckResult, ErrorKind, Status
from aipath.grader.supervisor import run_one

LAB = Path(__file__).parents[1] / "fixtures" / "labs" / "p1" / "01-tiny"
HALF = "\n\ndef half(x):\n    return x / 2\n"


def _namespaces_work() -> bool:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only reports
        os._exit(0 if sandbox.isolate_network() else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


NAMESPACES = _namespaces_work()
needs_namespaces = pytest.mark.skipif(
    not NAMESPACES, reason="this system allows no network namespace"
)


def check(tmp_path: Path, source: str, *, mode: str = "fork", timeout: float = 5.0) -> CheckResult:
    learner = tmp_path / "exercise.py"
    learner.write_text(source, encoding="utf-8")
    request = CheckRequest(
        lab_id="p1-tiny",
        lab_dir=str(LAB),
        learner_file=str(learner),
        workdir=str(tmp_path),
        timeout_s=timeout,
        memory_mb=256,
    )
    return run_one(request, mode=mode)  # type: ignore[arg-type]


@needs_namespaces
@pytest.mark.parametrize("mode", ["fork", "cold"])
def test_services_on_this_machine_are_out_of_reach(tmp_path: Path, mode: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:  # a service, like Redis, on loopback
        port = server.getsockname()[1]
        source = (
            "import socket\n\n\ndef double(x):\n"
            "    try:\n"
            f"        socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
            "    except OSError:\n"
            "        return x * 2  # refused: the check's network is its own\n"
            "    return -1\n" + HALF
        )
        result = check(tmp_path, source, mode=mode)
    assert result.status is Status.PASSED, result.tests[0].message


@needs_namespaces
def test_a_server_of_the_check_itself_still_works_on_loopback(tmp_path: Path) -> None:
    source = (
        "import socket\n\n\ndef double(x):\n"
        "    with socket.create_server(('127.0.0.1', 0)) as server:\n"
        "        port = server.getsockname()[1]\n"
        "        with socket.create_connection(('127.0.0.1', port), timeout=2) as client:\n"
        "            conn, _ = server.accept()\n"
        "            client.sendall(b'ok')\n"
        "            got = conn.recv(2)\n"
        "            conn.close()\n"
        "    return x * 2 if got == b'ok' else -1\n" + HALF
    )
    assert check(tmp_path, source).status is Status.PASSED


@needs_namespaces
def test_the_cpu_limit_cannot_be_lifted(tmp_path: Path) -> None:
    source = (
        "import resource\n\n\ndef double(x):\n"
        "    try:\n"
        "        resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY,) * 2)\n"
        "    except (ValueError, OSError):\n"
        "        return x * 2  # refused, even for root: no capability outside the namespace\n"
        "    return -1\n" + HALF
    )
    result = check(tmp_path, source)
    assert result.status is Status.PASSED, result.tests[0].message


def test_one_long_c_call_is_stopped_as_a_timeout(tmp_path: Path) -> None:
    source = "def double(x):\n    return sum(range(10**12))\n" + HALF
    result = check(tmp_path, source, timeout=1.0)
    assert result.status is Status.ERROR
    error = result.error or result.tests[0].error
    assert error is not None and error.kind is ErrorKind.TIMEOUT, error


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def test_a_process_left_behind_is_stopped_by_the_cpu_limit(tmp_path: Path) -> None:
    """ctypes fork + setsid escapes the audit hook and the process group; the limit follows it."""
    source = (
        "import ctypes\nfrom pathlib import Path\n\n\ndef double(x):\n"
        "    libc = ctypes.CDLL(None)\n"
        "    pid = libc.fork()\n"
        "    if pid == 0:\n"
        "        libc.setsid()\n"
        "        while True:\n"
        "            pass\n"
        "    Path('orphan.pid').write_text(str(pid))\n"
        "    return x * 2\n" + HALF
    )
    check(tmp_path, source, timeout=1.0)
    pid = int((tmp_path / "orphan.pid").read_text())
    deadline = time.monotonic() + 120  # CPU seconds on a busy machine take longer on the clock
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = _alive(pid)
    if alive:
        os.kill(pid, 9)
    assert not alive, "the process the learner's code left behind was still running"
