"""Linear algebra: projections, power iteration and PCA — the reference solution."""

from __future__ import annotations

import numpy as np


def project(x: np.ndarray, A: np.ndarray) -> np.ndarray:
    # Rows of x are vectors: coefficients C solve (AᵀA) C = Aᵀ xᵀ; projections are (A C)ᵀ.
    coefficients = np.linalg.solve(A.T @ A, A.T @ x.T)
    return (A @ coefficients).T


def power_iteration(
    M: np.ndarray, num_iters: int = 1000, tol: float = 1e-12, seed: int = 0
) -> tuple[float, np.ndarray]:
    v = np.random.default_rng(seed).normal(size=M.shape[0])
    v /= np.linalg.norm(v)
    for _ in range(num_iters):
        w = M @ v
        w /= np.linalg.norm(w)
        converged = np.linalg.norm(w - v) < tol
        v = w
        if converged:
            break
    return float(v @ M @ v), v


def pca_fit(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = X.mean(axis=0)
    centered = X - mean
    covariance = centered.T @ centered / (X.shape[0] - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending; vectors are columns
    top = np.argsort(eigenvalues)[::-1][:k]
    return mean, eigenvectors[:, top].T, eigenvalues[top]


def pca_transform(X: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    return (X - mean) @ components.T


def pca_inverse_transform(
    scores: np.ndarray, mean: np.ndarray, components: np.ndarray
) -> np.ndarray:
    return scores @ components + mean
