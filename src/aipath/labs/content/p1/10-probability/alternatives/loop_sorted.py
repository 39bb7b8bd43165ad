"""A loop of resamples, a hand-made linear quantile, shuffles of a copy, posteriors sampled at once."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy.stats import t as student_t

Statistic = Callable[..., np.ndarray]


def bootstrap_statistics(
    data: np.ndarray, statistic: Statistic, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    data = np.asarray(data, dtype=float)
    out = np.empty(n_resamples)
    for i in range(n_resamples):
        sample = data[rng.integers(0, len(data), size=len(data))]
        out[i] = statistic(sample, axis=-1)
    return out


def _quantile(sorted_values: np.ndarray, q: float) -> float:
    position = q * (len(sorted_values) - 1)
    lo = math.floor(position)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = position - lo
    return float(sorted_values[lo] * (1 - frac) + sorted_values[hi] * frac)


def percentile_interval(boot_stats: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    values = np.sort(np.asarray(boot_stats, dtype=float))
    alpha = 1.0 - confidence
    return _quantile(values, alpha / 2), _quantile(values, 1 - alpha / 2)


def bootstrap_ci(
    data: np.ndarray,
    statistic: Statistic,
    confidence: float,
    n_resamples: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    stats = bootstrap_statistics(data, statistic, n_resamples, rng)
    return percentile_interval(stats, confidence)


def welch_t_test(
    a: np.ndarray,
    b: np.ndarray,
    alternative: Literal["two-sided", "greater", "less"] = "two-sided",
) -> tuple[float, float]:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    va = np.var(a, ddof=1) / len(a)
    vb = np.var(b, ddof=1) / len(b)
    t = float((np.mean(a) - np.mean(b)) / math.sqrt(va + vb))
    df = (va + vb) ** 2 / (va * va / (len(a) - 1) + vb * vb / (len(b) - 1))
    upper = float(student_t.sf(t, df))
    lower = float(student_t.cdf(t, df))
    tails = {"greater": upper, "less": lower, "two-sided": 2 * min(upper, lower)}
    return t, min(1.0, tails[alternative])


def permutation_test(
    a: np.ndarray, b: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    observed = np.mean(a) - np.mean(b)
    pool = np.concatenate([a, b]).copy()
    extreme = 0
    for _ in range(n_permutations):
        rng.shuffle(pool)
        difference = np.mean(pool[: len(a)]) - np.mean(pool[len(a) :])
        extreme += bool(abs(difference) >= abs(observed))
    return (extreme + 1) / (n_permutations + 1)


def beta_posterior(
    successes: int, trials: int, prior: tuple[float, float] = (1.0, 1.0)
) -> tuple[float, float]:
    failures = trials - successes
    return (float(prior[0] + successes), float(prior[1] + failures))


def prob_b_beats_a(
    successes_a: int,
    trials_a: int,
    successes_b: int,
    trials_b: int,
    prior: tuple[float, float] = (1.0, 1.0),
    n_samples: int = 100_000,
    rng: np.random.Generator | None = None,
) -> float:
    generator = rng if rng is not None else np.random.default_rng(0)
    params = np.array(
        [beta_posterior(successes_a, trials_a, prior), beta_posterior(successes_b, trials_b, prior)]
    )
    draws = generator.beta(params[:, :1], params[:, 1:], size=(2, n_samples))
    return float(np.count_nonzero(draws[1] > draws[0]) / n_samples)
