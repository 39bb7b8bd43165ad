"""A seeded two-class data set, so every run of the pipeline sees the same rows."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def make_dataset(n: int = 1200, features: int = 4, seed: int = 0) -> tuple[FloatArray, IntArray]:
    """Two overlapping Gaussian blobs: X of shape (n, features), y of 0s and 1s."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n).astype(np.int64)
    centres = np.where(y[:, None] == 1, 0.8, -0.8)
    X = centres + rng.normal(scale=1.6, size=(n, features))
    return X.astype(np.float64), y


def train_test_split(
    X: FloatArray, y: IntArray, test_share: float = 0.25, seed: int = 0
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """A seeded shuffle, then the last `test_share` of the rows as the test set."""
    order = np.random.default_rng(seed).permutation(len(y))
    cut = round(len(y) * (1 - test_share))
    train, test = order[:cut], order[cut:]
    return X[train], X[test], y[train], y[test]
