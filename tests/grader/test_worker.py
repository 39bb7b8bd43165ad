"""The warm worker: used by `aipath check`, survives learner disasters, and dying loses nothing."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from aipath.grader.client import ping
from aipath.grader.results import Status
from aipath.grader.service import check_lab
from aipath.grader.worker import BackgroundWorker
from aipath.labs import load_catalogue
from aipath.workspace.model import Workspace
from aipath.workspace.store import open_store

SOLUTION = Path(__file__).parents[1] / "fixtures" / "labs" / "p1" / "01-tiny" / "solution.py"


@pytest.fixture
def ws(fixture_workspace: Path) -> Workspace:
    return Workspace(fixture_workspace)


def test_checks_go_through_the_worker_and_survive_a_hang(ws: Workspace) -> None:
    lab = load_catalogue().get("p1-tiny")
    target = ws.lab_file(lab)
    with BackgroundWorker(ws.socket_path) as worker:
        assert worker.process is not None and ping(ws.socket_path)
        shutil.copy(SOLUTION, target)
        result = check_lab(ws, lab)
        assert result.status is Status.PASSED
        assert result.mode == "warm"
        target.write_text(SOLUTION.read_text().replace("return x * 2", "while True:\n        pass"))
        result = check_lab(ws, lab)
        assert result.status is Status.ERROR and result.mode == "warm"
        assert ping(ws.socket_path)  # the worker is unharmed
        shutil.copy(SOLUTION, target)
        assert check_lab(ws, lab).status is Status.PASSED


def test_worker_killed_mid_check_falls_back_and_keeps_the_store(ws: Workspace) -> None:
    lab = load_catalogue().get("p1-tiny")
    target = ws.lab_file(lab)
    shutil.copy(SOLUTION, target)
    with BackgroundWorker(ws.socket_path) as worker:
        assert check_lab(ws, lab).status is Status.PASSED
        target.write_text("import time\ntime.sleep(1.5)\n" + SOLUTION.read_text())
        process = worker.process
        assert process is not None

        def kill_soon() -> None:
            time.sleep(0.5)
            os.kill(process.pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_soon)
        killer.start()
        result = check_lab(ws, lab)  # the worker dies during this check
        killer.join()
        assert result.status is Status.PASSED
        assert result.mode == "cold"
    with open_store(ws) as store:
        state = store.lab_states()["p1-tiny"]
    assert state.attempts == 2
    assert state.ever_passed
