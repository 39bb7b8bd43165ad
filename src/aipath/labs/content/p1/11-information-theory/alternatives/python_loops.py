"""Information theory with plain Python loops over rows (math.log), NumPy only for shapes."""

from __future__ import annotations

import math

import numpy as np


def _rows(a: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    a = np.asarray(a, dtype=float)
    return a.reshape(-1, a.shape[-1]), a.shape[:-1]


def entropy(p: np.ndarray, base: float = 2.0) -> np.ndarray:
    rows, shape = _rows(p)
    out = []
    for row in rows:
        h = 0.0
        for pi in row:
            if pi > 0:
                h -= pi * math.log(pi)
        out.append(h / math.log(base))
    return np.array(out).reshape(shape)


def cross_entropy(p: np.ndarray, q: np.ndarray, base: float = 2.0) -> np.ndarray:
    prow, shape = _rows(p)
    qrow, _ = _rows(q)
    out = []
    for pr, qr in zip(prow, qrow, strict=True):
        h = 0.0
        for pi, qi in zip(pr, qr, strict=True):
            if pi > 0:
                h = math.inf if qi == 0 else h - pi * math.log(qi)
                if h == math.inf:
                    break
        out.append(h / math.log(base))
    return np.array(out).reshape(shape)


def kl_divergence(p: np.ndarray, q: np.ndarray, base: float = 2.0) -> np.ndarray:
    prow, shape = _rows(p)
    qrow, _ = _rows(q)
    out = []
    for pr, qr in zip(prow, qrow, strict=True):
        d = 0.0
        for pi, qi in zip(pr, qr, strict=True):
            if pi > 0:
                if qi == 0:
                    d = math.inf
                    break
                d += pi * math.log(pi / qi)
        out.append(d / math.log(base))
    return np.array(out).reshape(shape)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    rows, _ = _rows(logits)
    x = np.asarray(logits, dtype=float)
    out = np.empty_like(rows)
    for i, row in enumerate(rows):
        m = max(row)
        lse = m + math.log(sum(math.exp(v - m) for v in row))
        out[i] = [v - lse for v in row]
    return out.reshape(x.shape)


def cross_entropy_from_logits(logits: np.ndarray, labels: np.ndarray) -> float:
    lp = log_softmax(logits)
    total = 0.0
    for row, label in zip(lp, labels, strict=True):
        total -= row[int(label)]
    return total / len(labels)
