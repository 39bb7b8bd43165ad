"""Alternative: no collector task — a timer (loop.call_later) flushes the pending rows, a full
batch flushes at once, and an asyncio.Lock keeps the model to one batch at a time; the schema
uses pydantic's conlist/confloat; the app keeps its state on app.state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, confloat, conlist
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
    features: conlist(confloat(ge=FEATURE_MIN, le=FEATURE_MAX), min_length=4, max_length=4)


class PredictResponse(BaseModel):
    label: str
    probabilities: list[float]


Pending = tuple[np.ndarray, "asyncio.Future[np.ndarray]"]


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
        self._pending: list[Pending] = []
        self._timer: asyncio.TimerHandle | None = None
        self._lock: asyncio.Lock | None = None
        self._batches: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._batches):
            task.cancel()
        await asyncio.gather(*self._batches, return_exceptions=True)

    async def submit(self, row: Sequence[float] | np.ndarray) -> np.ndarray:
        if self._lock is None:
            raise RuntimeError("call start() first")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._pending.append((np.asarray(row, dtype=float), future))
        if len(self._pending) >= self.max_batch_size:
            self._flush()
        elif self._timer is None:  # the first row of a new batch starts the clock
            self._timer = loop.call_later(self.max_wait_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._process(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def _process(self, batch: list[Pending]) -> None:
        assert self._lock is not None
        async with self._lock:  # FIFO: batches reach the model in the order they were formed
            live = [(row, future) for row, future in batch if not future.cancelled()]
            if not live:
                return
            try:
                outputs = await asyncio.to_thread(self.predict, np.vstack([r for r, _ in live]))
            except Exception as exc:
                for _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                return
            for index, (_, future) in enumerate(live):
                if not future.done():
                    future.set_result(np.asarray(outputs[index]))


def create_app(
    load_model: Callable[[], Any] = train_model,
    *,
    max_batch_size: int = 16,
    max_wait_s: float = 0.01,
) -> FastAPI:
    async def load(app: FastAPI) -> None:
        model = await asyncio.to_thread(load_model)
        batcher = MicroBatcher(
            model.predict_proba, max_batch_size=max_batch_size, max_wait_s=max_wait_s
        )
        batcher.start()
        app.state.classes = list(model.classes_)
        app.state.batcher = batcher

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.batcher = None
        loading = asyncio.create_task(load(app))
        yield
        loading.cancel()
        await asyncio.gather(loading, return_exceptions=True)
        if app.state.batcher is not None:
            await app.state.batcher.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    def ready(request: Request) -> JSONResponse:
        is_ready = getattr(request.app.state, "batcher", None) is not None
        return JSONResponse({"ready": is_ready}, status_code=200 if is_ready else 503)

    @app.post("/predict", response_model=PredictResponse)
    async def predict(body: PredictRequest, request: Request) -> dict[str, Any]:
        batcher = getattr(request.app.state, "batcher", None)
        if batcher is None:
            raise HTTPException(503, detail="not ready: the model is loading")
        try:
            probabilities = await batcher.submit(body.features)
        except Exception:
            logger.exception("the model failed")
            raise HTTPException(500, detail="prediction failed") from None
        classes = request.app.state.classes
        return {
            "label": str(classes[int(np.argmax(probabilities))]),
            "probabilities": [float(p) for p in probabilities],
        }

    return app
