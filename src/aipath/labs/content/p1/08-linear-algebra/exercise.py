"""Linear algebra: projections, power iteration and PCA, with NumPy.

Conventions: a data table X is (n, D) with one sample per row; a basis A is (D, k) with one
basis vector per column; np.linalg.eigh returns ascending eigenvalues and eigenvectors as columns.
"""

from __future__ import annotations

import numpy as np


def project(x: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Orthogonal projection of ``x`` onto the column space of ``A``.

    Args:
        x: a vector of shape (D,), or n vectors as the rows of an (n, D) array.
        A: (D, k) array whose k columns are linearly independent (not necessarily orthonormal).

    Returns:
        The projection, same shape as ``x``: the closest point of span(A) to each vector. The
        residual ``x - project(x, A)`` is perpendicular to every column of ``A``.

    >>> A = np.array([[1.0], [1.0], [0.0]])  # the line through (1, 1, 0)
    >>> project(np.array([2.0, 0.0, 5.0]), A)
    array([1., 1., 0.])
    >>> project(np.array([[2.0, 0.0, 5.0], [0.0, 4.0, 0.0]]), A)
    array([[1., 1., 0.],
           [2., 2., 0.]])
    """
    # TODO: solve the normal equations (AᵀA) c = Aᵀx, then p = A c
    raise NotImplementedError


def power_iteration(
    M: np.ndarray, num_iters: int = 1000, tol: float = 1e-12, seed: int = 0
) -> tuple[float, np.ndarray]:
    """Largest eigenvalue and its unit eigenvector of a symmetric PSD matrix, by power iteration.

    Args:
        M: symmetric positive semi-definite (n, n) matrix.
        num_iters: the most multiplications to do.
        tol: stop early once ``np.linalg.norm(v_new - v) < tol``.
        seed: seed of the random start vector, ``np.random.default_rng(seed).normal(size=n)``.

    Returns:
        ``(eigenvalue, v)``: the Rayleigh quotient ``v @ M @ v`` as a float, and ``v`` of shape
        (n,) with norm 1 (either sign). Must not call np.linalg.eig / eigh / svd.

    >>> value, v = power_iteration(np.array([[2.0, 1.0], [1.0, 2.0]]))
    >>> round(value, 6), np.round(np.abs(v), 6)
    (3.0, array([0.707107, 0.707107]))
    """
    # TODO: v = M @ v; v /= norm; until converged; return v @ M @ v, v
    raise NotImplementedError


def pca_fit(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal components of ``X`` from the eigendecomposition of its covariance matrix.

    Args:
        X: data table of shape (n, D), one sample per row.
        k: number of components to keep, 1 <= k <= D.

    Returns:
        ``(mean, components, explained_variance)``:
        ``mean`` (D,) the column means; ``components`` (k, D) unit eigenvectors of the
        covariance (denominator n - 1) as rows, largest eigenvalue first (any sign);
        ``explained_variance`` (k,) the matching eigenvalues, largest first.

    >>> X = np.array([[0.0, 0.0], [2.0, 2.0], [4.0, 4.0]])
    >>> mean, components, variance = pca_fit(X, 1)
    >>> mean, np.round(np.abs(components), 6), np.round(variance, 6)
    (array([2., 2.]), array([[0.707107, 0.707107]]), array([8.]))
    """
    # TODO: center, covariance, np.linalg.eigh, reorder descending, eigenvectors are COLUMNS
    raise NotImplementedError


def pca_transform(X: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Scores: coordinates of each (centered) sample along the components, shape (n, k).

    >>> pca_transform(np.array([[0.0, 0.0], [4.0, 4.0]]), np.array([2.0, 2.0]),
    ...               np.array([[0.6, 0.8]]))
    array([[-2.8],
           [ 2.8]])
    """
    # TODO: center with mean, then project onto the (orthonormal) components
    raise NotImplementedError


def pca_inverse_transform(
    scores: np.ndarray, mean: np.ndarray, components: np.ndarray
) -> np.ndarray:
    """Map scores (n, k) back to the original space (n, D).

    >>> pca_inverse_transform(np.array([[-2.8], [2.8]]), np.array([2.0, 2.0]),
    ...                       np.array([[0.6, 0.8]]))
    array([[ 0.32, -0.24],
           [ 3.68,  4.24]])
    """
    # TODO: a weighted sum of the components, plus the mean
    raise NotImplementedError
