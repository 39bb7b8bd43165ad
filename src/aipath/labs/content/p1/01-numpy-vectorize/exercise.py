"""NumPy: vectorize it — pairwise distances, standardization, one-hot, stable softmax.

Rules for every function below: work on whole arrays (broadcasting, ufuncs, reductions with
``axis=``). No ``for``/``while`` loops and no comprehensions: the checks read your code.
"""

from __future__ import annotations

import numpy as np


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between every row of ``a`` and every row of ``b``.

    Args:
        a: float array of shape (N, D): N points in D dimensions.
        b: float array of shape (M, D): M points in the same D dimensions.

    Returns:
        float64 array of shape (N, M); entry [i, j] is ``‖a[i] - b[j]‖``.
        Never NaN; ``pairwise_distances(a, a)`` has zeros on its diagonal.

    >>> a = np.array([[0.0, 0.0], [3.0, 4.0]])
    >>> b = np.array([[0.0, 0.0], [0.0, 4.0], [6.0, 8.0]])
    >>> pairwise_distances(a, b)
    array([[ 0.,  4., 10.],
           [ 5.,  3.,  5.]])
    """
    # TODO: broadcast to (N, M, D), or expand ‖a‖² + ‖b‖² − 2a·b and clip at 0
    raise NotImplementedError


def standardize(X: np.ndarray) -> np.ndarray:
    """Z-score every column of ``X``: subtract the column mean, divide by the column std.

    Args:
        X: float array of shape (N, D): N samples (rows), D features (columns).

    Returns:
        A new float64 array of shape (N, D). The standard deviation is the population one
        (ddof=0). A column whose values are all equal becomes all 0.0 (never NaN).
        ``X`` itself is left unchanged.

    >>> standardize(np.array([[1.0, 10.0], [3.0, 10.0]]))
    array([[-1.,  0.],
           [ 1.,  0.]])
    """
    # TODO: column statistics are reductions over axis 0
    raise NotImplementedError


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """One-hot encode integer labels of any shape.

    Args:
        labels: integer array of any shape, e.g. (N,) or (B, T); values in 0 … num_classes - 1.
        num_classes: K, the number of classes.

    Returns:
        float64 array of shape ``labels.shape + (num_classes,)`` holding 1.0 at each label's
        position along the last axis and 0.0 elsewhere.

    Raises:
        ValueError: if any label is < 0 or >= num_classes.

    >>> one_hot(np.array([2, 0]), 3)
    array([[0., 0., 1.],
           [1., 0., 0.]])
    >>> one_hot(np.array([[1], [0]]), 2).shape
    (2, 1, 2)
    """
    # TODO: check the range, then compare with np.arange(num_classes) or index np.eye
    raise NotImplementedError


def logsumexp(logits: np.ndarray) -> np.ndarray:
    """``log(sum(exp(logits)))`` over the last axis, without overflow.

    Args:
        logits: float array of shape (..., K), e.g. (K,), (N, K) or (B, T, K). Values may be as
            large as ±1000.

    Returns:
        float64 array of shape ``logits.shape[:-1]`` (a 0-d array or a float for a (K,) input).

    >>> logsumexp(np.array([[0.0, 0.0], [1.0, 1.0]]))
    array([0.69314718, 1.69314718])
    >>> float(logsumexp(np.array([1000.0, 1000.0])))  # log(2 * e**1000), no overflow
    1000.6931471805599
    """
    # TODO: subtract the max of each row first, add it back at the end
    raise NotImplementedError


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, without overflow.

    Args:
        logits: float array of shape (..., K), e.g. (K,), (N, K) or (B, T, K). Values may be as
            large as ±1000.

    Returns:
        float64 array of the same shape as ``logits``; values in [0, 1], summing to 1 along the
        last axis.

    >>> softmax(np.array([[0.0, 0.0], [1000.0, 0.0]]))
    array([[0.5, 0.5],
           [1. , 0. ]])
    """
    # TODO: exp of (logits minus the row max), divided by its sum over the last axis
    raise NotImplementedError
