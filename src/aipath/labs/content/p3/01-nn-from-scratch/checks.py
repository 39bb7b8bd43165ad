"""Checks for p3-nn-from-scratch: every backward pass against central differences (relative error
≤ 1e-7 in float64), the stable softmax on huge logits, the initialisation (shapes, symmetry, a
first loss of ln 10), the exact momentum update, the mini-batch order from one epoch to the next,
and held-out accuracy on the digits within an epoch budget.

Every reference is computed here, in NumPy, from copies: the learner's functions never see an
array the check later trusts. The training check drives the epochs itself and measures accuracy
with its own forward pass on the learner's parameters.
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
import sklearn.datasets  # noqa: F401  (digits() loads from it: imported here, a warm worker preloads it)
from threadpoolctl import threadpool_limits

from aipath.checks import (
    CheckFailure,
    assert_array,
    assert_close,
    assert_reaches,
    assert_returned,
    digits,
    fail,
    forbid_calls,
    gradient_check,
    matching_mistake,
)

threadpool_limits(1)  # tiny matrices: threads only add overhead on a shared 2-core machine

LN10 = math.log(10.0)
TRAIN_SIZES = [64, 64, 10]
TRAIN = {"batch_size": 32, "lr": 0.05, "momentum": 0.9}
MAX_EPOCHS = 15
TARGET = 0.96


# ----- references -------------------------------------------------------------------------------
def ref_ce(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(mean loss, dlogits, softmax probabilities), stable for any logits."""
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    probs = np.exp(log_probs)
    grad = probs.copy()
    grad[np.arange(n), y] -= 1.0
    return float(-log_probs[np.arange(n), y].mean()), grad / n, probs


def num_layers(params: dict[str, np.ndarray]) -> int:
    return len(params) // 2


def ref_logits(params: dict[str, np.ndarray], X: np.ndarray, relu_last: bool = False) -> np.ndarray:
    h = X
    L = num_layers(params)
    for layer in range(1, L + 1):
        h = h @ params[f"W{layer}"] + params[f"b{layer}"]
        if layer < L or relu_last:
            h = np.maximum(h, 0.0)
    return h


def ref_loss(
    params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray, relu_last: bool = False
) -> float:
    return ref_ce(ref_logits(params, X, relu_last), y)[0]


def ref_grads(
    params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray, relu_last: bool = False
) -> dict[str, np.ndarray]:
    L = num_layers(params)
    inputs, pre = [], []
    h = X
    for layer in range(1, L + 1):
        inputs.append(h)
        z = h @ params[f"W{layer}"] + params[f"b{layer}"]
        pre.append(z)
        h = np.maximum(z, 0.0) if (layer < L or relu_last) else z
    _loss, dh, _p = ref_ce(h, y)
    grads = {}
    for layer in range(L, 0, -1):
        if layer < L or relu_last:
            dh = dh * (pre[layer - 1] > 0)
        grads[f"W{layer}"] = inputs[layer - 1].T @ dh
        grads[f"b{layer}"] = dh.sum(axis=0)
        dh = dh @ params[f"W{layer}"].T
    return grads


def ref_init(
    sizes: list[int], rng: np.random.Generator, scale: float = 0.01
) -> dict[str, np.ndarray]:
    params = {}
    for layer, (fan_in, fan_out) in enumerate(pairwise(sizes), start=1):
        params[f"W{layer}"] = scale * rng.standard_normal((fan_in, fan_out))
        params[f"b{layer}"] = np.zeros(fan_out)
    return params


@functools.lru_cache(maxsize=1)
def _digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A fixed, seeded split of the 1,797 digits: 1,437 to train on, 360 held out; standardized
    with the training statistics (a constant pixel is only centred)."""
    X, y = digits()
    order = np.random.default_rng(0).permutation(len(X))
    train, held = order[:1437], order[1437:]
    mean = X[train].mean(axis=0)
    std = X[train].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (X[train] - mean) / std, y[train], (X[held] - mean) / std, y[held]


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return tuple(a.copy() for a in _digits_split())  # type: ignore[return-value]


# ----- helpers ----------------------------------------------------------------------------------
def unpack(result: Any, name: str, parts: str, count: int) -> tuple[Any, ...]:
    """The learner's tuple result, or a message that says what was expected."""
    assert_returned(result, name)
    if (
        isinstance(result, np.ndarray)
        or not isinstance(result, tuple | list)
        or len(result) != count
    ):
        what = f"a {type(result).__name__}"
        if isinstance(result, tuple | list):
            what += f" of length {len(result)}"
        fail(f"{name} should return a tuple {parts}; got {what}")
    return tuple(result)


def as_float_array(value: Any, name: str) -> np.ndarray:
    assert_returned(value, name)
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{name} should be an array of numbers; got {type(value).__name__}")


def check_backward(
    got: Any,
    f: Any,
    x: np.ndarray,
    name: str,
    of: str,
    mistakes: dict[str, Any],
    shape_clues: dict[tuple[int, ...], str] | None = None,
) -> None:
    """Central differences on ``f`` at ``x``; a failure is named when it equals a known slip.

    ``shape_clues`` explains a wrong shape that gives a mistake away (e.g. a bias gradient with
    one entry per sample)."""
    arr = as_float_array(got, name)
    if arr.shape != x.shape:
        label = matching_mistake(arr, mistakes)
        prefix = f"{name} looks like {label}. " if label else ""
        clue = (shape_clues or {}).get(arr.shape, "")
        fail(f"{prefix}{name} has shape {arr.shape}; expected {x.shape}, the shape of {of}{clue}")
    try:
        gradient_check(f, np.array(x, dtype=np.float64), arr, tol=1e-7, name=name)
    except CheckFailure as failure:
        label = matching_mistake(arr, mistakes)
        if label:
            fail(f"{name} looks like {label}. {failure}")
        raise


def away_from_zero(values: np.ndarray, gap: float = 0.05) -> np.ndarray:
    """Values with no entry closer than ``gap`` to 0, so central differences never cross a kink."""
    return np.where(values >= 0, np.maximum(values, gap), np.minimum(values, -gap))


def check_params(params: Any, sizes: list[int], name: str) -> dict[str, np.ndarray]:
    """The learner's parameter dict: the right keys, shapes and numbers; a message otherwise."""
    assert_returned(params, name)
    if not isinstance(params, dict):
        fail(f"{name} should be a dict like {{'W1': ..., 'b1': ...}}; got {type(params).__name__}")
    L = len(sizes) - 1
    want = [f"{kind}{layer}" for layer in range(1, L + 1) for kind in ("W", "b")]
    missing = [k for k in want if k not in params]
    extra = [k for k in params if k not in want]
    if missing or extra:
        fail(
            f"{name} for layer sizes {sizes} has the keys {sorted(params)}; expected {want} "
            f"(W1, b1 for the first affine layer, up to W{L}, b{L})"
        )
    out = {}
    for layer in range(1, L + 1):
        fan_in, fan_out = sizes[layer - 1], sizes[layer]
        W = as_float_array(params[f"W{layer}"], f"{name}['W{layer}']")
        b = as_float_array(params[f"b{layer}"], f"{name}['b{layer}']")
        if W.shape != (fan_in, fan_out):
            flipped = (
                " (transposed: rows are the inputs, columns the units)"
                if W.shape == (fan_out, fan_in)
                else ""
            )
            fail(f"{name}['W{layer}'] has shape {W.shape}; expected {(fan_in, fan_out)}{flipped}")
        if b.shape != (fan_out,):
            fail(f"{name}['b{layer}'] has shape {b.shape}; expected {(fan_out,)}, a 1-D array")
        out[f"W{layer}"], out[f"b{layer}"] = W, b
    return out


def relu_safe_params(
    sizes: list[int], X: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Parameters of a fair size whose hidden pre-activations on X all keep away from 0."""
    for _ in range(200):
        params = ref_init(sizes, rng, scale=0.8)
        for layer in range(1, len(sizes)):
            params[f"b{layer}"] = 0.3 * rng.standard_normal(sizes[layer])
        h, safe = X, True
        for layer in range(1, len(sizes)):
            z = h @ params[f"W{layer}"] + params[f"b{layer}"]
            if layer < len(sizes) - 1:
                safe &= bool(np.abs(z).min() > 1e-3)
                z = np.maximum(z, 0.0)
            h = z
        if safe:
            return params
    raise RuntimeError("no parameters away from the ReLU kinks")  # pragma: no cover


# ----- task 1: layers ---------------------------------------------------------------------------
N, D, M = 7, 4, 5  # batch, inputs, units: all different, so a shape names its axis


def affine_case(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return (
        rng.normal(size=(N, D)),
        rng.normal(size=(D, M)),
        rng.normal(size=M),
        rng.normal(size=(N, M)),
    )


@pytest.mark.task(1)
def test_affine_forward(learner, rng):
    x, W, b, _ = affine_case(rng)
    result = learner.affine_forward(x.copy(), W.copy(), b.copy())
    out, _cache = unpack(result, "affine_forward(x, W, b)", "(out, cache)", 2)
    assert_array(
        as_float_array(out, "out"),
        x @ W + b,
        name=f"affine_forward's out for x {x.shape}, W {W.shape}, b {b.shape}",
        rtol=1e-10,
        mistakes={"x @ W without the bias b": x @ W, "x @ W − b: the bias is added": x @ W - b},
    )


@pytest.mark.task(1)
def test_affine_backward(learner, rng):
    x, W, b, dout = affine_case(rng)
    _out, cache = unpack(
        learner.affine_forward(x.copy(), W.copy(), b.copy()),
        "affine_forward(x, W, b)",
        "(out, cache)",
        2,
    )
    result = learner.affine_backward(dout.copy(), cache)
    dx, dW, db = unpack(result, "affine_backward(dout, cache)", "(dx, dW, db)", 3)
    dx, dW, db = (as_float_array(v, n) for v, n in ((dx, "dx"), (dW, "dW"), (db, "db")))
    shapes = f"for x {x.shape}, W {W.shape}, b {b.shape}, dout {dout.shape}"
    if db.shape != (M,):
        if db.shape == (N,) and np.allclose(db, dout.sum(axis=1)):
            fail(
                f"db has shape {db.shape} {shapes}; expected {(M,)}, one entry per output unit "
                "like b. It is dout summed over axis 1 (the units, giving one number per sample): "
                "a bias gradient sums over axis 0, the batch — db = dout.sum(axis=0)"
            )
        if db.shape == (1, M):
            fail(
                f"db has shape (1, {M}) {shapes}; expected {(M,)}, the shape of b: sum over axis 0 "
                "without keepdims=True"
            )
        if db.shape == (N, M):
            fail(
                f"db has shape {db.shape}, the shape of dout {shapes}; sum it over the batch, "
                "axis 0"
            )
        if db.shape == ():
            fail(
                f"db is one number {shapes}, the sum of all of dout; expected shape {(M,)}: sum "
                "over axis 0 (the batch) only"
            )
    if dW.shape == (M, D):
        fail(f"dW has shape {dW.shape} {shapes}, the transpose of W's {W.shape}: dW = x.T @ dout")
    twice = (
        f"divided by the batch size N = {N}: dout already carries the 1/N of the mean loss (it "
        "comes from softmax_cross_entropy), so a layer's backward must not divide again"
    )
    check_backward(
        dx,
        lambda v: float(np.sum((v @ W + b) * dout)),
        x,
        "dx",
        f"x {shapes}",
        {twice: dout @ W.T / N},
    )
    check_backward(
        dW,
        lambda v: float(np.sum((x @ v + b) * dout)),
        W,
        "dW",
        f"W {shapes}",
        {twice: x.T @ dout / N},
    )
    check_backward(
        db,
        lambda v: float(np.sum((x @ W + v) * dout)),
        b,
        "db",
        f"b {shapes}",
        {
            twice: dout.sum(axis=0) / N,
            "the mean of dout over the batch: sum it (axis 0)": dout.mean(axis=0),
        },
    )


def relu_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return away_from_zero(rng.normal(size=(6, 5))), rng.normal(size=(6, 5))


@pytest.mark.task(1)
def test_relu_forward(learner, rng):
    x, _ = relu_case(rng)
    given = x.copy()
    out, _cache = unpack(learner.relu_forward(given), "relu_forward(x)", "(out, cache)", 2)
    if not np.array_equal(given, x):
        zeroed = np.array_equal(given, np.maximum(x, 0.0))
        fail(
            "relu_forward changed the caller's x in place"
            + (" (its negative entries are now 0)" if zeroed else "")
            + ": the layer's input must stay as it was — compute a new array, np.maximum(x, 0)"
        )
    assert_array(
        as_float_array(out, "out"),
        np.maximum(x, 0.0),
        name=f"relu_forward's out for x of shape {x.shape}",
        rtol=1e-12,
        mistakes={
            "np.max(x, 0), the maximum over axis 0 (a reduction), not the element-wise "
            "np.maximum(x, 0)": x.max(axis=0),
            "|x|: negative inputs must become 0": np.abs(x),
        },
    )


@pytest.mark.task(1)
def test_relu_backward(learner, rng):
    x, dout = relu_case(rng)
    _out, cache = unpack(learner.relu_forward(x.copy()), "relu_forward(x)", "(out, cache)", 2)
    dx = learner.relu_backward(dout.copy(), cache)
    check_backward(
        dx,
        lambda v: float(np.sum(np.maximum(v, 0.0) * dout)),
        x,
        "relu_backward's dx",
        f"x {x.shape}",
        {
            "the gradient on the wrong side: dout kept where x < 0. The ReLU passes its input "
            "through where x > 0, so that is where the gradient flows: dout * (x > 0)": dout
            * (x < 0),
            "dout multiplied by the ReLU's output values max(0, x): the local derivative is the "
            "0/1 mask (x > 0), not the output": dout * np.maximum(x, 0.0),
            "dout passed through unmasked: the ReLU blocks the gradient where x ≤ 0": dout,
            "the 0/1 mask alone: multiply it by dout (the chain rule)": (x > 0).astype(float),
        },
    )


# ----- task 2: softmax cross-entropy ------------------------------------------------------------
@pytest.mark.task(2)
def test_softmax_cross_entropy(learner, rng):
    n, c = 8, 10
    logits = 2.0 * rng.normal(size=(n, c))
    y = rng.integers(0, c, size=n)
    loss, dlogits = unpack(
        learner.softmax_cross_entropy(logits.copy(), y.copy()),
        "softmax_cross_entropy(logits, y)",
        "(loss, dlogits)",
        2,
    )
    want, grad, probs = ref_ce(logits, y)
    column_max = (
        "each column's max subtracted (logits.max(axis=0), a max over the batch) instead of each "
        "row's: softmax is unchanged only when one number is subtracted from a whole row, so "
        "subtract logits.max(axis=1, keepdims=True)"
    )
    col_loss, col_grad, _ = ref_ce(logits - logits.max(axis=0, keepdims=True), y)
    assert_close(
        loss,
        want,
        name=f"the loss for logits {logits.shape}",
        rtol=1e-9,
        mistakes={
            f"the sum over the batch: the loss is the mean over the N = {n} rows": want * n,
            "the cross-entropy without its minus sign": -want,
            column_max: col_loss,
        },
    )
    every_row = probs.copy()
    every_row[:, y] -= 1.0
    check_backward(
        dlogits,
        lambda v: ref_ce(v, y)[0],
        logits,
        "dlogits",
        f"logits {logits.shape}",
        {
            f"the gradient not averaged over the batch: softmax − one-hot is the gradient of the "
            f"summed loss, N = {n} times too large. The loss is a mean over the batch, so divide "
            "by N": grad * n,
            "the softmax probabilities alone: subtract 1 at each row's label, then divide "
            "by N": probs,
            "the softmax probabilities / N: subtract 1 at each row's label first": probs / n,
            "a sign error: it is (softmax − one-hot) / N": -grad,
            "1 subtracted in every row at every label's column: dlogits[:, y] -= 1 picks all "
            "rows × the columns y. Pair each row with its own label, dlogits[np.arange(N), y] -= 1 "
            "(or subtract a one-hot matrix)": every_row / n,
            column_max: col_grad,
        },
    )


@pytest.mark.task(2)
def test_softmax_cross_entropy_on_large_logits(learner, rng):
    base = 3.0 * rng.normal(size=(6, 10))
    logits = base + np.array([[1000.0], [-1000.0], [710.0], [0.0], [2000.0], [-800.0]])
    y = rng.integers(0, 10, size=6)
    want, grad, _ = ref_ce(logits, y)

    def run(values: np.ndarray) -> tuple[float, np.ndarray, bool]:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss, dlogits = unpack(
                learner.softmax_cross_entropy(values.copy(), y.copy()),
                "softmax_cross_entropy(logits, y)",
                "(loss, dlogits)",
                2,
            )
        loss = float(assert_returned(loss, "loss"))
        dlogits = as_float_array(dlogits, "dlogits")
        return loss, dlogits, bool(np.isfinite(loss) and np.all(np.isfinite(dlogits)))

    loss, dlogits, finite = run(logits)
    if not finite:
        bad = int(np.sum(~np.isfinite(dlogits)))
        what = f"loss {loss:g} and {bad} non-finite entries in dlogits"
        shifted = logits - logits.max(axis=1, keepdims=True)
        loss2, _d2, finite2 = run(shifted)
        loss3, _d3, finite3 = run(shifted + 1000.0)
        if finite2 and finite3 and math.isclose(loss3, want, rel_tol=1e-9):
            fail(
                f"softmax_cross_entropy on logits of size up to 2000 gives {what}, yet it gives "
                f"the right loss {want:.6g} when every logit is shifted by the same 1000: it "
                "handles a shift of the whole batch but not rows of very different sizes (here "
                "from −1000 to 2000). That looks like one max subtracted for the whole batch "
                "(logits.max() without axis=1): every row far below the largest logit underflows "
                "to exp(−1000) = 0 in every entry, and 0 / 0 is nan. Subtract each row's own max, "
                "logits.max(axis=1, keepdims=True)"
            )
        if finite2 and math.isclose(loss2, want, rel_tol=1e-9):
            fail(
                f"softmax_cross_entropy on logits of size up to 2000 gives {what}, yet on the "
                f"same logits with each row's max subtracted it gives the right loss {want:.6g}: "
                "that is softmax without the max-subtraction. np.exp overflows (exp(1000) is inf "
                "in float64, and inf / inf is nan) or underflows to 0 in every entry of a row "
                "(exp(−1000), and 0 / 0 is nan). Subtract each row's max logit before np.exp: "
                "shifting a row does not change its softmax"
            )
        fail(
            f"softmax_cross_entropy on logits of size up to 2000 gives {what}; expected loss "
            f"{want:.6g}"
        )
    assert_close(loss, want, name="the loss for logits of size up to 2000", rtol=1e-9)
    assert_array(
        dlogits,
        grad,
        name="dlogits for logits of size up to 2000",
        rtol=1e-7,
        atol=1e-12,
        mistakes={
            "the gradient not averaged over the batch (N = 6 times too large): divide by N": grad
            * 6
        },
    )
    check_confidently_wrong(learner)


def check_confidently_wrong(learner: Any) -> None:
    """Rows whose label's logit lies far below the row's max (a confident, wrong prediction): the
    right loss is about the gap. The gaps keep the label's probability representable in float64
    (e^−400 ≈ 2e-174), so −log(softmax) is exact here too; a probability clipped or padded with
    ε before the log caps the loss at −log ε, the same for every gap."""
    n, c = 4, 10

    def case(gap: float) -> tuple[np.ndarray, np.ndarray, float]:
        logits = 3.0 * np.random.default_rng(11).normal(size=(n, c))
        y = np.arange(n) % c
        others = np.where(np.eye(c, dtype=bool)[y], -np.inf, logits)
        logits[np.arange(n), y] = others.max(axis=1) - gap
        return logits, y, ref_ce(logits, y)[0]

    results = {}
    for gap in (50.0, 200.0, 400.0):
        logits, y, want = case(gap)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss, _dlogits = unpack(
                learner.softmax_cross_entropy(logits.copy(), y.copy()),
                "softmax_cross_entropy(logits, y)",
                "(loss, dlogits)",
                2,
            )
        results[gap] = (float(assert_returned(loss, "loss")), want)
    for gap, (loss, want) in results.items():
        if math.isclose(loss, want, rel_tol=1e-9):
            continue
        name = f"the loss for rows whose label's logit is {gap:g} below the row's max"
        capped = results[400.0][0]
        if (
            math.isfinite(loss)
            and loss < want
            and math.isclose(results[200.0][0], capped, rel_tol=1e-6)
        ):
            fail(
                f"{name} is {loss:.6g}; expected {want:.6g}. It is {capped:.6g} for a gap of "
                "200 and of 400 alike: the loss is capped, as when the probability is clipped or "
                f"padded with a small ε before the log (−log ε = {capped:.3g}, e.g. "
                "np.log(p + 1e-12) or np.clip), though p itself (about e^−gap) is still a "
                "float64 number. A confidently wrong prediction must cost its full −log p: take "
                "the log of p itself, or better, compute log p = shifted − log Σ exp(shifted)"
            )
        assert_close(loss, want, name=name, rtol=1e-9)


# ----- task 3: the network ----------------------------------------------------------------------
@pytest.mark.task(3)
def test_init_params_shapes_and_rng(learner):
    sizes = [6, 5, 4, 3]
    first = check_params(
        learner.init_params(list(sizes), np.random.default_rng(0)), sizes, "init_params"
    )
    again = check_params(
        learner.init_params(list(sizes), np.random.default_rng(0)), sizes, "init_params"
    )
    if any(not np.array_equal(first[k], again[k]) for k in first):
        fail(
            "init_params with two generators seeded alike (np.random.default_rng(0)) gave "
            "different weights: init_params must draw its random numbers from rng (np.random.randn "
            "or a new np.random.default_rng() use other generators), so a run can be repeated"
        )
    other = check_params(
        learner.init_params(list(sizes), np.random.default_rng(1)), sizes, "init_params"
    )
    constant = all(np.ptp(first[f"W{layer}"]) == 0 for layer in range(1, len(sizes)))
    if not constant and all(np.array_equal(first[k], other[k]) for k in first):
        fail(
            "init_params gave the same weights for np.random.default_rng(0) and default_rng(1): "
            "draw them from the rng you are given (not from a generator seeded inside)"
        )


@pytest.mark.task(3)
def test_init_params_breaks_symmetry(learner):
    sizes = [64, 32, 16, 10]
    params = check_params(
        learner.init_params(list(sizes), np.random.default_rng(0)), sizes, "init_params"
    )
    for layer in range(1, len(sizes) - 1):  # hidden layers; the output layer may start at zero
        W, b = params[f"W{layer}"], params[f"b{layer}"]
        units = np.vstack([W, b[None, :]]).T  # one row per hidden unit: its weights and bias
        _, first_seen, counts = np.unique(units, axis=0, return_index=True, return_counts=True)
        if counts.max() == 1:
            continue
        row = units[first_seen[np.argmax(counts)]]
        twins = np.flatnonzero(np.all(units == row, axis=1))
        what = (
            f"W{layer} is all zeros"
            if not np.any(W)
            else (
                f"W{layer}[:, {twins[0]}] and W{layer}[:, {twins[1]}] are equal (and so are "
                "their biases)"
            )
        )
        fail(
            f"{what}: {len(twins)} of the {W.shape[1]} hidden units of layer {layer} start "
            "identical, so they compute the same value, receive the same gradient and stay "
            "identical however long you train — the symmetry is never broken. Draw the weights "
            "at random from rng; only the biases (and the output layer) may start at zero"
        )


@pytest.mark.task(3)
def test_loss_at_init_is_ln10(learner):
    X_train, y_train, _, _ = digits_split()
    params = check_params(
        learner.init_params(list(TRAIN_SIZES), np.random.default_rng(0)), TRAIN_SIZES, "init_params"
    )
    loss = ref_loss(params, X_train, y_train)
    if not math.isfinite(loss) or abs(loss - LN10) > 0.05:
        logits = ref_logits(params, X_train)
        stds = ", ".join(
            f"W{layer} {params[f'W{layer}'].std():.3g}" for layer in range(1, len(TRAIN_SIZES))
        )
        fail(
            f"the loss at initialisation ({TRAIN_SIZES} on the standardized training digits) is "
            f"{loss:.4g}; with small random weights all 10 classes start near probability 1/10, "
            f"so it should be within 0.05 of ln 10 = {LN10:.4f}. The largest |logit| is "
            f"{np.abs(logits).max():.3g}, the weights' standard deviations are {stds}: start with "
            "smaller weights (e.g. 0.01 × rng.standard_normal), at least in the output layer"
        )


def network_case(
    rng: np.random.Generator, sizes: list[int]
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    X = rng.normal(size=(8, sizes[0]))
    y = rng.integers(0, sizes[-1], size=8)
    return relu_safe_params(sizes, X, rng), X, y


def repeated_mean(got: Any, want: np.ndarray, n: int, name: str) -> None:
    """Name a gradient that is N^k times the right one for k ≠ 0, ±1 (the ±1 cases are named
    by check_backward): the 1/N of the mean applied in several layers, or in none of them."""
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return
    if arr.shape != want.shape or not np.any(want):
        return
    for k in (-4, -3, -2, 2, 3, 4):
        if np.allclose(arr, want * float(n) ** k, rtol=1e-9, atol=1e-15):
            fail(
                f"{name} is 1/{n}^{-k} of the right gradient (N = {n}): the 1/N of the mean loss "
                "was applied more than once — it belongs in softmax_cross_entropy's gradient "
                "only; the layers' backward passes must not divide by the batch size again"
                if k < 0
                else f"{name} is {n}^{k} times the right gradient (N = {n}): the backward passes "
                "multiply by the batch size; the only batch-size factor is the 1/N in "
                "softmax_cross_entropy's gradient"
            )


def bias_clues(name: str, n: int, shape: tuple[int, ...]) -> dict[tuple[int, ...], str]:
    if not name.startswith("b") or shape == (n,):
        return {}
    return {
        (n,): f": one entry per sample (N = {n}), as if dout were reduced over axis 1 (the "
        "units); a bias gradient sums over axis 0, the batch",
        (1, *shape): ": drop keepdims=True when summing over axis 0",
    }


@pytest.mark.task(3)
@pytest.mark.parametrize(
    "sizes", [[6, 5, 3], [6, 5, 4, 3]], ids=["one-hidden-layer", "two-hidden-layers"]
)
def test_loss_and_grads(learner, learner_file, rng, sizes):
    params, X, y = network_case(rng, sizes)
    given = copy.deepcopy(params)
    n = len(y)
    try:
        result = learner.loss_and_grads(given, X.copy(), y.copy())
    except NotImplementedError:
        raise
    except Exception as exc:
        if len(sizes) > 3:
            fail(
                f"loss_and_grads raises {type(exc).__name__} ({str(exc)[:120]}) for layer sizes "
                f"{sizes}, two hidden layers: loop over the L = len(params) // 2 layers instead "
                "of naming W1 and W2"
            )
        raise
    forbid_calls(
        learner_file,
        ["torch", "jax", "autograd", "tensorflow", "keras", "MLPClassifier"],
        "write the backward pass yourself with NumPy: this lab is about what those libraries "
        "do for you",
    )
    if any(not np.array_equal(given[k], params[k]) for k in params):
        fail("loss_and_grads changed the arrays in params: it must only read them")
    loss, grads = unpack(result, "loss_and_grads(params, X, y)", "(loss, grads)", 2)
    where = f"layer sizes {sizes}, X {X.shape}"
    relu_last = (
        "a ReLU after the last affine layer too: the logits go to the softmax as they are, no ReLU"
    )
    two_layers = {}
    if len(sizes) > 3:
        first_two = {k: params[k] for k in ("W1", "b1", "W2", "b2")}
        two_layers[
            f"the loss of the first two layers only (W1, W2): these params have L = "
            f"len(params) // 2 = {len(sizes) - 1} affine layers; loop over all of them instead "
            "of naming W1 and W2"
        ] = ref_loss(first_two, X, y)
    assert_close(
        loss,
        ref_loss(params, X, y),
        name=f"the loss ({where})",
        rtol=1e-9,
        mistakes={
            f"the summed loss: it is the mean over the N = {n} samples": ref_loss(params, X, y) * n,
            relu_last: ref_loss(params, X, y, relu_last=True),
            **two_layers,
        },
    )
    if not isinstance(grads, dict) or sorted(grads) != sorted(params):
        keys = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
        fail(f"grads should be a dict with the keys of params {sorted(params)}; got {keys}")
    want = ref_grads(params, X, y)
    wrong_relu = ref_grads(params, X, y, relu_last=True)
    for name in params:

        def f(value, name=name):
            trial = dict(params)
            trial[name] = value
            return ref_loss(trial, X, y)

        repeated_mean(grads[name], want[name], n, f"grads['{name}']")
        check_backward(
            grads[name],
            f,
            params[name],
            f"grads['{name}']",
            f"params['{name}'] ({where})",
            {
                f"a gradient not averaged over the batch ({n} × too large): the loss is the mean "
                "over the batch, so the gradient carries a 1/N": want[name] * n,
                f"a gradient divided by the batch size twice (1/{n} of the right one): the 1/N "
                "belongs in softmax_cross_entropy's gradient only": want[name] / n,
                relu_last: wrong_relu[name],
            },
            shape_clues=bias_clues(name, n, params[name].shape),
        )


@pytest.mark.task(3)
def test_predict(learner, rng):
    sizes = [6, 5, 4, 3]
    X = rng.normal(size=(12, sizes[0]))
    params = relu_safe_params(sizes, X, rng)
    logits = ref_logits(params, X)
    got = np.asarray(
        assert_returned(learner.predict(copy.deepcopy(params), X.copy()), "predict(params, X)")
    )
    if got.shape == logits.shape:
        fail(
            f"predict returned shape {got.shape}, one row of scores per sample; expected "
            f"({len(X)},): the index of each row's largest logit, argmax over axis 1"
        )
    assert_array(
        got,
        logits.argmax(axis=1),
        name=f"predict(params, X) for X {X.shape}",
        exact=True,
        mistakes={
            "argmax over axis 0 (the samples) instead of axis 1 (the classes)": logits.argmax(
                axis=0
            )
        },
    )


# ----- task 4: SGD with momentum ----------------------------------------------------------------
def momentum_runs(p0, grads, lr, mu):
    """The parameters after each step: the right update and three known slips."""

    def run(update):
        p = {k: v.copy() for k, v in p0.items()}
        v = {k: np.zeros_like(a) for k, a in p0.items()}
        out = []
        for g in grads:
            for k in p:
                p[k], v[k] = update(p[k], v[k], g[k])
            out.append({k: a.copy() for k, a in p.items()})
        return out

    return {
        "right": run(lambda p, v, g: (p + (mu * v - lr * g), mu * v - lr * g)),
        "plain SGD, p ← p − lr · grad: the momentum has no effect. Use it, and store the new "
        "velocity in velocity[name] for the next step": run(lambda p, v, g: (p - lr * g, v)),
        "the parameters moved with the old velocity: compute v ← momentum · v − lr · grad "
        "first, then p ← p + v": run(lambda p, v, g: (p + v, mu * v - lr * g)),
        "a step up the gradient (a sign error): v ← momentum · v − lr · grad": run(
            lambda p, v, g: (p + (mu * v + lr * g), mu * v + lr * g)
        ),
        "the dampened form v ← momentum · v + (1 − momentum) · grad, p ← p − lr · v (an "
        "exponential average of the gradients, as in Adam's first moment): every step is "
        "(1 − momentum) times too small. Here the gradient enters undamped: v ← momentum · v "
        "− lr · grad, p ← p + v": run(
            lambda p, v, g: (
                p - lr * (mu * v + (1 - mu) * g),
                mu * v + (1 - mu) * g,
            )
        ),
    }


@pytest.mark.task(4)
def test_sgd_momentum_step(learner, rng):
    p0 = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=2)}
    grads = [{k: rng.normal(size=v.shape) for k, v in p0.items()} for _ in range(3)]
    lr, mu = 0.1, 0.9
    runs = momentum_runs(p0, grads, lr, mu)
    params = {k: v.copy() for k, v in p0.items()}
    velocity = {k: np.zeros_like(v) for k, v in p0.items()}
    snapshots, returned = [], None
    for g in grads:
        returned = learner.sgd_momentum_step(
            params, {k: a.copy() for k, a in g.items()}, velocity, lr, mu
        )
        snapshots.append({k: np.array(params[k], dtype=float, copy=True) for k in p0})
    if all(np.array_equal(s[k], p0[k]) for s in snapshots for k in p0):
        also = f" (it returned a {type(returned).__name__})" if returned is not None else ""
        fail(
            f"three calls of sgd_momentum_step left params unchanged{also}: update the dicts you "
            "are given in place (params[name] = params[name] + velocity[name], or +=)"
        )
    for step, snapshot in enumerate(snapshots):
        for k in p0:
            assert_array(
                snapshot[k],
                runs["right"][step][k],
                name=f"params['{k}'] after {step + 1} step(s) (lr={lr}, momentum={mu})",
                rtol=1e-10,
                atol=1e-12,
                mistakes={label: run[step][k] for label, run in runs.items() if label != "right"},
            )


# ----- task 5: mini-batches ---------------------------------------------------------------------
def batch_case(n: int = 23) -> tuple[np.ndarray, np.ndarray]:
    """n samples whose first feature is twice their label: a pair shows where it came from."""
    ids = np.arange(n)
    return np.column_stack([2.0 * ids, 2.0 * ids + 1.0]), ids.copy()


def collect(learner, X, y, batch_size, rng, what="iterate_minibatches(X, y, 5, rng)"):
    """The batches of one call as a list of (X_batch, y_batch) arrays, each pair checked."""
    result = assert_returned(learner.iterate_minibatches(X, y, batch_size, rng), what)
    try:
        batches = list(result)
    except TypeError:
        fail(f"{what} should yield (X_batch, y_batch) pairs; got a {type(result).__name__}")
    out = []
    for i, pair in enumerate(batches):
        Xb, yb = unpack(pair, f"batch {i} of {what}", "(X_batch, y_batch)", 2)
        Xb, yb = np.asarray(Xb), np.asarray(yb)
        if Xb.ndim != 2 or yb.ndim != 1 or len(Xb) != len(yb):
            fail(
                f"batch {i} of {what} has X_batch {Xb.shape} and y_batch {yb.shape}; "
                "expected (k, 2) and (k,)"
            )
        out.append((Xb, yb))
    return out


def order_of(batches) -> np.ndarray:
    return np.concatenate([yb for _, yb in batches]) if batches else np.array([], dtype=int)


@pytest.mark.task(5)
def test_minibatches_cover_every_sample_once(learner):
    X, y = batch_case()
    given_X, given_y = X.copy(), y.copy()
    batches = collect(learner, given_X, given_y, 5, np.random.default_rng(0))
    if not (np.array_equal(given_X, X) and np.array_equal(given_y, y)):
        fail(
            "iterate_minibatches changed the caller's X or y (shuffled them in place?): leave "
            "them as they are and index them with a permutation, X[order], y[order]"
        )
    for i, (Xb, yb) in enumerate(batches):
        if not np.array_equal(Xb[:, 0], 2.0 * yb):
            fail(
                f"in batch {i}, the rows of X_batch and the labels in y_batch belong to different "
                "samples: index X and y with the same permutation (shuffling them separately "
                "breaks the pairs)"
            )
    sizes = [len(yb) for _, yb in batches]
    if sizes != [5, 5, 5, 5, 3]:
        if sizes == [5, 5, 5, 5]:
            fail(
                "iterate_minibatches(X, y, 5, rng) on 23 samples yielded 4 batches of 5: the "
                "last, smaller batch (3 samples) is missing, so 3 samples are never trained on "
                "in that epoch"
            )
        fail(
            f"iterate_minibatches(X, y, 5, rng) on 23 samples yielded batches of sizes "
            f"{sizes}; expected [5, 5, 5, 5, 3]"
        )
    order = order_of(batches)
    if not np.array_equal(np.sort(order), y):
        fail(
            f"one epoch of iterate_minibatches holds {len(np.unique(order))} distinct samples of "
            "23: some came twice, others never (drawn with replacement?). Use "
            "rng.permutation(len(X))"
        )
    X, y = batch_case(20)
    what = "iterate_minibatches(X, y, 5, rng) on 20 samples"
    sizes = [len(yb) for _, yb in collect(learner, X, y, 5, np.random.default_rng(0), what)]
    if sizes != [5, 5, 5, 5]:
        if sizes[:4] == [5, 5, 5, 5] and all(s == 0 for s in sizes[4:]):
            fail(
                f"{what} yielded batches of sizes {sizes}: an empty batch at the end when "
                "batch_size divides the number of samples (N // batch_size + 1 batches?). There "
                "are ceil(N / batch_size) batches: for start in range(0, N, batch_size)"
            )
        fail(f"{what} yielded batches of sizes {sizes}; expected [5, 5, 5, 5]")


@pytest.mark.task(5)
def test_minibatches_are_shuffled(learner):
    X, y = batch_case()
    order = order_of(collect(learner, X, y, 5, np.random.default_rng(0)))
    if np.array_equal(order, y):
        fail(
            "the mini-batches come in the original order of the samples: they are not shuffled. "
            "Draw a permutation with rng.permutation(len(X)) on every call"
        )


@pytest.mark.task(5)
def test_minibatches_reshuffle_every_epoch(learner):
    X, y = batch_case()
    rng = np.random.default_rng(0)
    first = order_of(collect(learner, X, y, 5, rng))
    second = order_of(collect(learner, X, y, 5, rng))
    if np.array_equal(first, second):
        fail(
            "two calls of iterate_minibatches with the same rng — two epochs — gave the same "
            "order: no shuffling between epochs, so the model sees the same batches in the same "
            "order every epoch. Draw a new permutation from the rng you are given on every call "
            "(a generator seeded inside the function, or a permutation kept from an earlier call, "
            "repeats itself)"
        )


@pytest.mark.task(5)
def test_minibatches_use_the_given_rng(learner):
    X, y = batch_case()
    first = order_of(collect(learner, X, y, 5, np.random.default_rng(7)))
    second = order_of(collect(learner, X, y, 5, np.random.default_rng(7)))
    if not np.array_equal(first, second):
        fail(
            "two generators seeded alike (np.random.default_rng(7)) gave different orders: "
            "iterate_minibatches must draw from the rng it is given (np.random.permutation and "
            "np.random.shuffle use NumPy's global generator), so a run can be repeated"
        )


# ----- task 6: training on digits ---------------------------------------------------------------
@pytest.mark.task(6)
def test_standardize(learner, rng):
    X_train = rng.normal(size=(20, 4)) * np.array([1.0, 5.0, 0.0, 2.0]) + np.array(
        [0.0, 10.0, 3.0, -1.0]
    )
    X_other = rng.normal(size=(6, 4)) * np.array([1.0, 5.0, 1.0, 2.0]) + np.array(
        [0.5, 9.0, 3.0, 0.0]
    )
    given_train, given_other = X_train.copy(), X_other.copy()
    a, b = unpack(
        learner.standardize(given_train, given_other),
        "standardize(X_train, X_other)",
        "(train, other)",
        2,
    )
    if not (np.array_equal(given_train, X_train) and np.array_equal(given_other, X_other)):
        fail("standardize changed its input arrays in place (-= or /=): return new arrays")
    a, b = (
        as_float_array(a, "standardize's first array"),
        as_float_array(b, "standardize's second array"),
    )
    for got, src, name in ((a, X_train, "X_train"), (b, X_other, "X_other")):
        if got.shape != src.shape:
            fail(
                f"standardize returned {got.shape} for {name} {src.shape}; expected the same shape"
            )
    if np.isnan(a[:, 2]).any() or np.isnan(b[:, 2]).any():
        fail(
            "feature 2 is constant in X_train (its std is 0), and dividing by that std gave NaN: "
            "divide by 1 where the training std is 0 (np.where(std > 0, std, 1.0))"
        )
    big = np.abs(b[:, 2]).max()
    if big > 1e3:
        scale = (X_other[:, 2] - 3.0) / np.where(b[:, 2] != 0, b[:, 2], np.nan)
        tiny = (
            f" (you divided by {np.nanmedian(scale):.1g}: std + a small epsilon?)"
            if np.nanmedian(np.abs(scale)) < 1e-3
            else ""
        )
        fail(
            f"feature 2 is constant in X_train (std 0); in X_other it becomes as large as {big:.3g}"
            f"{tiny}. A held-out value in such a feature must not blow up: divide by 1 where the "
            "training std is 0"
        )
    centred = X_other[:, 2] - X_train[:, 2].mean()
    if np.all(b[:, 2] == 0) and np.any(np.abs(centred) > 1e-6):
        fail(
            "feature 2 is constant in X_train (std 0), and standardize set it to 0 in X_other "
            f"too, where it varies (X_other[0, 2] − the training mean is {centred[0]:.6g}): such "
            "a feature is only centred — subtract the training mean and divide by 1 — so a "
            "held-out value that differs from the training constant is kept"
        )
    mean = X_train.mean(axis=0)
    for ddof in (0, 1):
        std = X_train.std(axis=0, ddof=ddof)
        std = np.where(std > 0, std, 1.0)
        if np.allclose(a, (X_train - mean) / std, rtol=1e-6, atol=1e-9) and np.allclose(
            b, (X_other - mean) / std, rtol=1e-6, atol=1e-9
        ):
            return
    std = np.where(X_train.std(axis=0) > 0, X_train.std(axis=0), 1.0)
    own_std = np.where(X_other.std(axis=0) > 0, X_other.std(axis=0), 1.0)
    both = np.vstack([X_train, X_other])
    both_std = np.where(both.std(axis=0) > 0, both.std(axis=0), 1.0)
    row_std = X_train.std(axis=1, keepdims=True)
    per_sample = (X_train - X_train.mean(axis=1, keepdims=True)) / np.where(
        row_std > 0, row_std, 1.0
    )
    assert_array(
        a,
        (X_train - mean) / std,
        name="standardize's X_train",
        rtol=1e-6,
        atol=1e-9,
        mistakes={
            "statistics of X_train and X_other together: the held-out rows leak into the scaling; "
            "use the training mean and std only": (X_train - both.mean(axis=0)) / both_std,
            "each sample (row) scaled by its own mean and std, axis=1: standardize each "
            "feature (column) over the training set, X_train.mean(axis=0) and "
            "X_train.std(axis=0)": per_sample,
        },
    )
    assert_array(
        b,
        (X_other - mean) / std,
        name="standardize's X_other",
        rtol=1e-6,
        atol=1e-9,
        mistakes={
            "X_other scaled with its own mean and std: new data must be scaled with the training "
            "set's statistics, the same numbers the model was trained with": (
                X_other - X_other.mean(axis=0)
            )
            / own_std,
        },
    )


@pytest.mark.task(6)
def test_train_epoch_reshuffles_every_epoch(learner, monkeypatch):
    X_all, y_all, _, _ = digits_split()
    X, y = X_all[:300], y_all[:300]
    params = ref_init([64, 16, 10], np.random.default_rng(0))
    start = copy.deepcopy(params)
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    real = learner.iterate_minibatches
    calls: list[list[np.ndarray]] = []

    def watched(*args, **kwargs):
        seen: list[np.ndarray] = []
        calls.append(seen)
        for X_batch, y_batch in real(*args, **kwargs):
            seen.append(np.array(X_batch, dtype=float, copy=True))
            yield X_batch, y_batch

    monkeypatch.setattr(learner, "iterate_minibatches", watched)
    real_loss_and_grads = learner.loss_and_grads
    batch_losses: list[list[Any]] = []

    def watched_loss(*args, **kwargs):
        result = real_loss_and_grads(*args, **kwargs)
        if isinstance(result, tuple | list) and len(result) == 2 and batch_losses:
            batch_losses[-1].append(result[0])
        return result

    monkeypatch.setattr(learner, "loss_and_grads", watched_loss)
    losses = []
    rng = np.random.default_rng(5)
    for epoch in range(2):
        batch_losses.append([])
        loss = learner.train_epoch(params, velocity, X.copy(), y.copy(), **TRAIN, rng=rng)
        losses.append(loss)
        if epoch == 0:
            if not calls:
                fail(
                    "train_epoch never called iterate_minibatches: draw each epoch's mini-batches "
                    "with iterate_minibatches(X, y, batch_size, rng) (the check watches it to see "
                    "their order)"
                )
            check_params(params, [64, 16, 10], "params after train_epoch")
            if all(np.array_equal(params[k], start[k]) for k in params):
                fail(
                    "params are unchanged after an epoch of train_epoch: update them in place "
                    "with sgd_momentum_step(params, grads, velocity, lr, momentum)"
                )
            if not any(np.any(v) for v in velocity.values()):
                fail(
                    "velocity is still all zeros after an epoch: pass the velocity dict you are "
                    "given to sgd_momentum_step, so the momentum carries over from one batch (and "
                    "one epoch) to the next"
                )
    for epoch, loss in enumerate(losses):
        value = assert_returned(loss, "train_epoch(...)")
        try:
            value = float(value)
        except (TypeError, ValueError):
            fail(
                "train_epoch should return the epoch's mean loss, a float; got "
                f"{type(loss).__name__}"
            )
        if not math.isfinite(value) or value <= 0:
            fail(
                f"train_epoch returned {value!r} in epoch {epoch + 1}; expected the mean "
                "batch loss, a positive float"
            )
    if len(calls) != 2:
        fail(
            f"train_epoch called iterate_minibatches {len(calls)} times in 2 epochs; call it "
            "once per epoch"
        )
    for epoch, seen in enumerate(calls, start=1):
        rows = sum(len(b) for b in seen)
        if rows != len(X):
            fail(
                f"in epoch {epoch}, train_epoch went through {rows} of the {len(X)} samples: "
                "use every mini-batch of the epoch"
            )
        if len(seen[0]) != TRAIN["batch_size"]:
            fail(
                f"train_epoch asked for mini-batches of {len(seen[0])} samples; use the batch_size "
                f"argument ({TRAIN['batch_size']})"
            )
    if np.array_equal(np.concatenate(calls[0]), np.concatenate(calls[1])):
        fail(
            "train_epoch visited the samples in the same order in both epochs: no shuffling "
            "between epochs. Pass the rng train_epoch was given to iterate_minibatches, which must "
            "draw a new permutation from it on every call (a generator made with a fixed seed "
            "inside train_epoch repeats the same order every epoch)"
        )
    for epoch, (loss, seen_losses, seen) in enumerate(
        zip(losses, batch_losses, calls, strict=True), start=1
    ):
        check_epoch_loss(float(loss), seen_losses, [len(b) for b in seen], epoch)


def check_epoch_loss(value: float, seen_losses: list[Any], sizes: list[int], epoch: int) -> None:
    """train_epoch's return against the losses its loss_and_grads calls gave in that epoch: their
    mean (or the mean weighted by batch size, the mean over the samples). Compared only when
    there was one loss_and_grads call per mini-batch."""
    try:
        batch = [float(v) for v in seen_losses]
    except (TypeError, ValueError):
        return
    if not batch or len(batch) != len(sizes):
        return
    plain = float(np.mean(batch))
    weighted = float(np.average(batch, weights=sizes))
    if any(math.isclose(value, m, rel_tol=1e-6) for m in (plain, weighted)):
        return
    assert_close(
        value,
        plain,
        name=(
            f"train_epoch's return value in epoch {epoch} (the mean of the {len(batch)} batch "
            "losses its loss_and_grads calls gave)"
        ),
        rtol=1e-6,
        mistakes={
            "the loss of the last batch only: average the losses of all the epoch's batches": (
                batch[-1]
            ),
            "the loss of the first batch only: average the losses of all the epoch's batches": (
                batch[0]
            ),
            "the sum of the batch losses: return their mean": float(np.sum(batch)),
        },
    )


def hidden_twins(params: dict[str, np.ndarray]) -> str | None:
    """'layer k' when two hidden units of layer k have identical weights and bias."""
    for layer in range(1, num_layers(params)):
        units = np.vstack([params[f"W{layer}"], params[f"b{layer}"][None, :]]).T
        if len(np.unique(units, axis=0)) < len(units):
            return f"layer {layer}"
    return None


@pytest.mark.task(6)
def test_reaches_96_percent_on_held_out_digits(learner):
    X_train, y_train, X_held, y_held = digits_split()
    params = learner.init_params(list(TRAIN_SIZES), np.random.default_rng(0))
    check_params(params, TRAIN_SIZES, "init_params")
    velocity = {k: np.zeros_like(np.asarray(v, dtype=float)) for k, v in params.items()}
    rng = np.random.default_rng(1)
    history: list[float] = []
    for _epoch in range(MAX_EPOCHS):
        learner.train_epoch(params, velocity, X_train.copy(), y_train.copy(), **TRAIN, rng=rng)
        current = check_params(params, TRAIN_SIZES, "params after train_epoch")
        if not all(np.all(np.isfinite(v)) for v in current.values()):
            fail(
                f"after epoch {len(history) + 1} the parameters contain NaN or inf: training "
                f"diverged (batch_size={TRAIN['batch_size']}, lr={TRAIN['lr']}, "
                f"momentum={TRAIN['momentum']})"
            )
        history.append(float(np.mean(ref_logits(current, X_held).argmax(axis=1) == y_held)))
        if history[-1] >= TARGET:
            return
    clue = ""
    twins = hidden_twins(current)
    if twins:
        clue = (
            f" After training, some hidden units of {twins} are still identical: the weights "
            "started symmetric (zeros?) and the symmetry was never broken"
        )
    try:
        assert_reaches(
            history,
            TARGET,
            name=(
                f"held-out accuracy of {TRAIN_SIZES} on the digits (batch_size="
                f"{TRAIN['batch_size']}, lr={TRAIN['lr']}, momentum={TRAIN['momentum']})"
            ),
            higher_is_better=True,
            unit="epochs",
        )
    except CheckFailure as failure:
        fail(f"{failure}.{clue}")
