"""Forecasting a seasonal series (CO₂ at Mauna Loa): the file you edit.

Read README.md first. The checks call these functions on the monthly CO₂ series
(`sm.datasets.co2.load_pandas().data`) and on series of their own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# What you will need, among others: statsmodels.api (as sm) for the data; adfuller, pacf
# (statsmodels.tsa.stattools); seasonal_decompose or STL (statsmodels.tsa.seasonal);
# ExponentialSmoothing (statsmodels.tsa.holtwinters) or SARIMAX
# (statsmodels.tsa.statespace.sarimax).


# ----- task 1 -----------------------------------------------------------------------------------
def load_co2_monthly() -> pd.Series:
    """Mauna Loa CO₂ (ppm) averaged per month, no missing months.

    Monthly means of the weekly series, labelled by the first day of each month (``"MS"``),
    March 1958 … December 2001; the five months without any measurement filled by linear
    interpolation.

    >>> s = load_co2_monthly()
    >>> len(s), str(s.index[0].date()), str(s.index[-1].date()), int(s.isna().sum())
    (526, '1958-03-01', '2001-12-01', 0)
    >>> round(float(s.iloc[0]), 1)
    316.1
    """
    # TODO: resample the weekly values to monthly means, then interpolate the empty months
    raise NotImplementedError


def difference(series: pd.Series, lag: int = 1) -> pd.Series:
    """``series[t] - series[t - lag]``; the first ``lag`` rows (no partner) are dropped.

    The remaining rows keep their index labels.

    >>> s = pd.Series([1.0, 4.0, 9.0, 16.0])
    >>> difference(s).tolist(), difference(s).index.tolist()
    ([3.0, 5.0, 7.0], [1, 2, 3])
    >>> difference(s, lag=2).tolist()
    [8.0, 12.0]
    """
    # TODO: subtract the value `lag` steps back, drop the rows that have none
    raise NotImplementedError


def adf_pvalue(series: pd.Series) -> float:
    """The augmented Dickey–Fuller p-value (``adfuller`` defaults: constant, autolag="AIC").

    Small (< 0.05): the unit-root hypothesis is rejected, the series looks stationary.

    >>> adf_pvalue(load_co2_monthly()) > 0.9                       # doctest: +SKIP
    True
    >>> adf_pvalue(difference(load_co2_monthly())) < 0.01          # doctest: +SKIP
    True
    """
    # TODO: statsmodels.tsa.stattools.adfuller returns (statistic, pvalue, ...)
    raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
def acf(x: np.ndarray | pd.Series, nlags: int) -> np.ndarray:
    """Sample autocorrelations at lags ``0 … nlags`` (shape ``(nlags + 1,)``, ``acf[0] == 1``).

    One mean ``m`` and one denominator for every lag:
    ``acf[k] = sum_{t>=k} (x[t]-m)(x[t-k]-m) / sum_t (x[t]-m)**2``.

    >>> acf(np.array([1.0, 2.0, 3.0, 4.0]), nlags=2).round(3).tolist()
    [1.0, 0.25, -0.3]
    """
    # TODO: demean once, then one dot product per lag (a loop over k is fine)
    raise NotImplementedError


def pacf(x: np.ndarray | pd.Series, nlags: int) -> np.ndarray:
    """Partial autocorrelations at lags ``0 … nlags`` (shape ``(nlags + 1,)``, ``pacf[0] == 1``).

    Any statsmodels estimator is accepted, e.g. ``statsmodels.tsa.stattools.pacf(x, nlags)``.

    >>> rng = np.random.default_rng(0)
    >>> pacf(rng.normal(size=500), nlags=3).shape
    (4,)
    """
    # TODO: statsmodels' pacf, or a least-squares regression per lag (see README)
    raise NotImplementedError


def seasonal_period(series: pd.Series, max_lag: int = 36) -> int:
    """The lag in ``2 … max_lag`` where the ACF of the first difference of ``series`` peaks.

    >>> seasonal_period(load_co2_monthly())                         # doctest: +SKIP
    12
    """
    # TODO: difference once, compute the ACF up to max_lag, take the best lag from 2 on
    raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
def decompose(series: pd.Series) -> pd.DataFrame:
    """Additive decomposition: columns ``"trend"``, ``"seasonal"``, ``"resid"`` on ``series.index``.

    ``trend + seasonal + resid == series`` wherever the trend is defined; the seasonal
    component repeats every season of the monthly series (you pick the period).

    >>> parts = decompose(load_co2_monthly())                       # doctest: +SKIP
    >>> list(parts.columns), round(float(parts["seasonal"].max()), 1)  # doctest: +SKIP
    (['trend', 'seasonal', 'resid'], 2.9)
    """
    # TODO: seasonal_decompose(series, model="additive", period=...) or STL(series, period=...)
    raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
def time_split(series: pd.Series, horizon: int) -> tuple[pd.Series, pd.Series]:
    """``(train, test)``: ``test`` is the last ``horizon`` observations, ``train`` the rest.

    Both keep the time order and the index; nothing is shuffled.

    >>> train, test = time_split(pd.Series(range(10)), horizon=3)
    >>> train.tolist(), test.tolist()
    ([0, 1, 2, 3, 4, 5, 6], [7, 8, 9])
    """
    # TODO: slice by position
    raise NotImplementedError


def seasonal_naive(history: pd.Series, horizon: int, period: int = 12) -> pd.Series:
    """Forecast each of the next ``horizon`` steps by the value one ``period`` earlier.

    The last observed season repeats as often as needed. The index holds the ``horizon``
    dates after ``history.index[-1]``, at ``history.index.freq``.

    >>> idx = pd.date_range("2000-01-01", periods=6, freq="MS")
    >>> h = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], index=idx)
    >>> f = seasonal_naive(h, horizon=5, period=4)
    >>> f.tolist(), str(f.index[0].date())
    ([3.0, 4.0, 5.0, 6.0, 3.0], '2000-07-01')
    """
    # TODO: tile the last `period` values, build the future index
    raise NotImplementedError


def mase(table: pd.DataFrame) -> float:
    """``mean(|actual - forecast|) / mean(|actual - naive|)`` over the rows of ``table``.

    >>> t = pd.DataFrame({"actual": [10.0, 12.0], "forecast": [11.0, 12.0],
    ...                   "naive": [8.0, 13.0]})
    >>> round(mase(t), 4)
    0.3333
    """
    # TODO: two mean absolute errors, one ratio
    raise NotImplementedError


# ----- task 5 -----------------------------------------------------------------------------------
def forecast(history: pd.Series, horizon: int) -> pd.Series:
    """Fit a seasonal model on ``history`` only and forecast the next ``horizon`` months.

    ``history`` has a monthly ``DatetimeIndex`` with its ``freq`` set; the result is indexed by
    the ``horizon`` months that follow it.

    >>> train, test = time_split(load_co2_monthly(), horizon=24)    # doctest: +SKIP
    >>> forecast(train, 24).index.equals(test.index)                 # doctest: +SKIP
    True
    """
    # TODO: e.g. Holt–Winters: ExponentialSmoothing(..., trend="add", seasonal="add", ...)
    raise NotImplementedError


def backtest(series: pd.Series, horizon: int) -> pd.DataFrame:
    """Hold out the last ``horizon`` months, forecast them from the rest.

    Returns a table indexed by the test months with the columns ``"actual"``, ``"forecast"``
    (``forecast(train, horizon)``) and ``"naive"`` (``seasonal_naive(train, horizon)``).

    >>> table = backtest(load_co2_monthly(), horizon=24)            # doctest: +SKIP
    >>> list(table.columns), len(table), mase(table) < 1             # doctest: +SKIP
    (['actual', 'forecast', 'naive'], 24, True)
    """
    # TODO: time_split, then forecast and seasonal_naive from the training part only
    raise NotImplementedError
