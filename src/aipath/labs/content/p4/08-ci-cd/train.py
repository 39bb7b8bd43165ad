"""Train tinymodel, evaluate it on the held-out rows, and write metrics/candidate.json.

CI runs `python train.py` and then the evaluation gate, which compares these metrics with
metrics/baseline.json (the metrics of the model in production).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

# isort: split
from tinymodel import (
    LogisticModel,
    accuracy,
    f1_score,
    log_loss,
    make_dataset,
    train_test_split,
)

OUT = Path("metrics") / "candidate.json"


def latency_ms_p95(model: LogisticModel, X: np.ndarray, repeats: int = 200) -> float:
    """The 95th percentile of the time to score a batch of 64 rows, in milliseconds."""
    batch = X[:64]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_proba(batch)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 95))


def main() -> int:
    X, y = make_dataset()
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    model = LogisticModel().fit(X_train, y_train)
    p = model.predict_proba(X_test)
    predicted = (p >= 0.5).astype(np.int64)
    metrics = {
        "accuracy": round(accuracy(y_test, predicted), 4),
        "f1": round(f1_score(y_test, predicted), 4),
        "log_loss": round(log_loss(y_test, p), 4),
        "latency_ms_p95": round(latency_ms_p95(model, X_test), 4),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {metrics}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
