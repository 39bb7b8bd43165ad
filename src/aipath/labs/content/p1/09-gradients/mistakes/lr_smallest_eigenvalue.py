# expect: 2 / λ_min
# slip: max_stable_learning_rate takes eigvalsh(H)[0], the smallest eigenvalue (eigvalsh is ascending)
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
    work = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros_like(work)
    for idx in np.ndindex(work.shape):
        old = work[idx]
        work[idx] = old + eps
        up = f(work)
        work[idx] = old - eps
        down = f(work)
        work[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


# ----- task 2 -----------------------------------------------------------------------------------
def grad_quadratic(x: np.ndarray, A: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 0.5 * (A + A.T) @ x + b


def grad_logistic_loss(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return X.T @ (p - y) / len(y)


def grad_mse(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 2.0 * X.T @ (X @ w - y) / len(y)


# ----- task 3 -----------------------------------------------------------------------------------
def gradient_descent(
    X: np.ndarray, y: np.ndarray, lr: float, num_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    w = np.zeros(X.shape[1])
    losses = [mse_loss(w, X, y)]
    for _ in range(num_steps):
        w = w - lr * grad_mse(w, X, y)
        losses.append(mse_loss(w, X, y))
    return w, np.array(losses)


# ----- task 4 -----------------------------------------------------------------------------------
def max_stable_learning_rate(X: np.ndarray) -> float:
    H = 2.0 / X.shape[0] * X.T @ X
    return float(2.0 / np.linalg.eigvalsh(H)[0])
