"""Correct, written differently: per-sample sums, np.nditer, a Hessian built explicitly."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def quadratic(x: np.ndarray, A: np.ndarray, b: np.ndarray) -> float:
    return float(0.5 * x @ A @ x + b @ x)


def logistic_loss(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    z = X @ w
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def mse_loss(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    residual = X @ w - y
    return float(np.mean(residual**2))


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5
) -> np.ndarray:
    point = x.astype(float)  # astype copies
    grad = np.zeros(point.shape)
    with np.nditer(point, flags=["multi_index"], op_flags=[["readwrite"]]) as it:
        for entry in it:
            saved = float(entry)
            entry[...] = saved + eps
            up = f(point)
            entry[...] = saved - eps
            down = f(point)
            entry[...] = saved
            grad[it.multi_index] = (up - down) / (2 * eps)
    return grad


def grad_quadratic(x: np.ndarray, A: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = len(x)
    grad = b.astype(float).copy()
    for k in range(d):
        grad[k] += 0.5 * (
            sum(A[k, j] * x[j] for j in range(d)) + sum(x[i] * A[i, k] for i in range(d))
        )
    return grad


def grad_logistic_loss(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    total = np.zeros_like(w, dtype=float)
    for xi, yi in zip(X, y, strict=True):
        total += (1.0 / (1.0 + np.exp(-(xi @ w))) - yi) * xi
    return total / len(X)


def grad_mse(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    residual = X @ w - y
    return (2.0 / len(y)) * (residual @ X)


def gradient_descent(
    X: np.ndarray, y: np.ndarray, lr: float, num_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    w = np.zeros(X.shape[1])
    losses = [mse_loss(w, X, y)]
    for _ in range(num_steps):
        gradient = grad_mse(w, X, y)
        w = w - lr * gradient
        losses.append(mse_loss(w, X, y))
    return w, np.asarray(losses, dtype=float)


def max_stable_learning_rate(X: np.ndarray) -> float:
    n = X.shape[0]
    hessian = np.zeros((X.shape[1], X.shape[1]))
    for row in X:
        hessian += 2.0 * np.outer(row, row) / n
    largest = max(np.linalg.eigvals(hessian).real)
    return 2.0 / float(largest)
