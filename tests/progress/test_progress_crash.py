"""Crash safety: a writer killed with SIGKILL leaves a store that opens with every committed event."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import create_engine

from aipath.progress import ProgressStore

WRITER = textwrap.dedent(
    """
    import sys
    from aipath.progress import ProgressStore

    store = ProgressStore.open(sys.argv[1])
    start = int(sys.argv[2])
    i = start
    while True:
        if i % 2:
            store.record_check("p1-crash", "failed", 0.01, f"seq-{i}")
        else:
            store.log_study(1, note=f"seq-{i}")
        # printed only after the commit returned: everything printed must survive
        print(i, flush=True)
        i += 1
    """
)


def _seqs(store: ProgressStore) -> list[int]:
    return sorted(
        int(e.text.removeprefix("seq-"))
        for e in store.events()
        if e.text and e.text.startswith("seq-")
    )


def _run_and_kill(url: str, start: int, committed_before_kill: int) -> int:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, str(start)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    last = -1
    deadline = time.monotonic() + 60
    try:
        while last < start + committed_before_kill:
            line = child.stdout.readline()
            assert line, f"writer exited early with {child.poll()}"
            last = int(line)
            assert time.monotonic() < deadline, "writer too slow"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return last


@pytest.mark.slow
def test_sigkill_mid_write_keeps_every_committed_event(db_url: str) -> None:
    start = 0
    for burst in (150, 37, 211):  # three kills at different moments, same store
        last_reported = _run_and_kill(db_url, start, burst)
        store = ProgressStore.open(db_url)
        try:
            seqs = _seqs(store)
            # a contiguous prefix: nothing lost, nothing half-written, nothing out of order
            assert seqs == list(range(len(seqs)))
            assert seqs[-1] >= last_reported
            # and the store still takes writes
            store.write_note("after-crash", "still fine")
            assert store.notes()["after-crash"] == "still fine"
        finally:
            store.close()
        start = seqs[-1] + 1

    if db_url.startswith("sqlite"):
        engine = create_engine(db_url)
        try:
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        finally:
            engine.dispose()
