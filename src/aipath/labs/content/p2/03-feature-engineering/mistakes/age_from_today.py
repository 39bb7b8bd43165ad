# expect: the age today
"""A known-wrong solution: the house's age is measured from today, not from its sale."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FIRST_YEAR = 2006  # the first sales in the table: January 2006 is month 0


def add_date_features(houses: pd.DataFrame) -> pd.DataFrame:
    out = houses.copy()
    parts = pd.DataFrame({"year": houses["Year_Sold"], "month": houses["Mo_Sold"], "day": 1})
    out["sale_date"] = pd.to_datetime(parts)
    out["sale_quarter"] = out["sale_date"].dt.quarter
    out["months_since_start"] = (houses["Year_Sold"] - FIRST_YEAR) * 12 + houses["Mo_Sold"] - 1
    angle = 2 * np.pi * (houses["Mo_Sold"] - 1) / 12
    out["month_sin"] = np.sin(angle)
    out["month_cos"] = np.cos(angle)
    out["house_age"] = datetime.date.today().year - houses["Year_Built"]
    out["years_since_remodel"] = houses["Year_Sold"] - houses["Year_Remod_Add"]
    return out


def _smoothed_means(values: pd.Series, y: pd.Series, smoothing: float) -> tuple[pd.Series, float]:
    prior = float(y.mean())
    stats = y.groupby(values.to_numpy()).agg(["sum", "count"])
    return (stats["sum"] + smoothing * prior) / (stats["count"] + smoothing), prior


def _apply(values: pd.Series, encoding: pd.Series, prior: float) -> np.ndarray:
    mapped = pd.Series(values.to_numpy(), dtype=object).map(encoding)
    return mapped.astype(float).fillna(prior).to_numpy()


def target_encode(
    train_values: pd.Series,
    y_train: pd.Series,
    test_values: pd.Series,
    n_splits: int = 5,
    seed: int = 0,
    smoothing: float = 10.0,
) -> tuple[np.ndarray, np.ndarray]:
    train_values = train_values.reset_index(drop=True)
    y_train = y_train.reset_index(drop=True).astype(float)
    train_encoded = np.empty(len(train_values))
    folds = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for fit_rows, encode_rows in folds.split(train_values):
        encoding, prior = _smoothed_means(
            train_values.iloc[fit_rows], y_train.iloc[fit_rows], smoothing
        )
        train_encoded[encode_rows] = _apply(train_values.iloc[encode_rows], encoding, prior)
    encoding, prior = _smoothed_means(train_values, y_train, smoothing)
    return train_encoded, _apply(test_values, encoding, prior)


def add_interactions(houses: pd.DataFrame) -> pd.DataFrame:
    out = houses.copy()
    out["total_sf"] = houses["Total_Bsmt_SF"] + houses["First_Flr_SF"] + houses["Second_Flr_SF"]
    out["total_baths"] = (
        houses["Full_Bath"]
        + houses["Bsmt_Full_Bath"]
        + 0.5 * (houses["Half_Bath"] + houses["Bsmt_Half_Bath"])
    )
    out["sf_per_room"] = houses["Gr_Liv_Area"] / houses["TotRms_AbvGrd"]
    out["age_x_total_sf"] = (houses["Year_Sold"] - houses["Year_Built"]) * out["total_sf"]
    out["log_lot_area"] = np.log1p(houses["Lot_Area"])
    return out


def _features(houses: pd.DataFrame) -> pd.DataFrame:
    return add_interactions(add_date_features(houses)).drop(columns=["sale_date"])


def fit_predict(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    y = np.log(train["Sale_Price"])
    X_train = _features(train.drop(columns=["Sale_Price"]))
    X_test = _features(test)
    text = X_train.select_dtypes(include=["object", "category"]).columns
    for column in text:
        X_train[column], X_test[column] = target_encode(X_train[column], y, X_test[column])
    numeric = X_train.select_dtypes(include="number").columns
    model = make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    model.fit(X_train[numeric], y)
    return np.exp(model.predict(X_test[numeric]))
