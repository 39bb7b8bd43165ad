"""Checks for p1-numpy-vectorize: values against a reference, several shapes, no loops."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from aipath.checks import assert_array, assert_returned, fail, no_loops

# Distances may come from the ‖a‖² + ‖b‖² − 2a·b expansion, whose rounding near 0 is ~1e-7.
DIST_TOL = {"rtol": 1e-9, "atol": 1e-6}


# ----- references, written independently of the learner's file --------------------------------
def ref_pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1))


def ref_standardize(X: np.ndarray, ddof: int = 0, axis: int = 0) -> np.ndarray:
    std = X.std(axis=axis, ddof=ddof, keepdims=True)
    return (X - X.mean(axis=axis, keepdims=True)) / np.where(std > 0, std, 1.0)


def ref_logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-1, keepdims=True)
    return m[..., 0] + np.log(np.exp(x - m).sum(axis=-1))


def ref_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def call(func, *args):
    """Call the learner with copies, so a function that writes into its input spoils nothing."""
    return func(*(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args))


def pairwise_mistakes(a, b, want):
    sq_a, sq_b, cross = (a**2).sum(1), (b**2).sum(1), a @ b.T
    return {
        "squared distances: the np.sqrt is missing": want**2,
        "‖a‖² added as an (N,) vector, which broadcasts along the rows: it must be an "
        "(N, 1) column ([:, None]) so that it varies down the rows": (
            np.sqrt(np.maximum(sq_a + sq_b - 2 * cross, 0)) if len(a) == len(b) else None
        ),
    }


# ----- task 1: pairwise distances --------------------------------------------------------------
@pytest.mark.task(1)
def test_pairwise_distances_values(learner, rng):
    for n, m, d in [(5, 7, 3), (4, 6, 1), (1, 3, 8), (6, 6, 2)]:
        a = rng.normal(0.0, 2.0, size=(n, d))
        b = rng.normal(1.0, 2.0, size=(m, d))
        name = f"pairwise_distances(a of shape {a.shape}, b of shape {b.shape})"
        got = call(learner.pairwise_distances, a, b)
        if got is not None and np.shape(got) == (m, n) and n != m:
            fail(f"{name} has shape {np.shape(got)}, transposed: rows must follow a, columns b")
        want = ref_pairwise(a, b)
        assert_array(
            got, want, name=name, mistakes=partial(pairwise_mistakes, a, b, want), **DIST_TOL
        )


@pytest.mark.task(1)
def test_pairwise_distances_to_itself(learner, rng):
    a = rng.normal(0.0, 10.0, size=(30, 5))
    name = "pairwise_distances(a, a)"
    got = call(learner.pairwise_distances, a, a)
    if got is not None and np.isnan(np.asarray(got, dtype=float)).any():
        where = ", ".join(str(int(i)) for i in np.argwhere(np.isnan(got))[0])
        fail(
            f"{name} contains NaN at [{where}] (distance of a point to itself or a near twin): "
            "rounding made a squared distance slightly negative and np.sqrt of it is NaN; "
            "clip the squared distances at 0 (np.maximum(d2, 0)) before the square root"
        )
    assert_array(got, ref_pairwise(a, a), name=name, **DIST_TOL)
    got = np.asarray(got)
    if np.abs(np.diag(got)).max() > 1e-6:
        fail(f"{name} has {np.abs(np.diag(got)).max():.3g} on its diagonal; expected 0")


@pytest.mark.task(1)
def test_pairwise_distances_has_no_loops(learner):
    learner.pairwise_distances(np.ones((2, 2)), np.zeros((3, 2)))  # a TODO is "not attempted"
    no_loops(learner.pairwise_distances)


def standardize_mistakes(X):
    return {
        "the sample standard deviation (ddof=1); this task asks for the population one "
        "(ddof=0, np.std's default)": ref_standardize(X, ddof=1),
        "each row standardized (axis=1) instead of each column (axis=0)": ref_standardize(
            X, axis=1
        ),
        "divided by the variance instead of the standard deviation": (X - X.mean(0)) / X.var(0),
        "centered only: divide by each column's standard deviation too": X - X.mean(0),
        "the mean and std of the whole table instead of each column's": (X - X.mean()) / X.std(),
    }


# ----- task 2: standardization -----------------------------------------------------------------
@pytest.mark.task(2)
def test_standardize_values(learner, rng):
    for n, d in [(50, 3), (7, 1), (4, 4), (2, 6)]:
        X = rng.normal(size=(n, d)) * rng.uniform(0.5, 20.0, size=d) + rng.uniform(-50, 50, size=d)
        want = ref_standardize(X)
        got = call(learner.standardize, X)
        name = f"standardize(X of shape {X.shape})"
        if got is not None and n != d and np.shape(got) == (n, n):
            fail(
                f"{name} has shape {np.shape(got)}; expected {X.shape}: an (N,) vector of row "
                "statistics met an (N, 1) column and broadcast into an (N, N) square — "
                "column statistics are reductions over axis=0"
            )
        assert_array(got, want, name=name, mistakes=partial(standardize_mistakes, X))


@pytest.mark.task(2)
def test_standardize_constant_column(learner, rng):
    X = rng.normal(size=(6, 3))
    X[:, 1] = 5.0
    got = call(learner.standardize, X)
    name = "standardize(X) where column 1 is all 5.0"
    if got is not None and np.shape(got) == X.shape and np.isnan(np.asarray(got)[:, 1]).any():
        fail(
            f"{name} gives NaN in column 1: its standard deviation is 0 and 0/0 is NaN; "
            "a constant column must become all 0.0 (divide by 1 where the std is 0)"
        )
    assert_array(got, ref_standardize(X), name=name)


@pytest.mark.task(2)
def test_standardize_leaves_input_alone(learner, rng):
    X = rng.normal(3.0, 2.0, size=(5, 3))
    before = X.copy()
    learner.standardize(X)
    if not np.array_equal(X, before):
        fail("standardize(X) changed X in place; build and return a new array instead")


@pytest.mark.task(2)
def test_standardize_has_no_loops(learner):
    learner.standardize(np.arange(6.0).reshape(3, 2))  # a TODO is "not attempted"
    no_loops(learner.standardize)


# ----- task 3: one-hot -------------------------------------------------------------------------
@pytest.mark.task(3)
def test_one_hot_values(learner, rng):
    cases = [
        (rng.integers(0, 4, size=10), 4),
        (np.array([0, 1, 1]), 5),  # classes 2..4 never appear: the width comes from num_classes
        (rng.integers(0, 6, size=(3, 5)), 6),
        (np.array([3]), 4),
    ]
    for labels, k in cases:
        name = f"one_hot(labels of shape {labels.shape}, num_classes={k})"
        want = (labels[..., None] == np.arange(k)).astype(np.float64)
        got = call(learner.one_hot, labels, k)
        shape = np.shape(got) if got is not None else None
        if shape == (k, *labels.shape) and k != labels.shape[-1]:
            fail(f"{name} has shape {shape}: classes came first; expected {want.shape}")
        if shape is not None and shape[:-1] == labels.shape and shape[-1] != k:
            fail(
                f"{name} has {shape[-1]} columns; expected num_classes = {k} "
                f"(shape {want.shape}), even when some classes do not occur"
            )
        assert_array(got, want, name=name, exact=True, dtype=np.float64)


@pytest.mark.task(3)
def test_one_hot_rejects_out_of_range_labels(learner):
    for bad in (-1, 4):
        labels = np.array([0, 2, bad, 1])
        name = f"one_hot({labels.tolist()}, num_classes=4)"
        try:
            result = learner.one_hot(labels, 4)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as exc:  # the learner raised something else
            fail(f"{name} raised {type(exc).__name__}: {exc}; expected ValueError")
        extra = ""
        if bad < 0 and result is not None and np.asarray(result).shape == (4, 4):
            extra = (
                f" (it returned row {np.asarray(result)[2].tolist()}: a label of -1 used as an "
                "index counts from the end and silently becomes the last class)"
            )
        fail(f"{name} returned without raising ValueError for the label {bad}{extra}")


@pytest.mark.task(3)
def test_one_hot_has_no_loops(learner):
    learner.one_hot(np.array([0, 1]), 2)  # a TODO is "not attempted"
    no_loops(learner.one_hot)


def logsumexp_mistakes(x):
    m = x.max(axis=-1)
    rest = np.sum(np.exp(x - m[..., None]), axis=-1)
    return {
        "the row max only: the log-sum part is missing": m,
        "log(sum(exp(x - m))) with the row max m never added back": np.log(rest),
        "np.log2 where the natural log belongs (log base 2 of the sum)": np.log2(rest) + m,
    }


def softmax_mistakes(x):
    e = np.exp(x)
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    square = x.ndim == 2 and x.shape[0] == x.shape[1]
    no_keepdims = (
        "the row sums were a (N,) vector broadcast along the wrong axis: keep them as a "
        "(N, 1) column (keepdims=True)"
    )
    return {
        "a softmax over the first axis instead of the last (classes)": (
            ref_softmax(x, axis=0) if x.ndim > 1 else None
        ),
        no_keepdims: shifted / shifted.sum(axis=-1) if square else None,
        no_keepdims + " ": e / e.sum(axis=-1) if square else None,
        "exp(logits) without dividing by the sum": e,
    }


# ----- task 4: log-sum-exp and softmax ---------------------------------------------------------
LSE_SHAPES = [(4, 6), (5,), (2, 3, 5), (4, 4)]  # (N, K) first: a (N, N) mix-up shows there


@pytest.mark.task(4)
def test_logsumexp_values(learner, rng):
    for shape in LSE_SHAPES:
        x = rng.normal(0.0, 3.0, size=shape)
        want = ref_logsumexp(x)
        got = call(learner.logsumexp, x)
        name = f"logsumexp(logits of shape {shape})"
        if len(shape) == 2 and got is not None and np.shape(got) == (shape[0], shape[0]):
            fail(
                f"{name} has shape {np.shape(got)}; expected {want.shape}: the (N, 1) row max "
                "(keepdims=True) was added to the (N,) log of the sums and broadcast into an "
                "(N, N) square — drop the kept axis before adding it back"
            )
        if got is not None and np.shape(got) == (*shape[:-1], 1):
            fail(
                f"{name} has shape {np.shape(got)}; expected {want.shape}: the reduced axis is "
                "still there (keepdims=True); return one value per row"
            )
        assert_array(got, want, name=name, mistakes=partial(logsumexp_mistakes, x))


@pytest.mark.task(4)
def test_softmax_values(learner, rng):
    for shape in [(4, 4), (4, 6), (5,), (2, 3, 5)]:  # square first: a missing keepdims shows there
        x = rng.normal(0.0, 3.0, size=shape)
        want = ref_softmax(x)
        got = call(learner.softmax, x)
        name = f"softmax(logits of shape {shape})"
        assert_array(got, want, name=name, mistakes=partial(softmax_mistakes, x))


LARGE = np.array(
    [
        [1000.0, 999.0, -1000.0],
        [-1000.0, -1000.0, -1000.0],
        [0.0, 1000.0, 500.0],
        [1.0, 2.0, 3.0],
    ]
)


def _finite_or_fail(got, name: str) -> None:
    arr = np.asarray(got, dtype=float)
    if not np.isfinite(arr).all():
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        where = ", ".join(str(i) for i in first)
        fail(
            f"{name}[{where}] is {arr[first]} for logits as large as ±1000: np.exp(1000) "
            "overflows to inf (and np.exp(-1000) underflows to 0, so 0/0 or inf/inf is NaN); "
            "subtract each row's max before np.exp"
        )


def _one_max_for_all(got, name: str, wrong) -> None:
    """Name the max of the whole array subtracted where each row's max belongs."""
    arr = np.asarray(got, dtype=float)
    if (
        arr.shape == wrong.shape
        and not np.isfinite(arr).all()
        and np.allclose(arr, wrong, rtol=1e-9, atol=1e-12, equal_nan=True)
    ):
        row = int(np.argwhere(~np.isfinite(arr))[0][0])
        fail(
            f"{name} is not finite in row {row} ({LARGE[row].tolist()}), and equals what "
            "subtracting ONE max for the whole array gives (x.max() without axis=-1): a row "
            "far below that max underflows to exp(-2000) = 0. Subtract each row's own max "
            "(x.max(axis=-1, keepdims=True))"
        )


@pytest.mark.task(4)
def test_large_logits_do_not_overflow(learner):
    with np.errstate(all="ignore"):
        lse = call(learner.logsumexp, LARGE)
        probs = call(learner.softmax, LARGE)
        top = LARGE.max()
        global_lse = np.log(np.exp(LARGE - top).sum(axis=-1)) + top
        global_softmax = np.exp(LARGE - top) / np.exp(LARGE - top).sum(axis=-1, keepdims=True)
    for got, name, wrong in (
        (lse, "logsumexp(large logits)", global_lse),
        (probs, "softmax(large logits)", global_softmax),
    ):
        _one_max_for_all(assert_returned(got, name), name, wrong)
        _finite_or_fail(got, name)
    assert_array(lse, ref_logsumexp(LARGE), name="logsumexp(large logits)")
    assert_array(probs, ref_softmax(LARGE), name="softmax(large logits)")


@pytest.mark.task(4)
def test_logsumexp_and_softmax_have_no_loops(learner):
    for func in (learner.logsumexp, learner.softmax):
        func(np.zeros((2, 3)))  # a TODO is "not attempted"
        no_loops(func)
