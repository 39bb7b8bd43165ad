"""Alternative: sums written as loops over the samples, a boolean mask as the ReLU's cache,
probabilities (after max-subtraction) instead of log-softmax, Xavier-uniform hidden layers with
an output layer that starts at exactly zero, in-place updates (+=, *=), and a list of batches
instead of a generator."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

Params = dict[str, np.ndarray]


# ----- task 1 -----------------------------------------------------------------------------------
def affine_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    out = np.dot(x, W)
    out += b
    return out, {"x": x, "W": W}


def affine_backward(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, W = cache["x"], cache["W"]
    dx = np.dot(dout, W.T)
    dW = np.zeros_like(W)
    db = np.zeros(W.shape[1])
    for i in range(x.shape[0]):  # the sum over the batch, one sample at a time
        dW += np.outer(x[i], dout[i])
        db += dout[i]
    return dx, dW, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    mask = x > 0
    return x * mask, mask


def relu_backward(dout: np.ndarray, cache: Any) -> np.ndarray:
    dx = dout.copy()
    dx[~cache] = 0.0
    return dx


# ----- task 2 -----------------------------------------------------------------------------------
def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    n = logits.shape[0]
    exps = np.exp(logits - np.max(logits, axis=1, keepdims=True))
    probs = exps / np.sum(exps, axis=1, keepdims=True)
    loss = 0.0
    for i in range(n):
        loss -= math.log(probs[i, y[i]])
    dlogits = probs.copy()
    for i in range(n):
        dlogits[i, y[i]] -= 1.0
    dlogits /= n
    return loss / n, dlogits


# ----- task 3 -----------------------------------------------------------------------------------
def init_params(layer_sizes: list[int], rng: np.random.Generator) -> Params:
    params: Params = {}
    last = len(layer_sizes) - 1
    for layer in range(1, last + 1):
        fan_in, fan_out = layer_sizes[layer - 1], layer_sizes[layer]
        if layer < last:
            limit = math.sqrt(6.0 / (fan_in + fan_out))  # Xavier (Glorot) uniform
            params[f"W{layer}"] = rng.uniform(-limit, limit, size=(fan_in, fan_out))
        else:
            # A zero output layer is fine: the hidden units already differ, and its gradient
            # hᵀ·dlogits differs per unit. The first loss is exactly ln C.
            params[f"W{layer}"] = np.zeros((fan_in, fan_out))
        params[f"b{layer}"] = np.zeros(fan_out)
    return params


def loss_and_grads(params: Params, X: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
    count = len(params) // 2
    stack = []
    h = X
    for layer in range(1, count + 1):
        h, cache = affine_forward(h, params[f"W{layer}"], params[f"b{layer}"])
        stack.append(("affine", layer, cache))
        if layer != count:
            h, cache = relu_forward(h)
            stack.append(("relu", layer, cache))
    loss, d = softmax_cross_entropy(h, y)
    grads: Params = {}
    while stack:
        kind, layer, cache = stack.pop()
        if kind == "relu":
            d = relu_backward(d, cache)
        else:
            d, grads[f"W{layer}"], grads[f"b{layer}"] = affine_backward(d, cache)
    return loss, grads


def predict(params: Params, X: np.ndarray) -> np.ndarray:
    count = len(params) // 2
    h = X
    for layer in range(1, count + 1):
        h = np.dot(h, params[f"W{layer}"]) + params[f"b{layer}"]
        if layer != count:
            h = np.maximum(h, 0)
    return np.array([int(np.argmax(row)) for row in h])


# ----- task 4 -----------------------------------------------------------------------------------
def sgd_momentum_step(
    params: Params, grads: Params, velocity: Params, lr: float, momentum: float
) -> None:
    for name in params:
        velocity[name] *= momentum
        velocity[name] -= lr * grads[name]
        params[name] += velocity[name]


# ----- task 5 -----------------------------------------------------------------------------------
def iterate_minibatches(
    X: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    order = rng.permutation(X.shape[0])
    batches = []
    start = 0
    while start < len(order):
        index = order[start : start + batch_size]
        batches.append((X[index], y[index]))
        start += batch_size
    return iter(batches)


# ----- task 6 -----------------------------------------------------------------------------------
def standardize(X_train: np.ndarray, X_other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X_train.mean(axis=0)
    centred = X_train - mean
    std = np.sqrt((centred**2).mean(axis=0))
    safe = np.ones_like(std)
    np.divide(std, 1.0, out=safe, where=std > 0)
    return centred / safe, (X_other - mean) / safe


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
    return sum(losses) / len(losses)
