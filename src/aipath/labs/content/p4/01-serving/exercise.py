"""A model server with micro-batching: FastAPI in front of a scikit-learn model.

Read README.md first: it has the routes, the status codes, the limits and the batching rules the
checks expect. Try it by hand with ``uvicorn --factory exercise:create_app --port 8000``.
"""

from __future__ import annotations

import asyncio  # noqa: F401  (the batcher and the lifespan need it)
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

logger = logging.getLogger("iris-server")

N_FEATURES = 4  # sepal length, sepal width, petal length, petal width (cm)
FEATURE_MIN, FEATURE_MAX = 0.0, 20.0  # the range a measurement may take, both ends included


def train_model() -> LogisticRegression:
    """The model this server answers with (given, not a task): iris flowers, trained in ms.

    ``model.predict_proba(X)`` takes an ``(n, 4)`` float array and returns ``(n, 3)``
    probabilities; ``model.classes_`` names the columns: ``['setosa' 'versicolor' 'virginica']``.
    In a real server this would read weights from disk or a model registry and take seconds.
    """
    iris = load_iris()
    labels = np.asarray(iris.target_names)[iris.target]
    return LogisticRegression(max_iter=1000).fit(iris.data, labels)


# ----- task 1: the schemas --------------------------------------------------------------------


class PredictRequest(BaseModel):
    """The body of ``POST /predict``: one flower.

    ``features``: exactly ``N_FEATURES`` numbers, each from ``FEATURE_MIN`` to ``FEATURE_MAX``.
    Anything else must be rejected by the model itself (FastAPI then answers 422)::

        PredictRequest(features=[5.1, 3.5, 1.4, 0.2])   # fine
        PredictRequest(features=[5.1, 3.5, 1.4])        # ValidationError: 3 values
        PredictRequest(features=[5.1, -1, 1.4, 0.2])    # ValidationError: below 0
    """

    # TODO: task 1 — the limits, with Field(...) on the list and on each value (Annotated).
    features: list[float]


class PredictResponse(BaseModel):
    """The answer of ``POST /predict``: the most likely class and every class's probability.

    ``{"label": "setosa", "probabilities": [0.982, 0.018, 0.0]}`` — the probabilities in the
    order of ``model.classes_``.
    """

    label: str
    probabilities: list[float]


# ----- task 2: the micro-batcher ----------------------------------------------------------------


class MicroBatcher:
    """Collects rows from concurrent callers and hands them to ``predict`` as ONE batch.

    ``predict`` takes an ``(n, 4)`` array and returns ``n`` output rows (e.g.
    ``model.predict_proba``). A batch goes to ``predict`` when it holds ``max_batch_size`` rows,
    or ``max_wait_s`` seconds after its FIRST row arrived, whichever comes first. ``predict`` runs
    in a worker thread, one batch at a time. Each caller of :meth:`submit` gets its own output
    row back; if ``predict`` raises, every caller of that batch gets the error.

    Inside a running event loop::

        batcher = MicroBatcher(model.predict_proba, max_batch_size=16, max_wait_s=0.01)
        batcher.start()
        rows = await asyncio.gather(*(batcher.submit(x) for x in flowers))  # a few model calls
        await batcher.close()
    """

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
        # TODO: task 2 — a queue of (row, future) pairs, and room for the background task.

    def start(self) -> None:
        """Start the background task that forms batches (call it inside a running loop)."""
        # TODO: task 2
        raise NotImplementedError

    async def close(self) -> None:
        """Stop the background task (cancel it and wait until it has ended)."""
        # TODO: task 2
        raise NotImplementedError

    async def submit(self, row: Sequence[float] | np.ndarray) -> np.ndarray:
        """Queue one row; wait for, and return, the model's output row for it.

        ``await batcher.submit([5.1, 3.5, 1.4, 0.2])`` → ``array([0.982, 0.018, 0.0])``
        """
        # TODO: task 2
        raise NotImplementedError


# ----- tasks 3 and 4: the app -------------------------------------------------------------------


def create_app(
    load_model: Callable[[], Any] = train_model,
    *,
    max_batch_size: int = 16,
    max_wait_s: float = 0.01,
) -> FastAPI:
    """A new app. ``load_model()`` is called once, in the lifespan, in the background.

    GET  /health   -> 200 {"status": "ok"}      always, as soon as the process serves
    GET  /ready    -> 503 until the model is loaded, then 200 {"ready": true}
    POST /predict  PredictRequest -> 200 PredictResponse
                                  |  422 invalid body (FastAPI's own, from task 1's limits)
                                  |  503 {"detail": ...} while the model is not loaded
                                  |  500 {"detail": ...} when the model fails (no traceback)

    Every /predict row goes through one MicroBatcher(model.predict_proba, max_batch_size=...,
    max_wait_s=...). Example, once ready::

        POST /predict {"features": [5.1, 3.5, 1.4, 0.2]}
        # 200 {"label": "setosa", "probabilities": [0.982, 0.018, 0.0]}
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # TODO: task 3 — start loading the model in the background, then yield; on the way
        # out, stop the loading task and close the batcher.
        yield

    # TODO: tasks 3 and 4 — app = FastAPI(title="Iris model server", lifespan=lifespan), the
    # three routes, and `return app`
    raise NotImplementedError
