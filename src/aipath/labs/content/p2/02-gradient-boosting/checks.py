"""Checks for p2-gradient-boosting: one test per behaviour, each marked with its task.

The models are trained on a split made here and judged against a random forest tuned here on
the same split; early stopping is probed by behaviour (which rows it watched, whether the test
labels can move it), categorical handling by the splits inside the fitted trees.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from aipath.checks import (
    ames,
    assert_array,
    assert_beats,
    assert_frame,
    assert_returned,
    assert_tuple,
    cached,
    fail,
    precomputed,
)

MARGIN = 0.03  # the boosters must beat the forest's test RMSE by this fraction of it

# Tree libraries and BLAS each start a thread pool: with two cores shared, one thread is fastest.
threadpool_limits(1)


# ----- data and the check's own split, made once per check session (a copy per call) ----------
@cached
def _features_and_log_price() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """(X with text columns as 'category', log price, price): what load_ames should return."""
    raw = ames()
    price = raw["Sale_Price"].astype(float)
    X = raw.drop(columns=["Sale_Price"])
    text = X.select_dtypes(include="object").columns
    X[text] = X[text].astype("category")
    return X, np.log(price), price


@cached
def _three_way_split(seed: int = 0) -> dict[str, Any]:
    """The split run_experiment is asked to make, so that tasks 2, 3 and 5 share the same fits."""
    X, y, _ = _features_and_log_price()
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, random_state=seed)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_rest, y_rest, test_size=0.2, random_state=seed
    )
    return {
        "X_train": X_train,
        "y_train": y_train,
        "X_valid": X_valid,
        "y_valid": y_valid,
        "X_test": X_test,
        "y_test": y_test,
    }


def _rmse(y_true: Any, y_pred: Any) -> float:
    return float(np.sqrt(np.mean((np.asarray(y_true, dtype=float) - np.asarray(y_pred)) ** 2)))


@precomputed
def _forest_rmse() -> float:
    """Test RMSE of a random forest whose max_features is tuned on the validation rows."""
    parts = _three_way_split()
    codes = {
        name: parts[name].apply(lambda c: c.cat.codes if c.dtype == "category" else c)
        for name in ("X_train", "X_valid", "X_test")
    }
    best: tuple[float, Any] | None = None
    for max_features in (0.33, 0.5):
        forest = RandomForestRegressor(
            n_estimators=100, max_features=max_features, n_jobs=1, random_state=0
        ).fit(codes["X_train"], parts["y_train"])
        valid = _rmse(parts["y_valid"], forest.predict(codes["X_valid"]))
        if best is None or valid < best[0]:
            best = (valid, forest)
    assert best is not None
    return _rmse(parts["y_test"], best[1].predict(codes["X_test"]))


@functools.cache
def _fitted(learner: Any, kind: str) -> Any:
    """The learner's model trained on the check's split (cached: tasks 2, 3 and 5 share it)."""
    parts = _three_way_split()
    fit = learner.fit_xgboost if kind == "xgboost" else learner.fit_lightgbm
    model = fit(parts["X_train"], parts["y_train"], parts["X_valid"], parts["y_valid"], seed=0)
    expected = xgb.XGBRegressor if kind == "xgboost" else lgb.LGBMRegressor
    return assert_returned(
        model, f"fit_{kind}(...)", what=f"the fitted {expected.__name__}", of=expected
    )


# ----- task 1 -----------------------------------------------------------------------------------
@pytest.mark.task(1)
def test_load_ames(learner):
    X, y, price = _features_and_log_price()
    got_X, got_y = assert_tuple(learner.load_ames(), ("X", "y"), "load_ames()")
    if not isinstance(got_X, pd.DataFrame):
        fail(f"X should be a pandas DataFrame; got {type(got_X).__name__}")
    for column in X.columns[X.dtypes == "category"]:
        if column not in got_X:
            break  # assert_frame below names the missing columns
        dtype = got_X[column].dtype
        if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
            fail(
                f"X[{column!r}] holds numbers ({dtype}): the categories were label-encoded, so a "
                f"tree would read them as ordinal values and split '{column} <= 12' as if the "
                "codes had an order (about 3 % more error here). Keep text columns as pandas "
                "'category' dtype; both boosters split categories natively"
            )
        if not isinstance(dtype, pd.CategoricalDtype):
            fail(
                f"X[{column!r}] has dtype {dtype}; expected 'category'. Convert every text "
                "column with .astype('category') so the boosters see categorical features"
            )
    assert_frame(got_X, X, name="X", check_column_order=True)
    assert_array(
        got_y,
        y.to_numpy(),
        name="y",
        rtol=1e-12,
        mistakes={
            "the raw Sale_Price (take np.log)": price.to_numpy(),
            "log10 of the price (use the natural log, np.log)": np.log10(price.to_numpy()),
            "log1p of the price (use np.log)": np.log1p(price.to_numpy()),
        },
    )


# ----- tasks 2 and 3: shared probes ---------------------------------------------------------------
def _xgb_stops_early(model: xgb.XGBRegressor) -> None:
    rounds = model.get_booster().num_boosted_rounds()
    try:
        best = int(model.best_iteration)
    except AttributeError:
        fail(
            f"fit_xgboost's model has no best_iteration: there was no early stopping, so it "
            f"kept all {rounds} trees and overfits the training rows. Pass "
            "early_stopping_rounds=50 to XGBRegressor and eval_set=[(X_valid, y_valid)] to fit"
        )
    limit = model.get_params().get("n_estimators") or 100
    if best + 1 >= limit:
        fail(
            f"fit_xgboost's best round is {best + 1}, the last of the {limit} allowed: the tree "
            "limit ended the training, not early stopping. Use n_estimators=2000 and "
            "early_stopping_rounds=50, so the validation error decides when to stop"
        )


def _lgb_valid_curves(model: lgb.LGBMRegressor) -> dict[str, dict[str, list[float]]]:
    results = getattr(model, "evals_result_", None) or {}
    return {name: curves for name, curves in results.items() if name != "training"}


def _lgb_stops_early(model: lgb.LGBMRegressor) -> None:
    best = model.best_iteration_
    if not best or not _lgb_valid_curves(model):
        fail(
            "fit_lightgbm's model has no best iteration (best_iteration_ is "
            f"{best!r}): there was no early stopping, so it keeps all {model.n_estimators} trees "
            "and overfits the training rows. Pass the validation rows (eval_X/eval_y) and "
            "callbacks=[lgb.early_stopping(50)] to fit"
        )
    if best >= model.n_estimators:
        fail(
            f"fit_lightgbm's best round is {best}, the last of the {model.n_estimators} allowed: "
            "the tree limit ended the training, not early stopping. Use n_estimators=2000 and "
            "lgb.early_stopping(50), so the validation error decides when to stop"
        )


def _metric_value(name: str, y_true: Any, y_pred: Any) -> float | None:
    error = np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float)
    if name in ("rmse", "l2_root", "root_mean_squared_error"):
        return float(np.sqrt(np.mean(error**2)))
    if name in ("l2", "mse", "mean_squared_error", "regression"):
        return float(np.mean(error**2))
    if name in ("mae", "l1", "mean_absolute_error"):
        return float(np.mean(np.abs(error)))
    return None


def _watched_validation(kind: str, recorded: dict[str, float], actual: dict[str, float]) -> None:
    """``recorded``: metric at the best round per eval set; ``actual``: recomputed on X_valid."""
    for label, value in recorded.items():
        want = actual.get(label)
        if want is None or math.isclose(value, want, rel_tol=1e-4, abs_tol=1e-9):
            return
    shown = ", ".join(f"{k} {v:.4g}" for k, v in recorded.items())
    real = ", ".join(f"{k} {v:.4g}" for k, v in actual.items())
    fail(
        f"fit_{kind}'s early stopping watched other rows than X_valid: at its best round it "
        f"recorded {shown}, but the model scores {real} on X_valid. Pass the validation rows "
        "you were given as the evaluation set"
    )


def _xgb_categorical_features(model: xgb.XGBRegressor) -> int:
    return sum(kind == "c" for kind in (model.get_booster().feature_types or []))


def _lgb_categorical_splits(model: lgb.LGBMRegressor) -> int:
    count = 0
    stack = [tree["tree_structure"] for tree in model.booster_.dump_model()["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_feature" in node:
            count += node.get("decision_type") == "=="
            stack.extend((node["left_child"], node["right_child"]))
    return count


# ----- task 2 -----------------------------------------------------------------------------------
@pytest.mark.task(2)
def test_xgboost_stops_early(learner):
    _xgb_stops_early(_fitted(learner, "xgboost"))


@pytest.mark.task(2)
def test_xgboost_early_stopping_watches_the_validation_rows(learner):
    model = _fitted(learner, "xgboost")
    _xgb_stops_early(model)
    parts = _three_way_split()
    best = int(model.best_iteration)
    predicted = model.predict(parts["X_valid"], iteration_range=(0, best + 1))
    recorded, actual = {}, {}
    for eval_name, curves in model.evals_result().items():
        for metric, values in curves.items():
            if (
                len(values) > best
                and _metric_value(metric, parts["y_valid"], predicted) is not None
            ):
                recorded[f"{eval_name} {metric}"] = float(values[best])
                actual[f"{eval_name} {metric}"] = _metric_value(metric, parts["y_valid"], predicted)
    _watched_validation("xgboost", recorded, actual)


@pytest.mark.task(2)
def test_xgboost_splits_categories_natively(learner):
    model = _fitted(learner, "xgboost")
    if _xgb_categorical_features(model) == 0:
        fail(
            "the fitted XGBoost model has no categorical feature: every column was treated as a "
            "number, as if the categories were label-encoded (ordinal codes). Fit on the "
            "'category' columns with enable_categorical=True and tree_method='hist'"
        )


@pytest.mark.task(2)
def test_xgboost_beats_a_tuned_random_forest(learner):
    model = _fitted(learner, "xgboost")
    parts = _three_way_split()
    score = _rmse(parts["y_test"], model.predict(parts["X_test"]))
    forest = _forest_rmse()
    assert_beats(
        score,
        forest,
        margin=MARGIN * forest,
        higher_is_better=False,
        name="XGBoost's test RMSE (log price)",
        baseline_name="a random forest tuned on the same split",
    )


# ----- task 3 -----------------------------------------------------------------------------------
@pytest.mark.task(3)
def test_lightgbm_stops_early(learner):
    _lgb_stops_early(_fitted(learner, "lightgbm"))


@pytest.mark.task(3)
def test_lightgbm_early_stopping_watches_the_validation_rows(learner):
    model = _fitted(learner, "lightgbm")
    _lgb_stops_early(model)
    parts = _three_way_split()
    best = int(model.best_iteration_)
    predicted = model.predict(parts["X_valid"], num_iteration=best)
    recorded, actual = {}, {}
    for eval_name, curves in _lgb_valid_curves(model).items():
        for metric, values in curves.items():
            if (
                len(values) >= best
                and _metric_value(metric, parts["y_valid"], predicted) is not None
            ):
                recorded[f"{eval_name} {metric}"] = float(values[best - 1])
                actual[f"{eval_name} {metric}"] = _metric_value(metric, parts["y_valid"], predicted)
    _watched_validation("lightgbm", recorded, actual)


@pytest.mark.task(3)
def test_lightgbm_splits_categories_natively(learner):
    model = _fitted(learner, "lightgbm")
    if _lgb_categorical_splits(model) == 0:
        fail(
            "the fitted LightGBM model has no categorical split: every column was treated as a "
            "number, as if the categories were label-encoded (ordinal codes). Fit on the "
            "'category' columns and leave categorical_feature='auto'"
        )


@pytest.mark.task(3)
def test_lightgbm_beats_a_tuned_random_forest(learner):
    model = _fitted(learner, "lightgbm")
    parts = _three_way_split()
    score = _rmse(parts["y_test"], model.predict(parts["X_test"]))
    forest = _forest_rmse()
    assert_beats(
        score,
        forest,
        margin=MARGIN * forest,
        higher_is_better=False,
        name="LightGBM's test RMSE (log price)",
        baseline_name="a random forest tuned on the same split",
    )


# ----- task 4 -----------------------------------------------------------------------------------
@precomputed
def _reference_models() -> dict[str, Any]:
    """Two small boosters trained here, so task 4 does not depend on tasks 2 and 3."""
    parts = _three_way_split()
    common = {"n_estimators": 300, "learning_rate": 0.2, "n_jobs": 1, "random_state": 0}
    boosted = xgb.XGBRegressor(
        **common, max_depth=3, early_stopping_rounds=20, enable_categorical=True
    ).fit(
        parts["X_train"],
        parts["y_train"],
        eval_set=[(parts["X_valid"], parts["y_valid"])],
        verbose=False,
    )
    light = lgb.LGBMRegressor(**common, num_leaves=7, verbose=-1).fit(
        parts["X_train"],
        parts["y_train"],
        eval_X=(parts["X_valid"],),
        eval_y=(parts["y_valid"],),
        callbacks=[lgb.early_stopping(20, verbose=False)],
    )
    return {"xgboost": boosted, "lightgbm": light}


def _normalized(values: dict[str, float], names: list[str]) -> np.ndarray:
    array = np.array([float(values.get(name, 0.0)) for name in names])
    return array / array.sum() if array.sum() > 0 else array


def _importance_candidates(model: Any) -> tuple[list[str], list[np.ndarray], dict[str, np.ndarray]]:
    """Feature names, the accepted answers and what known mistakes give, in name order."""
    if isinstance(model, xgb.XGBModel):
        booster = model.get_booster()
        names = list(booster.feature_names)
        best = booster[: int(model.best_iteration) + 1]
        accepted = [
            _normalized(booster.get_score(importance_type="total_gain"), names),
            _normalized(best.get_score(importance_type="total_gain"), names),
        ]
        mistakes = {
            "the average gain per split (importance_type='gain'), not the total gain": _normalized(
                booster.get_score(importance_type="gain"), names
            ),
            "split counts (importance_type='weight'), not the total gain": _normalized(
                booster.get_score(importance_type="weight"), names
            ),
        }
        return names, accepted, mistakes
    booster = model.booster_
    names = list(booster.feature_name())

    def by_name(values: np.ndarray) -> dict[str, float]:
        return dict(zip(names, values.astype(float), strict=True))

    accepted = [
        _normalized(by_name(booster.feature_importance(importance_type="gain")), names),
        _normalized(
            by_name(booster.feature_importance(importance_type="gain", iteration=-1)), names
        ),
    ]
    mistakes = {
        "split counts (LightGBM's default feature_importances_, importance_type='split'), not "
        "the total gain": _normalized(
            by_name(booster.feature_importance(importance_type="split")), names
        ),
    }
    return names, accepted, mistakes


@pytest.mark.task(4)
@pytest.mark.parametrize("kind", ["xgboost", "lightgbm"])
def test_gain_importance(learner, kind):
    model = _reference_models()[kind]
    names, accepted, mistakes = _importance_candidates(model)
    got = learner.gain_importance(model)
    label = f"gain_importance(<fitted {kind} model>)"
    assert_returned(got, label, what="the Series")
    if not isinstance(got, pd.Series):
        fail(f"{label} should be a pandas Series indexed by feature name; got {type(got).__name__}")
    missing = sorted(set(names) - set(got.index))
    extra = sorted(set(got.index) - set(names))
    if missing or extra:
        fail(
            f"{label} has {len(got)} entries; the model has {len(names)} features. Missing: "
            f"{missing[:6]}{' …' if len(missing) > 6 else ''}; unexpected: {extra[:6]}. Every "
            "feature belongs in the Series, with 0.0 for one the trees never split on"
        )
    if got.index.duplicated().any():
        fail(f"{label} lists some features twice: {sorted(set(got.index[got.index.duplicated()]))}")
    values = got.to_numpy(dtype=float)
    if np.any(np.diff(values) > 1e-12):
        fail(f"{label} is not sorted from most to least important: sort_values(ascending=False)")
    if not math.isclose(values.sum(), 1.0, rel_tol=1e-9):
        fail(
            f"the values of {label} sum to {values.sum():.6g}, not 1: divide each feature's "
            "total gain by the total over all features"
        )
    aligned = got.reindex(names).to_numpy(dtype=float)
    for want in accepted:
        if np.allclose(aligned, want, rtol=1e-5, atol=1e-12):
            return
    assert_array(aligned, accepted[0], name=label, rtol=1e-5, atol=1e-12, mistakes=mistakes)


# ----- task 5 -----------------------------------------------------------------------------------
_KEYS = ("xgboost_rmse", "lightgbm_rmse", "xgboost_trees", "lightgbm_trees")


@cached
def _experiment(learner: Any, shuffled_test: bool) -> dict[str, float]:
    X, y, _ = _features_and_log_price()
    if shuffled_test:
        test_rows = _three_way_split()["y_test"].index
        y.loc[test_rows] = y.loc[test_rows].to_numpy()[::-1]  # prices swapped among test rows
    result = learner.run_experiment(X, y, seed=0)
    if not isinstance(result, dict):
        fail(f"run_experiment should return a dict; got {type(result).__name__}")
    missing = [k for k in _KEYS if k not in result]
    if missing:
        fail(f"run_experiment's result lacks the keys {missing}; it has {sorted(result)}")
    return {k: float(result[k]) for k in _KEYS}


@pytest.mark.task(5)
def test_experiment_never_lets_the_test_rows_steer_training(learner):
    real = _experiment(learner, shuffled_test=False)
    shuffled = _experiment(learner, shuffled_test=True)
    for lib in ("xgboost", "lightgbm"):
        before, after = real[f"{lib}_trees"], shuffled[f"{lib}_trees"]
        if before != after:
            fail(
                f"with the test rows' prices shuffled among themselves, {lib} kept {after:g} "
                f"trees instead of {before:g}: the number of trees depends on the test labels, "
                "so early stopping watched the test set. Carve the validation rows out of the "
                "training rows (the second train_test_split) and use the test rows only for the "
                "final RMSE"
            )
    for lib in ("xgboost", "lightgbm"):
        if math.isclose(real[f"{lib}_rmse"], shuffled[f"{lib}_rmse"], rel_tol=1e-9):
            fail(
                f"{lib}_rmse stayed {real[f'{lib}_rmse']:.4f} when the test rows' prices were "
                "shuffled: is it computed on the test rows (X_test, y_test)?"
            )


@pytest.mark.task(5)
def test_experiment_reports_test_rmse_and_trees(learner):
    real = _experiment(learner, shuffled_test=False)
    parts = _three_way_split()
    boosted, light = _fitted(learner, "xgboost"), _fitted(learner, "lightgbm")
    _xgb_stops_early(boosted)
    _lgb_stops_early(light)
    want = {
        "xgboost_trees": float(boosted.best_iteration + 1),
        "lightgbm_trees": float(light.best_iteration_),
        "xgboost_rmse": _rmse(parts["y_test"], boosted.predict(parts["X_test"])),
        "lightgbm_rmse": _rmse(parts["y_test"], light.predict(parts["X_test"])),
    }

    def clues(key: str) -> dict[str, float]:  # what known slips give; computed only on a mismatch
        model = boosted if key.startswith("xgboost") else light
        every_tree = (
            "every tree built, not the trees up to the best iteration that it predicts with"
        )
        if key == "xgboost_trees":
            return {
                "best_iteration without the + 1 (it counts from 0)": want[key] - 1,
                f"n_estimators: {every_tree}": float(boosted.n_estimators),
                f"num_boosted_rounds(): {every_tree}": float(
                    boosted.get_booster().num_boosted_rounds()
                ),
            }
        if key == "lightgbm_trees":
            return {
                "best_iteration_ + 1 (LightGBM counts from 1)": want[key] + 1,
                f"n_estimators: {every_tree}": float(light.n_estimators),
                f"current_iteration(): {every_tree}": float(light.booster_.current_iteration()),
            }
        return {
            "the validation RMSE, not the test RMSE": _rmse(
                parts["y_valid"], model.predict(parts["X_valid"])
            ),
            "the MSE (no square root)": want[key] ** 2,
        }

    for key in ("xgboost_trees", "lightgbm_trees", "xgboost_rmse", "lightgbm_rmse"):
        if math.isclose(real[key], want[key], rel_tol=1e-6):
            continue
        for label, wrong in clues(key).items():
            if math.isclose(real[key], wrong, rel_tol=1e-6):
                fail(
                    f"run_experiment's {key} is {real[key]:.6g}, which looks like {label}; "
                    f"expected {want[key]:.6g}"
                )
        fail(
            f"run_experiment's {key} is {real[key]:.6g}; your fit functions on the split "
            f"described in the README give {want[key]:.6g}. Split with train_test_split("
            "test_size=0.2, random_state=seed) twice (test first, then validation from the rest) "
            "and score the test rows"
        )
