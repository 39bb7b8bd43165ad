"""Correct, written differently: flat views, einsum, a while loop, the spectral norm."""

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
    flat = np.asarray(x, dtype=float).ravel()
    grad = np.empty_like(flat)
    for i in range(flat.size):
        step = np.zeros_like(flat)
        step[i] = eps
        plus = f((flat + step).reshape(np.shape(x)))
        minus = f((flat - step).reshape(np.shape(x)))
        grad[i] = (plus - minus) / (2 * eps)
    return grad.reshape(np.shape(x))


def grad_quadratic(x: np.ndarray, A: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 0.5 * (A @ x + x @ A) + b  # x @ A is Aᵀx


def grad_logistic_loss(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    z = X @ w
    p = np.exp(-np.logaddexp(0.0, -z))  # σ(z), computed without overflow
    return np.einsum("nd,n->d", X, p - y) / X.shape[0]


def grad_mse(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.mean(2.0 * (X @ w - y)[:, None] * X, axis=0)


def gradient_descent(
    X: np.ndarray, y: np.ndarray, lr: float, num_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    w = np.zeros(X.shape[1])
    losses = np.empty(num_steps + 1)
    losses[0] = mse_loss(w, X, y)
    step = 0
    while step < num_steps:
        w -= lr * grad_mse(w, X, y)
        step += 1
        losses[step] = mse_loss(w, X, y)
    return w, losses


def max_stable_learning_rate(X: np.ndarray) -> float:
    # λ_max(XᵀX) is the square of X's largest singular value (its spectral norm).
    largest = np.linalg.norm(X, ord=2) ** 2
    return float(X.shape[0] / largest)
