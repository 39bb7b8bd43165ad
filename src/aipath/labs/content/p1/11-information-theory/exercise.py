"""Information theory: entropy, cross-entropy, KL divergence, stable log-softmax.

Distributions are NumPy arrays whose last axis sums to 1; every function reduces the last axis
only, so a (N, K) batch gives N results and a (K,) vector gives one. base=2 -> bits,
base=np.e -> nats. 0 * log(0) counts as 0.
"""

from __future__ import annotations

import numpy as np


# ----- task 1 ---------------------------------------------------------------------------------
def entropy(p: np.ndarray, base: float = 2.0) -> np.ndarray:
    """Shannon entropy -sum(p * log_base(p)) over the last axis; shape p.shape[:-1].

    Zero probabilities contribute 0 (never NaN).

    >>> float(entropy(np.array([0.5, 0.25, 0.25, 0.0])))
    1.5
    >>> round(float(entropy(np.array([0.5, 0.5]), base=np.e)), 4)
    0.6931
    >>> entropy(np.array([[1.0, 0.0], [0.5, 0.5]]))
    array([0., 1.])
    """
    # TODO: mask (or xlogy) the zero entries, sum over axis=-1, convert the log to `base`
    raise NotImplementedError


# ----- task 2 ---------------------------------------------------------------------------------
def cross_entropy(p: np.ndarray, q: np.ndarray, base: float = 2.0) -> np.ndarray:
    """H(p, q) = -sum(p * log_base(q)) over the last axis; shape p.shape[:-1].

    p is the true distribution, q the predicted one (same shape). Terms with p == 0 contribute 0;
    q == 0 where p > 0 gives inf.

    >>> float(cross_entropy(np.array([0.5, 0.5]), np.array([0.25, 0.75])))  # doctest: +ELLIPSIS
    1.2075...
    """
    # TODO
    raise NotImplementedError


def kl_divergence(p: np.ndarray, q: np.ndarray, base: float = 2.0) -> np.ndarray:
    """D_KL(p || q) = sum(p * log_base(p / q)) over the last axis; shape p.shape[:-1].

    p is the distribution the data comes from, q the approximation. Always >= 0, 0 when p == q,
    not symmetric. Terms with p == 0 contribute 0; q == 0 where p > 0 gives inf.

    >>> round(float(kl_divergence(np.array([0.5, 0.5]), np.array([0.9, 0.1]))), 4)
    0.737
    >>> round(float(kl_divergence(np.array([0.9, 0.1]), np.array([0.5, 0.5]))), 4)
    0.531
    """
    # TODO
    raise NotImplementedError


# ----- task 3 ---------------------------------------------------------------------------------
def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log(softmax(logits)) over the last axis, finite even for logits of +-1000; same shape.

    >>> log_softmax(np.array([1000.0, -1000.0, 0.0]))
    array([    0., -2000., -1000.])
    """
    # TODO: subtract the max (keepdims=True), then x - m - log(sum(exp(x - m)))
    raise NotImplementedError


# ----- task 4 ---------------------------------------------------------------------------------
def cross_entropy_from_logits(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the batch of -log_softmax(logits)[n, labels[n]], in nats.

    logits: (N, K) floats; labels: (N,) integers in 0..K-1. Returns a float.

    >>> round(cross_entropy_from_logits(np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]]),
    ...                                 np.array([0, 2])), 4)
    0.6342
    """
    # TODO: log_softmax, pick each row's label entry, average, negate
    raise NotImplementedError
