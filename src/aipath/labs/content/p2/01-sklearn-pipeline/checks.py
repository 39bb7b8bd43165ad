"""Checks for p2-sklearn-pipeline: one test per behaviour, each marked with its task.

The leak checks probe behaviour, not code: a watched copy of the learner's pipeline records the
rows every preprocessing fit sees, and the tuning function is called again with the test labels
flipped. Trained scores are compared with the same computation done here, or held to a band.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from aipath.checks import (
    LEARNER_ERRORS,
    assert_array,
    assert_close,
    assert_frame,
    assert_in_band,
    assert_returned,
    assert_shape,
    assert_tuple,
    cached,
    call_learner,
    fail,
    rdataset,
)

FEATURES = ["pclass", "sex", "age", "sibsp", "parch"]
C_GRID = [0.01, 0.1, 1.0, 10.0, 100.0]
# What a broken pipeline raises inside sklearn, explained (NotImplementedError: not attempted).
_NAN_HINT = (
    "Do the missing ages reach a step that cannot take NaN, or does a step expect other columns?"
)

# Hundreds of tiny fits: one BLAS/OpenMP thread each is faster than two fighting over two cores.
threadpool_limits(1)


# ----- data, loaded once per check session ------------------------------------------------------
@cached  # a fresh copy each call: a learner function that edits its input changes nothing here
def _passengers() -> tuple[pd.DataFrame, pd.Series]:
    raw = rdataset("vcdExtra", "Titanicp")
    X = raw[FEATURES].reset_index(drop=True)
    y = (raw["survived"] == "survived").astype(int).reset_index(drop=True)
    return X, y


def _passenger_split() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    X, y = _passengers()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    return X_train, X_test, y_train, y_test


def _folds(n_splits: int, seed: int) -> StratifiedKFold:
    return StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)


def _new_pipeline(learner: Any, **kwargs: Any) -> Any:
    return assert_returned(learner.make_pipeline(**kwargs), "make_pipeline()", what="the Pipeline")


# ----- task 1 -----------------------------------------------------------------------------------
@pytest.mark.task(1)
def test_load_titanic(learner):
    X, y = _passengers()
    got_X, got_y = assert_tuple(learner.load_titanic(), ("X", "y"), "load_titanic()")
    if isinstance(got_X, pd.DataFrame) and len(got_X) == int(X["age"].notna().sum()):
        fail(
            f"X has {len(got_X)} rows; expected {len(X)}: the {int(X['age'].isna().sum())} "
            "passengers with a missing age were dropped. Keep them (age stays NaN): the "
            "pipeline's imputer fills the gaps inside each fold"
        )
    if isinstance(got_X, pd.DataFrame) and "age" in got_X and not got_X["age"].isna().any():
        fail(
            "X['age'] has no missing values; the table has 263. Filling them here uses every "
            "row's ages, held-out rows included: leave NaN in X and impute inside the pipeline"
        )
    assert_frame(got_X, X, name="X", check_column_order=True)
    if not isinstance(got_y, pd.Series):
        fail(f"y should be a pandas Series; got {type(got_y).__name__}")
    if got_y.dtype.kind not in "iu":
        fail(
            f"y has dtype {got_y.dtype}; expected integers (1 for survived, 0 for died): "
            "convert with .astype(int)"
        )
    assert_array(
        got_y.to_numpy(),
        y.to_numpy(),
        name="y",
        exact=True,
        mistakes={"survived and died swapped (1 must mean survived)": 1 - y.to_numpy()},
    )


# ----- task 2 -----------------------------------------------------------------------------------
@pytest.mark.task(2)
def test_make_pipeline_shape(learner):
    pipe = _new_pipeline(learner)
    if not isinstance(pipe, Pipeline):
        got = type(pipe).__name__
        fail(f"make_pipeline() should return a sklearn.pipeline.Pipeline; got {got}")
    names = list(pipe.named_steps)
    if names != ["preprocess", "model"]:
        fail(
            f"the pipeline's steps are named {names}; expected ['preprocess', 'model'] "
            "(the search in task 4 sets model__C)"
        )
    try:
        check_is_fitted(pipe)
    except NotFittedError:
        pass
    else:
        fail(
            "make_pipeline() returned a pipeline that is already fitted: it must build a new, "
            "unfitted one on every call, so that each fold fits its own"
        )
    other = _new_pipeline(learner, C=0.5)
    got_c = other.get_params().get("model__C")
    if got_c is None or not math.isclose(float(got_c), 0.5):
        fail(f"make_pipeline(C=0.5) has model__C = {got_c!r}; expected 0.5")
    if other is pipe or other.named_steps["preprocess"] is pipe.named_steps["preprocess"]:
        fail("make_pipeline() returned the same objects twice: build new steps on every call")


@pytest.mark.task(2)
def test_make_pipeline_accuracy_in_band(learner):
    X, y = _passengers()
    scores = call_learner(
        "cross-validating make_pipeline()",
        cross_val_score,
        _new_pipeline(learner),
        X,
        y,
        cv=_folds(5, 0),
        error_score="raise",
        hint=_NAN_HINT,
    )
    majority = float(max(y.mean(), 1 - y.mean()))
    assert_in_band(
        float(np.mean(scores)),
        0.74,
        0.86,
        name=f"mean accuracy of make_pipeline() over 5 stratified folds (always 'died' scores "
        f"{majority:.3f})",
    )


@pytest.mark.task(2)
def test_make_pipeline_handles_missing_and_unseen(learner):
    X, y = _passengers()
    fit = "make_pipeline().fit(X, y)"
    pipe = call_learner(fit, _new_pipeline(learner).fit, X, y, hint=_NAN_HINT)
    odd = pd.DataFrame(
        {
            "pclass": ["crew", "1st"],
            "sex": ["female", "unknown"],
            "age": [np.nan, np.nan],
            "sibsp": [0, 1],
            "parch": [0, 0],
        }
    )[FEATURES]
    try:
        predicted = np.asarray(pipe.predict(odd))
    except LEARNER_ERRORS as exc:
        fail(
            f"predict() on a passenger with a missing age and a class never seen in training "
            f"('crew') raised {type(exc).__name__}: {str(exc)[:200]}. Impute inside the "
            "pipeline and use OneHotEncoder(handle_unknown='ignore')"
        )
    if predicted.shape != (2,) or not set(np.unique(predicted)) <= {0, 1}:
        fail(f"predict() should give one 0/1 label per passenger; got {predicted!r}")
    # A missing age must be filled with the median age of the rows fitted on: the passenger
    # then gets the same probability as one whose age is that median.
    ages = {"NaN": np.nan, "median": float(X["age"].median()), "mean": float(X["age"].mean())}
    probe = pd.DataFrame(
        {"pclass": "3rd", "sex": "male", "age": list(ages.values()), "sibsp": 0, "parch": 0}
    )[FEATURES]
    p_nan, p_median, p_mean = np.asarray(pipe.predict_proba(probe))[:, 1]
    if not math.isclose(p_nan, p_median, rel_tol=1e-9, abs_tol=1e-12):
        how = (
            "the mean age: use SimpleImputer(strategy='median')"
            if math.isclose(p_nan, p_mean, rel_tol=1e-9, abs_tol=1e-12)
            else "another value than the median age of the training rows"
        )
        fail(
            f"a passenger with a missing age gets a survival probability of {p_nan:.6f}, but one "
            f"aged {ages['median']:g} (the median) gets {p_median:.6f}: the missing ages are "
            f"filled with {how}"
        )


@pytest.mark.task(2)
def test_make_pipeline_scales_numeric_columns(learner):
    X, y = _passengers()
    other_units = X.copy()
    other_units["age"] = X["age"] * 365.25  # days instead of years
    other_units["sibsp"] = X["sibsp"] * 100
    other_units["parch"] = X["parch"] * 100
    fit = "make_pipeline().fit(X, y)"
    base = call_learner(fit, _new_pipeline(learner).fit, X, y, hint=_NAN_HINT)
    moved = call_learner(fit, _new_pipeline(learner).fit, other_units, y, hint=_NAN_HINT)
    p_base = np.asarray(base.predict_proba(X))[:, 1]
    p_moved = np.asarray(moved.predict_proba(other_units))[:, 1]
    change = float(np.max(np.abs(p_base - p_moved)))
    if change > 1e-6:
        fail(
            f"the predicted survival probabilities change by up to {change:.3g} when age is given "
            "in days instead of years (and sibsp, parch ×100): the numeric columns are not "
            "scaled. Logistic regression's penalty depends on each column's units; add a "
            "StandardScaler after the imputer for NUMERIC"
        )


# ----- task 3 -----------------------------------------------------------------------------------
_FIT_LOG: dict[str, list[tuple[int, frozenset[Any] | None]]] = {}


class _Watched(BaseEstimator, TransformerMixin):
    """A pass-through wrapper that records which rows its step is fitted on."""

    def __init__(self, step: Any = None, log_key: str = "") -> None:
        self.step = step
        self.log_key = log_key

    def fit(self, X: Any, y: Any = None) -> _Watched:
        labels = frozenset(X.index.tolist()) if isinstance(X, pd.DataFrame) else None
        _FIT_LOG.setdefault(self.log_key, []).append((len(X), labels))
        self.step_ = clone(self.step).fit(X, y)
        return self

    def transform(self, X: Any) -> Any:
        return self.step_.transform(X)

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        return self.step_.get_feature_names_out(input_features)


def _watched_factory(original: Any, key: str) -> Any:
    def make_pipeline(*args: Any, **kwargs: Any) -> Pipeline:
        pipe = original(*args, **kwargs)
        steps = []
        for index, (name, step) in enumerate(pipe.steps):
            last = index == len(pipe.steps) - 1
            watched = step if last or step in (None, "passthrough") else _Watched(step, key)
            steps.append((name, watched))
        return Pipeline(steps)

    return make_pipeline


def _leaky_scores(learner: Any, X: pd.DataFrame, y: pd.Series, cv: StratifiedKFold) -> np.ndarray:
    """What the scores are when the preprocessing is fitted on every row before the split."""
    pipe = _new_pipeline(learner)
    transformed = clone(pipe[:-1]).fit_transform(X, y)
    return cross_val_score(clone(pipe[-1]), transformed, y, cv=cv)


@pytest.mark.task(3)
@pytest.mark.parametrize(("n_splits", "seed"), [(5, 0), (3, 1)])
def test_cv_accuracy_per_fold(learner, n_splits, seed):
    X, y = _passengers()
    got = learner.cv_accuracy(X.copy(), y.copy(), n_splits=n_splits, seed=seed)
    folds = _folds(n_splits, seed)
    want = cross_val_score(_new_pipeline(learner), X, y, cv=folds)
    name = f"cv_accuracy(X, y, n_splits={n_splits}, seed={seed})"
    assert_shape(got, want.shape, name=name)
    if np.allclose(np.asarray(got, dtype=float), want, rtol=1e-9, atol=1e-12):
        return
    mistakes = {  # only computed when the scores differ: what would the known mistakes give?
        "the preprocessing fitted on all rows before the split (a leak)": _leaky_scores(
            learner, X, y, folds
        ),
        f"folds without shuffling (cv={n_splits}); use StratifiedKFold(n_splits, shuffle=True, "
        "random_state=seed)": cross_val_score(_new_pipeline(learner), X, y, cv=n_splits),
    }
    assert_array(got, want, name=name, rtol=1e-9, atol=1e-12, mistakes=mistakes)


@pytest.mark.task(3)
def test_cv_accuracy_fits_preprocessing_inside_folds(learner, monkeypatch):
    X, y = _passengers()
    key = "cv_accuracy"
    _FIT_LOG.pop(key, None)
    monkeypatch.setattr(learner, "make_pipeline", _watched_factory(learner.make_pipeline, key))
    learner.cv_accuracy(X, y, n_splits=5, seed=0)
    fits = _FIT_LOG.get(key, [])
    train_folds = [frozenset(train.tolist()) for train, _ in _folds(5, 0).split(X, y)]
    if not fits:
        fail(
            "cv_accuracy never fitted the preprocessing of make_pipeline() on the raw rows of a "
            "fold. Cross-validate the whole pipeline (call make_pipeline() inside cv_accuracy and "
            "pass it with the raw X to the cross-validation) instead of transforming X first"
        )
    for rows, labels in fits:
        if rows == len(X):
            fail(
                f"the preprocessing (imputer, scaler, encoder) was fitted on all {rows} rows, "
                "held-out folds included: this is scaling before the split, a leak. Pass the whole "
                "pipeline to the cross-validation so each fold fits it on its own "
                f"{len(train_folds[0])}-odd training rows"
            )
        if labels is not None and labels not in train_folds:
            seen = max(len(labels & (frozenset(range(len(X))) - fold)) for fold in train_folds)
            fail(
                f"a preprocessing fit saw {rows} rows that are not the training rows of any fold "
                f"(up to {seen} held-out rows among them): fit the pipeline on each fold's "
                "training rows only, from StratifiedKFold(n_splits, shuffle=True, "
                "random_state=seed)"
            )
    if len(fits) < 5:
        fail(
            f"the preprocessing was fitted {len(fits)} times for 5 folds: each fold needs its "
            "own fit of the whole pipeline"
        )


# ----- task 4 -----------------------------------------------------------------------------------
@cached
def _reference_search(learner: Any) -> dict[str, Any]:
    """The search done here: mean AUC and accuracy per C on the training folds."""
    X_train, _X_test, y_train, _y_test = _passenger_split()
    search = GridSearchCV(
        _new_pipeline(learner),
        {"model__C": C_GRID},
        scoring={"auc": "roc_auc", "accuracy": "accuracy"},
        refit="auc",
        cv=_folds(5, 0),
    ).fit(X_train, y_train)
    return {
        "auc": np.asarray(search.cv_results_["mean_test_auc"], dtype=float),
        "accuracy": np.asarray(search.cv_results_["mean_test_accuracy"], dtype=float),
        "best": search.best_estimator_,
    }


def _unshuffled_best_auc(learner: Any) -> float:
    """The best mean AUC of the same search on cv=5: StratifiedKFold without shuffling."""
    X_train, _X_test, y_train, _y_test = _passenger_split()
    search = GridSearchCV(_new_pipeline(learner), {"model__C": C_GRID}, scoring="roc_auc", cv=5)
    return float(search.fit(X_train, y_train).best_score_)


def _test_auc(learner: Any, C: float, *, hard: bool = False) -> float:
    """Test AUC of the pipeline with this C, refitted on all training rows."""
    X_train, X_test, y_train, y_test = _passenger_split()
    model = _new_pipeline(learner).set_params(model__C=C).fit(X_train, y_train)
    scores = model.predict(X_test) if hard else model.predict_proba(X_test)[:, 1]
    return float(roc_auc_score(y_test, scores))


@cached
def _tune(learner: Any, flipped: bool = False) -> dict[str, float]:
    X_train, X_test, y_train, y_test = _passenger_split()
    labels = 1 - y_test if flipped else y_test
    result = learner.tune_and_test(X_train, y_train, X_test, labels, seed=0)
    if not isinstance(result, dict):
        fail(f"tune_and_test should return a dict; got {type(result).__name__}")
    missing = [k for k in ("best_C", "cv_auc", "test_auc") if k not in result]
    if missing:
        fail(f"tune_and_test's result lacks the keys {missing}; it has {sorted(result)}")
    return {k: float(result[k]) for k in ("best_C", "cv_auc", "test_auc")}


@pytest.mark.task(4)
def test_tune_ignores_the_test_labels(learner):
    real = _tune(learner)
    flipped = _tune(learner, flipped=True)
    if not math.isclose(real["best_C"], flipped["best_C"]) or not math.isclose(
        real["cv_auc"], flipped["cv_auc"], rel_tol=1e-9
    ):
        fail(
            f"tune_and_test chose C={real['best_C']:g} (cv_auc {real['cv_auc']:.4f}) with the real "
            f"test labels but C={flipped['best_C']:g} (cv_auc {flipped['cv_auc']:.4f}) with the "
            "test labels flipped: the choice depends on the test set — tuning on the test set. "
            "Choose C by cross-validation on the training rows only; score the test rows once, "
            "at the end"
        )
    if not math.isclose(flipped["test_auc"], 1 - real["test_auc"], abs_tol=1e-9):
        fail(
            f"test_auc is {real['test_auc']:.4f} with the real test labels and "
            f"{flipped['test_auc']:.4f} with them flipped; flipping every label must turn an AUC "
            "a into 1 - a. Is test_auc computed on X_test and y_test?"
        )


@pytest.mark.task(4)
def test_tune_scores_roc_auc_on_training_folds(learner):
    ref = _reference_search(learner)
    got = _tune(learner)
    best_auc = float(ref["auc"].max())
    if not math.isclose(got["cv_auc"], best_auc, rel_tol=1e-9):
        in_grid = any(math.isclose(got["best_C"], c) for c in C_GRID)
        best_c = C_GRID[int(np.argmax(ref["auc"]))]
        below = {
            f"the cross-validated AUC of C={c:g}, which is not the best C (C={best_c:g} has "
            f"{best_auc:.6f}): pick the C with the highest mean AUC, the first in the grid on "
            "a tie": float(s)
            for c, s in zip(C_GRID, ref["auc"], strict=True)
            if s < best_auc - 1e-12
        }
        assert_close(
            got["cv_auc"],
            best_auc,
            name="cv_auc",
            rtol=1e-9,
            mistakes={
                "the best mean accuracy (GridSearchCV's default score) where ROC AUC was asked: "
                "pass scoring='roc_auc'": float(ref["accuracy"].max()),
                "the test AUC of the chosen C, not its cross-validated AUC": _test_auc(
                    learner, got["best_C"]
                )
                if in_grid
                else math.nan,
                "a search with cv=5 (unshuffled folds): use StratifiedKFold(n_splits=5, "
                "shuffle=True, random_state=seed)": lambda: _unshuffled_best_auc(learner),
                "the mean AUC over every C in the grid, not the best C's": float(ref["auc"].mean()),
                **below,
            },
        )
    allowed = [c for c, s in zip(C_GRID, ref["auc"], strict=True) if s >= best_auc - 1e-12]
    if not any(math.isclose(got["best_C"], c) for c in allowed):
        clue = ""
        accuracy_choice = C_GRID[int(np.argmax(ref["accuracy"]))]
        test_choice = C_GRID[int(np.argmax([_test_auc(learner, c) for c in C_GRID]))]
        if math.isclose(got["best_C"], accuracy_choice):
            clue = (
                " It is the C with the best accuracy: the search scored accuracy where ROC AUC "
                "was asked."
            )
        elif math.isclose(got["best_C"], test_choice):
            clue = " It is the C with the best test AUC: that is tuning on the test set."
        per_c = ", ".join(f"C={c:g}: {s:.4f}" for c, s in zip(C_GRID, ref["auc"], strict=True))
        fail(f"best_C is {got['best_C']:g}; the cross-validated AUCs are {per_c}.{clue}")


@pytest.mark.task(4)
def test_tune_reports_test_auc_of_the_refitted_best(learner):
    ref = _reference_search(learner)
    got = _tune(learner)
    _X_train, X_test, _y_train, y_test = _passenger_split()
    want = float(roc_auc_score(y_test, ref["best"].predict_proba(X_test)[:, 1]))
    if not math.isclose(got["test_auc"], want, rel_tol=1e-6):
        best_c = float(ref["best"].get_params()["model__C"])
        assert_close(
            got["test_auc"],
            want,
            name="test_auc",
            rtol=1e-6,
            mistakes={
                "the AUC of hard 0/1 labels from predict(); use predict_proba(X_test)[:, 1]": (
                    _test_auc(learner, best_c, hard=True)
                ),
                "the cross-validated AUC, not the test AUC": float(ref["auc"].max()),
                "the AUC of predict_proba(X_test)[:, 0], the probability of dying: use [:, 1]": (
                    1 - want
                ),
            },
        )
    assert_in_band(got["test_auc"], 0.80, 0.90, name="test_auc")
