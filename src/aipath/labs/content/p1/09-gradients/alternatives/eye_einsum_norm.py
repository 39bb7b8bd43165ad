"""Gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


# ----- given losses (read them; do not change them) --------------------------------------------
def quadratic(x: np.ndarray, A: np.ndarray, b: np.ndarray) -> float:
    """½ xᵀAx + bᵀx for x of shape (D,), A of shape (D, D) (not necessarily symmetric), b (D,)."""
    return float(0.5 * x @ A @ x + b @ x)


def logistic_loss(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Mean binary cross-entropy of a logistic regression: X (n, D), w (D,), y (n,) of 0/1."""
    z = X @ w
    # log(1 + e^z) - y z, written stably: the same as -y log σ(z) - (1 - y) log(1 - σ(z))
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def mse_loss(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of a linear model: mean((Xw - y)²)."""
    residual = X @ w - y
    return float(np.mean(residual**2))


# ----- task 1 -----------------------------------------------------------------------------------
def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5
) -> np.ndarray:
    base = np.asarray(x, dtype=np.float64)
    flat = np.empty(base.size)
    for i, direction in enumerate(np.eye(base.size)):
        step = eps * direction.reshape(base.shape)
        flat[i] = (f(base + step) - f(base - step)) / (2.0 * eps)
    return flat.reshape(base.shape)


# ----- task 2 -----------------------------------------------------------------------------------
def grad_quadratic(x: np.ndarray, A: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 0.5 * (A @ x + x @ A) + b


def grad_logistic_loss(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return np.mean((expit(X @ w) - y)[:, None] * X, axis=0)


def grad_mse(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.einsum("nd,n->d", X, X @ w - y) * (2.0 / X.shape[0])


# ----- task 3 -----------------------------------------------------------------------------------
def gradient_descent(
    X: np.ndarray, y: np.ndarray, lr: float, num_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    w = np.zeros(X.shape[1])
    losses = np.empty(num_steps + 1)
    losses[0] = mse_loss(w, X, y)
    t = 0
    while t < num_steps:
        w -= lr * grad_mse(w, X, y)
        t += 1
        losses[t] = mse_loss(w, X, y)
    return w, losses


# ----- task 4 -----------------------------------------------------------------------------------
def max_stable_learning_rate(X: np.ndarray) -> float:
    # λ_max((2/n) XᵀX) = (2/n) σ_max(X)²
    sigma = np.linalg.norm(X, ord=2)
    return float(X.shape[0] / sigma**2)
