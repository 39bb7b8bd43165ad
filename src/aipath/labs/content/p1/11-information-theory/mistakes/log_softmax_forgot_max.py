# expect: is not added back
# slip: log_softmax drops the max from the result: x - log(sum(exp(x - m))) (off by m)
"""Information theory."""

from __future__ import annotations

import numpy as np


def entropy(p: np.ndarray, base: float = 2.0) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    logp = np.log(p, where=p > 0, out=np.zeros_like(p))
    return -np.sum(p * logp, axis=-1) / np.log(base)


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
    return x - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def cross_entropy_from_logits(logits: np.ndarray, labels: np.ndarray) -> float:
    lp = log_softmax(logits)
    rows = np.arange(len(labels))
    return float(-lp[rows, labels].mean())
