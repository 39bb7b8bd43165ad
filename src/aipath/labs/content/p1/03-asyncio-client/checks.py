"""Checks for p1-asyncio-client, against a tiny HTTP server that runs in a thread of the check.

The server (plain asyncio, HTTP/1.1 with keep-alive) records every request it handles: when it
arrived, when it was answered, and how many requests it was handling at the same moment. That is
what makes concurrency, bounds, retries and backoff visible from outside the learner's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from aipath.checks import assert_returned, fail

# ----- the test server --------------------------------------------------------------------------


@dataclass
class Visit:
    target: str
    start: float
    end: float = 0.0
    status: int = 0


@dataclass
class TestServer:
    """An HTTP server on 127.0.0.1 (ephemeral port) in its own thread and event loop."""

    __test__ = False  # not a pytest test class

    port: int = 0
    hits: list[Visit] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    started: float = field(default_factory=time.perf_counter)
    _failures: Counter[str] = field(default_factory=Counter)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, item: int, *, delay_ms: int = 0, fail: int = 0) -> str:
        query = [f"delay_ms={delay_ms}"] + ([f"fail={fail}"] if fail else [])
        return f"{self.base}/item/{item}?{'&'.join(query)}"

    def hits_for(self, url: str) -> list[Visit]:
        target = url.removeprefix(self.base)
        with self._lock:
            return [h for h in self.hits if h.target == target]

    def reset(self) -> None:
        with self._lock:
            self.hits.clear()
            self.peak = 0
            self._failures.clear()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._server = loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", 0)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="lab-http-server", daemon=True)
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("the lab's test server did not start")

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=2)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=2)

    # -- HTTP --------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                parts = request_line.split(" ")
                target = parts[1] if len(parts) >= 2 else "/"
                await self._answer(target, writer)
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(self, target: str, writer: asyncio.StreamWriter) -> None:
        hit = Visit(target, time.perf_counter() - self.started)
        with self._lock:
            self.hits.append(hit)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            split = urlsplit(target)
            query = {k: v[0] for k, v in parse_qs(split.query).items()}
            delay = int(query.get("delay_ms", "0")) / 1000
            if delay:
                await asyncio.sleep(delay)
            if split.path.startswith("/item/") and split.path[6:].isdigit():
                with self._lock:
                    failures_left = int(query.get("fail", "0")) - self._failures[target]
                    if failures_left > 0:
                        self._failures[target] += 1
                if failures_left > 0:
                    status, reason, body = 503, "Service Unavailable", "busy, retry later"
                else:
                    status, reason, body = 200, "OK", f"item {split.path[6:]}"
            else:
                status, reason, body = 404, "Not Found", "not found"
            data = body.encode()
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(data)}\r\nConnection: keep-alive\r\n\r\n".encode()
                + data
            )
            await writer.drain()
            hit.status = status
        finally:
            with self._lock:
                self.in_flight -= 1
            hit.end = time.perf_counter() - self.started


@contextlib.contextmanager
def running_server() -> Iterator[TestServer]:
    server = TestServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server() -> Iterator[TestServer]:
    with running_server() as srv:
        yield srv


# ----- helpers ----------------------------------------------------------------------------------


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run``, with an HTTPStatusError from learner code named as the slip it is.

    Only ``response.raise_for_status()`` raises it: once task 1 has named it, the later checks
    say the same instead of ending on httpx's traceback.
    """
    try:
        return asyncio.run(coro)
    except httpx.HTTPStatusError as exc:
        fail(
            f"your code raised HTTPStatusError for a {exc.response.status_code} answer to "
            f"{exc.request.method} {exc.request.url.path}: response.raise_for_status() raises it. "
            "fetch_once returns every status as (status_code, text), and fetch_with_retry "
            "decides by the status"
        )


async def _with_client(coro_factory: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    async with httpx.AsyncClient() as client:
        return await coro_factory(client)


@contextlib.contextmanager
def blocking_sleeps() -> Iterator[list[float]]:
    """Record how long each call of ``time.sleep`` lasted in this thread (the event loop's).

    A profile hook sees every call of a built-in function, however it was imported
    (``time.sleep`` or ``from time import sleep``), so the verdict does not depend on timing.
    """
    durations: list[float] = []
    started: list[float] = []
    real_sleep = time.sleep

    def profile(_frame: Any, event: str, arg: Any) -> None:
        if arg is real_sleep:
            if event == "c_call":
                started.append(time.perf_counter())
            elif event in ("c_return", "c_exception") and started:
                durations.append(time.perf_counter() - started.pop())

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield durations
    finally:
        sys.setprofile(previous)


def _check_fetched(
    result: Any, *, url: str, status: int, body: str | None, attempts: int, call: str
) -> None:
    assert_returned(result, call, what="the Fetched")
    for attribute in ("url", "status", "body", "attempts"):
        if not hasattr(result, attribute):
            fail(
                f"{call} returned a {type(result).__name__}; expected a Fetched(url, status, "
                "body, attempts)"
            )
    if result.url != url:
        fail(f"{call}.url is {result.url!r}; expected {url!r}")
    if result.status != status:
        fail(f"{call}.status is {result.status!r}; expected {status}")
    if body is not None and result.body != body:
        fail(f"{call}.body is {result.body!r}; expected {body!r}")
    if result.attempts != attempts:
        clue = (
            f" — one less than the {attempts} requests sent: attempts counts every request, "
            "the first one included"
            if result.attempts == attempts - 1
            else ""
        )
        fail(f"{call}.attempts is {result.attempts!r}; expected {attempts}{clue}")


# ----- task 1 -----------------------------------------------------------------------------------


@pytest.mark.task(1)
def test_fetch_once_returns_status_and_text(learner, server: TestServer) -> None:
    ok, busy, missing = server.url(3), server.url(4, fail=1), f"{server.base}/nope"

    async def run(client: httpx.AsyncClient) -> Any:
        try:
            return [await learner.fetch_once(client, u, 2.0) for u in (ok, busy, missing)]
        except httpx.HTTPStatusError as exc:
            return exc

    results = _run(_with_client(run))
    if isinstance(results, httpx.HTTPStatusError):
        fail(
            f"fetch_once(client, <URL answering {results.response.status_code}>, 2.0) raised "
            "HTTPStatusError: fetch_once returns every status as (status_code, text); do not "
            "call response.raise_for_status() (the caller decides what a status means)"
        )
    expected = [(200, "item 3"), (503, "busy, retry later"), (404, "not found")]
    urls = (ok, busy, missing)
    for url, want, got in zip(urls, expected, results, strict=True):
        assert_returned(got, f"fetch_once(client, {url!r}, 2.0)", what="(status, text)")
        if not isinstance(got, tuple) or len(got) != 2:
            fail(
                f"fetch_once(client, {url!r}, 2.0) returned {got!r}; expected a tuple "
                f"(status_code, text) like {want!r}"
            )
        if tuple(got) != want:
            fail(
                f"fetch_once(client, {url!r}, 2.0) returned {got!r}; expected {want!r}"
                + (" (every status is returned, not raised)" if want[0] != 200 else "")
            )


@pytest.mark.task(1)
def test_fetch_once_times_out(learner, server: TestServer) -> None:
    url = server.url(7, delay_ms=1000)

    async def run(client: httpx.AsyncClient) -> Any:
        started = time.perf_counter()
        try:
            result = await learner.fetch_once(client, url, 0.15)
        except TimeoutError:
            return "timeout", time.perf_counter() - started
        except httpx.TimeoutException as exc:
            return exc, time.perf_counter() - started
        return result, time.perf_counter() - started

    outcome, took = _run(_with_client(run))
    if isinstance(outcome, httpx.TimeoutException):
        fail(
            f"fetch_once(client, <a URL that answers after 1 s>, timeout=0.15) raised httpx's "
            f"{type(outcome).__name__}; expected the built-in TimeoutError: catch "
            "httpx.TimeoutException and `raise TimeoutError(...) from exc` (or use "
            "asyncio.timeout / wait_for, which raise TimeoutError)"
        )
    if outcome != "timeout":
        fail(
            f"fetch_once(client, <a URL that answers after 1 s>, timeout=0.15) returned "
            f"{outcome!r} after {took:.2f} s: the per-request timeout is not applied; it should "
            "raise TimeoutError after about 0.15 s (asyncio.timeout / wait_for, or httpx's "
            "timeout=)"
        )
    if took > 0.6:
        fail(
            f"fetch_once raised a timeout only after {took:.2f} s with timeout=0.15: the timeout "
            "must bound the whole request"
        )


# ----- task 2 -----------------------------------------------------------------------------------


@pytest.mark.task(2)
def test_retry_until_success(learner, server: TestServer) -> None:
    url = server.url(5, fail=2)
    call = "fetch_with_retry(<URL answering 503, 503, 200>, retries=3, backoff=0.01)"
    result = _run(
        _with_client(
            lambda c: learner.fetch_with_retry(c, url, timeout=1.0, retries=3, backoff=0.01)
        )
    )
    hits = len(server.hits_for(url))
    if result is not None and getattr(result, "status", None) == 503 and hits == 1:
        fail(
            f"{call} gave status 503 after 1 request: the 503 was not retried (a 503 means "
            "'try again later': retry it while retries are left)"
        )
    _check_fetched(result, url=url, status=200, body="item 5", attempts=3, call=call)
    if hits != 3:
        fail(f"{call} reported attempts=3 but the server received {hits} requests")


@pytest.mark.task(2)
def test_retries_run_out(learner, server: TestServer) -> None:
    url = server.url(6, fail=10)
    call = "fetch_with_retry(<URL always answering 503>, retries=2, backoff=0.01)"
    result = _run(
        _with_client(
            lambda c: learner.fetch_with_retry(c, url, timeout=1.0, retries=2, backoff=0.01)
        )
    )
    hits = len(server.hits_for(url))
    if hits == 1:
        fail(f"{call}: the server received 1 request: the 503 was not retried")
    if hits != 3:
        fail(f"{call}: the server received {hits} requests; expected 3 (1 + retries)")
    _check_fetched(result, url=url, status=503, body="busy, retry later", attempts=3, call=call)


@pytest.mark.task(2)
def test_final_status_is_not_retried(learner, server: TestServer) -> None:
    url = f"{server.base}/missing"
    call = "fetch_with_retry(<URL answering 404>, retries=3)"
    result = _run(
        _with_client(
            lambda c: learner.fetch_with_retry(c, url, timeout=1.0, retries=3, backoff=0.01)
        )
    )
    hits = len(server.hits_for(url))
    if hits != 1:
        fail(
            f"{call}: the server received {hits} requests; a 404 is final (only 503 and "
            "timeouts are transient), so expected 1"
        )
    _check_fetched(result, url=url, status=404, body="not found", attempts=1, call=call)


@pytest.mark.task(2)
def test_timeouts_are_retried(learner, server: TestServer) -> None:
    url = server.url(8, delay_ms=500)
    call = "fetch_with_retry(<URL slower than the timeout>, timeout=0.1, retries=1)"

    async def run(client: httpx.AsyncClient) -> Any:
        try:
            return await learner.fetch_with_retry(client, url, timeout=0.1, retries=1, backoff=0.01)
        except (TimeoutError, httpx.TimeoutException) as exc:
            fail(
                f"{call} raised {type(exc).__name__}: a timeout is transient; retry it, and when "
                "retries run out return Fetched(url, 0, '', attempts)"
            )

    result = _run(_with_client(run))
    _check_fetched(result, url=url, status=0, body="", attempts=2, call=call)


@pytest.mark.task(2)
def test_backoff_grows_without_blocking(learner, server: TestServer) -> None:
    url = server.url(9, fail=3)
    backoff = 0.04
    call = f"fetch_with_retry(<URL answering 503 three times>, retries=3, backoff={backoff})"
    with blocking_sleeps() as sleeps:
        result = _run(
            _with_client(
                lambda c: learner.fetch_with_retry(c, url, timeout=1.0, retries=3, backoff=backoff)
            )
        )
    blocked = [d for d in sleeps if d >= 0.005]
    if blocked:
        shown = ", ".join(f"{d:.2f}" for d in blocked)
        fail(
            f"{call} called time.sleep inside the event loop ({shown} s): a blocking call in a "
            "coroutine freezes the loop, and every other request with it, for that long; wait "
            "with await asyncio.sleep(...)"
        )
    hits = server.hits_for(url)
    _check_fetched(result, url=url, status=200, body="item 9", attempts=4, call=call)
    starts = [h.start for h in hits]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    for n, gap in enumerate(gaps, start=1):
        want = backoff * 2 ** (n - 1)
        if gap < want * 0.9:
            shown = ", ".join(f"{g:.3f}" for g in gaps)
            wanted = ", ".join(f"{backoff * 2**k:.3f}" for k in range(len(gaps)))
            fail(
                f"{call}: the server saw the retries {shown} s apart; expected at least "
                f"{wanted} s (backoff * 2 ** (n - 1) before retry n): "
                + (
                    "no backoff between retries"
                    if max(gaps) < backoff * 0.9
                    else "the backoff must double with every retry"
                )
            )


# ----- task 3 -----------------------------------------------------------------------------------

LIMIT = 4
SLOW = {0: 250, 5: 250}
FAILING = {3, 7}
FAST_MS = 40


@dataclass
class AllRun:
    urls: list[str]
    results: Any
    elapsed: float
    peak: int
    hits: list[Visit]
    server: TestServer
    clients: int = 0


@pytest.fixture(scope="module")
def all_run(learner) -> Iterator[AllRun]:
    with running_server() as srv:
        urls = [
            srv.url(i, delay_ms=SLOW.get(i, FAST_MS), fail=int(i in FAILING)) for i in range(12)
        ]
        opened = [0]
        original_init = httpx.AsyncClient.__init__

        def counting_init(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
            opened[0] += 1
            original_init(self, *args, **kwargs)

        httpx.AsyncClient.__init__ = counting_init  # type: ignore[method-assign]
        try:
            started = time.perf_counter()
            results = _run(
                learner.fetch_all(urls, limit=LIMIT, timeout=2.0, retries=3, backoff=0.02)
            )
            elapsed = time.perf_counter() - started
        finally:
            httpx.AsyncClient.__init__ = original_init  # type: ignore[method-assign]
        with srv._lock:
            hits = list(srv.hits)
        yield AllRun(urls, results, elapsed, srv.peak, hits, srv, opened[0])


def _results_list(run: AllRun) -> list[Any]:
    results = assert_returned(run.results, "fetch_all(...)", what="the list of results")
    try:
        results = list(results)
    except TypeError:
        fail(f"fetch_all returned a {type(results).__name__}; expected a list of Fetched")
    if len(results) != len(run.urls):
        fail(f"fetch_all returned {len(results)} results for {len(run.urls)} URLs")
    return results


@pytest.mark.task(3)
def test_fetch_all_never_exceeds_limit(all_run: AllRun, learner_file) -> None:
    if all_run.peak > LIMIT:
        if "Semaphore" in learner_file.read_text(encoding="utf-8"):
            fail(
                f"the server handled {all_run.peak} requests at once with limit={LIMIT}, though "
                "your code makes an asyncio.Semaphore: a semaphore bounds only the tasks that "
                "share it — create it once in fetch_all, not inside each task or each call"
            )
        fail(
            f"the server handled {all_run.peak} requests at once with limit={LIMIT}: "
            f"concurrency is unbounded (an unbounded gather starts every request together); "
            "hold an asyncio.Semaphore(limit) around each request"
        )


@pytest.mark.task(3)
def test_fetch_all_shares_one_client(all_run: AllRun) -> None:
    if all_run.clients > 1:
        fail(
            f"fetch_all opened {all_run.clients} httpx.AsyncClient objects for "
            f"{len(all_run.urls)} URLs: open one (`async with httpx.AsyncClient() as client:`) "
            "and share it, so connections are reused"
        )


@pytest.mark.task(3)
def test_fetch_all_reaches_limit(all_run: AllRun) -> None:
    if all_run.peak == 1:
        fail(
            f"the server never saw more than 1 request at a time (limit={LIMIT}): the requests "
            "ran one after another — sequential awaits in a loop? Start them all as tasks "
            "(gather / TaskGroup) and let a semaphore bound them"
        )
    if all_run.peak < LIMIT:
        fail(
            f"the server saw at most {all_run.peak} requests at a time; with limit={LIMIT} and "
            f"12 URLs it should see {LIMIT}"
        )


@pytest.mark.task(3)
def test_fetch_all_keeps_input_order(all_run: AllRun) -> None:
    results = _results_list(all_run)
    got = [getattr(r, "url", None) for r in results]
    if got != all_run.urls:
        first = next(i for i, (a, b) in enumerate(zip(got, all_run.urls, strict=True)) if a != b)
        order_by_end = sorted(
            range(12),
            key=lambda i: max(
                (
                    h.end
                    for h in all_run.hits
                    if h.target == all_run.urls[i].removeprefix(all_run.server.base)
                ),
                default=0,
            ),
        )
        clue = ""
        if [all_run.urls[i] for i in order_by_end][:3] == got[:3]:
            clue = (
                " — the results are in completion order, not input order (as_completed or "
                "appending as tasks finish): keep input order (gather does; or write "
                "results[i])"
            )
        fail(
            f"fetch_all(...)[{first}] is the result for {got[first]!r}; expected the result "
            f"for urls[{first}] = {all_run.urls[first]!r}{clue}"
        )


@pytest.mark.task(3)
def test_fetch_all_results(all_run: AllRun) -> None:
    results = _results_list(all_run)
    for i, (url, result) in enumerate(zip(all_run.urls, results, strict=True)):
        attempts = 2 if i in FAILING else 1
        _check_fetched(
            result,
            url=url,
            status=200,
            body=f"item {i}",
            attempts=attempts,
            call=f"fetch_all(...)[{i}]",
        )


@pytest.mark.task(3)
def test_fetch_all_refills_slots(all_run: AllRun) -> None:
    first_slow = min(SLOW)
    target = all_run.urls[first_slow].removeprefix(all_run.server.base)
    slow_end = next(h.end for h in all_run.hits if h.target == target)
    started_before = len({h.target for h in all_run.hits if h.start < slow_end})
    if started_before <= LIMIT:
        fail(
            f"while one slow request (250 ms) was in flight, only {started_before} URLs were "
            f"started: the other {LIMIT - 1} slots sat idle waiting for it. That is what "
            "batches of `limit` (gather batch after batch) do; start the next URL as soon as "
            "any slot frees up (a semaphore around every request, or a pool of workers)"
        )


@pytest.mark.task(3)
def test_fetch_all_is_concurrent_in_time(all_run: AllRun) -> None:
    serial = (sum(SLOW.values()) + FAST_MS * (12 - len(SLOW) + len(FAILING))) / 1000
    if all_run.elapsed > 0.9 * serial:
        fail(
            f"fetch_all took {all_run.elapsed:.2f} s; the delays add up to {serial:.2f} s, so "
            f"with {LIMIT} requests in flight it should take well under {0.9 * serial:.2f} s"
        )


@pytest.mark.task(3)
def test_fetch_all_other_limits(learner) -> None:
    with running_server() as srv:
        urls = [srv.url(i, delay_ms=30) for i in range(5)]
        results = _run(
            learner.fetch_all(urls, limit=2, timeout=2.0, retries=1, backoff=0.01)
        )
        if srv.peak != 2:
            fail(
                f"with limit=2 the server saw at most {srv.peak} requests at once; expected 2 "
                "(use the `limit` argument, not a fixed number)"
            )
    got = [getattr(r, "url", None) for r in (results or [])]
    if got != urls:
        fail(f"fetch_all(5 URLs, limit=2) returned results for {got}; expected {urls}")
    empty = _run(learner.fetch_all([], limit=3))
    if empty is None or list(empty) != []:
        fail(f"fetch_all([], limit=3) returned {empty!r}; expected []")
