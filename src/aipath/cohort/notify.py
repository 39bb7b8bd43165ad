"""Wake waiting clients the moment a verdict is stored: PostgreSQL ``LISTEN/NOTIFY``.

The worker sends the notification in the transaction that stores the verdict
(:func:`aipath.cohort.submissions.record_verdict`); one thread of the server listens on a
connection of its own and resolves the futures of the requests waiting for that submission.
A waiter registers *before* it reads the database, so a verdict stored between the read and
the wait still wakes it.  When the listening connection drops (PostgreSQL restarted), every
waiter is woken once it is back, to read the database again: notifications sent while nobody
listened are gone, the rows are not.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import defaultdict

import psycopg

from aipath.cohort.submissions import VERDICT_CHANNEL

RECONNECT_S = 1.0
STOP_CHECK_S = 1.0


class VerdictHub:
    """Futures per submission id, resolved from a listening thread."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._waiters: dict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.listening = threading.Event()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="aipath-verdict-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def waiter(self, submission_id: str) -> asyncio.Future[None]:
        """A future resolved when a verdict for ``submission_id`` may be there (call on the loop)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiters[submission_id].add(future)
        return future

    def forget(self, submission_id: str, future: asyncio.Future[None]) -> None:
        with self._lock:
            waiters = self._waiters.get(submission_id)
            if waiters is not None:
                waiters.discard(future)
                if not waiters:
                    del self._waiters[submission_id]

    def _wake(self, submission_id: str | None) -> None:
        """Resolve the waiters of one submission, or of all (``None``), on the event loop."""
        with self._lock:
            if submission_id is None:
                futures = [f for group in self._waiters.values() for f in group]
            else:
                futures = list(self._waiters.get(submission_id, ()))
        loop = self._loop
        if loop is None or not futures:
            return
        for future in futures:
            loop.call_soon_threadsafe(_resolve, future)

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {VERDICT_CHANNEL}")
                    self.listening.set()
                    if not first:
                        self._wake(None)  # anything stored while we were away: read again
                    first = False
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=STOP_CHECK_S):
                            self._wake(note.payload)
            except psycopg.Error:
                self.listening.clear()
                self._stop.wait(RECONNECT_S)


def _resolve(future: asyncio.Future[None]) -> None:
    with contextlib.suppress(asyncio.InvalidStateError):
        if not future.done():
            future.set_result(None)
