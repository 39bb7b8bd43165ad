# expect: pooled variance
"""Mistake: Student's pooled variance in the t statistic instead of Welch's separate variances."""

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
    indices = rng.integers(0, data.size, size=(n_resamples, data.size))
    return np.asarray(statistic(data[indices], axis=-1), dtype=float)


def percentile_interval(boot_stats: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(boot_stats, [tail, 1.0 - tail])
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
    va = a.var(ddof=1) / a.size
    vb = b.var(ddof=1) / b.size
    pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    t = (a.mean() - b.mean()) / np.sqrt(pooled * (1 / a.size + 1 / b.size))
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    if alternative == "two-sided":
        p = 2.0 * stats.t.sf(abs(t), df)
    elif alternative == "greater":
        p = stats.t.sf(t, df)
    elif alternative == "less":
        p = stats.t.cdf(t, df)
    else:
        raise ValueError(f"unknown alternative {alternative!r}")
    return float(t), float(p)


def permutation_test(
    a: np.ndarray, b: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    observed = a.mean() - b.mean()
    pooled = np.concatenate([a, b])
    # One row per shuffle: argsort of uniform noise is a uniformly random permutation.
    order = np.argsort(rng.random((n_permutations, pooled.size)), axis=1)
    shuffled = pooled[order]
    diffs = shuffled[:, : a.size].mean(axis=1) - shuffled[:, a.size :].mean(axis=1)
    count = np.count_nonzero(np.abs(diffs) >= abs(observed))
    return float((count + 1) / (n_permutations + 1))


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
    rng = rng if rng is not None else np.random.default_rng()
    rate_a = rng.beta(*beta_posterior(successes_a, trials_a, prior), size=n_samples)
    rate_b = rng.beta(*beta_posterior(successes_b, trials_b, prior), size=n_samples)
    return float(np.mean(rate_b > rate_a))
