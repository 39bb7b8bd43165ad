"""rng.choice resamples, np.percentile in percent, t.cdf tails, rng.permuted batches, a grid integral."""

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
    resamples = rng.choice(data, size=(n_resamples, data.size), replace=True)
    return np.asarray(statistic(resamples, axis=-1), dtype=float)


def percentile_interval(boot_stats: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(boot_stats, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_ci(
    data: np.ndarray,
    statistic: Statistic,
    confidence: float,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    return percentile_interval(bootstrap_statistics(data, statistic, n_resamples, rng), confidence)


def welch_t_test(
    a: np.ndarray,
    b: np.ndarray,
    alternative: Literal["two-sided", "greater", "less"] = "two-sided",
) -> tuple[float, float]:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    na, nb = a.size, b.size
    sa2 = np.sum((a - a.mean()) ** 2) / (na - 1)
    sb2 = np.sum((b - b.mean()) ** 2) / (nb - 1)
    ua, ub = sa2 / na, sb2 / nb
    t = (a.mean() - b.mean()) / np.sqrt(ua + ub)
    df = (ua + ub) ** 2 / (ua**2 / (na - 1) + ub**2 / (nb - 1))
    dist = stats.t(df)
    if alternative == "greater":
        p = 1.0 - dist.cdf(t) if t < 0 else dist.sf(t)
    elif alternative == "less":
        p = dist.cdf(t)
    else:
        p = 2.0 * dist.cdf(-abs(t))
    return float(t), float(p)


def permutation_test(
    a: np.ndarray, b: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    observed = abs(a.mean() - b.mean())
    pool = np.concatenate([a, b])
    count = 0
    done = 0
    while done < n_permutations:
        batch = min(2000, n_permutations - done)
        shuffled = rng.permuted(np.tile(pool, (batch, 1)), axis=1)
        diffs = shuffled[:, : a.size].mean(axis=1) - shuffled[:, a.size :].mean(axis=1)
        count += int(np.count_nonzero(np.abs(diffs) >= observed - 1e-12))
        done += batch
    return (count + 1) / (n_permutations + 1)


def beta_posterior(
    successes: int, trials: int, prior: tuple[float, float] = (1.0, 1.0)
) -> tuple[float, float]:
    return prior[0] + successes, prior[1] + (trials - successes)


def prob_b_beats_a(
    successes_a: int,
    trials_a: int,
    successes_b: int,
    trials_b: int,
    prior: tuple[float, float] = (1.0, 1.0),
    n_samples: int = 100_000,
    rng: np.random.Generator | None = None,
) -> float:
    post_a = stats.beta(*beta_posterior(successes_a, trials_a, prior))
    post_b = stats.beta(*beta_posterior(successes_b, trials_b, prior))
    x = np.linspace(0.0, 1.0, 200_001)
    integrand = post_a.pdf(x) * post_b.sf(x)
    return float(np.trapezoid(integrand, x))
