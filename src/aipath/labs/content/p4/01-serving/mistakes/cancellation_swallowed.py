# expect: cancelled but kept running
"""Mistake: the batch loop catches BaseException around the model call, so close()'s cancellation is swallowed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

logger = logging.getLogger("iris-server")

N_FEATURES = 4
FEATURE_MIN, FEATURE_MAX = 0.0, 20.0


def train_model() -> LogisticRegression:
    iris = load_iris()
    labels = np.asarray(iris.target_names)[iris.target]
    return LogisticRegression(max_iter=1000).fit(iris.data, labels)


Feature = Annotated[float, Field(ge=FEATURE_MIN, le=FEATURE_MAX)]


class PredictRequest(BaseModel):
    features: list[Feature] = Field(min_length=N_FEATURES, max_length=N_FEATURES)


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
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.predict = predict
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[np.ndarray]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, row: Sequence[float] | np.ndarray) -> np.ndarray:
        if self._task is None:
            raise RuntimeError("the batcher is not running: call start() first")
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put((np.asarray(row, dtype=float), future))
        return await future

    async def _collect(self) -> list[tuple[np.ndarray, asyncio.Future[np.ndarray]]]:
        """Wait for a first row, then for more until the batch is full or the window ends."""
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        deadline = loop.time() + self.max_wait_s
        while len(batch) < self.max_batch_size:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._collect()
            waiting = [(row, future) for row, future in batch if not future.done()]
            if not waiting:  # every caller of this batch gave up
                continue
            rows = np.stack([row for row, _ in waiting])
            try:
                outputs = np.asarray(await asyncio.to_thread(self.predict, rows))
            except BaseException as exc:  # every caller of the batch gets the error
                for _, future in waiting:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), output in zip(waiting, outputs, strict=True):
                if not future.done():  # a caller that was cancelled meanwhile
                    future.set_result(output)


def create_app(
    load_model: Callable[[], Any] = train_model,
    *,
    max_batch_size: int = 16,
    max_wait_s: float = 0.01,
) -> FastAPI:
    state: dict[str, Any] = {"model": None, "batcher": None}

    async def load() -> None:
        model = await asyncio.to_thread(load_model)
        batcher = MicroBatcher(
            model.predict_proba, max_batch_size=max_batch_size, max_wait_s=max_wait_s
        )
        batcher.start()
        state["classes"] = [str(c) for c in model.classes_]
        state["batcher"] = batcher
        state["model"] = model

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(load())
        try:
            yield
        finally:
            loading.cancel()
            with contextlib.suppress(BaseException):
                await loading
            if state["batcher"] is not None:
                await state["batcher"].close()

    app = FastAPI(title="Iris model server", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        if state["model"] is None:
            return JSONResponse({"ready": False}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
        return JSONResponse({"ready": True})

    @app.post("/predict")
    async def predict(request: PredictRequest) -> PredictResponse:
        batcher: MicroBatcher | None = state["batcher"]
        if batcher is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the model is still loading")
        try:
            probabilities = await batcher.submit(request.features)
        except Exception:
            logger.exception("prediction failed")  # the details go to the log, not the client
            raise HTTPException(
                status.HTTP_500_INTERNAL_SERVER_ERROR, "prediction failed"
            ) from None
        best = int(np.argmax(probabilities))
        return PredictResponse(
            label=state["classes"][best], probabilities=[float(p) for p in probabilities]
        )

    return app
