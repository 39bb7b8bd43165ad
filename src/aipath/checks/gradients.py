"""Numerical gradient checks: central differences against the learner's analytic gradient.

In float64 with ``eps=1e-6`` a correct gradient agrees to a relative error around 1e-9; a wrong
one is off by a factor (a missing 1/n or ½), a sign, or at the points where a piecewise function
changes (ReLU at 0) — the message names a sign error and a constant factor when it sees one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from aipath.checks.compare import _index, _to_array
from aipath.checks.failure import fail
from aipath.checks.failure import fmt as _fmt

__all__ = ["gradient_check", "numerical_gradient", "relative_error"]


def relative_error(got: Any, want: Any) -> float:
    """``|got − want| / (|got| + |want|)`` in the 2-norm: the gradient-check measure (0 when equal).

    Symmetric and scale-free: about 1e-9 for a correct float64 gradient against central
    differences, around 1 for a wrong one, whatever the size of the numbers.
    """
    a, b = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    return float(np.linalg.norm(a - b) / max(float(np.linalg.norm(a) + np.linalg.norm(b)), 1e-300))


def numerical_gradient(
    f: Callable[[np.ndarray[Any, Any]], float], x: np.ndarray[Any, Any], eps: float = 1e-6
) -> np.ndarray[Any, Any]:
    """Central differences, one coordinate at a time (float64)."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        up = float(f(x))
        x[index] = old - eps
        down = float(f(x))
        x[index] = old
        grad[index] = (up - down) / (2 * eps)
    return grad


def gradient_check(
    f: Callable[[np.ndarray[Any, Any]], float],
    x: np.ndarray[Any, Any],
    analytic: Any,
    *,
    eps: float = 1e-6,
    tol: float = 1e-7,
    name: str = "gradient",
) -> float:
    """Compare an analytic gradient with central differences; return the relative error."""
    got = _to_array(analytic, name).astype(np.float64)
    numeric = numerical_gradient(f, x, eps)
    if got.shape != numeric.shape:
        fail(f"{name} has shape {got.shape}; expected {numeric.shape} (the shape of the input)")
    scale = max(float(np.linalg.norm(got) + np.linalg.norm(numeric)), 1e-12)
    rel = float(np.linalg.norm(got - numeric)) / scale
    if rel <= tol:
        return rel
    flipped = float(np.linalg.norm(-got - numeric)) / scale
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(got - numeric)), got.shape))
    clue = " It looks like a sign error." if flipped <= tol else ""
    if not clue:
        ratio = _constant_ratio(got, numeric)
        if ratio is not None:
            clue = f" Yours is {_fmt(ratio)} × the numerical gradient everywhere: a constant factor (1/n, ½, 2) is off."
    fail(
        f"{name} relative error {rel:.3g} (must be ≤ {tol:g}); worst at {name}[{_index(worst)}]: "
        f"yours {_fmt(got[worst])}, numerical {_fmt(numeric[worst])}.{clue}"
    )


def _constant_ratio(got: np.ndarray[Any, Any], numeric: np.ndarray[Any, Any]) -> float | None:
    """The factor k with got ≈ k · numeric everywhere, when there is one (and k ≠ 1)."""
    mask = np.abs(numeric) > 1e-8
    if not mask.any():
        return None
    ratios = got[mask] / numeric[mask]
    k = float(np.median(ratios))
    if not np.isfinite(k) or abs(k - 1.0) < 1e-6 or abs(k) < 1e-12:
        return None
    if np.allclose(got, k * numeric, rtol=1e-5, atol=1e-9):
        return k
    return None
