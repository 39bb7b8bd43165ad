# expect: changed its input `p` in place
# slip: entropy sets the zeros of the caller's p to 1 in place (p[p == 0] = 1) to dodge log 0
"""Information theory."""

from __future__ import annotations

import numpy as np


def entropy(p: np.ndarray, base: float = 2.0) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    p[p == 0] = 1.0
    return -np.sum(p * np.log(p), axis=-1) / np.log(base)


def cross_entropy(p: np.ndarray, q: np.ndarray, base: float = 2.0) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(q), 0.0)
    return -np.sum(terms, axis=-1) / np.log(base)


def kl_divergence(p: np.ndarray, q: np.ndarray, base: float = 2.0) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / q), 0.0)
    return np.sum(terms, axis=-1) / np.log(base)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, dtype=float)
    m = x.max(axis=-1, keepdims=True)
    shifted = x - m
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def cross_entropy_from_logits(logits: np.ndarray, labels: np.ndarray) -> float:
    lp = log_softmax(logits)
    rows = np.arange(len(labels))
    return float(-lp[rows, labels].mean())
