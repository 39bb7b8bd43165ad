# expect: pearson correlation
"""A known-wrong solution: each lag's autocorrelation is a Pearson correlation of the shifted
pairs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from statsmodels.tsa.seasonal import seasonal_decompose
from statsmodels.tsa.stattools import adfuller
from statsmodels.tsa.stattools import pacf as sm_pacf

PERIOD = 12  # monthly observations, yearly cycle


# ----- task 1 -----------------------------------------------------------------------------------
def load_co2_monthly() -> pd.Series:
    weekly = sm.datasets.co2.load_pandas().data["co2"]
    return weekly.resample("MS").mean().interpolate()


def difference(series: pd.Series, lag: int = 1) -> pd.Series:
    return series.diff(lag).iloc[lag:]


def adf_pvalue(series: pd.Series) -> float:
    with warnings.catch_warnings():  # statsmodels 0.15 announces a new return type
        warnings.simplefilter("ignore", FutureWarning)
        return float(adfuller(np.asarray(series, dtype=float))[1])


# ----- task 2 -----------------------------------------------------------------------------------
def acf(x: np.ndarray | pd.Series, nlags: int) -> np.ndarray:
    values = np.asarray(x, dtype=float)
    return np.array(
        [1.0] + [np.corrcoef(values[k:], values[:-k])[0, 1] for k in range(1, nlags + 1)]
    )


def pacf(x: np.ndarray | pd.Series, nlags: int) -> np.ndarray:
    return np.asarray(sm_pacf(np.asarray(x, dtype=float), nlags=nlags))


def seasonal_period(series: pd.Series, max_lag: int = 36) -> int:
    correlations = acf(difference(series), max_lag)
    return int(np.argmax(correlations[2:])) + 2


# ----- task 3 -----------------------------------------------------------------------------------
def decompose(series: pd.Series) -> pd.DataFrame:
    parts = seasonal_decompose(series, model="additive", period=PERIOD)
    return pd.DataFrame({"trend": parts.trend, "seasonal": parts.seasonal, "resid": parts.resid})


# ----- task 4 -----------------------------------------------------------------------------------
def time_split(series: pd.Series, horizon: int) -> tuple[pd.Series, pd.Series]:
    return series.iloc[:-horizon], series.iloc[-horizon:]


def _future_index(history: pd.Series, horizon: int) -> pd.DatetimeIndex:
    return pd.date_range(history.index[-1], periods=horizon + 1, freq=history.index.freq)[1:]


def seasonal_naive(history: pd.Series, horizon: int, period: int = 12) -> pd.Series:
    last_season = history.to_numpy()[-period:]
    values = np.resize(last_season, horizon)  # repeats the season as often as needed
    return pd.Series(values, index=_future_index(history, horizon), name=history.name)


def mase(table: pd.DataFrame) -> float:
    model_error = (table["actual"] - table["forecast"]).abs().mean()
    naive_error = (table["actual"] - table["naive"]).abs().mean()
    return float(model_error / naive_error)


# ----- task 5 -----------------------------------------------------------------------------------
def forecast(history: pd.Series, horizon: int) -> pd.Series:
    model = ExponentialSmoothing(
        history, trend="add", seasonal="add", seasonal_periods=PERIOD
    ).fit()
    return model.forecast(horizon)


def backtest(series: pd.Series, horizon: int) -> pd.DataFrame:
    train, test = time_split(series, horizon)
    return pd.DataFrame(
        {
            "actual": test,
            "forecast": forecast(train, horizon).to_numpy(),
            "naive": seasonal_naive(train, horizon).to_numpy(),
        },
        index=test.index,
    )
