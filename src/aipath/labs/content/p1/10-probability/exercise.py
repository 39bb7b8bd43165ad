"""Probability and statistics: bootstrap, Welch's t-test, permutation test, Bayesian A/B.

Use NumPy and the distribution objects of scipy.stats (t, norm, beta); do not call
scipy.stats.bootstrap, ttest_ind or permutation_test (the checks compare you with them).
Draw random numbers only from the `rng` argument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

# A statistic reduces along an axis like np.mean: statistic(x, axis=-1).
Statistic = Callable[..., np.ndarray]


# ----- task 1: bootstrap confidence interval -------------------------------------------------
def bootstrap_statistics(
    data: np.ndarray, statistic: Statistic, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """The statistic of `n_resamples` bootstrap resamples of `data`.

    Each resample draws len(data) values from the 1-D array `data` *with replacement*.
    `statistic` is called as statistic(x, axis=-1) and reduces the last axis (np.mean, np.median
    and np.std all work like that), so a (n_resamples, n) array of resamples can be reduced in one
    call.

    Returns a float array of shape (n_resamples,).

    >>> rng = np.random.default_rng(0)
    >>> bootstrap_statistics(np.array([1.0, 2.0, 3.0]), np.mean, 5, rng).shape
    (5,)
    """
    # TODO: draw indices with rng.integers(0, n, size=...), index `data`, reduce with `statistic`
    raise NotImplementedError


def percentile_interval(boot_stats: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The (low, high) percentile interval of bootstrap statistics.

    low is the (1 - confidence) / 2 quantile and high the (1 + confidence) / 2 quantile of
    `boot_stats` (a 1-D array). Returns two Python floats, low <= high.

    >>> percentile_interval(np.arange(101.0), 0.9)
    (5.0, 95.0)
    """
    # TODO: np.quantile at the two tail probabilities
    raise NotImplementedError


def bootstrap_ci(
    data: np.ndarray,
    statistic: Statistic,
    confidence: float,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """A percentile bootstrap confidence interval (low, high) for statistic(data).

    >>> rng = np.random.default_rng(0)
    >>> low, high = bootstrap_ci(np.array([2.0, 4, 4, 5, 7, 9]), np.mean, 0.95, 10_000, rng)
    >>> 3.0 < low < 4.0 < 6.5 < high < 7.5
    True
    """
    # TODO: bootstrap_statistics, then percentile_interval
    raise NotImplementedError


# ----- task 2: Welch's t-test -------------------------------------------------------------------
def welch_t_test(
    a: np.ndarray,
    b: np.ndarray,
    alternative: Literal["two-sided", "greater", "less"] = "two-sided",
) -> tuple[float, float]:
    """Welch's t-test for equal means without assuming equal variances.

    Returns (t, p_value) as Python floats, with t = (mean(a) - mean(b)) / se, se from the sample
    variances (ddof=1), and the p-value from Student's t with Welch-Satterthwaite degrees of
    freedom. alternative: "two-sided" (both tails), "greater" (mean(a) > mean(b): upper tail) or
    "less" (lower tail).

    >>> t, p = welch_t_test(np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 6, 8, 10]))
    >>> round(t, 3), round(p, 3)
    (-2.251, 0.069)
    """
    # TODO: variances with ddof=1, se, t, df, then scipy.stats.t.sf / t.cdf for the tail(s)
    raise NotImplementedError


# ----- task 3: permutation test -----------------------------------------------------------------
def permutation_test(
    a: np.ndarray, b: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> float:
    """Two-sided permutation test for a difference in means; returns the p-value.

    observed = mean(a) - mean(b). Shuffle the pooled values `n_permutations` times, split them
    into the first len(a) and the rest, and count splits with |difference| >= |observed|.
    Return (count + 1) / (n_permutations + 1): never exactly 0.

    >>> rng = np.random.default_rng(0)
    >>> p = permutation_test(np.array([1.0, 2, 3]), np.array([7.0, 8, 9]), 999, rng)
    >>> 0.05 < p < 0.2   # only 2 of the 20 splits are this extreme: exact p = 0.1
    True
    """
    # TODO: pool, shuffle with rng.permutation (or argsort of rng.random), compare, add one
    raise NotImplementedError


# ----- task 4: Bayesian A/B test ------------------------------------------------------------------
def beta_posterior(
    successes: int, trials: int, prior: tuple[float, float] = (1.0, 1.0)
) -> tuple[float, float]:
    """The Beta posterior (alpha, beta) of a rate after `successes` in `trials`.

    The prior is Beta(prior[0], prior[1]).

    >>> beta_posterior(3, 10, prior=(2.0, 8.0))
    (5.0, 15.0)
    """
    # TODO: conjugate update: successes add to alpha, failures to beta
    raise NotImplementedError


def prob_b_beats_a(
    successes_a: int,
    trials_a: int,
    successes_b: int,
    trials_b: int,
    prior: tuple[float, float] = (1.0, 1.0),
    n_samples: int = 100_000,
    rng: np.random.Generator | None = None,
) -> float:
    """P(rate_B > rate_A) under the Beta posteriors of both variants (same prior for both).

    Either draw `n_samples` rates from each posterior with `rng.beta` and count how often B's is
    larger, or integrate numerically (then `rng` and `n_samples` are unused).

    >>> p = prob_b_beats_a(30, 250, 45, 250, rng=np.random.default_rng(0))
    >>> round(p, 2)
    0.97
    """
    # TODO: beta_posterior for each variant, then sample or integrate
    raise NotImplementedError
