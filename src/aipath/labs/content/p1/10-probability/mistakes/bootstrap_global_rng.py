# expect: drew from (or reseeded) NumPy's global generator
# slip: draws the resample indices from np.random instead of the rng argument
"""Probability and statistics: bootstrap, Welch's t-test, permutation test, Bayesian A/B."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy import stats

Statistic = Callable[..., np.ndarray]


def bootstrap_statistics(
    data: np.ndarray, statistic: Statistic, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    data = np.asarray(data, dtype=float)
    n = len(data)
    idx = np.random.randint(0, n, size=(n_resamples, n))
    return np.asarray(statistic(data[idx], axis=-1), dtype=float)


def percentile_interval(boot_stats: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    low, high = np.quantile(boot_stats, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def bootstrap_ci(
    data: np.ndarray,
    statistic: Statistic,
    confidence: float,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    boot = bootstrap_statistics(data, statistic, n_resamples, rng)
    return percentile_interval(boot, confidence)


def welch_t_test(
    a: np.ndarray,
    b: np.ndarray,
    alternative: Literal["two-sided", "greater", "less"] = "two-sided",
) -> tuple[float, float]:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    na, nb = len(a), len(b)
    va = a.var(ddof=1) / na
    vb = b.var(ddof=1) / nb
    se = np.sqrt(va + vb)
    t = (a.mean() - b.mean()) / se
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    if alternative == "two-sided":
        p = 2 * stats.t.sf(abs(t), df)
    elif alternative == "greater":
        p = stats.t.sf(t, df)
    else:
        p = stats.t.cdf(t, df)
    return float(t), float(p)


def permutation_test(
    a: np.ndarray, b: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    observed = a.mean() - b.mean()
    pool = np.concatenate([a, b])
    na = len(a)
    count = 0
    for _ in range(n_permutations):
        shuffled = rng.permutation(pool)
        diff = shuffled[:na].mean() - shuffled[na:].mean()
        if abs(diff) >= abs(observed):
            count += 1
    return (count + 1) / (n_permutations + 1)


def beta_posterior(
    successes: int, trials: int, prior: tuple[float, float] = (1.0, 1.0)
) -> tuple[float, float]:
    alpha, beta = prior
    return float(alpha + successes), float(beta + trials - successes)


def prob_b_beats_a(
    successes_a: int,
    trials_a: int,
    successes_b: int,
    trials_b: int,
    prior: tuple[float, float] = (1.0, 1.0),
    n_samples: int = 100_000,
    rng: np.random.Generator | None = None,
) -> float:
    if rng is None:
        rng = np.random.default_rng()
    aa, ba = beta_posterior(successes_a, trials_a, prior)
    ab, bb = beta_posterior(successes_b, trials_b, prior)
    rate_a = rng.beta(aa, ba, size=n_samples)
    rate_b = rng.beta(ab, bb, size=n_samples)
    return float(np.mean(rate_b > rate_a))
