# expect: seasonal_naive of the whole series
# slip: backtest's naive column from the whole series (last season of the test months)
"""Time series: review base."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from statsmodels.tsa.seasonal import seasonal_decompose
from statsmodels.tsa.stattools import adfuller
from statsmodels.tsa.stattools import pacf as sm_pacf


def load_co2_monthly() -> pd.Series:
    weekly = sm.datasets.co2.load_pandas().data["co2"]
    return weekly.resample("MS").mean().interpolate()


def difference(series, lag=1):
    return series.diff(lag).iloc[lag:]


def adf_pvalue(series):
    return float(adfuller(series)[1])


def acf(x, nlags):
    x = np.asarray(x, dtype=float)
    d = x - x.mean()
    denom = np.dot(d, d)
    return np.array([np.dot(d[k:], d[: len(d) - k]) / denom for k in range(nlags + 1)])


def pacf(x, nlags):
    return np.asarray(sm_pacf(np.asarray(x, dtype=float), nlags=nlags))


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
    return series.iloc[:-horizon], series.iloc[-horizon:]


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
    model = ExponentialSmoothing(history, trend="add", seasonal="add", seasonal_periods=12).fit()
    return model.forecast(horizon)


def backtest(series, horizon):
    train, test = time_split(series, horizon)
    return pd.DataFrame(
        {
            "actual": test,
            "forecast": forecast(train, horizon).to_numpy(),
            "naive": seasonal_naive(series, horizon).to_numpy(),
        },
        index=test.index,
    )
