"""Correct, written with library routines: scipy's cdist, zscore, logsumexp and softmax."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import logsumexp as scipy_logsumexp
from scipy.special import softmax as scipy_softmax
from scipy.stats import zscore


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return cdist(a, b, metric="euclidean")


def standardize(X: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        z = zscore(X, axis=0, ddof=0)
    return np.where(np.isnan(z), 0.0, z)


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must be in range(0, {num_classes})")
    out = np.zeros((*labels.shape, num_classes))
    np.put_along_axis(out, labels[..., np.newaxis], 1.0, axis=-1)
    return out


def logsumexp(logits: np.ndarray) -> np.ndarray:
    return scipy_logsumexp(logits, axis=-1)


def softmax(logits: np.ndarray) -> np.ndarray:
    return scipy_softmax(logits, axis=-1)
