"""Logistic regression trained with full-batch gradient descent (NumPy only)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


class LogisticModel:
    """A linear model of P(y = 1 | x) = sigmoid(x @ w + b), with L2 regularisation."""

    def __init__(self, learning_rate: float = 0.5, epochs: int = 300, l2: float = 1e-3) -> None:
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.l2 = l2
        self.weights: NDArray[np.float64] | None = None
        self.bias = 0.0

    def fit(self, X: NDArray[np.float64], y: NDArray[np.int64]) -> LogisticModel:
        n, d = X.shape
        w = np.zeros(d)
        b = 0.0
        for _ in range(self.epochs):
            p = _sigmoid(X @ w + b)
            error = p - y
            w -= self.learning_rate * (X.T @ error / n + self.l2 * w)
            b -= self.learning_rate * float(np.mean(error))
        self.weights, self.bias = w, b
        return self

    def predict_proba(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """P(y = 1) for each row of X."""
        if self.weights is None:
            raise RuntimeError("call fit() before predict_proba()")
        return _sigmoid(X @ self.weights + self.bias)

    def predict(self, X: NDArray[np.float64], threshold: float = 0.5) -> NDArray[np.int64]:
        return (self.predict_proba(X) >= threshold).astype(np.int64)


def _sigmoid(z: NDArray[np.float64]) -> NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-z))
