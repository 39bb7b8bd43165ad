# expect: the Hessian without its factor 2
"""Mistake: the Hessian without the factor 2, so the 'limit' is twice the true one."""

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
    point = np.array(x, dtype=np.float64)  # a copy: the caller's x never changes
    grad = np.zeros_like(point)
    for index in np.ndindex(point.shape):
        original = point[index]
        point[index] = original + eps
        up = f(point)
        point[index] = original - eps
        down = f(point)
        point[index] = original
        grad[index] = (up - down) / (2 * eps)
    return grad


def grad_quadratic(x: np.ndarray, A: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 0.5 * (A + A.T) @ x + b


def grad_logistic_loss(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return X.T @ (p - y) / len(y)


def grad_mse(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 2.0 * X.T @ (X @ w - y) / len(y)


def gradient_descent(
    X: np.ndarray, y: np.ndarray, lr: float, num_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    w = np.zeros(X.shape[1])
    losses = [mse_loss(w, X, y)]
    for _ in range(num_steps):
        w = w - lr * grad_mse(w, X, y)
        losses.append(mse_loss(w, X, y))
    return w, np.array(losses)


def max_stable_learning_rate(X: np.ndarray) -> float:
    hessian = X.T @ X / X.shape[0]
    return float(2.0 / np.linalg.eigvalsh(hessian)[-1])
