"""Cholesky for the normal equations, a while loop for power iteration, np.cov + argsort for PCA."""

from __future__ import annotations

import numpy as np


def project(x: np.ndarray, A: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    L = np.linalg.cholesky(A.T @ A)  # AᵀA = L Lᵀ
    rhs = np.atleast_2d(x) @ A  # one row of Aᵀx per vector
    y = np.linalg.solve(L, rhs.T)
    c = np.linalg.solve(L.T, y)
    p = (A @ c).T
    return p.reshape(x.shape)


def power_iteration(
    M: np.ndarray, num_iters: int = 1000, tol: float = 1e-12, seed: int = 0
) -> tuple[float, np.ndarray]:
    v = np.random.default_rng(seed).normal(size=len(M))
    v /= np.sqrt(v @ v)
    step = 0
    change = np.inf
    while step < num_iters and change >= tol:
        nxt = np.dot(M, v)
        nxt /= np.sqrt(nxt @ nxt)
        change = float(np.sqrt(np.sum((nxt - v) ** 2)))
        v = nxt
        step += 1
    return float(np.dot(v, np.dot(M, v))), v


def pca_fit(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    C = np.cov(X, rowvar=False, ddof=1)
    values, vectors = np.linalg.eigh(np.atleast_2d(C))
    top = np.argsort(-values, kind="stable")[:k]
    return np.mean(X, axis=0), np.ascontiguousarray(vectors.T[top]), values[top]


def pca_transform(X: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    return np.einsum("nd,kd->nk", np.asarray(X, dtype=float) - mean, components)


def pca_inverse_transform(
    scores: np.ndarray, mean: np.ndarray, components: np.ndarray
) -> np.ndarray:
    return np.tensordot(scores, components, axes=(1, 0)) + mean
