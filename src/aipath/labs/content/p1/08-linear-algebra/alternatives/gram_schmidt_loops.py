"""Gram-Schmidt orthonormal basis for the projection, explicit loops for covariance and scores."""

from __future__ import annotations

import numpy as np


def _orthonormal_columns(A: np.ndarray) -> np.ndarray:
    Q = np.zeros_like(A, dtype=float)
    for j in range(A.shape[1]):
        q = A[:, j].astype(float)
        for _ in range(2):  # twice: classical Gram-Schmidt loses orthogonality once
            for i in range(j):
                q = q - (Q[:, i] @ q) * Q[:, i]
        Q[:, j] = q / np.linalg.norm(q)
    return Q


def project(x: np.ndarray, A: np.ndarray) -> np.ndarray:
    Q = _orthonormal_columns(np.asarray(A, dtype=float))
    x = np.asarray(x, dtype=float)
    return (x @ Q) @ Q.T


def power_iteration(
    M: np.ndarray, num_iters: int = 1000, tol: float = 1e-12, seed: int = 0
) -> tuple[float, np.ndarray]:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=M.shape[0])
    v = v / np.linalg.norm(v)
    for _ in range(num_iters):
        Mv = M @ v
        new = Mv / np.linalg.norm(Mv)
        if np.linalg.norm(new - v) < tol:
            v = new
            break
        v = new
    rayleigh = sum(v[i] * (M[i] @ v) for i in range(len(v)))
    return float(rayleigh), v


def pca_fit(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    mean = X.sum(axis=0) / n
    C = np.zeros((d, d))
    for row in X - mean:
        C += np.outer(row, row)
    C /= n - 1
    values, vectors = np.linalg.eigh(C)
    values, vectors = values[::-1], vectors[:, ::-1]
    return mean, vectors[:, :k].T.copy(), values[:k].copy()


def pca_transform(X: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    centered = np.asarray(X, dtype=float) - mean
    return np.stack([centered @ c for c in components], axis=1)


def pca_inverse_transform(
    scores: np.ndarray, mean: np.ndarray, components: np.ndarray
) -> np.ndarray:
    out = np.tile(mean, (len(scores), 1)).astype(float)
    for j, component in enumerate(components):
        out += np.outer(scores[:, j], component)
    return out
