"""Alternative: a deque and an asyncio.Event; each row carries its arrival time, so the window
is a deadline set by the oldest waiting row; the schema checks the row in a field_validator; a
global exception handler turns any error into a short 500; loop.run_in_executor runs the
model; readiness is an asyncio.Event."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import numpy as np
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, field_validator
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

logger = logging.getLogger("iris-server")

N_FEATURES = 4
FEATURE_MIN, FEATURE_MAX = 0.0, 20.0


def train_model() -> LogisticRegression:
    iris = load_iris()
    labels = np.asarray(iris.target_names)[iris.target]
    return LogisticRegression(max_iter=1000).fit(iris.data, labels)


class PredictRequest(BaseModel):
    features: list[float]

    @field_validator("features")
    @classmethod
    def _four_measurements(cls, values: list[float]) -> list[float]:
        if len(values) != N_FEATURES:
            raise ValueError(f"expected {N_FEATURES} values, got {len(values)}")
        for value in values:
            if not math.isfinite(value) or not FEATURE_MIN <= value <= FEATURE_MAX:
                raise ValueError(f"each value must be within [{FEATURE_MIN}, {FEATURE_MAX}]")
        return values


class PredictResponse(BaseModel):
    label: str
    probabilities: list[float]


class MicroBatcher:
    def __init__(
        self,
        predict: Callable[[np.ndarray], Any],
        *,
        max_batch_size: int = 16,
        max_wait_s: float = 0.01,
    ) -> None:
        self.predict = predict
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._rows: collections.deque[tuple[float, np.ndarray, asyncio.Future[Any]]] = (
            collections.deque()
        )
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def close(self) -> None:
        if self._worker is None:
            return
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker

    async def submit(self, row: Sequence[float] | np.ndarray) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._rows.append((loop.time(), np.asarray(row, dtype=float), future))
        self._arrived.set()
        return await future

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._rows:
                self._arrived.clear()
                await self._arrived.wait()
            deadline = self._rows[0][0] + self.max_wait_s  # the oldest row sets the deadline
            while len(self._rows) < self.max_batch_size:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except TimeoutError:
                    break
            count = min(self.max_batch_size, len(self._rows))
            batch = [self._rows.popleft() for _ in range(count)]
            batch = [item for item in batch if not item[2].done()]
            if batch:
                await self._run_batch(loop, batch)

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: list[Any]) -> None:
        rows = np.array([row for _, row, _ in batch])
        try:
            outputs = await loop.run_in_executor(None, self.predict, rows)
        except Exception as exc:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), output in zip(batch, outputs, strict=True):
            if not future.done():
                future.set_result(np.asarray(output))


def create_app(
    load_model: Callable[[], Any] = train_model,
    *,
    max_batch_size: int = 16,
    max_wait_s: float = 0.01,
) -> FastAPI:
    loaded = asyncio.Event()
    holder: dict[str, Any] = {}

    async def load() -> None:
        model = await asyncio.get_running_loop().run_in_executor(None, load_model)
        holder["classes"] = [str(c) for c in model.classes_]
        holder["batcher"] = MicroBatcher(
            model.predict_proba, max_batch_size=max_batch_size, max_wait_s=max_wait_s
        )
        holder["batcher"].start()
        loaded.set()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(load())
        try:
            yield
        finally:
            task.cancel()
            if "batcher" in holder:
                await holder["batcher"].close()

    app = FastAPI(lifespan=lifespan)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error on %s", request.url.path, exc_info=exc)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(response: Response) -> dict[str, bool]:
        if not loaded.is_set():
            response.status_code = 503
        return {"ready": loaded.is_set()}

    @app.post("/predict", response_model=None)
    async def predict(request: PredictRequest) -> PredictResponse | JSONResponse:
        if not loaded.is_set():
            return JSONResponse({"detail": "model loading, retry shortly"}, status_code=503)
        probabilities = await holder["batcher"].submit(request.features)
        best = int(np.argmax(probabilities))
        return PredictResponse(
            label=holder["classes"][best], probabilities=np.asarray(probabilities).tolist()
        )

    return app
