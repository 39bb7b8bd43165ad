"""A neural network from scratch in NumPy: the file you edit.

Read README.md first. Shapes used throughout: N samples in a batch, D input features, M units of
a layer, C classes. Everything is float64; labels are integers in [0, C).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

Params = dict[str, np.ndarray]
"""{"W1": (D, H1), "b1": (H1,), "W2": (H1, H2), "b2": (H2,), ..., "WL": (H_{L-1}, C), "bL": (C,)}"""


# ----- task 1: layers ---------------------------------------------------------------------------
def affine_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    """out = x @ W + b, and a cache of whatever affine_backward will need.

    Args:
        x: (N, D) inputs, one row per sample.
        W: (D, M) weights.
        b: (M,) biases.

    Returns:
        ``(out, cache)``: out of shape (N, M); cache is yours to choose (e.g. ``(x, W)``).

    >>> out, cache = affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.arange(4.0))
    >>> out
    array([[3., 4., 5., 6.],
           [3., 4., 5., 6.]])
    """
    # TODO: one matrix product, plus b broadcast over the rows
    raise NotImplementedError


def affine_backward(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the loss with respect to x, W and b, given dout = dLoss/dout.

    Args:
        dout: (N, M), the upstream gradient (already carries the 1/N of a mean loss).
        cache: what affine_forward returned.

    Returns:
        ``(dx, dW, db)`` with the shapes of x (N, D), W (D, M) and b (M,).

    >>> out, cache = affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4))
    >>> dx, dW, db = affine_backward(np.ones((2, 4)), cache)
    >>> dx.shape, dW.shape, db
    ((2, 3), (3, 4), array([2., 2., 2., 2.]))
    """
    # TODO: dx = dout Wᵀ, dW = xᵀ dout, db = dout summed over the batch
    raise NotImplementedError


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """max(0, x) element-wise, and a cache for relu_backward. Must not change ``x``.

    >>> out, cache = relu_forward(np.array([[-1.0, 2.0], [3.0, -4.0]]))
    >>> out
    array([[0., 2.],
           [3., 0.]])
    """
    # TODO: element-wise maximum with 0 (np.maximum, not np.max)
    raise NotImplementedError


def relu_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    """dLoss/dx for the ReLU, shape of x: dout where the input was positive, 0 elsewhere.

    >>> out, cache = relu_forward(np.array([[-1.0, 2.0]]))
    >>> relu_backward(np.array([[5.0, 7.0]]), cache)
    array([[0., 7.]])
    """
    # TODO: multiply dout by the 0/1 mask of where x > 0
    raise NotImplementedError


# ----- task 2: softmax cross-entropy ------------------------------------------------------------
def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against labels y, and its gradient.

    Args:
        logits: (N, C) scores, any size (they may be in the thousands).
        y: (N,) integer labels in [0, C).

    Returns:
        ``(loss, dlogits)``: loss = mean over the N rows of -log softmax(logits)[i, y[i]], a
        float; dlogits of shape (N, C) is d loss / d logits.

    >>> loss, dlogits = softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
    >>> round(loss, 6), dlogits[0]
    (1.386294, array([-0.375,  0.125,  0.125,  0.125]))
    """
    # TODO: subtract each row's max first, then log-softmax; gradient (softmax − one-hot) / N
    raise NotImplementedError


# ----- task 3: the network ----------------------------------------------------------------------
def init_params(layer_sizes: list[int], rng: np.random.Generator) -> Params:
    """Random weights and zero biases for a network with the given layer widths.

    Args:
        layer_sizes: [D, H1, ..., C], e.g. [64, 64, 10]: L = len(layer_sizes) - 1 affine layers.
        rng: draw every random number from this generator.

    Returns:
        {"W1": (D, H1), "b1": (H1,), ..., "WL": (H_{L-1}, C), "bL": (C,)}.

    >>> params = init_params([64, 32, 10], np.random.default_rng(0))
    >>> {name: value.shape for name, value in params.items()}
    {'W1': (64, 32), 'b1': (32,), 'W2': (32, 10), 'b2': (10,)}
    """
    # TODO: small random weights (e.g. 0.01 * rng.standard_normal(shape)), zero biases
    raise NotImplementedError


def loss_and_grads(params: Params, X: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
    """Forward and backward pass: affine → ReLU → … → affine → softmax cross-entropy.

    Args:
        params: as from init_params, with any number L = len(params) // 2 of layers.
        X: (N, D) inputs.
        y: (N,) integer labels.

    Returns:
        ``(loss, grads)``: the mean loss (float) and a dict with the same keys and shapes as
        params holding d loss / d parameter. No ReLU after the last affine layer.
    """
    # TODO: keep each layer's caches on the way forward; walk them in reverse on the way back
    raise NotImplementedError


def predict(params: Params, X: np.ndarray) -> np.ndarray:
    """The predicted class of each row of X: (N,) integers, the index of the largest logit."""
    # TODO: the forward pass without the loss, then argmax over the classes
    raise NotImplementedError


# ----- task 4: SGD with momentum ----------------------------------------------------------------
def sgd_momentum_step(
    params: Params, grads: Params, velocity: Params, lr: float, momentum: float
) -> None:
    """One update of every parameter, in place (params and velocity are changed, nothing returned).

    For each name: v ← momentum · v − lr · grad, then p ← p + v. ``velocity`` starts as zeros
    shaped like params and carries v from one step to the next.

    >>> p, v = {"w": np.array([1.0])}, {"w": np.array([0.0])}
    >>> sgd_momentum_step(p, {"w": np.array([2.0])}, v, lr=0.1, momentum=0.9)
    >>> p["w"], v["w"]
    (array([0.8]), array([-0.2]))
    """
    # TODO: for name in params: new velocity first, then the parameter
    raise NotImplementedError


# ----- task 5: mini-batches ---------------------------------------------------------------------
def iterate_minibatches(
    X: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch, y_batch)`` pairs that cover every sample once, in a fresh random order.

    One call is one epoch: draw a new permutation from ``rng`` on every call. Batches hold
    ``batch_size`` rows except the last, which holds the rest. X and y are not changed.

    >>> rng = np.random.default_rng(0)
    >>> batches = list(iterate_minibatches(np.zeros((5, 2)), np.arange(5), 2, rng))
    >>> [len(y_batch) for _, y_batch in batches]
    [2, 2, 1]
    """
    # TODO: order = rng.permutation(len(X)); slice it in steps of batch_size
    raise NotImplementedError


# ----- task 6: training on digits ---------------------------------------------------------------
def standardize(X_train: np.ndarray, X_other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale both sets with the training set's per-feature mean and standard deviation.

    A feature whose training std is 0 is only centred (divided by 1). Inputs are not changed.

    >>> a, b = standardize(np.array([[0.0, 5.0], [2.0, 5.0]]), np.array([[4.0, 6.0]]))
    >>> a, b
    (array([[-1.,  0.],
           [ 1.,  0.]]), array([[3., 1.]]))
    """
    # TODO: statistics from X_train only (axis=0); np.where(std > 0, std, 1.0)
    raise NotImplementedError


def train_epoch(
    params: Params,
    velocity: Params,
    X: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    lr: float,
    momentum: float,
    rng: np.random.Generator,
) -> float:
    """One pass over (X, y) in mini-batches from iterate_minibatches(X, y, batch_size, rng).

    For each batch: loss_and_grads, then sgd_momentum_step (params and velocity change in place).

    Returns:
        The mean of the batch losses of this epoch, a float.
    """
    # TODO: call iterate_minibatches with the rng you were given: a new order every epoch
    raise NotImplementedError
