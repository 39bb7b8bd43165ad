# expect: transposed; return one projection per row
# slip: project returns A @ c for a batch without transposing back: (D, n) instead of (n, D)
"""Linear algebra: projections, power iteration and PCA, with NumPy."""

from __future__ import annotations

import numpy as np


def project(x: np.ndarray, A: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    coeffs = np.linalg.solve(A.T @ A, A.T @ x.T)
    return A @ coeffs


def power_iteration(
    M: np.ndarray, num_iters: int = 1000, tol: float = 1e-12, seed: int = 0
) -> tuple[float, np.ndarray]:
    v = np.random.default_rng(seed).normal(size=M.shape[0])
    v = v / np.linalg.norm(v)
    for _ in range(num_iters):
        w = M @ v
        w = w / np.linalg.norm(w)
        done = np.linalg.norm(w - v) < tol
        v = w
        if done:
            break
    return float(v @ M @ v), v


def pca_fit(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    mean = X.mean(axis=0)
    Xc = X - mean
    C = Xc.T @ Xc / (X.shape[0] - 1)
    w, V = np.linalg.eigh(C)
    order = np.argsort(w)[::-1][:k]
    return mean, V[:, order].T, w[order]


def pca_transform(X: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    return (X - mean) @ components.T


def pca_inverse_transform(
    scores: np.ndarray, mean: np.ndarray, components: np.ndarray
) -> np.ndarray:
    return scores @ components + mean
