"""Correct, written differently: QR projection, a while loop, PCA by SVD of the centered data."""

from __future__ import annotations

import numpy as np


def project(x: np.ndarray, A: np.ndarray) -> np.ndarray:
    Q, _ = np.linalg.qr(A)  # orthonormal basis of the same subspace
    return x @ Q @ Q.T


def power_iteration(
    M: np.ndarray, num_iters: int = 1000, tol: float = 1e-12, seed: int = 0
) -> tuple[float, np.ndarray]:
    v = np.random.default_rng(seed).normal(size=len(M))
    v = v / np.sqrt(v @ v)
    steps = 0
    change = np.inf
    while steps < num_iters and not change < tol:
        w = np.dot(M, v)
        w = w / np.sqrt(w @ w)
        change = np.sqrt(np.sum((w - v) ** 2))
        v = w
        steps += 1
    return float(np.dot(v, np.dot(M, v))), v


def pca_fit(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = np.mean(X, axis=0)
    _, singular_values, vt = np.linalg.svd(X - mean, full_matrices=False)  # descending
    return mean, vt[:k], singular_values[:k] ** 2 / (len(X) - 1)


def pca_transform(X: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    return np.einsum("nd,kd->nk", X - mean, components)


def pca_inverse_transform(
    scores: np.ndarray, mean: np.ndarray, components: np.ndarray
) -> np.ndarray:
    return np.dot(scores, components) + mean[np.newaxis, :]
