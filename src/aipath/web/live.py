"""Live updates: the file watcher, serialized checks, the warm worker, and the event stream.

A save in the workspace's ``labs/`` folder is seen by ``watchfiles`` (inotify; polling when the
native watcher cannot start), mapped to its lab, and checked in a thread through the same
:func:`aipath.grader.service.check_lab` as ``aipath check``.  Each verdict is pushed to every open
page over server-sent events (``/api/events``): the browser waits for news instead of polling.

Checks of one lab never overlap: saves that arrive while a check runs are folded into one more
check after it, so a burst of saves costs two checks, not one per save.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from pathlib import Path
from typing import Any

import anyio.to_thread

from aipath.grader.results import CheckResult
from aipath.grader.worker import BackgroundWorker
from aipath.labs import Lab
from aipath.web.data import Dashboard

log = logging.getLogger("aipath.web")

WATCHED_SUFFIXES = frozenset({".py", ".ipynb"})
QUEUE_SIZE = 64


class Broadcaster:
    """Fan events out to every connected page; a page that stops reading loses old events."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self.closed = False

    @property
    def listeners(self) -> int:
        return len(self._queues)

    def publish(self, event: dict[str, Any]) -> None:
        if self.closed:
            return
        for queue in list(self._queues):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    def open(self) -> asyncio.Queue[dict[str, Any] | None]:
        """A queue that receives every event from now on, then ``None`` when the server stops;
        hand it back to :meth:`close`."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=QUEUE_SIZE)
        if self.closed:
            queue.put_nowait(None)
        self._queues.add(queue)
        return queue

    def close(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._queues.discard(queue)

    def shutdown(self) -> None:
        """End every open stream, so a stopping server need not wait for the pages to leave."""
        self.closed = True
        for queue in list(self._queues):
            while queue.full():
                queue.get_nowait()
            queue.put_nowait(None)


def verdict_event(lab: Lab, result: CheckResult, trigger: str) -> dict[str, Any]:
    return {
        "type": "verdict",
        "lab": lab.id,
        "title": lab.manifest.title,
        "status": result.status.value,
        "summary": result.summary,
        "duration_s": round(result.duration_s, 3),
        "mode": result.mode,
        "confinement": result.confinement,
        "trigger": trigger,
    }


class Checker:
    """Run checks in threads, one at a time per lab, and announce each verdict."""

    def __init__(self, dashboard: Dashboard, broadcaster: Broadcaster) -> None:
        self.dashboard = dashboard
        self.broadcaster = broadcaster
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def _lock(self, lab_id: str) -> asyncio.Lock:
        return self._locks.setdefault(lab_id, asyncio.Lock())

    async def check(self, lab: Lab, trigger: str = "button") -> CheckResult:
        """Check now (after any check of the same lab that is already running)."""
        async with self._lock(lab.id):
            self._waiting.discard(lab.id)
            self.broadcaster.publish({"type": "checking", "lab": lab.id, "trigger": trigger})
            try:
                result = await anyio.to_thread.run_sync(self.dashboard.check, lab.id)
            except Exception as exc:
                self.broadcaster.publish(
                    {"type": "check-failed", "lab": lab.id, "error": f"{type(exc).__name__}: {exc}"}
                )
                raise
        self.broadcaster.publish(verdict_event(lab, result, trigger))
        return result

    def saved(self, lab: Lab) -> None:
        """A file of ``lab`` was saved: queue one check unless one is already queued."""
        if lab.id in self._waiting:
            return
        self._waiting.add(lab.id)
        task = asyncio.create_task(self._after_save(lab))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _after_save(self, lab: Lab) -> None:
        try:
            await self.check(lab, trigger="save")
        except Exception:  # the page already got "check-failed"; keep watching
            log.exception("checking %s after a save failed", lab.id)

    def followed(self, lab: Lab) -> None:
        """Another process checks saves (e.g. `aipath watch`): publish its verdict when it lands."""
        if lab.id in self._waiting:
            return
        self._waiting.add(lab.id)
        task = asyncio.create_task(self._follow(lab))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow(self, lab: Lab) -> None:
        from aipath.workspace.autocheck import result_mtime, wait_for_new_result

        ws = self.dashboard.ws
        try:
            since = result_mtime(ws, lab.id)
            self.broadcaster.publish({"type": "checking", "lab": lab.id, "trigger": "save"})
            arrived = await anyio.to_thread.run_sync(
                wait_for_new_result, ws, lab.id, since, lab.manifest.timeout_s * 3 + 10
            )
            result = self.dashboard.result(lab.id) if arrived else None
            if result is not None:
                self.broadcaster.publish(verdict_event(lab, result, "save"))
        finally:
            self._waiting.discard(lab.id)

    async def drain(self) -> None:
        """Wait for the checks started by saves (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _watched(path: Path) -> bool:
    return (
        path.suffix in WATCHED_SUFFIXES
        and "__pycache__" not in path.parts
        and not path.name.startswith(".")
    )


class LabWatcher:
    """Watch ``labs/`` and hand each saved lab to the checker."""

    def __init__(self, dashboard: Dashboard, checker: Checker, broadcaster: Broadcaster) -> None:
        self.dashboard = dashboard
        self.checker = checker
        self.broadcaster = broadcaster
        self.stop_event = asyncio.Event()
        self.mode = "starting"

    def _labs_of(self, paths: set[Path]) -> list[Lab]:
        labs = list(self.dashboard.catalogue())
        found: dict[str, Lab] = {}
        for path in paths:
            if _watched(path):
                lab = self.dashboard.ws.lab_for_path(path, labs)
                if lab is not None:
                    found[lab.id] = lab
        return [found[k] for k in sorted(found)]

    async def run(self) -> None:
        from watchfiles import awatch

        from aipath.workspace.autocheck import AutoCheckLease

        root = self.dashboard.ws.labs_dir
        self.lease = AutoCheckLease(self.dashboard.ws, "the dashboard")
        self.leading = self.lease.acquire()
        if not self.leading:
            log.info("%s checks each save; the dashboard shows its verdicts", self.lease.holder())
        for polling in (False, True):
            self.mode = "polling" if polling else "native"
            try:
                async for changes in awatch(
                    root,
                    stop_event=self.stop_event,
                    debounce=150,
                    step=30,
                    force_polling=polling,
                    poll_delay_ms=500,
                ):
                    for lab in self._labs_of({Path(p) for _change, p in changes}):
                        if self.leading:
                            self.checker.saved(lab)
                        else:
                            self.checker.followed(lab)
                return
            except Exception as exc:  # e.g. the inotify watch limit: poll instead
                if self.stop_event.is_set() or polling:
                    self.mode = "stopped"
                    self.broadcaster.publish(
                        {"type": "watcher", "mode": "stopped", "reason": str(exc)}
                    )
                    return
                log.warning("file watcher failed (%s); polling every 0.5 s instead", exc)
                self.broadcaster.publish({"type": "watcher", "mode": "polling", "reason": str(exc)})

    def stop(self) -> None:
        self.stop_event.set()
        lease = getattr(self, "lease", None)
        if lease is not None:
            lease.release()


class WorkerHandle:
    """The warm grader, started in a thread so the page answers while it warms up.

    Until it answers, checks run cold (slower, same verdicts); the page is told when it is ready.
    """

    def __init__(self, socket_path: Path, broadcaster: Broadcaster) -> None:
        self.worker = BackgroundWorker(socket_path)
        self.broadcaster = broadcaster
        self.state = "starting"
        self.confinement = ""  # what checks here lack (sandbox.confinement_notice); "" = confined
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._start, name="aipath-worker", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        from aipath.grader.sandbox import confinement_notice

        self.confinement = confinement_notice()
        ok = self.worker.start()
        self.state = "ready" if ok else "cold"
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(
                    self.broadcaster.publish,
                    {"type": "worker", "state": self.state, "confinement": self.confinement},
                )

    def stop(self) -> None:
        # The starter thread creates the process within milliseconds; wait for that much so the
        # process it creates is the one stopped here.
        if self._thread is not None and self.worker.process is None:
            self._thread.join(timeout=2.0)
        self.worker.stop()
        self.state = "stopped"
