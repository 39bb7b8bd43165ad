# expect: 1 subtracted in every row at every label's column
"""Mistake: dlogits[:, y] -= 1 subtracts 1 in every row at every label's column, not one entry per
row."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import numpy as np

Params = dict[str, np.ndarray]


# ----- task 1: layers ---------------------------------------------------------------------------
def affine_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    out = x @ W + b
    return out, (x, W)


def affine_backward(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, W = cache
    dx = dout @ W.T
    dW = x.T @ dout
    db = dout.sum(axis=0)
    return dx, dW, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    out = np.maximum(x, 0.0)
    return out, x


def relu_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    x = cache
    return dout * (x > 0)


# ----- task 2: softmax cross-entropy ------------------------------------------------------------
def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].mean()
    dlogits = np.exp(log_probs)
    dlogits[:, y] -= 1.0
    return float(loss), dlogits / n


# ----- task 3: the network ----------------------------------------------------------------------
def init_params(layer_sizes: list[int], rng: np.random.Generator) -> Params:
    params: Params = {}
    for layer, (fan_in, fan_out) in enumerate(pairwise(layer_sizes), start=1):
        params[f"W{layer}"] = 0.01 * rng.standard_normal((fan_in, fan_out))
        params[f"b{layer}"] = np.zeros(fan_out)
    return params


def loss_and_grads(params: Params, X: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
    num_layers = len(params) // 2
    caches = []
    h = X
    for layer in range(1, num_layers + 1):
        h, affine_cache = affine_forward(h, params[f"W{layer}"], params[f"b{layer}"])
        relu_cache = None
        if layer < num_layers:
            h, relu_cache = relu_forward(h)
        caches.append((affine_cache, relu_cache))
    loss, dh = softmax_cross_entropy(h, y)
    grads: Params = {}
    for layer in range(num_layers, 0, -1):
        affine_cache, relu_cache = caches[layer - 1]
        if relu_cache is not None:
            dh = relu_backward(dh, relu_cache)
        dh, grads[f"W{layer}"], grads[f"b{layer}"] = affine_backward(dh, affine_cache)
    return loss, grads


def predict(params: Params, X: np.ndarray) -> np.ndarray:
    num_layers = len(params) // 2
    h = X
    for layer in range(1, num_layers + 1):
        h, _ = affine_forward(h, params[f"W{layer}"], params[f"b{layer}"])
        if layer < num_layers:
            h, _ = relu_forward(h)
    return h.argmax(axis=1)


# ----- task 4: SGD with momentum ----------------------------------------------------------------
def sgd_momentum_step(
    params: Params, grads: Params, velocity: Params, lr: float, momentum: float
) -> None:
    for name in params:
        velocity[name] = momentum * velocity[name] - lr * grads[name]
        params[name] = params[name] + velocity[name]


# ----- task 5: mini-batches ---------------------------------------------------------------------
def iterate_minibatches(
    X: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    order = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        index = order[start : start + batch_size]
        yield X[index], y[index]


# ----- task 6: training on digits ---------------------------------------------------------------
def standardize(X_train: np.ndarray, X_other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
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
    losses = []
    for X_batch, y_batch in iterate_minibatches(X, y, batch_size, rng):
        loss, grads = loss_and_grads(params, X_batch, y_batch)
        sgd_momentum_step(params, grads, velocity, lr, momentum)
        losses.append(loss)
    return float(np.mean(losses))
