# expect: the mean of the folds' encodings
# slip: test rows encoded by the mean of the fold encodings instead of all training rows
"""Feature engineering: review base."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FIRST_YEAR = 2006


def add_date_features(houses: pd.DataFrame) -> pd.DataFrame:
    out = houses.copy()
    date = pd.to_datetime(
        pd.DataFrame({"year": out["Year_Sold"], "month": out["Mo_Sold"], "day": 1})
    )
    out["sale_date"] = date
    out["sale_quarter"] = date.dt.quarter
    out["months_since_start"] = (out["Year_Sold"] - FIRST_YEAR) * 12 + (out["Mo_Sold"] - 1)
    angle = 2 * np.pi * (out["Mo_Sold"] - 1) / 12
    out["month_sin"] = np.sin(angle)
    out["month_cos"] = np.cos(angle)
    out["house_age"] = out["Year_Sold"] - out["Year_Built"]
    out["years_since_remodel"] = out["Year_Sold"] - out["Year_Remod_Add"]
    return out


def _encode(fit_values, fit_y, apply_values, smoothing):
    prior = float(fit_y.mean())
    stats = pd.DataFrame({"c": fit_values.to_numpy(), "y": fit_y.to_numpy()}).groupby("c")["y"]
    sums, counts = stats.sum(), stats.count()
    enc = (sums + smoothing * prior) / (counts + smoothing)
    return apply_values.map(enc).astype(float).fillna(prior).to_numpy()


def target_encode(train_values, y_train, test_values, n_splits=5, seed=0, smoothing=10.0):
    train_values = pd.Series(train_values).reset_index(drop=True)
    y_train = pd.Series(y_train).reset_index(drop=True)
    test_values = pd.Series(test_values).reset_index(drop=True)
    train_enc = np.empty(len(train_values))
    folds = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for fit_idx, enc_idx in folds.split(train_values):
        train_enc[enc_idx] = _encode(
            train_values.iloc[fit_idx], y_train.iloc[fit_idx], train_values.iloc[enc_idx], smoothing
        )
    test_enc = np.mean(
        [
            _encode(train_values.iloc[f], y_train.iloc[f], test_values, smoothing)
            for f, _ in folds.split(train_values)
        ],
        axis=0,
    )
    return train_enc, test_enc


def add_interactions(houses: pd.DataFrame) -> pd.DataFrame:
    out = houses.copy()
    out["total_sf"] = out["Total_Bsmt_SF"] + out["First_Flr_SF"] + out["Second_Flr_SF"]
    out["total_baths"] = (
        out["Full_Bath"] + out["Bsmt_Full_Bath"] + 0.5 * (out["Half_Bath"] + out["Bsmt_Half_Bath"])
    )
    out["sf_per_room"] = out["Gr_Liv_Area"] / out["TotRms_AbvGrd"]
    out["age_x_total_sf"] = (out["Year_Sold"] - out["Year_Built"]) * out["total_sf"]
    out["log_lot_area"] = np.log1p(out["Lot_Area"])
    return out


def fit_predict(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    y = np.log(train["Sale_Price"])
    tr = add_interactions(add_date_features(train.drop(columns="Sale_Price")))
    te = add_interactions(add_date_features(test))
    num = [c for c in tr.columns if pd.api.types.is_numeric_dtype(tr[c])]
    Xtr, Xte = tr[num].copy(), te[num].copy()
    for col in tr.columns:
        if tr[col].dtype == object or isinstance(tr[col].dtype, pd.CategoricalDtype):
            a, b = target_encode(tr[col].astype(str), y, te[col].astype(str))
            Xtr["enc_" + col], Xte["enc_" + col] = a, b
    model = make_pipeline(StandardScaler(), Ridge(alpha=10.0))
    model.fit(Xtr, y.to_numpy())
    return np.exp(model.predict(Xte))
