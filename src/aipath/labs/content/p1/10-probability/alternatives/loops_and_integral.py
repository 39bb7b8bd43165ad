"""A correct solution written differently: rng.choice and one statistic call per resample, order
statistics instead of interpolated quantiles, pure-Python Welch, a loop of shuffles, and an exact
integral for P(B > A) instead of Monte Carlo draws."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy import integrate, special
from scipy.stats import beta as beta_distribution

Statistic = Callable[..., np.ndarray]


def bootstrap_statistics(
    data: np.ndarray, statistic: Statistic, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    values = np.asarray(data, dtype=float)
    resamples = rng.choice(values, size=(n_resamples, values.size), replace=True)
    return np.array([statistic(row) for row in resamples])


def percentile_interval(boot_stats: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    # Order statistics (the "inverted CDF" quantile): no interpolation between neighbours.
    ordered = sorted(float(x) for x in boot_stats)
    tail = (1.0 - confidence) / 2.0
    last = len(ordered) - 1
    low = ordered[max(0, math.ceil(tail * len(ordered)) - 1)]
    high = ordered[min(last, math.ceil((1.0 - tail) * len(ordered)) - 1)]
    return low, high


def bootstrap_ci(
    data: np.ndarray,
    statistic: Statistic,
    confidence: float,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    return percentile_interval(bootstrap_statistics(data, statistic, n_resamples, rng), confidence)


def _sample_variance(x: list[float]) -> float:
    mean = sum(x) / len(x)
    return sum((v - mean) ** 2 for v in x) / (len(x) - 1)


def welch_t_test(
    a: np.ndarray,
    b: np.ndarray,
    alternative: Literal["two-sided", "greater", "less"] = "two-sided",
) -> tuple[float, float]:
    xs, ys = [float(v) for v in a], [float(v) for v in b]
    se2_a = _sample_variance(xs) / len(xs)
    se2_b = _sample_variance(ys) / len(ys)
    t = (sum(xs) / len(xs) - sum(ys) / len(ys)) / math.sqrt(se2_a + se2_b)
    df = (se2_a + se2_b) ** 2 / (se2_a**2 / (len(xs) - 1) + se2_b**2 / (len(ys) - 1))
    cdf = float(special.stdtr(df, t))  # P(T <= t)
    upper = float(special.stdtr(df, -t))  # P(T >= t), by symmetry
    if alternative == "greater":
        return t, upper
    if alternative == "less":
        return t, cdf
    return t, 2.0 * float(special.stdtr(df, -abs(t)))


def permutation_test(
    a: np.ndarray, b: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> float:
    pooled = np.concatenate([np.asarray(a, float), np.asarray(b, float)])
    k = len(a)
    observed = abs(pooled[:k].mean() - pooled[k:].mean())
    extreme = 0
    for _ in range(n_permutations):
        shuffled = rng.permutation(pooled)
        if abs(shuffled[:k].mean() - shuffled[k:].mean()) >= observed:
            extreme += 1
    return (extreme + 1) / (n_permutations + 1)


def beta_posterior(
    successes: int, trials: int, prior: tuple[float, float] = (1.0, 1.0)
) -> tuple[float, float]:
    failures = trials - successes
    return prior[0] + successes, prior[1] + failures


def prob_b_beats_a(
    successes_a: int,
    trials_a: int,
    successes_b: int,
    trials_b: int,
    prior: tuple[float, float] = (1.0, 1.0),
    n_samples: int = 100_000,
    rng: np.random.Generator | None = None,
) -> float:
    post_a = beta_distribution(*beta_posterior(successes_a, trials_a, prior))
    post_b = beta_distribution(*beta_posterior(successes_b, trials_b, prior))
    value, _error = integrate.quad(lambda x: post_a.pdf(x) * post_b.sf(x), 0.0, 1.0)
    return value
