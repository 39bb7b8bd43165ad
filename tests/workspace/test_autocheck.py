"""One process per workspace checks on save; the others show its verdicts."""

from __future__ import annotations

import threading
from pathlib import Path

from aipath.workspace.autocheck import AutoCheckLease, result_mtime, wait_for_new_result
from aipath.workspace.model import Workspace


def test_only_one_watcher_holds_the_lease(fixture_workspace: Path) -> None:
    ws = Workspace(fixture_workspace)
    first, second = AutoCheckLease(ws, "the dashboard"), AutoCheckLease(ws, "aipath watch")
    assert first.acquire()
    assert not second.acquire()
    assert "the dashboard (pid" in second.holder()
    first.release()
    assert second.acquire()  # released: the next watcher takes over
    second.release()


def test_a_follower_sees_the_verdict_the_holder_writes(fixture_workspace: Path) -> None:
    ws = Workspace(fixture_workspace)
    ws.results_dir.mkdir(parents=True, exist_ok=True)
    since = result_mtime(ws, "p1-tiny")
    written = threading.Event()

    def holder_checks() -> None:
        (ws.results_dir / "p1-tiny.json").write_text("{}", encoding="utf-8")
        written.set()

    thread = threading.Thread(target=holder_checks)
    thread.start()
    assert wait_for_new_result(ws, "p1-tiny", since, timeout_s=30)
    thread.join()
    assert written.is_set()
