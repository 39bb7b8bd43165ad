"""Correct, written differently: least squares per vector, np.cov + eigh with flipped arrays."""

from __future__ import annotations

import numpy as np


def project(x: np.ndarray, A: np.ndarray) -> np.ndarray:
    if x.ndim == 1:
        coefficients, *_ = np.linalg.lstsq(A, x, rcond=None)
        return A @ coefficients
    rows = []
    for vector in x:  # one least-squares problem per row
        coefficients, *_ = np.linalg.lstsq(A, vector, rcond=None)
        rows.append(A @ coefficients)
    return np.array(rows)


def power_iteration(
    M: np.ndarray, num_iters: int = 1000, tol: float = 1e-12, seed: int = 0
) -> tuple[float, np.ndarray]:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=M.shape[0])
    v /= np.linalg.norm(v)
    value = 0.0
    for _ in range(num_iters):
        Mv = M @ v
        value = float(v @ Mv)
        new = Mv / np.linalg.norm(Mv)
        done = np.linalg.norm(new - v) < tol
        v = new
        if done:
            break
    value = float(v @ M @ v)
    return value, v


def pca_fit(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    covariance = np.cov(X, rowvar=False)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    return X.mean(axis=0), eigenvectors[:, :k].T.copy(), eigenvalues[:k].copy()


def pca_transform(X: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    centered = X - mean
    return np.stack([centered @ component for component in components], axis=1)


def pca_inverse_transform(
    scores: np.ndarray, mean: np.ndarray, components: np.ndarray
) -> np.ndarray:
    return mean + sum(scores[:, [i]] * components[i] for i in range(len(components)))
