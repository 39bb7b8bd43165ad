"""Checks for p2-time-series: one test per behaviour, each marked with its task.

Leakage is probed by behaviour: the split must hand back the last months as test, and the backtest
is run twice with the same past and a different future — nothing but the `actual` column may move.
Forecasts are judged against the seasonal-naive forecast, computed here on the same months.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.tsa.stattools import acf as sm_acf
from statsmodels.tsa.stattools import adfuller
from statsmodels.tsa.stattools import pacf as sm_pacf
from threadpoolctl import threadpool_limits

from aipath.checks import (
    assert_array,
    assert_close,
    assert_in_band,
    assert_returned,
    assert_tuple,
    cached,
    fail,
)

PERIOD = 12
HORIZON = 24

# Small fits: one BLAS thread each is faster than two fighting over two cores.
threadpool_limits(1)
warnings.filterwarnings("ignore", module="statsmodels")


# ----- data, loaded once per check session; a fresh copy each call, so a learner function that
# edits its input changes nothing here ------------------------------------------------------------
@cached
def _weekly() -> pd.Series:
    return sm.datasets.co2.load_pandas().data["co2"]


@cached
def _co2() -> pd.Series:
    return _weekly().resample("MS").mean().interpolate()


def _synthetic(period: int, n: int = 240, seed: int = 0, walk: float = 1.0) -> pd.Series:
    """A monthly series: a random-walk level, a slow trend, a cycle of `period` steps, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = (
        100.0
        + 0.15 * t
        + walk * np.cumsum(rng.normal(0.0, 0.3, n))
        + 3.0 * np.sin(2 * np.pi * t / period)
        + rng.normal(0.0, 0.4, n)
    )
    return pd.Series(values, index=pd.date_range("2030-01-01", periods=n, freq="MS"), name="y")


def _smooth_steps(period: int, n: int = 480, seed: int = 4) -> pd.Series:
    """A cycle of `period` steps on a level whose steps are an MA(1) process (e_t + e_t-1).

    The first difference then has its largest autocorrelation at lag 1 (about 0.7), the cycle's
    peak at `period` (about 0.6) next: lag 1 is excluded by the task, so the answer is `period`.
    """
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, 0.63, n + 1)
    t = np.arange(n)
    values = 100.0 + np.cumsum(e[1:] + e[:-1]) + 3.0 * np.sin(2 * np.pi * t / period)
    return pd.Series(values, index=pd.date_range("2030-01-01", periods=n, freq="MS"), name="y")


def _adf(values: Any, **kwargs: Any) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = adfuller(np.asarray(values, dtype=float), **kwargs)
    return float(result[0]), float(result[1])


def _naive(history: pd.Series, horizon: int, period: int = PERIOD) -> pd.Series:
    index = pd.date_range(history.index[-1], periods=horizon + 1, freq=history.index.freq)[1:]
    return pd.Series(np.resize(history.to_numpy()[-period:], horizon), index=index)


def _series_or_fail(got: Any, name: str) -> pd.Series:
    assert_returned(got, name)
    if isinstance(got, pd.DataFrame) and got.shape[1] == 1:
        fail(f"{name} is a one-column DataFrame; return the column itself, a pandas Series")
    if not isinstance(got, pd.Series):
        fail(f"{name} should be a pandas Series (values on a date index); got {type(got).__name__}")
    return got


def _label(value: Any) -> str:
    return str(value.date()) if isinstance(value, pd.Timestamp) else repr(value)


def _describe_dates(index: pd.Index) -> str:
    return f"{_label(index[0])} … {_label(index[-1])}" if len(index) else "(empty)"


# ----- task 1 -----------------------------------------------------------------------------------
@pytest.mark.task(1)
def test_load_co2_monthly(learner):
    got = _series_or_fail(learner.load_co2_monthly(), "load_co2_monthly()")
    want = _co2()
    weekly = _weekly()
    empty = int(weekly.resample("MS").mean().isna().sum())
    if len(got) == len(want) - empty:
        fail(
            f"load_co2_monthly() has {len(got)} months; expected {len(want)}: the {empty} months "
            "without a measurement were dropped. Keep one row per month and fill them with "
            "`.interpolate()` — a series with holes shifts every later lag"
        )
    if len(got) != len(want):
        fail(
            f"load_co2_monthly() has {len(got)} values ({_describe_dates(got.index)}); expected "
            f"{len(want)} monthly means, March 1958 … December 2001. Did you resample the weekly "
            'series with .resample("MS").mean()?'
        )
    month_start = want.index
    month_end = pd.date_range("1958-03-31", periods=len(want), freq="ME")
    if not isinstance(got.index, pd.DatetimeIndex):
        fail(f"the index is a {type(got.index).__name__}; expected the months as a DatetimeIndex")
    if not (got.index.equals(month_start) or got.index.equals(month_end)):
        pos = int(np.argmax(got.index.to_numpy() != month_start.to_numpy()))
        fail(
            f"the index at position {pos} is {got.index[pos]}; expected {month_start[pos]} "
            "(the first day of each month, as .resample('MS') labels them; month ends are "
            "accepted too)"
        )
    missing = int(got.isna().sum())
    if missing:
        fail(
            f"load_co2_monthly() still has {missing} NaN months (first at "
            f"{_label(got.index[got.isna()][0])}): fill them by linear interpolation, "
            "`.interpolate()`"
        )
    values = got.to_numpy(dtype=float)
    rule = "MS" if got.index.equals(month_start) else "ME"
    by_time = weekly.resample(rule).mean().interpolate("time").to_numpy()
    if np.allclose(values, by_time, rtol=1e-9, atol=1e-9):
        return  # interpolating along the time axis is just as right
    monthly = weekly.resample("MS")
    assert_array(
        values,
        want.to_numpy(),
        name="monthly CO₂",
        rtol=1e-9,
        atol=1e-9,
        mistakes={
            "the weekly values summed per month instead of averaged": monthly.sum().to_numpy(),
            "the empty months filled with the previous month (ffill), not interpolated": (
                monthly.mean().ffill().to_numpy()
            ),
            "each month's last weekly value instead of the mean": (
                monthly.last().interpolate().to_numpy()
            ),
        },
    )


@pytest.mark.task(1)
@pytest.mark.parametrize(("case", "lag"), [("small", 1), ("small", 2), ("co2", 1), ("co2", 12)])
def test_difference(learner, case, lag):
    series = (
        pd.Series([1.0, 4.0, 9.0, 16.0, 25.0, 36.0], index=list("abcdef"))
        if case == "small"
        else _co2()
    )
    before = series.copy()
    label = "the CO₂ series" if case == "co2" else "pd.Series([1, 4, 9, 16, 25, 36])"
    name = f"difference({label}, lag={lag})"
    got = _series_or_fail(learner.difference(series, lag=lag), name)
    if not series.equals(before):
        fail(f"{name} changed the series it was given; return a new Series instead")
    want = series.diff(lag).iloc[lag:]
    if len(got) == len(series):
        fail(
            f"{name} has {len(got)} rows, as many as the series: the first {lag} rows have no "
            f"value {lag} steps back and must be dropped (they are NaN after .diff({lag}))"
        )
    if len(got) != len(want):
        fail(f"{name} has {len(got)} rows; expected {len(want)} (the series minus {lag})")
    if not got.index.equals(want.index):
        clue = ""
        if got.index.equals(series.index[:-lag]):
            clue = (
                ": each difference is labelled by the earlier date; label x[t] - x[t-lag] by t, "
                "the later one"
            )
        elif isinstance(got.index, pd.RangeIndex) and not isinstance(series.index, pd.RangeIndex):
            clue = ": the dates were lost (a NumPy result wrapped in a new Series?)"
        fail(
            f"{name} has the index {list(got.index[:3])} …; expected {list(want.index[:3])} …{clue}"
        )
    assert_array(
        got.to_numpy(dtype=float),
        want.to_numpy(),
        name=name,
        rtol=1e-9,
        atol=1e-9,
        mistakes={"series[t - lag] - series[t]: the sign is flipped": -want.to_numpy()},
    )


@pytest.mark.task(1)
@pytest.mark.parametrize("case", ["levels", "first difference", "seasonal + first difference"])
def test_adf_pvalue(learner, case):
    series = _co2()
    if case != "levels":
        series = series.diff().iloc[1:] if case == "first difference" else series.diff(12).diff()
        series = series.dropna()
    statistic, want = _adf(series)
    got = learner.adf_pvalue(series.copy())
    assert_returned(got, "adf_pvalue()", what="the p-value")
    if not isinstance(got, int | float | np.floating):
        fail(f"adf_pvalue() should return one float, the p-value; got {type(got).__name__}")
    assert_close(
        got,
        want,
        name=f"adf_pvalue of the CO₂ {case}",
        rtol=1e-6,
        atol=1e-12,
        mistakes={
            "the test statistic (adfuller(...)[0]); the p-value is adfuller(...)[1]": statistic,
            "the test with a trend term (regression='ct'); keep the default 'c'": _adf(
                series, regression="ct"
            )[1],
            "the test with a fixed lag order (autolag=None); keep autolag='AIC'": _adf(
                series, autolag=None
            )[1],
        },
    )


# ----- task 2 -----------------------------------------------------------------------------------
def _acf_inputs() -> dict[str, np.ndarray | pd.Series]:
    rng = np.random.default_rng(0)
    return {
        "the differenced CO₂ series": _co2().diff().iloc[1:],
        "a random walk of 200 steps": np.cumsum(rng.normal(size=200)),
        "np.array([1.0, 2.0, 3.0, 4.0])": np.array([1.0, 2.0, 3.0, 4.0]),
    }


def _pearson_per_lag(x: np.ndarray, nlags: int) -> np.ndarray:
    return np.array([1.0] + [np.corrcoef(x[k:], x[:-k])[0, 1] for k in range(1, nlags + 1)])


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("case", "nlags"),
    [
        ("the differenced CO₂ series", 36),
        ("a random walk of 200 steps", 20),
        ("np.array([1.0, 2.0, 3.0, 4.0])", 3),
    ],
)
def test_acf(learner, case, nlags):
    x = _acf_inputs()[case]
    values = np.asarray(x, dtype=float)
    got = learner.acf(x.copy(), nlags)
    want = sm_acf(values, nlags=nlags, fft=False)
    raw = np.array([values[k:] @ values[: len(values) - k] for k in range(nlags + 1)])
    assert_array(
        got,
        want,
        name=f"acf({case}, nlags={nlags})",
        rtol=1e-9,
        atol=1e-10,
        mistakes={
            "a Pearson correlation of x[k:] with x[:-k] per lag (each pair with its own mean "
            "and spread); the ACF uses one overall mean and one overall variance": (
                _pearson_per_lag(values, nlags)
            ),
            "each lag divided by its own number of pairs (n - k); divide every lag by the "
            "same sum of squares": sm_acf(values, nlags=nlags, fft=False, adjusted=True),
            "products of the raw values: subtract the mean first": raw / raw[0],
            "lags 1 … nlags without lag 0": np.asarray(want)[1:],
        },
    )


_PACF_METHODS = ("ywadjusted", "ywmle", "ols", "ols-inefficient", "ols-adjusted", "ldb", "burg")


@pytest.mark.task(2)
@pytest.mark.parametrize(("case", "nlags"), [("co2", 24), ("ar2", 10)])
def test_pacf(learner, case, nlags):
    if case == "co2":
        x = _co2().diff().iloc[1:]
        label = "the differenced CO₂ series"
    else:
        rng = np.random.default_rng(1)
        noise = rng.normal(size=400)
        values = np.zeros(400)
        for t in range(2, 400):
            values[t] = 0.6 * values[t - 1] - 0.3 * values[t - 2] + noise[t]
        x = values
        label = "an AR(2) series"
    arr = np.asarray(x, dtype=float)
    got = learner.pacf(x.copy(), nlags)
    name = f"pacf({label}, nlags={nlags})"
    assert_returned(got, name)
    got_arr = np.asarray(got, dtype=float)
    candidates = {m: np.asarray(sm_pacf(arr, nlags=nlags, method=m)) for m in _PACF_METHODS}
    if got_arr.shape == (nlags + 1,):
        for values in candidates.values():
            if np.allclose(got_arr, values, rtol=1e-6, atol=1e-8):
                return
    closest = min(
        candidates,
        key=lambda m: (
            float(np.max(np.abs(got_arr - candidates[m])))
            if got_arr.shape == candidates[m].shape
            else math.inf
        ),
    )
    assert_array(
        got_arr,
        candidates[closest],
        name=f"{name} (compared with statsmodels' method={closest!r}, the closest estimator)",
        rtol=1e-6,
        atol=1e-8,
        mistakes={
            "the ACF, not the partial autocorrelation": sm_acf(arr, nlags=nlags, fft=False),
            "lags 1 … nlags without lag 0": candidates[closest][1:],
        },
    )


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("case", "period", "max_lag", "seed", "walk"),
    [
        ("co2", 12, 36, 0, 0.0),
        ("synthetic", 7, 36, 0, 3.0),
        ("synthetic", 6, 36, 2, 1.0),
        ("synthetic", 12, 20, 1, 1.0),
        ("smooth", 12, 12, 4, 0.0),
    ],
)
def test_seasonal_period(learner, case, period, max_lag, seed, walk):
    if case == "co2":
        series = _co2()
        label = "the CO₂ series"
    elif case == "smooth":
        series = _smooth_steps(period, seed=seed)
        label = (
            f"a {period}-step cycle on a level whose steps come in pairs (the differenced "
            "series peaks at lag 1)"
        )
    else:
        series = _synthetic(period, seed=seed, walk=walk)
        label = f"a synthetic series with a {period}-step cycle on a wandering level"
    diffed = sm_acf(np.diff(series.to_numpy()), nlags=max_lag, fft=False)
    want = int(np.argmax(diffed[2:])) + 2
    assert want == period, "internal: the synthetic series does not have the intended season"
    got = learner.seasonal_period(series.copy(), max_lag=max_lag)
    assert_returned(got, "seasonal_period()", what="the lag")
    if isinstance(got, float | np.floating) and float(got).is_integer():
        got = int(got)
    if not isinstance(got, int | np.integer):
        fail(f"seasonal_period() should return an int (a lag); got {type(got).__name__} {got!r}")
    if int(got) == want:
        return
    levels = sm_acf(series.to_numpy(), nlags=max_lag, fft=False)
    clues = {
        int(np.argmax(levels[2:])) + 2: "the peak of the ACF of the levels, not of the first "
        "difference: the trend makes nearby months alike and hides the cycle — difference first",
        int(np.argmax(diffed[2:])): "the position within acf[2:]: add back the 2 lags you skipped",
        int(np.argmax(diffed[1:])) + 1: "a peak at lag 1, which the task excludes (start at 2)",
    }
    if want == max_lag and max_lag > 2:
        clues.setdefault(
            int(np.argmax(diffed[2:max_lag])) + 2,
            f"a search that stops before max_lag: lags 2 … {max_lag} include {max_lag} itself",
        )
    clue = clues.get(int(got), "")
    top = np.argsort(-diffed[2:])[:3] + 2
    best = ", ".join(f"lag {k}: {diffed[k]:.3f}" for k in top)
    fail(
        f"seasonal_period({label}, max_lag={max_lag}) is {int(got)}; expected {want}"
        + (f" — it looks like {clue}" if clue else "")
        + f". The largest ACF values of the first difference are at {best}"
    )


# ----- task 3 -----------------------------------------------------------------------------------
def _repeat_lag(seasonal: np.ndarray, threshold: float = 0.15) -> int | None:
    """The smallest lag after which the seasonal component (nearly) repeats itself."""
    spread = float(np.mean(np.abs(seasonal - seasonal.mean())))
    if spread == 0:
        return None
    for lag in range(2, 61):
        change = float(np.mean(np.abs(seasonal[lag:] - seasonal[:-lag])))
        if change < threshold * spread:
            return lag
    return None


@pytest.mark.task(3)
def test_decompose(learner):
    series = _co2()
    parts = learner.decompose(series.copy())
    assert_returned(parts, "decompose()", what="the DataFrame")
    if not isinstance(parts, pd.DataFrame):
        fail(
            f"decompose() should return a pandas DataFrame with the columns trend, seasonal, "
            f"resid; got {type(parts).__name__} (a DecomposeResult? build the DataFrame from "
            "its .trend, .seasonal and .resid)"
        )
    wanted = ["trend", "seasonal", "resid"]
    if sorted(parts.columns) != sorted(wanted):
        fail(f"decompose() has the columns {list(parts.columns)}; expected {wanted}")
    if not parts.index.equals(series.index):
        fail(
            f"decompose() is indexed {_describe_dates(parts.index)} ({len(parts)} rows); "
            f"expected the series' own index, {_describe_dates(series.index)}"
        )
    seasonal = parts["seasonal"].to_numpy(dtype=float)
    if np.isnan(seasonal).any():
        fail(
            f"the seasonal component has {int(np.isnan(seasonal).sum())} NaN values; it should "
            "be defined for every month"
        )
    trend = parts["trend"].to_numpy(dtype=float)
    resid = parts["resid"].to_numpy(dtype=float)
    defined = ~np.isnan(trend) & ~np.isnan(resid)
    if defined.sum() < 0.8 * len(series):
        fail(f"trend and resid are defined for only {int(defined.sum())} of {len(series)} months")
    actual = series.to_numpy()[defined]
    added = (trend + seasonal + resid)[defined]
    if not np.allclose(added, actual, rtol=0, atol=1e-6):
        if np.allclose((trend * seasonal * resid)[defined], actual, rtol=1e-9, atol=1e-6):
            fail(
                "trend × seasonal × resid rebuilds the series: a multiplicative decomposition. "
                "CO₂'s yearly swing has the same size at every level: use model='additive'"
            )
        worst = int(np.argmax(np.abs(added - actual)))
        fail(
            "trend + seasonal + resid does not rebuild the series: at "
            f"{_label(series.index[defined][worst])} "
            f"it gives {added[worst]:.4f}, the series is {actual[worst]:.4f}"
        )
    lag = _repeat_lag(seasonal)
    if lag != PERIOD:
        if lag is None:
            fail(
                "the seasonal component does not repeat itself after any number of months up "
                "to 60; a seasonal component is one pattern repeated every season (12 months "
                "for a yearly cycle in monthly data)"
            )
        fail(
            f"the seasonal component repeats every {lag} months, not every 12: a wrong seasonal "
            f"period. The data is monthly now, so a yearly cycle is 12 observations"
            + (" (52 is a year of weekly data)" if lag == 52 else "")
        )
    assert_in_band(
        float(np.std(seasonal)),
        1.6,
        2.5,
        name="the standard deviation of the seasonal component",
        unit=" ppm",
    )
    resid_sd = float(np.nanstd(resid))
    if resid_sd > 0.6:
        fail(
            f"the residual's standard deviation is {resid_sd:.3f} ppm; expected a few tenths "
            "(about 0.2–0.3): trend and season should explain almost all of the series"
        )
    rise = float(trend[defined][-1] - trend[defined][0])
    assert_in_band(rise, 45.0, 62.0, name="the trend's rise from first to last month", unit=" ppm")


# ----- task 4 -----------------------------------------------------------------------------------
@pytest.mark.task(4)
@pytest.mark.parametrize(("case", "horizon"), [("co2", 24), ("co2", 60), ("small", 3)])
def test_time_split(learner, case, horizon):
    series = _co2() if case == "co2" else pd.Series(np.arange(10.0) * 10)
    label = "the CO₂ series" if case == "co2" else "pd.Series(range(0, 100, 10))"
    name = f"time_split({label}, horizon={horizon})"
    got = assert_tuple(learner.time_split(series.copy(), horizon), ("train", "test"), name)
    train = _series_or_fail(got[0], f"train from {name}")
    test = _series_or_fail(got[1], f"test from {name}")
    want_train, want_test = series.iloc[:-horizon], series.iloc[-horizon:]
    if len(test) != horizon or len(train) != len(series) - horizon:
        fail(
            f"{name} gives {len(train)} training and {len(test)} test values; expected "
            f"{len(want_train)} and {horizon} (the test part is exactly the last horizon values)"
        )
    if set(test.index) != set(want_test.index):
        interleaved = len(train) and test.index.min() < train.index.max()
        fail(
            f"{name}: the test part holds {_describe_dates(test.index.sort_values())} — "
            + (
                "test values taken from all over the series, interleaved with the training "
                "values: a shuffled split (train_test_split shuffles unless shuffle=False). "
                "A forecast predicts what comes after the training data: the test part must be "
                f"the last {horizon} observations"
                if interleaved
                else f"expected the last {horizon} observations, {_describe_dates(want_test.index)}"
            )
        )
    if not (train.index.equals(want_train.index) and test.index.equals(want_test.index)):
        fail(f"{name} returns the right rows in another order: keep them in time order")
    assert_array(train.to_numpy(), want_train.to_numpy(), name=f"train from {name}")
    assert_array(test.to_numpy(), want_test.to_numpy(), name=f"test from {name}")


@pytest.mark.task(4)
@pytest.mark.parametrize(
    ("case", "horizon", "period"),
    [("co2", 24, 12), ("co2", 30, 12), ("co2", 5, 12), ("quarters", 10, 4)],
)
def test_seasonal_naive(learner, case, horizon, period):
    if case == "co2":
        history = _co2().iloc[:400]
        label = "the first 400 CO₂ months"
    else:
        history = pd.Series(
            [10.0, 20.0, 30.0, 40.0, 11.0, 21.0, 31.0, 41.0, 12.0, 22.0, 32.0, 42.0, 13.0],
            index=pd.date_range("2020-01-01", periods=13, freq="QS"),
        )
        label = "a quarterly series of 13 values"
    before = history.copy()
    name = f"seasonal_naive({label}, horizon={horizon}, period={period})"
    got = _series_or_fail(learner.seasonal_naive(history, horizon, period=period), name)
    if not history.equals(before):
        fail(f"{name} changed the history it was given; leave the input as it is")
    want = _naive(history, horizon, period)
    h = history.to_numpy()
    mistakes = {
        "the last observed value repeated (a plain naive forecast); use the value one season "
        "earlier": np.full(horizon, h[-1]),
        "the season before the last one (2 × period back)": np.resize(
            h[-2 * period : -period], horizon
        ),
        "values period + 1 steps back (off by one)": np.resize(h[-period - 1 : -1], horizon),
    }
    if horizon > period:
        mistakes[
            f"the last {horizon} values (horizon steps back) where the last season belongs: the "
            f"value one season ({period} steps) earlier, the last season repeated"
        ] = np.resize(h[-horizon:], horizon)
    if len(got) != horizon:
        fail(
            f"{name} has {len(got)} values; expected {horizon}, one per future step"
            + (" — repeat the last season as often as needed" if len(got) == period else "")
        )
    assert_array(got.to_numpy(dtype=float), want.to_numpy(), name=name, mistakes=mistakes)
    if not got.index.equals(want.index):
        fail(
            f"{name} is indexed {_describe_dates(got.index)}; expected the {horizon} dates after "
            f"the history, {_describe_dates(want.index)} (same frequency as the history)"
        )


@pytest.mark.task(4)
def test_mase(learner, rng):
    actual = rng.normal(100.0, 5.0, 30)
    table = pd.DataFrame(
        {
            "actual": actual,
            "forecast": actual + rng.normal(0.0, 1.0, 30),
            "naive": actual + rng.normal(0.5, 3.0, 30),
        },
        index=pd.date_range("2030-01-01", periods=30, freq="MS"),
    )
    e_model = table["actual"] - table["forecast"]
    e_naive = table["actual"] - table["naive"]
    want = float(e_model.abs().mean() / e_naive.abs().mean())
    got = learner.mase(table.copy())
    assert_close(
        got,
        want,
        name="mase(table)",
        rtol=1e-9,
        mistakes={
            "the ratio upside down (naive error / forecast error)": 1 / want,
            "a ratio of root mean squared errors, not of mean absolute errors": float(
                np.sqrt((e_model**2).mean() / (e_naive**2).mean())
            ),
            "a ratio of mean squared errors, not of mean absolute errors": float(
                (e_model**2).mean() / (e_naive**2).mean()
            ),
            "the mean of the per-month ratios, not the ratio of the two means": float(
                (e_model.abs() / e_naive.abs()).mean()
            ),
            "the forecast's mean absolute error alone, not divided by the naive one's": float(
                e_model.abs().mean()
            ),
        },
    )


# ----- task 5 -----------------------------------------------------------------------------------
def _cuts() -> list[tuple[str, pd.Series, int]]:
    co2 = _co2()
    synthetic = _synthetic(12, n=216, seed=5, walk=1.0)
    return [
        ("CO₂", co2, len(co2) - HORIZON),
        ("CO₂", co2, len(co2) - 3 * HORIZON),
        ("CO₂", co2, len(co2) - 5 * HORIZON),
        ("a synthetic seasonal series", synthetic, len(synthetic) - HORIZON),
    ]


@cached
def _learner_forecast(learner: Any, number: int) -> Any:
    """The learner's forecast from the history of ``_cuts()[number]`` (tasks share it)."""
    _label, series, cut = _cuts()[number]
    history = series.iloc[:cut]
    before = history.copy()
    got = learner.forecast(history, HORIZON)
    if not history.equals(before):
        fail("forecast() changed the history it was given; leave the input as it is")
    return got


@pytest.mark.task(5)
def test_forecast_index(learner):
    co2 = _co2()
    got = _series_or_fail(_learner_forecast(learner, 0), "forecast(history, 24)")
    want_index = co2.index[-HORIZON:]
    if len(got) != HORIZON:
        fail(f"forecast(history, 24) has {len(got)} values; expected 24")
    if not got.index.equals(want_index):
        fail(
            f"forecast(history, 24) is indexed {_describe_dates(got.index)}; expected the 24 "
            f"months after the history, {_describe_dates(want_index)}"
        )
    values = got.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        fail(f"forecast(history, 24) has {int((~np.isfinite(values)).sum())} NaN or inf values")


@pytest.mark.task(5)
def test_forecast_beats_seasonal_naive(learner):
    for number, (label, series, cut) in enumerate(_cuts()):
        history, future = series.iloc[:cut], series.iloc[cut : cut + HORIZON]
        got = _learner_forecast(learner, number)
        values = np.asarray(got, dtype=float).reshape(-1)
        if values.shape != (HORIZON,):
            fail(f"forecast(history, 24) has {values.size} values; expected 24")
        if not np.isfinite(values).all():
            fail(f"forecast(history, 24) on {label} has NaN or inf values")
        model_mae = float(np.mean(np.abs(future.to_numpy() - values)))
        naive_mae = float(np.mean(np.abs(future.to_numpy() - _naive(history, HORIZON).to_numpy())))
        if model_mae >= naive_mae:
            fail(
                f"on {label}, cut after {history.index[-1].date()}: your forecast's mean absolute "
                f"error over the next 24 months is {model_mae:.3f}, seasonal naive's is "
                f"{naive_mae:.3f} (MASE {model_mae / naive_mae:.2f}, must be below 1). Does the "
                "model have a trend and a 12-month season (monthly data)?"
            )


@cached
def _backtest(learner: Any, other_future: bool = False) -> pd.DataFrame:
    """The learner's backtest of CO₂ (with another future: see ``_other_future``)."""
    series = _other_future(_co2()) if other_future else _co2()
    table = learner.backtest(series, HORIZON)
    assert_returned(table, "backtest()", what="the table", of=pd.DataFrame)
    missing = [c for c in ("actual", "forecast", "naive") if c not in table.columns]
    if missing:
        fail(f"backtest()'s table lacks the columns {missing}; it has {list(table.columns)}")
    return table


def _other_future(series: pd.Series) -> pd.Series:
    """The same past with a different future: the last HORIZON months reversed and raised."""
    changed = series.copy()
    changed.iloc[-HORIZON:] = series.to_numpy()[-HORIZON:][::-1] + 5.0
    return changed


@pytest.mark.task(5)
def test_backtest_does_not_look_ahead(learner):
    base = _backtest(learner)
    other = _backtest(learner, other_future=True)
    if np.allclose(
        base["actual"].to_numpy(dtype=float), other["actual"].to_numpy(dtype=float), atol=1e-9
    ):
        fail(
            "backtest()'s actual column did not change when the last 24 months of the series "
            "changed: does backtest() use the series it is given?"
        )
    for column in ("forecast", "naive"):
        a = base[column].to_numpy(dtype=float)
        b = other[column].to_numpy(dtype=float)
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-9, atol=1e-8):
            change = float(np.max(np.abs(a - b))) if a.shape == b.shape else math.inf
            whole = _naive(_co2(), HORIZON).to_numpy()
            if column == "naive" and a.shape == whole.shape and np.allclose(a, whole, atol=1e-8):
                fail(
                    f"backtest()'s naive column changed (by up to {change:.3g} ppm) when only the "
                    "24 test months changed: it is seasonal_naive of the whole series (its last "
                    "season is inside the test months). Call seasonal_naive(train, horizon) on "
                    "the training part"
                )
            fail(
                f"backtest()'s {column} column changed (by up to {change:.3g} ppm) when only the "
                "24 test months changed: it has seen the months it predicts. Typical causes: "
                "in-sample fitted values (a model fitted on the whole series, its fittedvalues "
                "read off for the test months) or a shuffled split. Fit on the training part "
                "only and forecast forward"
            )


@pytest.mark.task(5)
def test_backtest_table(learner):
    co2 = _co2()
    table = _backtest(learner)
    train, test = co2.iloc[:-HORIZON], co2.iloc[-HORIZON:]
    if not table.index.equals(test.index):
        clue = ""
        if len(table) == len(train) or (len(table) and table.index[0] == co2.index[0]):
            clue = (
                ": the table covers the training months — errors measured on in-sample fitted "
                "values. Score the forecast of the held-out months"
            )
        fail(
            f"backtest()'s table is indexed {_describe_dates(table.index)} ({len(table)} rows); "
            f"expected the last 24 months, {_describe_dates(test.index)}{clue}"
        )
    assert_array(table["actual"].to_numpy(dtype=float), test.to_numpy(), name="the actual column")
    assert_array(
        table["naive"].to_numpy(dtype=float),
        _naive(train, HORIZON).to_numpy(),
        name="the naive column",
        mistakes={
            "a seasonal naive taken from the whole series (series.shift(12)): for the second "
            "year it copies test months it is meant to forecast": co2.shift(PERIOD)
            .iloc[-HORIZON:]
            .to_numpy(),
        },
    )
    own = np.asarray(_learner_forecast(learner, 0), dtype=float).reshape(-1)
    got = table["forecast"].to_numpy(dtype=float)
    if own.shape == got.shape and not np.allclose(got, own, rtol=1e-9, atol=1e-9):
        worst = int(np.argmax(np.abs(got - own)))
        fail(
            f"backtest()'s forecast column differs from forecast(train, 24) — at "
            f"{test.index[worst].date()}: {got[worst]:.4f} vs {own[worst]:.4f}. Call forecast() "
            "on the training part only and put its values in the table"
        )


@pytest.mark.task(5)
def test_backtest_beats_seasonal_naive(learner):
    co2 = _co2()
    table = _backtest(learner)
    actual = co2.to_numpy()[-HORIZON:]
    model_mae = float(np.mean(np.abs(actual - table["forecast"].to_numpy(dtype=float))))
    naive_mae = float(np.mean(np.abs(actual - _naive(co2.iloc[:-HORIZON], HORIZON).to_numpy())))
    if not model_mae < naive_mae:
        fail(
            f"backtest: the forecast's mean absolute error is {model_mae:.3f} ppm, seasonal "
            f"naive's {naive_mae:.3f} ppm (MASE {model_mae / naive_mae:.2f}); it must be below 1"
        )
