"""The evaluation metrics the gate compares with the baseline."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def accuracy(y_true: NDArray[np.int64], y_pred: NDArray[np.int64]) -> float:
    """The share of correct predictions (higher is better)."""
    return float(np.mean(y_true == y_pred))


def f1_score(y_true: NDArray[np.int64], y_pred: NDArray[np.int64]) -> float:
    """F1 of the positive class (higher is better); 0.0 when nothing is predicted positive."""
    tp = float(np.sum((y_pred == 1) & (y_true == 1)))
    fp = float(np.sum((y_pred == 1) & (y_true == 0)))
    fn = float(np.sum((y_pred == 0) & (y_true == 1)))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def log_loss(y_true: NDArray[np.int64], p: NDArray[np.float64], eps: float = 1e-12) -> float:
    """Mean binary cross-entropy of the predicted P(y = 1) (lower is better)."""
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)))
