"""Gradients: numerical checks, analytic derivations and gradient descent.

The three loss functions below are given: do not change them. Implement the functions that
raise NotImplementedError.
"""

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
    """Central-difference gradient of a scalar function ``f`` at ``x``.

    Args:
        f: takes an array shaped like ``x`` and returns a float.
        x: float array of any shape, e.g. (D,) or (D, K). Must be left unchanged.
        eps: the step: g[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).

    Returns:
        float64 array of the same shape as ``x``.

    >>> numerical_gradient(lambda v: float(np.sum(v**2)), np.array([1.0, -2.0]))
    array([ 2., -4.])
    """
    # TODO: for each index (np.ndindex(x.shape)), nudge one entry up and down on a float copy
    raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
def grad_quadratic(x: np.ndarray, A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Gradient of ``quadratic`` with respect to x, shape (D,). A may be non-symmetric.

    >>> grad_quadratic(np.array([1.0, 2.0]), np.array([[2.0, 0.0], [0.0, 4.0]]), np.ones(2))
    array([3., 9.])
    """
    # TODO: differentiate ½ Σᵢⱼ xᵢ Aᵢⱼ xⱼ + Σᵢ bᵢ xᵢ
    raise NotImplementedError


def grad_logistic_loss(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of ``logistic_loss`` with respect to w, shape (D,).

    >>> grad_logistic_loss(np.zeros(2), np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 0.0]))
    array([0.5, 0.5])
    """
    # TODO: σ(Xw) - y, then back through X, then the mean's 1/n
    raise NotImplementedError


def grad_mse(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of ``mse_loss`` with respect to w, shape (D,).

    >>> grad_mse(np.zeros(2), np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1.0, 2.0]))
    array([-1., -2.])
    """
    # TODO: the chain rule on mean((Xw - y)²)
    raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
def gradient_descent(
    X: np.ndarray, y: np.ndarray, lr: float, num_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Minimize ``mse_loss`` by gradient descent from w = 0.

    Args:
        X: (n, D) features (include a column of ones for an intercept).
        y: (n,) targets.
        lr: the learning rate (step size).
        num_steps: how many updates ``w ← w - lr * grad_mse(w, X, y)`` to make.

    Returns:
        ``(w, losses)``: the final weights (D,) and a float array of length num_steps + 1 where
        ``losses[t]`` is the loss after t steps (``losses[0]`` is the loss at w = 0).

    >>> w, losses = gradient_descent(np.array([[1.0], [1.0]]), np.array([2.0, 2.0]), 0.25, 2)
    >>> w, losses
    (array([1.5]), array([4.  , 1.  , 0.25]))
    """
    # TODO: w = zeros; record the loss; step against the gradient; record again
    raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
def max_stable_learning_rate(X: np.ndarray) -> float:
    """The largest learning rate for which gradient descent on ``mse_loss`` converges.

    Returns:
        ``2 / λ_max(H)`` where ``H = (2 / n) XᵀX`` is the Hessian of mse_loss.

    >>> max_stable_learning_rate(np.array([[1.0], [1.0]]))
    1.0
    """
    # TODO: np.linalg.eigvalsh of the Hessian; its last value is the largest
    raise NotImplementedError
