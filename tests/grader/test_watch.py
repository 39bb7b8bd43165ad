"""`aipath watch` in a real subprocess: a save turns the verdict, natively and when polling."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

SOLUTION = Path(__file__).parents[1] / "fixtures" / "labs" / "p1" / "01-tiny" / "solution.py"


class Output:
    """Collect a process's stdout in a thread so the test can wait for a phrase."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.text = ""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._lock:
                self.text += line

    def wait_for(self, phrase: str, timeout: float = 90.0, after: int = 0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                index = self.text.find(phrase, after)
            if index >= 0:
                return index
            time.sleep(0.1)
        raise AssertionError(f"{phrase!r} never appeared; output so far:\n{self.text[-3000:]}")


def _wait_for_exit(process: subprocess.Popen[str], output: Output) -> None:
    """The watcher ends after SIGTERM; if it does not within a minute, say where it was stuck.

    A minute, not seconds: a busy 2-core machine (CI running two test suites) once took more
    than 20 s, and the kernel's view of each thread is what tells a hang from a slow exit.
    """
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        states = []
        for task in Path(f"/proc/{process.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                wchan = (task / "wchan").read_text()
                stat = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
                states.append(f"thread {task.name}: state {stat}, waiting in {wchan or '-'}")
        process.kill()
        process.wait()
        raise AssertionError(
            "the watcher did not end within 60 s of SIGTERM; "
            + "; ".join(states)
            + f"\noutput:\n{output.text[-3000:]}"
        ) from None


@pytest.mark.parametrize("manual", [False, True], ids=["watchfiles", "polling"])
def test_saving_a_solution_turns_the_verdict(fixture_workspace: Path, manual: bool) -> None:
    env = {**os.environ, "COLUMNS": "200", "AIPATH_LABS_DIR": os.environ["AIPATH_LABS_DIR"]}
    args = [sys.executable, "-m", "aipath", "watch", "p1-tiny", "-w", str(fixture_workspace)]
    if manual:
        args.append("--manual")
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    output = Output(process)
    try:
        first = output.wait_for("not attempted")
        if manual:
            output.wait_for("Polling for changes")
        time.sleep(0.5)
        target = fixture_workspace / "labs" / "p1" / "01-tiny" / "exercise.py"
        shutil.copy(SOLUTION, target)
        output.wait_for("all 2 checks pass", after=first)
        target.write_text(SOLUTION.read_text().replace("return x * 2", "return x +"))
        output.wait_for("syntax error at line 2", after=first)
    finally:
        process.terminate()
        _wait_for_exit(process, output)
    socket = fixture_workspace / ".aipath" / "worker.sock"
    deadline = time.monotonic() + 15
    while socket.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not socket.exists()  # the watcher's worker stopped with it
