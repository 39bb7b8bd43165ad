"""Checks for p1-information-theory: agreement with scipy, zeros, direction, and ±1000 logits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import log_softmax as scipy_log_softmax
from scipy.stats import entropy as scipy_entropy

from aipath.checks import (
    assert_array,
    assert_close,
    assert_returned,
    assert_shape,
    assert_unchanged,
    fail,
    forbid_calls,
)

BASES = {2.0: "bits (base 2)", math.e: "nats (base e)", 10.0: "base 10"}


# scipy's versions are the reference; the learner writes their own.
WRITE_IT = "this lab asks you to write it yourself (the checks compare you with scipy's)"


def _distributions(rng, shape, zeros=True):
    """Random distributions along the last axis, some entries exactly 0."""
    p = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    if zeros:
        mask = rng.random(p.shape) < 0.25
        mask[..., 0] = False  # keep at least one outcome possible
        p = np.where(mask, 0.0, p)
        p /= p.sum(axis=-1, keepdims=True)
    return p


def _kept(what, fn, *arrays, **kwargs):
    """fn(*arrays, **kwargs), failing when it changed one of the caller's arrays (p, q) in place."""
    passed = dict(zip("pq", arrays, strict=False))
    kept = {name: array.copy() for name, array in passed.items()}
    got = fn(*arrays, **kwargs)
    assert_unchanged(
        what,
        passed,
        kept,
        advice="mask the zeros with np.where / where=, or work on a copy",
    )
    return got


def _base_mistakes(nats, base):
    """What a learner who mixes up the unit would return, given the answer in nats."""
    out = {}
    if base != math.e:
        out[f"nats (natural log) where {BASES[base]} was asked: divide by log(base)"] = nats
    if base != 2.0:
        out["bits (log2) whatever the base: use log(x) / log(base)"] = nats / math.log(2)
    out["the base conversion inverted: divide by log(base), do not multiply"] = nats * math.log(
        base
    )
    return out


# ----- task 1 ---------------------------------------------------------------------------------
@pytest.mark.task(1)
def test_entropy_with_zero_probabilities(learner, learner_file):
    forbid_calls(learner_file, ["entropy"], WRITE_IT, modules=["scipy"])
    p = np.array([0.5, 0.25, 0.25, 0.0])
    got = assert_returned(_kept("entropy(p)", learner.entropy, p), "entropy(p)")
    value = np.asarray(got, dtype=float)
    if value.shape != ():
        fail(f"entropy of a 1-D distribution has shape {value.shape}; expected a single number ()")
    if np.isnan(value):
        fail(
            "entropy([0.5, 0.25, 0.25, 0.0]) is NaN: the zero probability gives "
            "0 * log(0) = 0 * -inf = NaN; 0 * log(0) must count as 0 (mask the zeros with "
            "np.where / where=, or use scipy.special.xlogy)"
        )
    assert_close(
        value,
        1.5,
        name="entropy([0.5, 0.25, 0.25, 0.0]) in bits",
        mistakes={
            "nats (natural log) where bits were asked": 1.5 * math.log(2),
            "-H (the sign)": -1.5,
            "the base conversion inverted: divide by log(base), do not multiply": 1.5
            * math.log(2) ** 2,
        },
    )
    uniform = np.full(8, 1 / 8)
    assert_close(learner.entropy(uniform), 3.0, name="entropy(uniform over 8) in bits", rtol=1e-9)
    assert_close(learner.entropy(np.array([0.0, 1.0, 0.0])), 0.0, name="entropy([0, 1, 0])")


@pytest.mark.task(1)
def test_entropy_matches_scipy_in_every_base(learner, rng):
    p = _distributions(rng, (6, 5))
    for base, unit in BASES.items():
        got = _kept(f"entropy(p, base={base:.4g})", learner.entropy, p, base=base)
        assert_shape(got, (6,), name=f"entropy of a (6, 5) batch, base={base:.4g}")
        nats = scipy_entropy(p, axis=-1)
        assert_array(
            got,
            scipy_entropy(p, base=base, axis=-1),
            name=f"entropy in {unit}",
            rtol=1e-9,
            mistakes={**_base_mistakes(nats, base), "-H (the sign)": -nats / math.log(base)},
        )


# ----- task 2 ---------------------------------------------------------------------------------
@pytest.mark.task(2)
def test_kl_and_cross_entropy_match_scipy(learner, rng):
    p = _distributions(rng, (7, 4), zeros=False)
    q = _distributions(rng, (7, 4), zeros=False)
    for base, unit in BASES.items():
        kl_nats = scipy_entropy(p, q, axis=-1)
        kl_want = scipy_entropy(p, q, base=base, axis=-1)
        kl_got = learner.kl_divergence(p, q, base=base)
        assert_shape(kl_got, (7,), name=f"kl_divergence of (7, 4) batches, base={base:.4g}")
        assert_array(
            kl_got,
            kl_want,
            name=f"kl_divergence(p, q) in {unit}",
            rtol=1e-9,
            mistakes={
                "KL(q || p): the arguments swapped (the first argument is the true "
                "distribution p)": scipy_entropy(q, p, base=base, axis=-1),
                **_base_mistakes(kl_nats, base),
            },
        )
        ce_nats = scipy_entropy(p, axis=-1) + kl_nats
        ce_got = learner.cross_entropy(p, q, base=base)
        assert_shape(ce_got, (7,), name=f"cross_entropy of (7, 4) batches, base={base:.4g}")
        assert_array(
            ce_got,
            ce_nats / math.log(base),
            name=f"cross_entropy(p, q) in {unit}",
            rtol=1e-9,
            mistakes={
                "the KL divergence, not the cross-entropy (H(p, q) = H(p) + KL(p || q))": kl_want,
                "H(q, p): the arguments swapped (weight by the true p, take the log of q)": (
                    scipy_entropy(q, axis=-1) + scipy_entropy(q, p, axis=-1)
                )
                / math.log(base),
                **_base_mistakes(ce_nats, base),
            },
        )


@pytest.mark.task(2)
def test_zero_probabilities_contribute_nothing(learner, rng):
    # Zeros in p (one-hot targets are all zeros but one), some of them also zero in q.
    p = _distributions(rng, (7, 4))
    q = _distributions(rng, (7, 4), zeros=False)
    q = np.where((p == 0) & (rng.random(p.shape) < 0.5), 0.0, q)
    q /= q.sum(axis=-1, keepdims=True)
    for name, fn, want in (
        ("kl_divergence", learner.kl_divergence, scipy_entropy(p, q, base=2, axis=-1)),
        (
            "cross_entropy",
            learner.cross_entropy,
            (scipy_entropy(p, axis=-1) + scipy_entropy(p, q, axis=-1)) / math.log(2),
        ),
    ):
        got = np.asarray(_kept(f"{name}(p, q)", fn, p, q), dtype=float)
        if np.any(np.isnan(got)):
            fail(
                f"{name}(p, q) is NaN where p has a zero entry: terms with p == 0 must count as 0 "
                "(0 * log(0) is NaN in floating point: mask the terms where p == 0, or use "
                "scipy.special.xlogy / rel_entr)"
            )
        assert_array(
            got,
            want,
            name=f"{name}(p, q) with zero probabilities in p",
            rtol=1e-9,
            mistakes={"KL(q || p): the arguments swapped": scipy_entropy(q, p, base=2, axis=-1)},
        )


@pytest.mark.task(2)
def test_impossible_outcomes_cost_infinity(learner):
    p, q = np.array([0.5, 0.5]), np.array([1.0, 0.0])
    for name, fn in (
        ("kl_divergence", learner.kl_divergence),
        ("cross_entropy", learner.cross_entropy),
    ):
        value = float(np.asarray(fn(p, q), dtype=float))
        if not (math.isinf(value) and value > 0):
            fail(
                f"{name}([0.5, 0.5], [1.0, 0.0]) is {value}; expected inf: q calls the second "
                "outcome impossible, yet p says it happens half the time"
            )
    value = float(np.asarray(learner.kl_divergence(q, p), dtype=float))
    assert_close(value, 1.0, name="kl_divergence([1, 0], [0.5, 0.5]) in bits")


@pytest.mark.task(2)
def test_kl_is_nonnegative_zero_on_itself_and_asymmetric(learner, rng):
    p = _distributions(rng, (200, 6))
    q = _distributions(rng, (200, 6), zeros=False)
    kl = np.asarray(learner.kl_divergence(p, q), dtype=float)
    assert_shape(kl, (200,), name="kl_divergence of (200, 6) batches")
    if np.any(kl < -1e-12):
        i = int(np.argmin(kl))
        fail(
            f"kl_divergence(p, q) is {kl[i]:.4g} < 0 for p={np.round(p[i], 3)}, "
            f"q={np.round(q[i], 3)}; KL is never negative (check the sign and the p / q ratio)"
        )
    self_kl = np.asarray(learner.kl_divergence(q, q), dtype=float)
    assert_array(self_kl, np.zeros(200), name="kl_divergence(q, q)", rtol=0, atol=1e-12)
    a, b = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    forward = float(np.asarray(learner.kl_divergence(a, b), dtype=float))
    backward = float(np.asarray(learner.kl_divergence(b, a), dtype=float))
    if math.isclose(forward, backward, rel_tol=1e-9):
        fail(
            f"kl_divergence([0.5, 0.5], [0.9, 0.1]) and kl_divergence([0.9, 0.1], [0.5, 0.5]) "
            f"are both {forward:.4g}: KL is not symmetric (0.737 vs 0.531 bits); did you average "
            "the two directions?"
        )
    assert_close(
        forward,
        0.7369655941662061,
        name="kl_divergence([0.5, 0.5], [0.9, 0.1])",
        mistakes={"KL(q || p): the arguments swapped": 0.5310044064107188},
    )


# ----- task 3 ---------------------------------------------------------------------------------
def _explain_non_finite(name, got):
    values = np.asarray(got, dtype=float)
    if np.all(np.isfinite(values)):
        return
    shown = np.round(values, 4).tolist()
    if (
        np.any(np.isnan(values))
        or np.any(np.all(np.isneginf(values), axis=-1))
        or np.any(np.isposinf(values))
    ):
        fail(
            f"{name} is {shown}: not finite. exp(1000) overflows float64 to inf; subtract the "
            "row maximum before exponentiating (the log-sum-exp trick: "
            "log sum exp(x) = m + log sum exp(x - m))"
        )
    fail(
        f"{name} is {shown}: -inf where a finite log-probability was expected. The softmax "
        "underflowed to 0 before the log; compute x - m - log(sum(exp(x - m))) directly "
        "instead of log(softmax(x)) (the log-sum-exp trick)"
    )


def _max_not_added_back(logits):
    m = logits.max(axis=-1, keepdims=True)
    return {
        "x - log(sum(exp(x - m))): the row maximum m subtracted inside the log-sum-exp is not "
        "added back (log sum exp(x) = m + log sum exp(x - m); return x - m - log(sum(exp(x - m))))": (
            logits - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))
        )
    }


@pytest.mark.task(3)
def test_log_softmax_matches_scipy(learner, learner_file, rng):
    forbid_calls(learner_file, ["log_softmax", "logsumexp"], WRITE_IT, modules=["scipy"])
    logits = rng.normal(0.0, 5.0, size=(4, 7))
    got = learner.log_softmax(logits)
    want = scipy_log_softmax(logits, axis=-1)
    assert_array(
        got,
        want,
        name="log_softmax of a (4, 7) batch",
        rtol=1e-9,
        mistakes={
            "log-softmax over axis 0 (columns) instead of the last axis": scipy_log_softmax(
                logits, axis=0
            ),
            "the softmax itself, not its log": np.exp(want),
            **_max_not_added_back(logits),
        },
    )
    vector = rng.normal(size=5)
    assert_array(learner.log_softmax(vector), scipy_log_softmax(vector), name="log_softmax(1-D)")
    cube = rng.normal(size=(2, 3, 4))
    assert_array(
        learner.log_softmax(cube), scipy_log_softmax(cube, axis=-1), name="log_softmax(2×3×4 batch)"
    )


@pytest.mark.task(3)
def test_log_softmax_is_finite_for_huge_logits(learner):
    logits = np.array(
        [[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, 999.0]]
    )
    got = learner.log_softmax(logits)
    _explain_non_finite(
        "log_softmax([[1000, -1000, 0], [-1000, -1000, -1000], [1000, 1000, 999]])", got
    )
    assert_array(
        got,
        scipy_log_softmax(logits, axis=-1),
        name="log_softmax of ±1000 logits",
        rtol=1e-9,
        mistakes=_max_not_added_back(logits),
    )


# ----- task 4 ---------------------------------------------------------------------------------
@pytest.mark.task(4)
def test_cross_entropy_from_logits(learner, rng):
    logits = rng.normal(0.0, 3.0, size=(8, 5))
    labels = rng.integers(0, 5, size=8)
    log_probs = scipy_log_softmax(logits, axis=-1)
    picked = log_probs[np.arange(8), labels]
    got = learner.cross_entropy_from_logits(logits, labels)
    if np.ndim(got) != 0:
        fail(f"cross_entropy_from_logits returned shape {np.shape(got)}; expected one number")
    assert_close(
        got,
        float(-picked.mean()),
        name="cross_entropy_from_logits on 8 examples",
        rtol=1e-9,
        mistakes={
            "the sum over the batch instead of the mean": float(-picked.sum()),
            "bits instead of nats (the loss uses the natural log)": float(
                -picked.mean() / math.log(2)
            ),
            "log_probs[:, labels] (an (N, N) block) instead of log_probs[np.arange(N), labels]": float(
                -log_probs[:, labels].mean()
            ),
            "the positive mean log-probability: negate it": float(picked.mean()),
        },
    )


@pytest.mark.task(4)
def test_cross_entropy_from_huge_logits_is_finite(learner):
    logits = np.array([[1000.0, -1000.0], [-1000.0, 1000.0], [0.0, 0.0]])
    labels = np.array([1, 1, 0])
    got = learner.cross_entropy_from_logits(logits, labels)
    value = float(got)
    if not math.isfinite(value):
        fail(
            f"cross_entropy_from_logits of ±1000 logits is {value}: exp(1000) overflows; build it "
            "on a log-sum-exp log-softmax, never on log(softmax(x))"
        )
    assert_close(
        value, (2000.0 + 0.0 + math.log(2)) / 3, name="cross_entropy_from_logits(±1000 logits)"
    )
