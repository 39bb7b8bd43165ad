"""Checks for p1-probability: agreement with scipy.stats and calibration on simulated data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import betaincc, betaln
from scipy.stats import bootstrap, norm, permutation_test, ttest_ind
from scipy.stats import t as t_dist

from aipath.checks import (
    assert_array,
    assert_close,
    assert_no_global_draws,
    assert_returned,
    fail,
    forbid_calls,
)

# What each task asks the learner to build: scipy's version is the reference, not allowed.
READY_MADE = {
    1: ("bootstrap",),
    2: ("ttest_ind", "ttest_ind_from_stats"),
    3: ("permutation_test",),
}
BUILD_IT = "task {} asks you to build it yourself (the checks compare you with scipy's version)"


def _near(value, expected: float, tol: float, *, name: str, mistakes=None) -> None:
    """A band check for Monte Carlo answers that names the closest known mistake."""
    got = float(assert_returned(value, name))
    if math.isnan(got):
        fail(f"{name} is NaN; expected about {expected:.4g}")
    if abs(got - expected) <= tol:
        return
    for label, wrong in (mistakes or {}).items():
        if wrong is None:
            continue
        if abs(got - wrong) <= tol and abs(wrong - expected) > tol:
            fail(
                f"{name} is {got:.4g}, which looks like {label} (that gives {wrong:.4g}); "
                f"expected {expected:.4g} ± {tol:.2g}"
            )
    fail(
        f"{name} is {got:.4g}; expected {expected:.4g} ± {tol:.2g} (off by {abs(got - expected):.3g})"
    )


RNG_ADVICE = (
    "draw only from the `rng` argument (rng.integers, rng.permutation, rng.beta, …) so that the "
    "same seed gives the same answer"
)


def _distinct_count(x, axis=-1):
    """A statistic: how many distinct values a resample holds."""
    ordered = np.sort(x, axis=axis)
    return 1 + np.count_nonzero(np.diff(ordered, axis=axis), axis=axis)


def _size(x, axis=-1):
    """A statistic: how many values a resample holds."""
    return np.sum(np.ones_like(x), axis=axis)


# ----- task 1 ---------------------------------------------------------------------------------
@pytest.mark.task(1)
def test_bootstrap_statistics_resample_with_replacement(learner, learner_file):
    forbid_calls(learner_file, READY_MADE[1], BUILD_IT.format(1), modules=["scipy"])
    data = np.arange(20.0)
    boot = assert_no_global_draws(
        "bootstrap_statistics(data, np.mean, 300, rng)",
        learner.bootstrap_statistics,
        data,
        np.mean,
        300,
        np.random.default_rng(1),
        advice=RNG_ADVICE,
    )
    got = np.asarray(boot)
    if got.shape != (300,):
        fail(
            f"bootstrap_statistics(data of 20, np.mean, 300, rng) has shape {got.shape}; expected (300,)"
        )
    sizes = np.asarray(learner.bootstrap_statistics(data, _size, 50, np.random.default_rng(2)))
    if sizes.shape == (50,) and not np.all(sizes == data.size):
        fail(
            f"bootstrap resamples hold {sorted(set(sizes.tolist()))[:5]} values; each resample must "
            f"have as many values as the data ({data.size})"
        )
    drawn: list[np.ndarray] = []

    def recording_mean(x, axis=-1):
        drawn.append(np.array(x, dtype=float).ravel())
        return np.mean(x, axis=axis)

    learner.bootstrap_statistics(data, recording_mean, 300, np.random.default_rng(4))
    if drawn:
        counts = np.bincount(
            np.concatenate(drawn).round().astype(int).clip(0, data.size - 1), minlength=data.size
        )
        never = np.flatnonzero(counts == 0)
        if never.size:
            where = ", ".join(f"data[{i}]" for i in never[:5])
            clue = (
                ": rng.integers(low, high) never returns `high` — draw rng.integers(0, n)"
                if never.tolist() == [data.size - 1]
                else ""
            )
            fail(
                f"{where} never appeared in 300 resamples of 20 values (each value should be "
                f"drawn about 300 times){clue}"
            )
    distinct = np.asarray(
        learner.bootstrap_statistics(data, _distinct_count, 300, np.random.default_rng(3)), float
    )
    if np.all(distinct == data.size):
        fail(
            "every resample contains all 20 distinct values: the resamples were drawn without "
            "replacement (a shuffle of the data has the same mean every time, so the interval "
            "collapses to a point); draw indices with replacement"
        )
    if not 11.0 <= distinct.mean() <= 14.5:
        fail(
            f"resamples of 20 distinct values hold {distinct.mean():.2f} distinct values on "
            "average; drawing 20 with replacement gives about 12.8"
        )
    spread = float(np.std(got))
    expected_spread = float(np.std(data) / math.sqrt(data.size))
    if not 0.8 * expected_spread <= spread <= 1.2 * expected_spread:
        fail(
            f"the bootstrap means of arange(20) have standard deviation {spread:.3f}; resampling "
            f"with replacement gives about {expected_spread:.3f}"
        )
    again = learner.bootstrap_statistics(data, np.mean, 300, np.random.default_rng(1))
    assert_array(
        again, got, name="bootstrap_statistics with the same seed a second time", rtol=1e-12
    )


@pytest.mark.task(1)
def test_percentile_interval(learner, rng):
    boot = rng.normal(3.0, 2.0, size=999)
    ordered = np.sort(boot)
    for confidence in (0.95, 0.8):
        result = learner.percentile_interval(boot, confidence)
        if result is None or np.shape(result) != (2,):
            fail(f"percentile_interval should return a tuple (low, high); got {result!r}")
        if float(result[0]) > float(result[1]):
            fail(
                f"percentile_interval(boot, {confidence}) is ({float(result[0]):.4g}, "
                f"{float(result[1]):.4g}): the first end is above the second — return "
                "(low, high), the low end first"
            )
        tail = (1 - confidence) / 2
        for label, value, q in (("low", result[0], tail), ("high", result[1], 1 - tail)):
            pos = q * (boot.size - 1)
            lo = ordered[max(math.floor(pos) - 1, 0)]
            hi = ordered[min(math.ceil(pos) + 1, boot.size - 1)]
            if value is None or not lo <= float(value) <= hi:
                want = float(np.quantile(boot, q))
                mistakes = {
                    "the quantiles (1 - confidence) and confidence: a whole tail on each side "
                    "(the interval of a lower confidence level)": float(
                        np.quantile(boot, 1 - confidence if label == "low" else confidence)
                    ),
                    "np.percentile given fractions (it expects 0–100)": float(
                        np.percentile(boot, q)
                    ),
                }
                _near(
                    value,
                    want,
                    (hi - lo) / 2,
                    name=f"percentile_interval(boot, {confidence}) {label} end",
                    mistakes=mistakes,
                )


@pytest.mark.task(1)
def test_bootstrap_ci_agrees_with_scipy(learner):
    data = np.random.default_rng(11).normal(5.0, 2.0, size=40)
    for statistic, label in ((np.mean, "mean"), (np.median, "median")):
        low, high = learner.bootstrap_ci(data, statistic, 0.95, 4000, np.random.default_rng(5))
        ref = bootstrap(
            (data,),
            statistic,
            n_resamples=4000,
            method="percentile",
            confidence_level=0.95,
            rng=np.random.default_rng(6),
        )
        tol = 0.4 * float(ref.standard_error)
        ci = ref.confidence_interval
        _near(low, float(ci.low), tol, name=f"bootstrap_ci(data, np.{label}) low end")
        _near(high, float(ci.high), tol, name=f"bootstrap_ci(data, np.{label}) high end")


@pytest.mark.task(1)
def test_bootstrap_ci_coverage(learner):
    true_mean, n, datasets = 10.0, 30, 200
    samples = np.random.default_rng(21).normal(true_mean, 2.0, size=(datasets, n))
    bands = {0.95: (0.87, 0.99, 0.93), 0.80: (0.68, 0.88, 0.78)}
    for level, (low_ok, high_ok, typical) in bands.items():
        rng = np.random.default_rng(int(level * 100))
        covered = 0
        for sample in samples:
            low, high = learner.bootstrap_ci(sample, np.mean, level, 200, rng)
            covered += bool(low <= true_mean <= high)
        rate = covered / datasets
        if not low_ok <= rate <= high_ok:
            verdict = "too narrow" if rate < low_ok else "too wide"
            fail(
                f"your {level:.0%} intervals contained the true mean in {rate:.1%} of "
                f"{datasets} simulated samples of {n}; a percentile bootstrap covers about "
                f"{typical:.0%} (accepted {low_ok:.0%}–{high_ok:.0%}): the intervals are {verdict}"
            )


# ----- task 2 ---------------------------------------------------------------------------------
def _welch_parts(a, b, ddof=1):
    va, vb = a.var(ddof=ddof) / a.size, b.var(ddof=ddof) / b.size
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return t, df


WELCH_CASES = [
    (np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 6, 8, 10])),
    (np.array([5.1, 4.9, 6.2, 5.8, 6.0, 5.5, 5.3]), np.array([4.1, 4.4, 3.9, 5.0, 4.6, 4.2])),
    (np.random.default_rng(3).normal(0.3, 3.0, 9), np.random.default_rng(4).normal(0, 1, 30)),
]


@pytest.mark.task(2)
def test_welch_t_statistic(learner, learner_file):
    forbid_calls(learner_file, READY_MADE[2], BUILD_IT.format(2), modules=["scipy"])
    for a, b in WELCH_CASES:
        t, _p = learner.welch_t_test(a, b)
        ref = ttest_ind(a, b, equal_var=False)
        t0, _ = _welch_parts(a, b, ddof=0)
        pooled = ttest_ind(a, b, equal_var=True).statistic
        assert_close(
            t,
            float(ref.statistic),
            name=f"t for samples of sizes {a.size} and {b.size}",
            rtol=1e-9,
            mistakes={
                "variances with ddof=0 (np.var's default) instead of the sample variance "
                "(ddof=1)": t0,
                "a pooled variance (Student's t-test) instead of Welch's separate variances": float(
                    pooled
                ),
                "mean(b) - mean(a): the sign flipped": -float(ref.statistic),
            },
        )


@pytest.mark.task(2)
def test_welch_p_values(learner):
    for a, b in WELCH_CASES:
        t, df = _welch_parts(a, b)
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        df_n = (va + vb) ** 2 / (va**2 / a.size + vb**2 / b.size)
        upper, lower = float(t_dist.sf(t, df)), float(t_dist.cdf(t, df))
        two = 2 * float(t_dist.sf(abs(t), df))
        for alternative in ("two-sided", "greater", "less"):
            _t, p = learner.welch_t_test(a, b, alternative=alternative)
            want = float(ttest_ind(a, b, equal_var=False, alternative=alternative).pvalue)
            mistakes = {
                "the normal distribution instead of Student's t": {
                    "two-sided": 2 * float(norm.sf(abs(t))),
                    "greater": float(norm.sf(t)),
                    "less": float(norm.cdf(t)),
                }[alternative],
                "Welch-Satterthwaite degrees of freedom with n_a and n_b in the denominator "
                "where n_a - 1 and n_b - 1 belong": {
                    "two-sided": 2 * float(t_dist.sf(abs(t), df_n)),
                    "greater": float(t_dist.sf(t, df_n)),
                    "less": float(t_dist.cdf(t, df_n)),
                }[alternative],
                "degrees of freedom n_a + n_b - 2 (Student's) instead of Welch-Satterthwaite": {
                    "two-sided": 2 * float(t_dist.sf(abs(t), a.size + b.size - 2)),
                    "greater": float(t_dist.sf(t, a.size + b.size - 2)),
                    "less": float(t_dist.cdf(t, a.size + b.size - 2)),
                }[alternative],
            }
            if alternative == "two-sided":
                mistakes[
                    "a one-sided p-value where the two-sided one was asked (count both "
                    "tails: double the tail of |t|)"
                ] = two / 2
                mistakes[
                    "a one-sided p-value where the two-sided one was asked (the upper "
                    "tail of t only)"
                ] = upper
                mistakes[
                    "a one-sided p-value where the two-sided one was asked (the lower "
                    "tail of t only)"
                ] = lower
            else:
                mistakes["a two-sided p-value where a one-sided one was asked"] = two
                mistakes[
                    "the wrong tail: alternative='greater' is the upper tail P(T >= t), "
                    "'less' the lower one"
                ] = lower if alternative == "greater" else upper
            assert_close(
                p,
                want,
                name=f"p-value (alternative={alternative!r}, sizes {a.size} and {b.size})",
                rtol=1e-9,
                mistakes=mistakes,
            )


@pytest.mark.task(2)
def test_welch_calibrated_under_the_null(learner):
    rng = np.random.default_rng(17)
    a_all, b_all = rng.normal(0.0, 3.0, (300, 8)), rng.normal(0.0, 1.0, (300, 40))
    rejected = sum(learner.welch_t_test(a, b)[1] < 0.05 for a, b in zip(a_all, b_all, strict=True))
    rate = rejected / 300
    if not 0.025 <= rate <= 0.08:
        fail(
            f"with equal true means (samples of 8 with sd 3 and of 40 with sd 1), your test "
            f"rejected at the 5% level in {rate:.1%} of 300 simulations; a calibrated test "
            "rejects about 5% (accepted 2.5%–8%)"
        )


# ----- task 3 ---------------------------------------------------------------------------------
def _exact_permutation_p_values(a, b):
    """Exact p-values from scipy's enumeration of every split: two-sided, upper, lower."""

    def statistic(x, y, axis):
        return np.mean(x, axis=axis) - np.mean(y, axis=axis)

    res = permutation_test((a, b), statistic, n_resamples=np.inf, vectorized=True)
    null, observed = res.null_distribution, res.statistic
    eps = 1e-12 * max(1.0, abs(observed))
    return (
        float(np.mean(np.abs(null) >= abs(observed) - eps)),
        float(np.mean(null >= observed - eps)),
        float(np.mean(null <= observed + eps)),
        float(np.mean(np.abs(null) > abs(observed) + eps)),
    )


@pytest.mark.task(3)
def test_permutation_counts_ties(learner):
    # Only the observed split and its mirror are this extreme: exact p = 2/20. Counting with `>`
    # leaves both out.
    a, b = np.array([7.0, 8, 9]), np.array([1.0, 2, 3])
    exact, upper, _lower, strict = _exact_permutation_p_values(a, b)
    n_perm = 4000
    p = learner.permutation_test(a, b, n_perm, np.random.default_rng(10))
    _near(
        p,
        exact,
        5 * math.sqrt(exact * (1 - exact) / n_perm) + 2 / n_perm,
        name="permutation_test([7, 8, 9], [1, 2, 3], 4000, rng)",
        mistakes={
            "`>` where `>=` belongs: the splits exactly as extreme as the observed one "
            "(the observed split itself among them) were not counted": (strict * n_perm + 1)
            / (n_perm + 1),
            "a one-sided p-value (mean(a) - mean(b) at least as large as observed); the task "
            "asks for two-sided: compare absolute differences": upper,
        },
    )


@pytest.mark.task(3)
def test_permutation_matches_exact_p_value(learner, learner_file):
    forbid_calls(learner_file, READY_MADE[3], BUILD_IT.format(3), modules=["scipy"])
    a = np.array([12.0, 15, 9, 14, 17, 11])
    b = np.array([10.0, 8, 12, 9, 14, 11, 10])
    n_perm = 4000
    exact, upper, lower, strict = _exact_permutation_p_values(a, b)
    tol = 5 * math.sqrt(exact * (1 - exact) / n_perm) + 2 / n_perm
    # (b, a) mirrors every split: the same two-sided p-value, the one-sided tails exchanged.
    for first, second, label, same_tail, other_tail in (
        (a, b, "a, b", upper, lower),
        (b, a, "b, a", lower, upper),
    ):
        p = assert_no_global_draws(
            f"permutation_test({label}, 4000, rng)",
            learner.permutation_test,
            first,
            second,
            n_perm,
            np.random.default_rng(8),
            advice=RNG_ADVICE,
        )
        _near(
            p,
            exact,
            tol,
            name=f"permutation_test({label}, 4000, rng)",
            mistakes={
                "a one-sided p-value (mean(a) - mean(b) at least as large as observed); the "
                "task asks for two-sided: compare absolute differences": same_tail,
                "a one-sided p-value (the lower tail); the task asks for two-sided: compare "
                "absolute differences": other_tail,
                "`>` where `>=` belongs: the splits exactly as extreme as the observed one "
                "(the observed split itself among them) were not counted": strict,
                "|difference| compared with the signed observed difference: when mean(a) < "
                "mean(b) every shuffle counts — compare with |observed|": (
                    1.0 if label == "b, a" else None
                ),
            },
        )


@pytest.mark.task(3)
def test_permutation_p_value_is_never_zero(learner):
    a = np.array([31.0, 33, 35, 34, 32, 36, 30, 37])
    b = np.array([10.0, 12, 11, 13, 9, 14, 12, 10])
    p = assert_returned(
        learner.permutation_test(a, b, 999, np.random.default_rng(9)),
        "permutation_test(a, b, 999, rng)",
    )
    if float(p) <= 0.0:
        fail(
            "permutation_test returned 0 for two clearly different groups: with 999 shuffles the "
            "smallest honest p-value is 1/1000 — return (count + 1) / (n_permutations + 1)"
        )
    if float(p) > 0.005:
        fail(
            f"permutation_test returned {float(p):.4g} for two groups that do not overlap "
            "(exact p = 2/12870); expected about 1/1000"
        )
    again = learner.permutation_test(a, b, 999, np.random.default_rng(9))
    assert_close(again, float(p), name="permutation_test with the same seed a second time")


# ----- task 4 ---------------------------------------------------------------------------------
@pytest.mark.task(4)
def test_beta_posterior(learner):
    for successes, trials, prior in (
        (3, 10, (2.0, 8.0)),
        (45, 250, (20.0, 180.0)),
        (0, 7, (1.0, 1.0)),
    ):
        got = learner.beta_posterior(successes, trials, prior=prior)
        want = (prior[0] + successes, prior[1] + trials - successes)
        assert_array(
            np.asarray(got, dtype=float),
            np.array(want),
            name=f"beta_posterior({successes}, {trials}, prior={prior})",
            mistakes={
                "the prior forgotten: Beta(successes, failures) ignores what the prior knew": (
                    successes,
                    trials - successes,
                ),
                "the prior replaced by Beta(1, 1): use the prior you were given": (
                    1 + successes,
                    1 + trials - successes,
                ),
                "successes and failures swapped": (
                    prior[0] + trials - successes,
                    prior[1] + successes,
                ),
                "trials added to beta instead of failures": (
                    prior[0] + successes,
                    prior[1] + trials,
                ),
            },
        )


def _p_b_beats_a(a_post, b_post):
    """P(B > A) = integral of pdf_A(x) * P(B > x), with scipy.special's beta functions."""
    (a1, b1), (a2, b2) = a_post, b_post

    def integrand(x):
        log_pdf_a = (a1 - 1) * np.log(x) + (b1 - 1) * np.log1p(-x) - betaln(a1, b1)
        return np.exp(log_pdf_a) * betaincc(a2, b2, x)

    value, _err = quad(integrand, 0.0, 1.0, epsabs=1e-12)
    return value


@pytest.mark.task(4)
def test_prob_b_beats_a(learner):
    n_samples = 50_000
    cases = [
        (30, 250, 45, 250, (1.0, 1.0)),
        (8, 40, 14, 50, (40.0, 360.0)),
        (3, 30, 1, 25, (2.0, 38.0)),
    ]
    for sa, na, sb, nb, prior in cases:
        p = learner.prob_b_beats_a(
            sa, na, sb, nb, prior=prior, n_samples=n_samples, rng=np.random.default_rng(12)
        )
        a_post = (prior[0] + sa, prior[1] + na - sa)
        b_post = (prior[0] + sb, prior[1] + nb - sb)
        want = _p_b_beats_a(a_post, b_post)
        tol = 5 * math.sqrt(want * (1 - want) / n_samples) + 1e-4
        _near(
            p,
            want,
            tol,
            name=f"prob_b_beats_a(A={sa}/{na}, B={sb}/{nb}, prior={prior})",
            mistakes={
                "the prior forgotten (posteriors Beta(successes, failures))": _p_b_beats_a(
                    (sa, na - sa), (sb, nb - sb)
                ),
                "the prior replaced by Beta(1, 1)": _p_b_beats_a(
                    (1 + sa, 1 + na - sa), (1 + sb, 1 + nb - sb)
                ),
                "P(A > B): the comparison reversed": 1 - want,
            },
        )
