"""Time series: review base."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tsa.seasonal import seasonal_decompose
from statsmodels.tsa.stattools import adfuller


def load_co2_monthly() -> pd.Series:
    weekly = sm.datasets.co2.load_pandas().data["co2"]
    return weekly.resample("MS").mean().interpolate()


def difference(series, lag=1):
    return (series - series.shift(lag)).dropna()


def adf_pvalue(series):
    return float(adfuller(series)[1])


def acf(x, nlags):
    x = np.asarray(x, dtype=float)
    d = x - x.mean()
    denom = np.dot(d, d)
    return np.array([np.dot(d[k:], d[: len(d) - k]) / denom for k in range(nlags + 1)])


def pacf(x, nlags):
    x = np.asarray(x, dtype=float)
    out = [1.0]
    for k in range(1, nlags + 1):
        rows = np.column_stack(
            [np.ones(len(x) - k)] + [x[k - j : len(x) - j] for j in range(1, k + 1)]
        )
        coef = np.linalg.lstsq(rows, x[k:], rcond=None)[0]
        out.append(coef[-1])
    return np.array(out)


def seasonal_period(series, max_lag=36):
    values = acf(difference(series), max_lag)
    return int(2 + np.argmax(values[2 : max_lag + 1]))


def decompose(series):
    result = seasonal_decompose(series, model="additive", period=12)
    return pd.DataFrame(
        {"trend": result.trend, "seasonal": result.seasonal, "resid": result.resid},
        index=series.index,
    )


def time_split(series, horizon):
    n = len(series) - horizon
    return series[series.index[:n]], series[series.index[n:]]


def seasonal_naive(history, horizon, period=12):
    last = history.to_numpy()[-period:]
    values = np.resize(last, horizon)
    index = pd.date_range(history.index[-1], periods=horizon + 1, freq=history.index.freq)[1:]
    return pd.Series(values, index=index)


def mase(table):
    err = np.mean(np.abs(table["actual"] - table["forecast"]))
    naive = np.mean(np.abs(table["actual"] - table["naive"]))
    return float(err / naive)


def forecast(history, horizon):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    fit = SARIMAX(history, order=(0, 1, 1), seasonal_order=(0, 1, 1, 12)).fit(disp=False)
    return fit.forecast(horizon)


def backtest(series, horizon):
    train, test = time_split(series, horizon)
    return pd.DataFrame(
        {
            "actual": test,
            "forecast": forecast(train, horizon).to_numpy(),
            "naive": seasonal_naive(train, horizon).to_numpy(),
        },
        index=test.index,
    )
