"""Alternative: layers as small classes (the object is the cache), einsum instead of @,
log-sum-exp cross-entropy, He initialisation for the hidden layers with a small output layer,
and the velocity convention v ← μv + g, p ← p − lr·v (the same parameter trajectory)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

Params = dict[str, np.ndarray]


class Affine:
    """One affine layer's forward and backward; the instance keeps what the backward needs."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W, self.b = W, b
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return np.einsum("nd,dm->nm", x, self.W) + self.b

    def backward(self, dout: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert self.x is not None
        dx = np.einsum("nm,dm->nd", dout, self.W)
        dW = np.einsum("nd,nm->dm", self.x, dout)
        db = np.einsum("nm->m", dout)
        return dx, dW, db


class ReLU:
    def __init__(self) -> None:
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x > 0
        return np.where(self.mask, x, 0.0)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        assert self.mask is not None
        return np.where(self.mask, dout, 0.0)


# ----- task 1: the function interface, on top of the classes --------------------------------------
def affine_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    layer = Affine(W, b)
    return layer.forward(x), layer


def affine_backward(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return cache.backward(dout)


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    layer = ReLU()
    return layer.forward(x), layer


def relu_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    return cache.backward(dout)


# ----- task 2 -----------------------------------------------------------------------------------
def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    n, c = logits.shape
    top = logits.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))  # log Σ exp, stably
    picked = np.take_along_axis(logits, y[:, None], axis=1)[:, 0]
    loss = np.mean(log_z - picked)
    one_hot = np.eye(c)[y]
    probs = np.exp(logits - log_z[:, None])
    return float(loss), (probs - one_hot) / n


# ----- task 3 -----------------------------------------------------------------------------------
def init_params(layer_sizes: list[int], rng: np.random.Generator) -> Params:
    params: Params = {}
    last = len(layer_sizes) - 1
    for layer in range(1, last + 1):
        fan_in, fan_out = layer_sizes[layer - 1], layer_sizes[layer]
        scale = np.sqrt(2.0 / fan_in) if layer < last else 0.01  # He for ReLU layers
        params[f"W{layer}"] = scale * rng.standard_normal((fan_in, fan_out))
        params[f"b{layer}"] = np.zeros(fan_out)
    return params


def _layers(params: Params) -> list[Any]:
    count = len(params) // 2
    layers: list[Any] = []
    for layer in range(1, count + 1):
        layers.append(Affine(params[f"W{layer}"], params[f"b{layer}"]))
        if layer < count:
            layers.append(ReLU())
    return layers


def loss_and_grads(params: Params, X: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
    layers = _layers(params)
    h = X
    for layer in layers:
        h = layer.forward(h)
    loss, dh = softmax_cross_entropy(h, y)
    grads: Params = {}
    number = len(params) // 2
    for layer in reversed(layers):
        if isinstance(layer, ReLU):
            dh = layer.backward(dh)
        else:
            dh, grads[f"W{number}"], grads[f"b{number}"] = layer.backward(dh)
            number -= 1
    return loss, grads


def predict(params: Params, X: np.ndarray) -> np.ndarray:
    h = X
    for layer in _layers(params):
        h = layer.forward(h)
    return np.argmax(h, axis=1)


# ----- task 4 -----------------------------------------------------------------------------------
def sgd_momentum_step(
    params: Params, grads: Params, velocity: Params, lr: float, momentum: float
) -> None:
    for name, grad in grads.items():
        velocity[name] = momentum * velocity[name] + grad
        params[name] = params[name] - lr * velocity[name]


# ----- task 5 -----------------------------------------------------------------------------------
def iterate_minibatches(
    X: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    n = len(X)
    order = np.arange(n)
    rng.shuffle(order)  # shuffles the index array, not the caller's data
    starts = np.arange(0, n, batch_size)
    for start in starts:
        index = order[start : min(start + batch_size, n)]
        yield np.take(X, index, axis=0), np.take(y, index)


# ----- task 6 -----------------------------------------------------------------------------------
def standardize(X_train: np.ndarray, X_other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0, ddof=1)  # the sample standard deviation: also fine
    std[std == 0] = 1.0
    return (X_train - mean) / std, (X_other - mean) / std


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
    total, count = 0.0, 0
    for X_batch, y_batch in iterate_minibatches(X, y, batch_size, rng):
        loss, grads = loss_and_grads(params, X_batch, y_batch)
        sgd_momentum_step(params, grads, velocity, lr, momentum)
        total += loss
        count += 1
    return total / count
