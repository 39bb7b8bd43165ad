"""Alternative: the window is an `async with asyncio.timeout(...)` block around the loop that
takes rows; the server is a small class whose methods are the routes; starlette's
run_in_threadpool runs the model; readiness answers 503 through HTTPException."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from starlette.concurrency import run_in_threadpool

logger = logging.getLogger("iris-server")

N_FEATURES = 4
FEATURE_MIN, FEATURE_MAX = 0.0, 20.0


def train_model() -> LogisticRegression:
    iris = load_iris()
    labels = np.asarray(iris.target_names)[iris.target]
    return LogisticRegression(max_iter=1000).fit(iris.data, labels)


class PredictRequest(BaseModel):
    features: Annotated[
        list[Annotated[float, Field(ge=FEATURE_MIN, le=FEATURE_MAX, allow_inf_nan=False)]],
        Field(min_length=N_FEATURES, max_length=N_FEATURES),
    ]


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
        self.queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[Any]]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.loop())

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def submit(self, row: Sequence[float] | np.ndarray) -> np.ndarray:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((np.asarray(row, dtype=float), future))
        return await future

    async def loop(self) -> None:
        while True:
            items = [await self.queue.get()]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.max_wait_s):
                    while len(items) < self.max_batch_size:
                        items.append(await self.queue.get())
            futures = [future for _, future in items]
            try:
                outputs = await run_in_threadpool(self.predict, np.stack([r for r, _ in items]))
            except Exception as exc:
                outputs = None
                error = exc
            for i, future in enumerate(futures):
                if future.done():
                    continue
                if outputs is None:
                    future.set_exception(error)
                else:
                    future.set_result(outputs[i])


class IrisServer:
    def __init__(self, load_model: Callable[[], Any], batch_size: int, wait_s: float) -> None:
        self.load_model = load_model
        self.batch_size = batch_size
        self.wait_s = wait_s
        self.classes: list[str] = []
        self.batcher: MicroBatcher | None = None

    async def load(self) -> None:
        model = await asyncio.to_thread(self.load_model)
        self.classes = [str(c) for c in model.classes_]
        batcher = MicroBatcher(
            model.predict_proba, max_batch_size=self.batch_size, max_wait_s=self.wait_s
        )
        batcher.start()
        self.batcher = batcher

    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    async def ready(self) -> dict[str, bool]:
        if self.batcher is None:
            raise HTTPException(503, detail="loading")
        return {"ready": True}

    async def predict(self, request: PredictRequest) -> PredictResponse:
        if self.batcher is None:
            raise HTTPException(503, detail="the model is not loaded yet")
        try:
            out = await self.batcher.submit(request.features)
        except Exception:
            logger.exception("batch failed")
            raise HTTPException(500, detail="prediction failed") from None
        return PredictResponse(
            label=self.classes[int(np.argmax(out))], probabilities=[float(p) for p in out]
        )


def create_app(
    load_model: Callable[[], Any] = train_model,
    *,
    max_batch_size: int = 16,
    max_wait_s: float = 0.01,
) -> FastAPI:
    server = IrisServer(load_model, max_batch_size, max_wait_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(server.load())
        yield
        loading.cancel()
        if server.batcher is not None:
            await server.batcher.close()

    app = FastAPI(lifespan=lifespan)
    app.add_api_route("/health", server.health, methods=["GET"])
    app.add_api_route("/ready", server.ready, methods=["GET"])
    app.add_api_route("/predict", server.predict, methods=["POST"])
    return app
