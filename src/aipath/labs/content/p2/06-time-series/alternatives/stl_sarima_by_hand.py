"""A correct solution written differently: month-end labels, time interpolation, a vectorized ACF,
the PACF by least squares, STL, sklearn's unshuffled split, a loop for the naive forecast and a
small SARIMA instead of Holt–Winters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from sklearn.model_selection import train_test_split
from statsmodels.tsa.seasonal import STL
from statsmodels.tsa.statespace.sarimax import SARIMAX
from statsmodels.tsa.stattools import adfuller

SEASON = 12


def load_co2_monthly() -> pd.Series:
    weekly = sm.datasets.co2.load_pandas().data["co2"]
    return weekly.resample("ME").mean().interpolate(method="time")


def difference(series: pd.Series, lag: int = 1) -> pd.Series:
    return (series - series.shift(lag)).iloc[lag:]


def adf_pvalue(series: pd.Series) -> float:
    _statistic, pvalue, *_rest = adfuller(series.to_numpy(), autolag="AIC")
    return float(pvalue)


def acf(x: np.ndarray | pd.Series, nlags: int) -> np.ndarray:
    values = np.asarray(x, dtype=float)
    centered = values - values.mean()
    n = len(centered)
    full = np.correlate(centered, centered, mode="full")  # lags -(n-1) … n-1
    return full[n - 1 : n + nlags] / full[n - 1]


def pacf(x: np.ndarray | pd.Series, nlags: int) -> np.ndarray:
    values = np.asarray(x, dtype=float)
    result = [1.0]
    for k in range(1, nlags + 1):
        target = values[k:]
        columns = [np.ones_like(target)] + [
            values[k - j : len(values) - j] for j in range(1, k + 1)
        ]
        coefficients, *_ = np.linalg.lstsq(np.column_stack(columns), target, rcond=None)
        result.append(coefficients[-1])  # the coefficient of x[t - k]
    return np.array(result)


def seasonal_period(series: pd.Series, max_lag: int = 36) -> int:
    correlations = acf(np.diff(np.asarray(series, dtype=float)), max_lag)
    best_lag, best_value = 2, -np.inf
    for lag in range(2, max_lag + 1):
        if correlations[lag] > best_value:
            best_lag, best_value = lag, correlations[lag]
    return best_lag


def decompose(series: pd.Series) -> pd.DataFrame:
    fitted = STL(series, period=SEASON).fit()
    return pd.concat(
        [
            fitted.trend.rename("trend"),
            fitted.seasonal.rename("seasonal"),
            fitted.resid.rename("resid"),
        ],
        axis=1,
    )


def time_split(series: pd.Series, horizon: int) -> tuple[pd.Series, pd.Series]:
    train, test = train_test_split(series, test_size=horizon, shuffle=False)
    return train, test


def seasonal_naive(history: pd.Series, horizon: int, period: int = 12) -> pd.Series:
    observed = list(history.to_numpy())
    values = []
    for step in range(horizon):
        values.append(observed[len(observed) - period + step % period])
    step_size = history.index.freq
    index = pd.date_range(start=history.index[-1] + step_size, periods=horizon, freq=step_size)
    return pd.Series(values, index=index)


def mase(table: pd.DataFrame) -> float:
    actual = table["actual"].to_numpy()
    return float(
        np.mean(np.abs(actual - table["forecast"].to_numpy()))
        / np.mean(np.abs(actual - table["naive"].to_numpy()))
    )


def forecast(history: pd.Series, horizon: int) -> pd.Series:
    model = SARIMAX(history, order=(0, 1, 1), seasonal_order=(0, 1, 1, SEASON))
    return model.fit(disp=False).forecast(steps=horizon)


def backtest(series: pd.Series, horizon: int) -> pd.DataFrame:
    train, test = time_split(series, horizon)
    table = pd.DataFrame(index=test.index)
    table["actual"] = test
    table["forecast"] = forecast(train, horizon).to_numpy()
    table["naive"] = seasonal_naive(train, horizon).to_numpy()
    return table
