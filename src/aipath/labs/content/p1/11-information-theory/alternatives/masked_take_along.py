"""Information theory via np.log2 / change of base, np.ma masks, take_along_axis."""

from __future__ import annotations

import numpy as np


def entropy(p: np.ndarray, base: float = 2.0) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    masked = np.ma.masked_equal(p, 0.0)
    bits = -(masked * np.ma.log2(masked)).sum(axis=-1)
    return np.ma.filled(bits, 0.0) * (np.log(2.0) / np.log(base))


def kl_divergence(p: np.ndarray, q: np.ndarray, base: float = 2.0) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    safe_p = np.where(p > 0, p, 1.0)
    with np.errstate(divide="ignore"):
        ratio_log = np.log(safe_p) - np.log(q)
    terms = np.where(p > 0, p * ratio_log, 0.0)
    return terms.sum(axis=-1) / np.log(base)


def cross_entropy(p: np.ndarray, q: np.ndarray, base: float = 2.0) -> np.ndarray:
    return entropy(p, base) + kl_divergence(p, q, base)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, dtype=float)
    m = np.amax(x, axis=-1, keepdims=True)
    lse = m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True))
    return x - lse


def cross_entropy_from_logits(logits: np.ndarray, labels: np.ndarray) -> float:
    lp = log_softmax(logits)
    picked = np.take_along_axis(lp, np.asarray(labels)[:, None], axis=-1)
    return float(-np.mean(picked))
