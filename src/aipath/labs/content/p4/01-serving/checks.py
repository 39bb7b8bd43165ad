"""Checks for p4-serving.

Task 1 validates the pydantic schemas directly. Task 2 drives the learner's MicroBatcher in an
event loop of the check with a fake model that records every call (its batch size, its thread,
how many calls overlapped). Tasks 3 and 4 build the learner's app with a model loader of the
check's own, which counts loads, can hold the load back behind a gate, and hands out a model
that counts its predict calls: the app runs in-process (httpx's ASGI transport, the lifespan
entered by the check) and over a real socket (`serve_app`, uvicorn in a thread) under
concurrent load. Every wait is bounded: a request that never gets an answer is reported as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import statistics
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

import httpx
import numpy as np
import pydantic
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from aipath.checks import assert_returned, cached, fail, fmt
from aipath.checks.servers import response_body, serve_app

# ----- the check's own model and data -----------------------------------------------------------

SECRET = "/srv/models/iris-7f3a.joblib"  # in the error a failing model raises: must not leak


@cached
def reference_model() -> LogisticRegression:
    """The model train_model() gives (the checks keep their own copy of it)."""
    iris = load_iris()
    labels = np.asarray(iris.target_names)[iris.target]
    return LogisticRegression(max_iter=1000).fit(iris.data, labels)


@cached
def request_rows(n: int) -> np.ndarray:
    """n distinct, valid feature rows: iris flowers with a little noise."""
    iris = load_iris()
    rng = np.random.default_rng(7)
    rows = iris.data[rng.integers(0, len(iris.data), n)] + rng.normal(0, 0.15, (n, 4))
    return np.round(np.clip(rows, 0.1, 19.9), 3)


def expected_probabilities(rows: np.ndarray) -> np.ndarray:
    return reference_model().predict_proba(np.asarray(rows, dtype=float))


class CountingModel:
    """A fitted model that records every call: sizes, threads, overlap; optionally fails once."""

    def __init__(
        self, *, delay_s: float = 0.002, fail_calls: int = 0, classes: list[str] | None = None
    ) -> None:
        self.model = reference_model()
        # the check may rename the classes: an app must take its labels from model.classes_
        self.classes_ = np.asarray(classes) if classes else self.model.classes_
        self.delay_s = delay_s
        self.fail_calls = fail_calls
        self.sizes: list[int] = []
        self.predict_calls = 0
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    def predict_proba(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        with self.lock:
            self.sizes.append(len(X) if X.ndim == 2 else -1)
            self.active += 1
            self.peak = max(self.peak, self.active)
            failing = self.fail_calls > 0
            self.fail_calls -= failing
        try:
            if X.ndim != 2 or X.shape[1] != 4:
                raise ValueError(f"model.predict_proba expects an (n, 4) array; got {X.shape}")
            time.sleep(self.delay_s)  # a model call costs time, whatever the batch size
            if failing:
                raise RuntimeError(f"cannot read the weights file {SECRET}")
            return self.model.predict_proba(X)
        finally:
            with self.lock:
                self.active -= 1

    def predict(self, X: Any) -> np.ndarray:
        with self.lock:
            self.predict_calls += 1
        proba = self.model.predict_proba(np.asarray(X, dtype=float))
        return self.classes_[np.argmax(proba, axis=1)]


RENAMED = ["Iris setosa", "Iris versicolor", "Iris virginica"]  # same model, other class names


GATE_S = 1.5


class Loader:
    """The load_model the check hands to create_app: counts calls; can hold the load back."""

    def __init__(self, model: CountingModel | None = None, *, gated: bool = False) -> None:
        self.model = model or CountingModel()
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.loads = 0
        self.started = threading.Event()
        self.finished = threading.Event()
        self.finished_at = 0.0
        self.threads: set[int] = set()
        self.timed_out = False

    def __call__(self) -> CountingModel:
        self.loads += 1
        self.threads.add(threading.get_ident())
        self.started.set()
        if not self.gate.wait(GATE_S):
            self.timed_out = True
        self.finished_at = time.perf_counter()
        self.finished.set()
        return self.model


def _run_bounded(coroutine: Coroutine[Any, Any, Any], limit: float = 8.0) -> Any:
    """Run a check coroutine in a fresh event loop, bounded in time."""

    async def bounded() -> Any:
        try:
            return await asyncio.wait_for(coroutine, limit)
        except TimeoutError:
            fail(f"the check did not finish within {limit:.0f} s: something hangs")

    return asyncio.run(bounded())


def _describe(value: Any) -> str:
    array = np.asarray(value, dtype=object)
    if array.ndim >= 1 and array.size > 6:
        return f"an array of shape {array.shape}"
    return fmt(value)


# ----- task 1: the schemas ------------------------------------------------------------------------


VALID = [5.1, 3.5, 1.4, 0.2]
INVALID = {
    "three features": [5.1, 3.5, 1.4],
    "five features": [5.1, 3.5, 1.4, 0.2, 1.0],
    "no features at all": [],
    "a negative length": [5.1, -0.5, 1.4, 0.2],
    "a length above 20": [5.1, 3.5, 20.5, 0.2],
    "a huge value": [5.1, 3.5, 1.4, 1e9],
    "a word instead of a number": [5.1, "wide", 1.4, 0.2],
    "a missing value (null)": [5.1, None, 1.4, 0.2],
}


@pytest.mark.task(1)
def test_request_schema_validates_rows(learner) -> None:
    accepted = []
    for what, features in INVALID.items():
        try:
            learner.PredictRequest.model_validate({"features": features})
        except pydantic.ValidationError:
            continue
        accepted.append((what, features))
    if len(accepted) >= len(INVALID) - 2:  # only the word and the null rejected: the starter
        raise NotImplementedError("PredictRequest declares no limits yet")
    for features in (VALID, [0, 0, 0, 0], [20, 20, 20, 20], [0.1, 19.9, 7, 2.5]):
        try:
            request = learner.PredictRequest.model_validate({"features": features})
        except pydantic.ValidationError as exc:
            fail(
                f"PredictRequest rejected features={features}: {exc.errors()[0]['msg']}; "
                "4 values from 0 to 20 (both ends included) are valid"
            )
        got = [float(v) for v in request.features]
        if got != [float(v) for v in features]:
            fail(
                f"PredictRequest(features={features}).features is {got}; expected the values "
                "unchanged"
            )
    if accepted:
        listed = "; ".join(f"{what} {features}" for what, features in accepted)
        clues = []
        if any("features" in what for what, _ in accepted):
            clues.append(
                "the number of features is not limited: Field(min_length=4, "
                "max_length=4) on the list"
            )
        bad_values = {what for what, _ in accepted}
        low = "a negative length" in bad_values
        high = {"a length above 20", "a huge value"} & bad_values
        if low and high:
            clues.append(
                "the values are not limited: each one needs Field(ge=0, le=20) "
                "(Annotated[float, Field(...)] as the item type)"
            )
        elif low:
            clues.append(
                "values below 0 are accepted: the lower limit is missing or below FEATURE_MIN "
                "— ge=FEATURE_MIN (0) on each value"
            )
        elif high == {"a length above 20"}:
            clues.append(
                "20.5 is accepted while 1e9 is refused: the upper limit is set, but above "
                "FEATURE_MAX — le=FEATURE_MAX (20, in cm) on each value"
            )
        elif high:
            clues.append(
                "values above 20 are accepted: the upper limit is missing — le=FEATURE_MAX "
                "(20) on each value"
            )
        clue = f" — {'; '.join(clues)}" if clues else ""
        fail(f"PredictRequest accepted {len(accepted)} invalid bodies: {listed}{clue}")
    for body in ({}, {"feature": VALID}):
        try:
            learner.PredictRequest.model_validate(body)
        except pydantic.ValidationError:
            continue
        fail(f"PredictRequest accepted the body {body}; `features` is required (no default)")


# ----- task 2: the micro-batcher, driven directly ---------------------------------------------


class FakePredict:
    """A batch function the check can verify row by row; records each call."""

    def __init__(self, *, delay_s: float = 0.0, fail_if: float | None = None) -> None:
        self.delay_s = delay_s
        self.fail_if = fail_if
        self.sizes: list[int] = []
        self.threads: set[int] = set()
        self.calls: list[tuple[int, int]] = []  # (batch size, thread) of every call
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    @staticmethod
    def expected(row: Any) -> np.ndarray:
        x = np.asarray(row, dtype=float)
        return np.array([x[0] * 1000 + x[1], x.sum(), -x[0]])

    def __call__(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        with self.lock:
            self.sizes.append(len(X) if X.ndim == 2 else -1)
            self.threads.add(threading.get_ident())
            self.calls.append((self.sizes[-1], threading.get_ident()))
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            if X.ndim != 2:
                raise ValueError(f"predict expects a 2-D batch (n, 4); got shape {X.shape}")
            if self.delay_s:
                time.sleep(self.delay_s)
            if self.fail_if is not None and np.any(X[:, 0] == self.fail_if):
                raise RuntimeError("the model failed on this batch")
            return np.column_stack([X[:, 0] * 1000 + X[:, 1], X.sum(axis=1), -X[:, 0]])
        finally:
            with self.lock:
                self.active -= 1


def _row(i: int) -> list[float]:
    return [float(i), i / 10, 1.0, 2.0]


def _learner_tasks(learner) -> list[asyncio.Task[Any]]:
    """Tasks still running whose coroutine is defined in the learner's file."""
    path = getattr(learner, "__file__", None)
    found = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if not task.done() and code is not None and code.co_filename == path:
            found.append(task)
    return found


async def _stopped(learner, what: str, advice: str) -> None:
    """Fail when tasks of the learner's code are still running after `what`."""
    await asyncio.sleep(0.01)
    left = _learner_tasks(learner)
    for task in left:
        task.cancel()
    if left:
        names = ", ".join(sorted({getattr(t.get_coro(), "__qualname__", "?") for t in left}))
        fail(
            f"after {what}, {len(left)} task(s) of your code were still running ({names}): {advice}"
        )


@contextlib.asynccontextmanager
async def started(
    learner, predict: FakePredict, *, max_batch_size: int, max_wait_s: float
) -> AsyncIterator[Any]:
    """The learner's MicroBatcher, started; closed on the way out (bounded in time)."""
    batcher = assert_returned(
        learner.MicroBatcher(predict, max_batch_size=max_batch_size, max_wait_s=max_wait_s),
        "MicroBatcher(...)",
        what="a batcher",
    )
    if asyncio.iscoroutine(batcher.start()):
        fail(
            "MicroBatcher.start() is a coroutine; it should be a plain method that creates the "
            "background task (asyncio.get_running_loop().create_task(...))"
        )
    try:
        yield batcher
    except BaseException:
        with contextlib.suppress(BaseException):  # the failure that brought us here comes first
            await asyncio.wait_for(batcher.close(), 1.0)
        raise
    before = _learner_tasks(learner) + [t for t in _tasks_of(batcher) if not t.done()]

    async def closing() -> list[asyncio.Task[Any]]:
        await batcher.close()
        return [t for t in before if not t.done()]  # the moment close() returned

    # close() runs in a task of its own and is never cancelled by the check: a close() that
    # hangs is seen hanging (asyncio.wait_for would cancel it, and a close() that suppresses
    # CancelledError would then seem to have returned).
    closer = asyncio.ensure_future(closing())
    done, _ = await asyncio.wait([closer], timeout=2.0)
    if not done:
        swallowed = [t for t in before if not t.done() and getattr(t, "cancelling", int)() > 0]
        closer.cancel()
        for task in before:
            task.cancel()
        await asyncio.wait([closer, *before], timeout=0.5)
        if swallowed:
            fail(
                "await batcher.close() did not return within 2 s: the background task was "
                "cancelled but kept running — its loop caught the CancelledError and went on "
                "(an `except BaseException` or `except asyncio.CancelledError` that does not "
                "re-raise); catch Exception around the model call, never the cancellation"
            )
        fail(
            "await batcher.close() did not return within 2 s: cancel the background task and "
            "await it"
        )
    if closer.cancelled():
        fail(
            "await batcher.close() raised CancelledError: close() cancels the background task "
            "and waits for it; the CancelledError the task ends with is expected there — "
            "suppress it (contextlib.suppress(asyncio.CancelledError)) instead of passing it on"
        )
    if closer.exception() is not None:
        exc = closer.exception()
        fail(
            f"await batcher.close() raised {type(exc).__name__}: {exc}; close() cancels the "
            "background task and waits for it (the CancelledError it ends with is expected)"
        )
    unfinished = closer.result()
    if unfinished:
        await asyncio.sleep(0.01)
        if all(t.done() for t in unfinished):
            fail(
                "await batcher.close() returned while its background task was still running "
                "(it ended only afterwards): after task.cancel(), await the task (the "
                "CancelledError it ends with is expected) — close() waits until it has ended"
            )
    await _stopped(
        learner,
        "await batcher.close()",
        "close() must cancel the background task (task.cancel()) and await it",
    )


def _judge_rows(results: list[Any], rows: list[list[float]], what: str) -> None:
    """Each result must be the model's output for its own row, not a neighbour's."""
    wanted = [FakePredict.expected(r) for r in rows]
    for i, (got, want) in enumerate(zip(results, wanted, strict=True)):
        array = np.asarray(got, dtype=float) if got is not None else None
        if array is None:
            fail(
                f"{what}: submit(rows[{i}]) returned None; expected the model's output for "
                "that row (set each future's result)"
            )
        if array.shape != want.shape:
            if array.ndim == 2 and array.shape[1:] == want.shape:
                fail(
                    f"{what}: submit(rows[{i}]) returned {_describe(got)}: the output of the "
                    "whole batch; each caller gets only its own row of it"
                )
            fail(
                f"{what}: submit(rows[{i}]) returned {_describe(got)}; expected one output row "
                f"of shape {want.shape}"
            )
        if not np.allclose(array, want, rtol=1e-9, atol=1e-9):
            owner = next((j for j, w in enumerate(wanted) if np.allclose(array, w)), None)
            if owner is not None:
                fail(
                    f"{what}: submit(rows[{i}]) returned the output for rows[{owner}] — results "
                    "went back to the wrong callers: pair each caller's future with its own row "
                    "of the output, in the order the rows went into the batch"
                )
            fail(f"{what}: submit(rows[{i}]) returned {fmt(array)}; expected {fmt(want)}")


def _tasks_of(batcher: Any) -> list[asyncio.Task[Any]]:
    """The asyncio tasks among the batcher's attributes (its background task, usually)."""
    try:
        values = list(vars(batcher).values())
    except TypeError:
        return []
    return [v for v in values if isinstance(v, asyncio.Task)]


def _dead_task(batcher: Any) -> BaseException | None:
    """The exception the batcher's background task died with, if one of its attributes is it."""
    for value in vars(batcher).values():
        if isinstance(value, asyncio.Task) and value.done() and not value.cancelled():
            error = value.exception()
            if error is not None:
                return error
    return None


def _died(batcher: Any) -> str:
    error = _dead_task(batcher)
    if error is None:
        return ""
    return f" (its background task died with {type(error).__name__}: {str(error)[:80]})"


async def _gather(
    batcher: Any,
    pending: list[asyncio.Future[Any]],
    limit: float,
    what: str,
    advice: str = "",
    *,
    waited: float = 0.0,
) -> list[Any]:
    """The results of pending submits; fails naming how many got no answer within limit
    (plus `waited`, the time the caller already waited for them)."""
    if limit:
        done, _ = await asyncio.wait(pending, timeout=limit)
    else:
        done = {task for task in pending if task.done()}
    if len(done) < len(pending):
        fail(
            f"{what}: {len(pending) - len(done)} of {len(pending)} got no answer within "
            f"{limit + waited:.1f} s{_died(batcher)}" + (f" — {advice}" if advice else "")
        )
    return [task.result() for task in pending]


@pytest.mark.task(2)
def test_a_burst_is_batched_and_every_caller_gets_its_own_row(learner) -> None:
    predict = FakePredict()
    rows = [_row(i) for i in range(20)]

    async def scenario() -> list[Any]:
        async with started(learner, predict, max_batch_size=8, max_wait_s=0.05) as batcher:
            pending = [asyncio.ensure_future(batcher.submit(r)) for r in rows]
            done, _ = await asyncio.wait(pending, timeout=2.0)
            if len(done) < len(pending):
                fail(
                    f"20 rows submitted at once (max_batch_size=8, max_wait_s=0.05): "
                    f"{len(pending) - len(done)} got no answer within 2 s; the model was "
                    f"called with batches of {predict.sizes}{_died(batcher)} — the last, "
                    "partial batch was not flushed within 2 s: after max_wait_s (in seconds), "
                    "send what you have"
                )
            return [task.result() for task in pending]

    results = _run_bounded(scenario())
    sizes = predict.sizes
    if sum(s for s in sizes if s > 0) != len(rows):
        fail(
            f"20 rows went to the model as batches of {sizes}: {sum(sizes)} rows in all; "
            "every submitted row goes to the model exactly once"
        )
    if max(sizes) == 9:
        fail(
            f"with max_batch_size=8 the model got batches of {sizes}: one more than "
            "max_batch_size (an off-by-one: stop taking rows once the batch holds "
            "max_batch_size)"
        )
    if max(sizes) > 8:
        fail(
            f"with max_batch_size=8 the model got batches of {sizes}: max_batch_size is "
            "ignored (a batch is full at 8 rows; the rest wait for the next one)"
        )
    if len(sizes) == len(rows):
        fail(
            "20 rows submitted at once reached the model in 20 calls of one row each: "
            "nothing was batched (collect the rows that arrive within max_wait_s into one call)"
        )
    if len(sizes) > 4:
        fail(
            f"20 rows submitted at once (max_batch_size=8) reached the model in {len(sizes)} "
            f"calls {sizes}; 3 (8 + 8 + 4) are enough"
        )
    _judge_rows(results, rows, "20 rows at once")


@pytest.mark.task(2)
def test_a_lonely_request_is_flushed_after_the_window(learner) -> None:
    predict = FakePredict()

    async def scenario() -> tuple[list[Any], list[float]]:
        results, seconds = [], []
        async with started(learner, predict, max_batch_size=8, max_wait_s=0.03) as batcher:
            for pause in (0.0, 0.12):  # right after start(), then after an idle pause
                await asyncio.sleep(pause)
                start = time.perf_counter()
                task = asyncio.ensure_future(batcher.submit(_row(3)))
                [result] = await _gather(
                    batcher,
                    [task],
                    1.5,
                    "a single row (max_batch_size=8, max_wait_s=0.03)",
                    "a partial batch must be flushed: after max_wait_s the batcher sends what "
                    "it has",
                )
                results.append(result)
                seconds.append(time.perf_counter() - start)
        return results, seconds

    results, seconds = _run_bounded(scenario())
    _judge_rows(results, [_row(3)] * 2, "a single row")
    if max(seconds) > 0.03 + 0.3:
        fail(
            f"a single row (max_wait_s=0.03) took {max(seconds):.2f} s to come back; expected "
            "about 0.03 s: the window starts when the first row of a batch arrives"
        )
    # No batcher can answer a lone row before its window is over: the deadline is fixed when
    # the row arrives (later, never earlier). Load on the machine only makes it later still.
    if seconds[0] >= 0.02 and seconds[1] < 0.015:
        fail(
            f"a single row (max_wait_s=0.03) came back after {seconds[0] * 1000:.0f} ms right "
            f"after start(), but after {seconds[1] * 1000:.0f} ms when the batcher had been idle "
            "for 0.12 s: the window was already over when the row arrived — compute the "
            "deadline when the batch's first row arrives (after `await queue.get()`), not "
            "before waiting for it or when the previous batch ended"
        )


@pytest.mark.task(2)
def test_a_full_batch_does_not_wait_for_the_window(learner) -> None:
    predict = FakePredict()
    rows = [_row(i) for i in range(4)]

    async def scenario() -> list[Any]:
        async with started(learner, predict, max_batch_size=4, max_wait_s=1.0) as batcher:
            pending = [asyncio.ensure_future(batcher.submit(r)) for r in rows]
            done, _ = await asyncio.wait(pending, timeout=0.6)
            if len(done) < len(pending):
                for task in pending:
                    task.cancel()
                fail(
                    "4 rows with max_batch_size=4 and max_wait_s=1.0 were not answered within "
                    f"0.6 s (model calls so far: {predict.sizes}): a full batch still waits "
                    "for the whole window — send it to the model as soon as it holds "
                    "max_batch_size rows"
                )
            return [task.result() for task in pending]

    results = _run_bounded(scenario())
    _judge_rows(results, rows, "4 rows at once (max_batch_size=4)")


@pytest.mark.task(2)
def test_the_window_gathers_rows_that_arrive_one_after_another(learner) -> None:
    predict = FakePredict()
    rows = [_row(i) for i in range(6)]

    async def scenario() -> list[Any]:
        async with started(learner, predict, max_batch_size=16, max_wait_s=0.2) as batcher:
            pending = []
            for row in rows:
                pending.append(asyncio.ensure_future(batcher.submit(row)))
                await asyncio.sleep(0.008)
            return await _gather(batcher, pending, 2.0, "6 rows submitted 8 ms apart")

    results = _run_bounded(scenario())
    if len(predict.sizes) > 2:
        fail(
            f"6 rows submitted 8 ms apart (max_wait_s=0.2, max_batch_size=16) reached the "
            f"model as batches of {predict.sizes}; expected one batch — the batcher sends "
            "whatever is queued at once instead of waiting up to max_wait_s for more rows"
        )
    _judge_rows(results, rows, "6 rows 8 ms apart")


@pytest.mark.task(2)
def test_the_window_starts_with_the_first_row_of_a_batch(learner) -> None:
    predict = FakePredict()
    rows = [_row(i) for i in range(25)]
    latencies: list[float] = [0.0] * len(rows)

    async def scenario() -> list[Any]:
        async with started(learner, predict, max_batch_size=64, max_wait_s=0.04) as batcher:

            async def timed(i: int, row: list[float]) -> Any:
                start = time.perf_counter()
                result = await batcher.submit(row)
                latencies[i] = time.perf_counter() - start
                return result

            pending = []
            for i, row in enumerate(rows):
                pending.append(asyncio.ensure_future(timed(i, row)))
                await asyncio.sleep(0.02)
            return await _gather(
                batcher, pending, 2.0, "25 rows submitted 20 ms apart (max_wait_s=0.04)"
            )

    results = _run_bounded(scenario())
    _judge_rows(results, rows, "25 rows 20 ms apart")
    if latencies[0] > 0.04 + 0.26:
        fail(
            f"25 rows submitted 20 ms apart, over 0.5 s (max_wait_s=0.04): the first came back "
            f"after {latencies[0]:.2f} s, in {len(predict.sizes)} batches {predict.sizes}, as if the "
            "window restarted with every new row (a steady stream then never flushes) — time "
            "max_wait_s from the first row of the batch (a deadline), not from the latest one"
        )


@pytest.mark.task(2)
def test_the_model_runs_off_the_event_loop_one_batch_at_a_time(learner) -> None:
    predict = FakePredict(delay_s=0.03)
    rows = [_row(i) for i in range(12)]
    gaps: list[float] = []

    async def scenario() -> tuple[list[Any], int]:
        stop = asyncio.Event()

        async def ticker() -> None:
            last = time.perf_counter()
            while not stop.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        tick = asyncio.ensure_future(ticker())
        try:
            async with started(learner, predict, max_batch_size=3, max_wait_s=0.01) as batcher:
                pending = [asyncio.ensure_future(batcher.submit(r)) for r in rows]
                results = await _gather(
                    batcher, pending, 3.0, "12 rows (max_batch_size=3, a model call of 30 ms)"
                )
                lone = asyncio.ensure_future(batcher.submit(_row(20)))  # a batch of one row
                results += await _gather(batcher, [lone], 1.5, "a single row after the 12")
        finally:
            stop.set()
            await tick
        return results, threading.get_ident()

    results, loop_thread = _run_bounded(scenario())
    _judge_rows(results, [*rows, _row(20)], "12 rows, max_batch_size=3, then one")
    on_loop = sorted({size for size, thread in predict.calls if thread == loop_thread})
    off_loop = {size for size, thread in predict.calls if thread != loop_thread}
    if on_loop == [1] and off_loop:
        fail(
            "batches of one row ran on the event loop's own thread, the larger ones in a worker "
            "thread: every batch, a lone row too, goes through await asyncio.to_thread(predict, "
            "rows) — a 'fast path' on the loop stalls every other request just the same"
        )
    if loop_thread in predict.threads:
        fail(
            f"the model ran on the event loop's own thread: while it computes (30 ms a batch "
            f"here; the loop stalled for up to {max(gaps, default=0) * 1000:.0f} ms) no other "
            "request, not even /health, is served — run it in a worker thread: "
            "await asyncio.to_thread(predict, rows)"
        )
    if predict.peak > 1:
        fail(
            f"the model was running {predict.peak} batches at the same time: send one batch, "
            "await its result, then collect the next one (rows that arrive meanwhile wait in "
            "the queue and form the next batch)"
        )
    if max(predict.sizes) > 3:
        fail(
            f"with max_batch_size=3 the model got batches of {predict.sizes}: max_batch_size "
            "is ignored"
        )


@pytest.mark.task(2)
def test_close_ends_the_batcher_while_a_batch_is_in_the_model(learner) -> None:
    predict = FakePredict(delay_s=0.1)

    async def scenario() -> None:
        async with started(learner, predict, max_batch_size=8, max_wait_s=0.01) as batcher:
            caller = asyncio.ensure_future(batcher.submit(_row(2)))
            limit = time.perf_counter() + 1.0
            while predict.active == 0 and not caller.done() and time.perf_counter() < limit:
                await asyncio.sleep(0.002)
            caller.cancel()  # its client gives up; the server shuts down mid-batch
            await asyncio.sleep(0)
        # leaving `started` awaits batcher.close() while the model still computes

    _run_bounded(scenario())


@pytest.mark.task(2)
def test_a_failing_batch_reaches_its_callers_and_the_batcher_goes_on(learner) -> None:
    predict = FakePredict(fail_if=13.0)
    rows = [_row(13), _row(1), _row(2)]

    async def scenario() -> tuple[list[Any], Any]:
        async with started(learner, predict, max_batch_size=8, max_wait_s=0.05) as batcher:
            pending = [asyncio.ensure_future(batcher.submit(r)) for r in rows]
            done, _ = await asyncio.wait(pending, timeout=1.5)
            if len(done) < len(pending):
                fail(
                    f"the model raised for a batch of 3 rows and {len(pending) - len(done)} of "
                    f"its callers got no answer within 1.5 s{_died(batcher)}: catch the error "
                    "and hand it to every caller of that batch (future.set_exception(error)); "
                    "a caller must never wait forever"
                )
            outcomes = [task.exception() for task in pending]
            later = asyncio.ensure_future(batcher.submit(_row(5)))
            [result] = await _gather(
                batcher,
                [later],
                1.5,
                "after one batch failed, the next submit(row)",
                "catch the model's error inside the batcher's loop and go on with the next batch",
            )
            return outcomes, result

    outcomes, later = _run_bounded(scenario())
    quiet = [i for i, error in enumerate(outcomes) if error is None]
    if quiet:
        fail(
            f"the model raised for a batch of 3 rows, but submit(rows[{quiet[0]}]) returned "
            "normally: every caller of a failed batch must get the error"
        )
    _judge_rows([later], [_row(5)], "after a failed batch")


@pytest.mark.task(2)
def test_a_caller_that_gives_up_does_not_break_the_batcher(learner) -> None:
    predict = FakePredict()

    async def scenario() -> list[Any]:
        async with started(learner, predict, max_batch_size=8, max_wait_s=0.05) as batcher:
            quitter = asyncio.ensure_future(batcher.submit(_row(9)))
            await asyncio.sleep(0.01)
            quitter.cancel()  # the client disconnected: its request is cancelled
            same_batch = asyncio.ensure_future(batcher.submit(_row(4)))
            await asyncio.wait([same_batch], timeout=1.5)
            advice = (
                "skip futures that are already done: set_result on a cancelled future raises "
                "InvalidStateError"
            )
            died = _dead_task(batcher)
            if not same_batch.done() and (
                isinstance(died, IndexError)
                or (isinstance(died, ValueError) and "zip()" in str(died))
            ):
                advice = (
                    "the model's outputs and the callers' futures no longer line up: when you "
                    "leave the rows of cancelled callers out of the batch, leave their futures "
                    "out too (or keep both, and skip the done futures when setting results)"
                )
            [first] = await _gather(
                batcher,
                [same_batch],
                0.0,
                "a row in the same batch as a caller that was cancelled (a client that gave up)",
                advice,
                waited=1.5,
            )
            later = asyncio.ensure_future(batcher.submit(_row(6)))
            [second] = await _gather(batcher, [later], 1.5, "the next row after a cancelled caller")
            # A caller who gives up while its batch is in the model, and the model then fails:
            # the error path must skip that caller too.
            predict.fail_if, predict.delay_s = 13.0, 0.1
            failing = asyncio.ensure_future(batcher.submit(_row(13)))
            quitter = asyncio.ensure_future(batcher.submit(_row(8)))
            limit = time.perf_counter() + 1.0
            while predict.active == 0 and not failing.done() and time.perf_counter() < limit:
                await asyncio.sleep(0.002)
            quitter.cancel()
            done, _ = await asyncio.wait([failing], timeout=1.5)
            if done:
                failing.exception()  # retrieved: an error is the expected outcome here
            else:
                error = _dead_task(batcher)
                if isinstance(error, asyncio.InvalidStateError):
                    fail(
                        "a caller gave up while its batch was in the model, and the model then "
                        "raised: the other caller of that batch got no answer within 1.5 s (the "
                        "background task died with InvalidStateError) — skip futures that are "
                        "already done on the error path too: set_exception on a cancelled "
                        "future raises InvalidStateError"
                    )
                fail(
                    "a caller gave up while its batch was in the model, and the model then "
                    f"raised: the other caller of that batch got no answer within 1.5 s"
                    f"{_died(batcher)}"
                )
            predict.fail_if, predict.delay_s = None, 0.0
            last = asyncio.ensure_future(batcher.submit(_row(5)))
            [third] = await _gather(
                batcher,
                [last],
                1.5,
                "the next row after a failed batch with a cancelled caller",
                "skip futures that are already done on the error path too: set_exception on a "
                "cancelled future raises InvalidStateError",
            )
            return [first, second, third]

    results = _run_bounded(scenario())
    _judge_rows(results, [_row(4), _row(6), _row(5)], "after a cancelled caller")


@pytest.mark.task(2)
def test_callers_who_send_the_same_row_each_get_an_answer(learner) -> None:
    predict = FakePredict()
    rows = [_row(2), _row(7), _row(2), _row(2)]

    async def scenario() -> list[Any]:
        async with started(learner, predict, max_batch_size=8, max_wait_s=0.03) as batcher:
            pending = [asyncio.ensure_future(batcher.submit(r)) for r in rows]
            done, _ = await asyncio.wait(pending, timeout=1.5)
            if len(done) < len(pending):
                for task in pending:
                    task.cancel()
                fail(
                    f"4 callers at once, three of them with the same row {_row(2)}: "
                    f"{len(pending) - len(done)} got no answer within 1.5 s (the model got "
                    f"batches of {predict.sizes}){_died(batcher)} — each submit needs its own "
                    "entry in the batch, even when rows are equal (a list of (row, future) "
                    "pairs); a dict or set keyed by the row's values keeps only one of them"
                )
            return [task.result() for task in pending]

    results = _run_bounded(scenario())
    _judge_rows(results, rows, "4 callers, three with the same row")


# ----- tasks 3 and 4: the app -------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running(
    app: Any, *, startup_s: float = 4.0, learner: Any = None
) -> AsyncIterator[tuple[httpx.AsyncClient, float]]:
    """The app's lifespan entered, and an in-process httpx client; yields (client, entered):
    the perf_counter() moment the lifespan reached `yield`."""
    lifespan = app.router.lifespan_context(app)

    async def enter() -> float:
        await lifespan.__aenter__()
        return time.perf_counter()  # the moment the lifespan reached `yield`

    try:
        entered = await asyncio.wait_for(enter(), startup_s)
    except TimeoutError:
        fail(
            f"the app's startup (its lifespan, up to `yield`) did not finish within "
            f"{startup_s:.0f} s"
        )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://lab.test") as client:
            yield client, entered
    except BaseException:
        with contextlib.suppress(BaseException):  # the failure that brought us here comes first
            await asyncio.wait_for(lifespan.__aexit__(None, None, None), 2.0)
        raise
    try:
        await asyncio.wait_for(lifespan.__aexit__(None, None, None), 2.0)
    except TimeoutError:
        fail("the app's shutdown (its lifespan after `yield`) did not finish within 2 s")
    if learner is not None:
        await _stopped(
            learner,
            "the app's shutdown",
            "after `yield`, the lifespan must close the batcher (await "
            "batcher.close()) and cancel the loading task if it still runs",
        )


async def _request(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    what: str,
    limit: float = 2.0,
    advice: str = "",
    **kwargs: Any,
) -> httpx.Response:
    try:
        return await asyncio.wait_for(client.request(method, path, **kwargs), limit)
    except TimeoutError:
        fail(
            f"{method} {path} ({what}) got no answer within {limit:.1f} s"
            + (f" — {advice}" if advice else "")
        )


def _no_leak(response: httpx.Response, what: str) -> None:
    text = response.text
    if "Traceback" in text or 'File "' in text:
        fail(
            f"{what} answered {response.status_code} with a Python traceback in its body "
            f"({text[:120]!r}…): never send stack traces to clients (log them; answer a short "
            "JSON detail)"
        )


def _created_app(
    learner, loader: Loader, *, max_batch_size: int = 8, max_wait_s: float = 0.02
) -> Any:
    app = assert_returned(
        learner.create_app(loader, max_batch_size=max_batch_size, max_wait_s=max_wait_s),
        "create_app(load_model, ...)",
        what="a FastAPI app",
    )
    if loader.loads:
        fail(
            "create_app() itself called load_model(): creating the app must stay cheap — load "
            "the model in the app's lifespan, when the server starts"
        )
    return app


async def _wait_ready(client: httpx.AsyncClient, limit: float, what: str) -> None:
    deadline = time.perf_counter() + limit
    last: httpx.Response | None = None
    while time.perf_counter() < deadline:
        last = await _request(client, "GET", "/ready", what)
        if last.status_code == 200:
            return
        await asyncio.sleep(0.02)
    got = f"{last.status_code} {response_body(last)!r}" if last is not None else "nothing"
    fail(
        f"GET /ready still answered {got} {limit:.1f} s after {what}; expected 200 once the "
        "model is loaded"
    )


def _judge_prediction(
    body: Any,
    row: np.ndarray,
    what: str,
    others: np.ndarray | None = None,
    classes: list[str] | None = None,
) -> None:
    if not isinstance(body, dict) or "label" not in body or "probabilities" not in body:
        fail(
            f"{what} answered {body!r}; expected a PredictResponse "
            '{"label": ..., "probabilities": [...]}'
        )
    want = expected_probabilities(row[None])[0]
    names = [str(c) for c in reference_model().classes_]
    label = (classes or names)[int(np.argmax(want))]
    got = np.asarray(body["probabilities"], dtype=float)
    if got.shape != want.shape or not np.allclose(got, want, rtol=1e-6, atol=1e-9):
        if others is not None and got.shape == want.shape:
            all_probs = expected_probabilities(others)
            owner = next(
                (j for j, p in enumerate(all_probs) if np.allclose(got, p, rtol=1e-6, atol=1e-9)),
                None,
            )
            if owner is not None:
                fail(
                    f"{what} for features {row.tolist()} got the prediction of another "
                    f"request (features {others[owner].tolist()}): the batch's rows went back "
                    "to the wrong callers"
                )
        fail(
            f"{what} for features {row.tolist()} answered probabilities {fmt(got.tolist())}; "
            f"expected model.predict_proba's {fmt(want.tolist())}"
        )
    if body["label"] != label and classes and body["label"] == names[int(np.argmax(want))]:
        fail(
            f"{what} for features {row.tolist()} answered label {body['label']!r}, but this "
            f"model's classes_ are {classes}: the label must come from model.classes_ "
            f"(expected {label!r}), not from a list of names written into the app"
        )
    if body["label"] != label:
        fail(
            f"{what} for features {row.tolist()} answered label {body['label']!r}; expected "
            f"{label!r} (the class with the highest probability, from model.classes_)"
        )


@pytest.mark.task(3)
def test_health_and_readiness_while_the_model_loads(learner) -> None:
    loader = Loader(gated=True)
    app = _created_app(learner, loader)
    row = request_rows(1)[0]

    async def scenario() -> None:
        start = time.perf_counter()
        async with running(app, startup_s=GATE_S + 2) as (client, entered):
            startup = entered - start
            if loader.timed_out and loader.finished_at <= entered:
                fail(
                    f"the app's startup waited {startup:.1f} s, until load_model() returned: "
                    "nothing, not even /health, is served while a model loads — start the "
                    "load in the lifespan as a background task "
                    "(asyncio.create_task(...) around await asyncio.to_thread(load_model))"
                )
            health = await _request(
                client, "GET", "/health", "the model still loading", limit=GATE_S + 1
            )
            if loader.timed_out and threading.get_ident() in loader.threads:
                fail(
                    f"GET /health got no answer until load_model() had returned ({GATE_S} s): "
                    "load_model() ran on the event loop's thread and blocked it — run it in a "
                    "worker thread with await asyncio.to_thread(load_model)"
                )
            if loader.timed_out:
                fail(
                    f"GET /health got no answer until load_model() had returned ({GATE_S} s): "
                    "while the model loads, the app must keep serving"
                )
            if health.status_code != 200:
                fail(
                    f"GET /health answered {health.status_code} {response_body(health)!r} while the "
                    "model loads; expected 200 — /health only says the process is alive"
                )
            if not loader.started.wait(0.5):
                fail(
                    "0.5 s after startup load_model() had not been called: start loading the "
                    "model in the lifespan, not on the first request"
                )
            ready = await _request(client, "GET", "/ready", "the model still loading")
            if (
                ready.status_code == 200
                and isinstance(response_body(ready), dict)
                and (response_body(ready).get("ready") is False)
            ):
                fail(
                    f"GET /ready answered 200 {response_body(ready)!r} while load_model() was still "
                    "running: the status itself must be 503 — load balancers and Kubernetes "
                    "read the status code, not the body"
                )
            if ready.status_code != 503:
                fail(
                    f"GET /ready answered {ready.status_code} {response_body(ready)!r} while "
                    "load_model() was still running; expected 503 until the model is loaded "
                    "(set the model — and the ready flag — only after the load returned)"
                )
            early = await _request(
                client,
                "POST",
                "/predict",
                "the model still loading",
                limit=1.0,
                advice="answer 503 at once instead of waiting for the load",
                json={"features": row.tolist()},
            )
            _no_leak(early, "POST /predict before the model is loaded")
            if early.status_code != 503:
                fail(
                    f"POST /predict before the model was loaded answered {early.status_code} "
                    f"{response_body(early)!r}; expected 503 (Service Unavailable) with a JSON detail"
                )
            if not isinstance(response_body(early), dict):
                fail(
                    f"POST /predict before the model was loaded answered 503 with "
                    f"{response_body(early)!r}; expected a JSON body such as "
                    '{"detail": "the model is still loading"}'
                )
            loader.gate.set()
            await _wait_ready(client, 2.0, "load_model() returned")
            loads = loader.loads
            for _ in range(2):
                response = await _request(
                    client, "POST", "/predict", "after loading", json={"features": row.tolist()}
                )
                if response.status_code != 200:
                    fail(
                        f"POST /predict after loading answered {response.status_code} "
                        f"{response_body(response)!r}; expected 200"
                    )
                _judge_prediction(response_body(response), row, "POST /predict")
            if loader.loads > loads:
                fail(
                    f"two POST /predict called load_model() {loader.loads - loads} more times: "
                    "the model is loaded per request — load it once, in the lifespan, and keep "
                    "it"
                )
        if loader.loads != 1:
            fail(f"load_model() was called {loader.loads} times; expected once, in the lifespan")

    _run_bounded(scenario(), limit=GATE_S + 8)


async def _until(condition: Any, limit: float) -> bool:
    """Poll a condition from the event loop (without blocking it) for up to limit seconds."""
    deadline = time.perf_counter() + limit
    while not condition():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


@pytest.mark.task(3)
def test_every_app_has_its_own_model_and_shutdown_stops_a_load(learner) -> None:
    first, unstarted, second = Loader(), Loader(), Loader(gated=True)
    apps = [
        _created_app(learner, first),
        _created_app(learner, unstarted),
        _created_app(learner, second),
    ]

    async def scenario() -> None:
        try:
            async with running(apps[0]) as (client, _):
                await _wait_ready(client, 2.0, "startup")
            # An app whose lifespan never ran has loaded nothing: it cannot be ready.
            transport = httpx.ASGITransport(app=apps[1], raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://lab.test") as bare:
                probe = await _request(bare, "GET", "/ready", "an app that was never started")
            if probe.status_code == 200:
                fail(
                    "after one app had loaded its model and shut down, a second app from "
                    "create_app(), whose lifespan never ran (nothing loaded), answered GET "
                    f"/ready 200 {response_body(probe)!r}: the model, the batcher or the ready flag are "
                    "shared between apps (module-level state) — keep them per app, in "
                    "variables inside create_app or on app.state"
                )
            async with running(apps[2]) as (client, _):
                if not await _until(second.started.is_set, 0.5):
                    fail(
                        "0.5 s after startup load_model() had not been called: start loading "
                        "the model in the lifespan, not on the first request"
                    )
                # leaving the block shuts the app down while load_model() still runs
            await _stopped(
                learner,
                "the app's shutdown while load_model() was still running",
                "after `yield`, cancel the loading task if it still runs (task.cancel(), then "
                "await it) — otherwise the load finishes after the app has stopped and starts "
                "a batcher that nobody closes",
            )
        finally:
            second.gate.set()

    _run_bounded(scenario(), limit=8.0)


@pytest.mark.task(3)
def test_predictions_in_process_load_the_model_once(learner) -> None:
    loader = Loader(CountingModel(classes=RENAMED))
    app = _created_app(learner, loader, max_batch_size=8, max_wait_s=0.05)
    rows = request_rows(30)
    lone: list[float] = []  # how long each of the first, one-at-a-time requests took

    async def scenario() -> list[httpx.Response]:
        async with running(app, learner=learner) as (client, _):
            await _wait_ready(client, 2.0, "startup")
            for row in rows[:4]:
                start = time.perf_counter()
                response = await _request(
                    client, "POST", "/predict", "one request", json={"features": row.tolist()}
                )
                lone.append(time.perf_counter() - start)
                if response.status_code != 200:
                    fail(
                        f"POST /predict with features {row.tolist()} answered "
                        f"{response.status_code} {response_body(response)!r}; expected 200"
                    )
                _judge_prediction(response_body(response), row, "POST /predict", classes=RENAMED)
            before = len(loader.model.sizes)
            try:
                burst = await asyncio.wait_for(
                    asyncio.gather(
                        *(
                            client.post("/predict", json={"features": row.tolist()})
                            for row in rows[4:]
                        )
                    ),
                    3.0,
                )
            except TimeoutError:
                fail(
                    f"26 concurrent POST /predict got no answer within 3 s (the model was "
                    f"called with batches of {loader.model.sizes[before:]})"
                )
            return burst, loader.model.sizes[before:]

    burst, calls = _run_bounded(scenario())
    if loader.loads > 1:
        fail(
            f"load_model() was called {loader.loads} times for 30 requests: the model is loaded "
            "per request — load it once in the lifespan and keep it"
        )
    if loader.model.predict_calls:
        fail(
            f"the app called model.predict {loader.model.predict_calls} times besides "
            "predict_proba: one predict_proba call per batch gives both the probabilities and "
            "the label (argmax over model.classes_)"
        )
    for row, response in zip(rows[4:], burst, strict=True):
        if response.status_code != 200:
            fail(
                f"one of 26 concurrent POST /predict answered {response.status_code} "
                f"{response_body(response)!r}; expected 200"
            )
        _judge_prediction(
            response_body(response),
            row,
            "one of 26 concurrent POST /predict",
            others=rows[4:],
            classes=RENAMED,
        )
    if len(calls) >= 26:
        fail(
            f"26 concurrent POST /predict made {len(calls)} model calls (batches of {calls}): "
            "nothing was batched — send every request's row through the MicroBatcher"
        )
    if max(calls) > 8:
        fail(
            f"with max_batch_size=8 the model got batches of {calls}: the app does not pass "
            "max_batch_size on to the batcher"
        )
    if len(calls) > 10:
        fail(
            f"26 concurrent POST /predict (max_batch_size=8, max_wait_s=0.05) made "
            f"{len(calls)} model calls (batches of {calls}); 4 are enough — is max_wait_s "
            "passed on to the batcher?"
        )
    # A lone request waits for the window, whatever the machine's load: never less.
    if min(lone) < 0.035:
        own = _lone_row_seconds(learner, 0.05)
        if own >= 0.035:
            fail(
                f"with create_app(max_wait_s=0.05) a lone POST /predict came back after "
                f"{min(lone) * 1000:.0f} ms, while your MicroBatcher(max_wait_s=0.05) alone "
                f"waits {own * 1000:.0f} ms: the app does not pass max_wait_s on to the "
                "batcher (MicroBatcher(..., max_wait_s=max_wait_s))"
            )
        fail(
            f"with create_app(max_wait_s=0.05) a lone POST /predict came back after "
            f"{min(lone) * 1000:.0f} ms, and MicroBatcher(max_wait_s=0.05) alone after "
            f"{own * 1000:.0f} ms: a lone row must wait up to max_wait_s for company"
        )


def _lone_row_seconds(learner, window: float) -> float:
    """How long the learner's own MicroBatcher takes for one lone row with this window."""
    predict = FakePredict()

    async def scenario() -> float:
        async with started(learner, predict, max_batch_size=8, max_wait_s=window) as batcher:
            start = time.perf_counter()
            await _gather(batcher, [asyncio.ensure_future(batcher.submit(_row(1)))], 1.5, "a row")
            return time.perf_counter() - start

    return _run_bounded(scenario())


BAD_BODIES = {
    "three features": {"features": [5.1, 3.5, 1.4]},
    "five features": {"features": [5.1, 3.5, 1.4, 0.2, 1.0]},
    "a negative length": {"features": [5.1, -3.5, 1.4, 0.2]},
    "a length of 99": {"features": [5.1, 3.5, 99, 0.2]},
    "a word": {"features": [5.1, "wide", 1.4, 0.2]},
    "no features field": {"values": [5.1, 3.5, 1.4, 0.2]},
}


@pytest.mark.task(3)
def test_bad_requests_get_422_with_a_useful_body(learner) -> None:
    loader = Loader()
    app = _created_app(learner, loader)

    async def scenario() -> None:
        async with running(app) as (client, _):
            await _wait_ready(client, 2.0, "startup")
            answers = {}
            for what, body in BAD_BODIES.items():
                response = await _request(client, "POST", "/predict", what, json=body)
                _no_leak(response, f"POST /predict with {what}")
                answers[what] = response
            wrong = {what: r for what, r in answers.items() if r.status_code != 422}
            codes = {r.status_code for r in wrong.values()}
            if (
                len(wrong) == len(BAD_BODIES)
                and len(codes) == 1
                and 400 <= min(codes) < 500
                and not loader.model.sizes
                and all("features" in r.text for r in wrong.values())
            ):
                [code] = codes
                fail(
                    f"POST /predict refused every invalid body with {code} (naming the field, "
                    f"and before the model): the validation works, but the status is {code}; "
                    "expected 422 (Unprocessable Content), the status FastAPI gives a body "
                    "that fails validation — keep it (no handler that changes it)"
                )
            if len(wrong) >= len(BAD_BODIES) - 2:
                listed = "; ".join(f"{what} → {r.status_code}" for what, r in wrong.items())
                fail(
                    f"POST /predict answered {listed}; expected 422 for each — no validation: "
                    "the endpoint's body must be a PredictRequest with the limits of task 1"
                )
            for what, response in wrong.items():
                fail(
                    f"POST /predict with {what} {json.dumps(BAD_BODIES[what])} answered "
                    f"{response.status_code} {response_body(response)!r}; expected 422 — the "
                    "endpoint must take a PredictRequest body with the limits of task 1"
                )
            for what, response in answers.items():
                detail = response_body(response)
                if not isinstance(detail, dict) or "features" not in json.dumps(detail):
                    fail(
                        f"POST /predict with {what} answered 422 with {detail!r}; a useful "
                        "body names the field and the problem (FastAPI's own 422 body does: "
                        "keep it, or write one that says as much)"
                    )
            garbage = await _request(
                client,
                "POST",
                "/predict",
                "not JSON",
                content=b"{not json",
                headers={"content-type": "application/json"},
            )
            _no_leak(garbage, "POST /predict with a body that is not JSON")
            if garbage.status_code != 422:
                fail(
                    f"POST /predict with a body that is not JSON answered "
                    f"{garbage.status_code}; expected 422"
                )
        if loader.model.sizes:
            fail(
                f"invalid requests reached the model ({len(loader.model.sizes)} calls): "
                "validate before batching"
            )

    _run_bounded(scenario())


N_SOCKET = 32


@pytest.mark.task(3)
def test_concurrent_load_over_a_real_socket(learner) -> None:
    loader = Loader(CountingModel(delay_s=0.003))
    window = 0.05
    app = _created_app(learner, loader, max_batch_size=8, max_wait_s=window)
    rows = request_rows(N_SOCKET)
    what = f"over a real socket, {N_SOCKET} concurrent POST /predict"

    async def load(base_url: str) -> list[tuple[str, int, httpx.Response | None, float]]:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=base_url, timeout=5.0, limits=limits) as client:
            await _wait_ready(client, 3.0, "uvicorn started the app")

            async def one(path: str, index: int) -> tuple[str, int, httpx.Response | None, float]:
                start = time.perf_counter()
                try:
                    if path == "/health":
                        response = await client.get(path)
                    else:
                        response = await client.post(path, json={"features": rows[index].tolist()})
                except httpx.TimeoutException:
                    response = None
                return path, index, response, time.perf_counter() - start

            # A few /health mixed in with the predictions see the same busy machine, without
            # the model: the difference is what the batcher (and the model) add.
            plan = []
            for i in range(N_SOCKET):
                plan.append(one("/predict", i))
                if i % 4 == 3:
                    plan.append(one("/health", i))
            return list(await asyncio.gather(*plan))

    with serve_app(app) as served:
        answers = _run_bounded(load(served.base_url), limit=20.0)
    calls = list(loader.model.sizes)
    lost = [a for a in answers if a[2] is None]
    if lost:
        fail(
            f"{what} (and a few GET /health): {len(lost)} got no answer within 5 s (the model "
            f"was called with batches of {calls})"
        )
    predictions = [a for a in answers if a[0] == "/predict"]
    for _, index, response, _ in predictions:
        assert response is not None
        if response.status_code != 200:
            fail(
                f"{what}: one answered {response.status_code} {response_body(response)!r}; expected 200"
            )
        _judge_prediction(response_body(response), rows[index], f"{what}: one", others=rows)
    if loader.loads != 1:
        fail(
            f"over a real socket, load_model() was called {loader.loads} times for "
            f"{N_SOCKET} requests; expected once, in the lifespan"
        )
    if max(calls) > 8:
        fail(
            f"over a real socket (max_batch_size=8), the model got batches of {calls}: "
            "max_batch_size is ignored"
        )
    if len(calls) >= N_SOCKET:
        fail(f"{what} made {len(calls)} model calls of one row each: nothing was batched")
    most = int(0.6 * N_SOCKET)
    if len(calls) > most:
        fail(
            f"{what} made {len(calls)} model calls (batches of {calls}); expected at most "
            f"{most}: concurrent requests are hardly batched"
        )
    p50 = statistics.median(a[3] for a in predictions)
    health = statistics.median(a[3] for a in answers if a[0] == "/health")
    bound = 4 * window + 0.3
    if p50 - health > bound:
        fail(
            f"{what}: the median prediction took {p50 * 1000:.0f} ms, the median GET /health "
            f"sent along with them {health * 1000:.0f} ms — predictions waited "
            f"{(p50 - health) * 1000:.0f} ms longer, with a batching window (max_wait_s) of "
            f"{window * 1000:.0f} ms; expected under {bound * 1000:.0f} ms longer. Does the "
            "app pass max_wait_s on to the batcher, and does a batch leave once it is full?"
        )


# ----- task 4: errors -----------------------------------------------------------------------------


class _Records(logging.Handler):
    """Collects the log records of every logger (but asyncio's own) while a check runs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("asyncio"):
            self.records.append(record)


@contextlib.contextmanager
def _capture_logs() -> Iterator[_Records]:
    handler = _Records()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@pytest.mark.task(4)
def test_a_model_error_is_a_clean_500_and_the_server_goes_on(learner) -> None:
    with _capture_logs() as logs:
        _a_model_error_is_a_clean_500(learner)
    errors = [r for r in logs.records if r.levelno >= logging.ERROR]
    if not errors:
        fail(
            "the model raised, the client got a clean 500, but nothing was logged: the error "
            "has to go somewhere — logger.exception('prediction failed') in the except block "
            "(the traceback goes to your logs, the client gets the fixed detail)"
        )
    if not any(r.exc_info and r.exc_info[0] is not None for r in errors):
        said = errors[0].getMessage()[:80]
        fail(
            f"the model's error was logged as {said!r}, without its traceback: use "
            "logger.exception(...) in the except block (or exc_info=True), so the log shows "
            "where it failed"
        )


def _a_model_error_is_a_clean_500(learner) -> None:
    loader = Loader(CountingModel(fail_calls=1))
    app = _created_app(learner, loader)
    rows = request_rows(2)

    async def scenario() -> None:
        async with running(app) as (client, _):
            await _wait_ready(client, 2.0, "startup")
            failed = await _request(
                client,
                "POST",
                "/predict",
                "the model raised an error — the batcher must hand it to the caller",
                limit=2.0,
                json={"features": rows[0].tolist()},
            )
            _no_leak(failed, "POST /predict when the model raised")
            if failed.status_code != 500:
                fail(
                    f"POST /predict when the model raised RuntimeError answered "
                    f"{failed.status_code} {response_body(failed)!r}; expected 500"
                )
            body = response_body(failed)
            if isinstance(body, dict) and "detail" not in body:
                fail(
                    f"POST /predict when the model raised answered 500 with {body!r}: the JSON "
                    'body needs a "detail" key, like FastAPI\'s own 404, 422 and 503 bodies, '
                    "so that clients read every error the same way"
                )
            if not isinstance(body, dict):
                fail(
                    f"POST /predict when the model raised answered 500 with {body!r}; "
                    'expected a JSON body such as {"detail": "prediction failed"} (catch the '
                    "error and raise HTTPException(500, ...))"
                )
            if SECRET in failed.text or "RuntimeError" in failed.text:
                fail(
                    f"POST /predict when the model raised answered {failed.text!r}: the "
                    "exception's own text reached the client (it can hold file paths, "
                    "configuration, data); log it on the server and answer a fixed detail"
                )
            again = await _request(
                client,
                "POST",
                "/predict",
                "the request after a failed one",
                json={"features": rows[1].tolist()},
            )
            if again.status_code != 200:
                fail(
                    f"after one failed prediction, the next POST /predict answered "
                    f"{again.status_code} {response_body(again)!r}; expected 200: one bad batch must "
                    "not stop the server"
                )
            _judge_prediction(response_body(again), rows[1], "POST /predict after a failed one")
            health = await _request(client, "GET", "/health", "after a failed prediction")
            if health.status_code != 200:
                fail(f"GET /health after a failed prediction answered {health.status_code}")

    _run_bounded(scenario())
