"""One worker per workspace, and Ctrl-C on a check leaves no learner process behind."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aipath.grader.client import ping
from aipath.grader.worker import EXIT_WORKER_RUNNING, WorkerRunning, acquire_lock, lock_path

LAB = Path(__file__).parents[1] / "fixtures" / "labs" / "p1" / "01-tiny"

WORKER = """
import sys
from pathlib import Path
from aipath.grader.worker import serve
serve(Path(sys.argv[1]), preload_labs=False, quiet=True)
"""


def _wait_for(condition: object, what: str, limit_s: float = 120.0) -> None:
    """Wait for an event (a file, a socket answering); the limit only stops a broken run."""
    deadline = time.monotonic() + limit_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen")
        time.sleep(0.05)


def test_a_second_worker_names_the_first_and_leaves_its_socket(tmp_path: Path) -> None:
    socket_path = tmp_path / "ws" / ".aipath" / "worker.sock"
    first = subprocess.Popen([sys.executable, "-c", WORKER, str(socket_path)])
    try:
        _wait_for(lambda: ping(socket_path), "the first worker answering")
        second = subprocess.run(
            [sys.executable, "-m", "aipath.grader.worker", str(socket_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == EXIT_WORKER_RUNNING
        assert f"pid {first.pid}" in second.stderr
        assert ping(socket_path)  # the first still serves: its socket was not taken or removed
    finally:
        first.terminate()
        first.wait(timeout=60)
    assert not socket_path.exists()
    fd = acquire_lock(socket_path)  # released with its holder: a new worker may start
    os.close(fd)


def test_the_lock_is_refused_in_process_with_the_holder(tmp_path: Path) -> None:
    socket_path = tmp_path / "worker.sock"
    fd = acquire_lock(socket_path)
    try:
        probe = (
            "import sys\nfrom pathlib import Path\n"
            "from aipath.grader.worker import WorkerRunning, acquire_lock\n"
            "try:\n    acquire_lock(Path(sys.argv[1]))\n"
            "except WorkerRunning as exc:\n    print(exc.pid)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", probe, str(socket_path)], capture_output=True, text=True
        )
        assert out.stdout.strip() == str(os.getpid())
        assert lock_path(socket_path).read_text().strip() == str(os.getpid())
    finally:
        os.close(fd)
    assert issubclass(WorkerRunning, RuntimeError)


CHECK = """
import signal
import sys
from pathlib import Path
# As in a terminal's foreground job.  A test run started in the background of a script
# (`make test &`) inherits SIGINT ignored, and Python then leaves it ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
from aipath.grader.request import CheckRequest
from aipath.grader.supervisor import run_one
lab, folder, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
request = CheckRequest(lab_id="p1-tiny", lab_dir=lab, learner_file=str(folder / "exercise.py"),
                       workdir=str(folder), timeout_s=60, memory_mb=256)
try:
    run_one(request, mode=mode)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""

LOOPING = """import ctypes
from pathlib import Path


def double(x):
    ctypes.CDLL(None).prctl(15, b"{name}", 0, 0, 0)  # PR_SET_NAME: findable in /proc
    Path("started").write_text("yes")
    while True:
        pass


def half(x):
    return x / 2
"""


def _processes_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                comm = Path(f"/proc/{entry}/comm").read_text().strip()
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if comm == name and state != "Z":
                found.append(int(entry))
    return found


@pytest.mark.parametrize("mode", ["fork", "cold"])
def test_ctrl_c_on_a_check_ends_the_learners_process(tmp_path: Path, mode: str) -> None:
    name = f"ctrlc{os.getpid() % 10**6}{mode[0]}"
    (tmp_path / "exercise.py").write_text(LOOPING.replace("{name}", name), encoding="utf-8")
    check = subprocess.Popen(
        [sys.executable, "-c", CHECK, str(LAB), str(tmp_path), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for((tmp_path / "started").exists, "the learner's code starting")
        check.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        out, _ = check.communicate(timeout=120)
    finally:
        if check.poll() is None:
            check.kill()
    assert "interrupted" in out
    left = _processes_named(name)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "the learner's process outlived the interrupted check"


def test_a_check_dies_with_the_process_that_forked_it(tmp_path: Path) -> None:
    """A worker (or a cohort pool process) SIGKILLed mid-check takes the check with it."""
    name = f"orphan{os.getpid() % 10**6}"
    (tmp_path / "exercise.py").write_text(LOOPING.replace("{name}", name), encoding="utf-8")
    check = subprocess.Popen([sys.executable, "-c", CHECK, str(LAB), str(tmp_path), "fork"])
    try:
        _wait_for((tmp_path / "started").exists, "the learner's code starting")
        _wait_for(lambda: _processes_named(name), "the learner's process being named")
        learner = _processes_named(name)
        pidfds = [os.pidfd_open(pid) for pid in learner]
        check.kill()  # SIGKILL: no handler of the parent runs
        check.wait(timeout=60)
        for fd in pidfds:  # readable once that process has ended: an event, not a guess
            readable, _, _ = select.select([fd], [], [], 60)
            os.close(fd)
            assert readable, "the learner's process outlived the killed parent"
    finally:
        if check.poll() is None:
            check.kill()
        for pid in _processes_named(name):
            os.kill(pid, signal.SIGKILL)
    assert not _processes_named(name)
