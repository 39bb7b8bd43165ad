"""Checks for p2-feature-engineering: one test per behaviour, each marked with its task.

Deterministic features are compared with the definitions computed here; the target encoding is
probed on a pure-noise category (a leak shows as a gap between training rows and new rows); the
model must beat a raw-feature baseline trained here, and its predictions for one test house may
not move when other test houses change (no statistic of the test rows).
"""

from __future__ import annotations

import datetime
import functools
import random
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from aipath.checks import (
    ames,
    assert_array,
    assert_beats,
    assert_close,
    assert_frame,
    assert_returned,
    assert_tuple,
    cached,
    fail,
)

MARGIN = 0.12  # the learner's test MAE must be this fraction below the raw baseline's

threadpool_limits(1)  # many small fits on two shared cores: one BLAS thread is fastest


# ----- data: `ames()` is loaded once per check session, a fresh copy each call ------------------
def _house_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = train_test_split(ames(), test_size=0.25, random_state=0)
    return train, test


def _returned_frame(got: Any, name: str, given: pd.DataFrame, pristine: pd.DataFrame) -> None:
    assert_returned(got, name, what="the new frame", of=pd.DataFrame)
    if not given.equals(pristine):
        changed = [
            c for c in pristine.columns if c not in given or not given[c].equals(pristine[c])
        ]
        added = [c for c in given.columns if c not in pristine.columns]
        fail(
            f"{name} modified the frame it was given (changed {changed[:5]}, added {added[:5]}): "
            "work on a copy (houses.copy()) and return it"
        )
    kept = [c for c in pristine.columns if c in got]
    assert_frame(got[kept], pristine, name=f"{name}'s original columns")


def _new_columns(
    got: pd.DataFrame,
    want: dict[str, Any],
    name: str,
    mistakes: dict[str, dict[str, Any]],
) -> None:
    missing = [c for c in want if c not in got.columns]
    if missing:
        added = [c for c in got.columns if c not in ames().columns]
        fail(f"{name} lacks the columns {missing}; the new columns it has: {added}")
    for column, expected in want.items():
        assert_array(
            got[column].to_numpy(dtype=float),
            np.asarray(expected, dtype=float),
            name=f"{name}[{column!r}]",
            rtol=1e-9,
            atol=1e-12,
            mistakes=mistakes.get(column),
        )


# ----- task 1 -----------------------------------------------------------------------------------
@pytest.mark.task(1)
def test_add_date_features(learner):
    houses = ames()
    pristine = houses.copy()
    got = learner.add_date_features(houses)
    name = "add_date_features(houses)"
    _returned_frame(got, name, houses, pristine)
    year, month = pristine["Year_Sold"], pristine["Mo_Sold"]
    if "sale_date" not in got.columns:
        fail(f"{name} lacks the column 'sale_date' (first day of the sale month)")
    try:
        dates = pd.to_datetime(got["sale_date"])
    except (TypeError, ValueError) as exc:
        fail(f"{name}['sale_date'] cannot be read as dates: {exc}")
    want_dates = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1}))
    wrong = np.flatnonzero(dates.to_numpy() != want_dates.to_numpy())
    if wrong.size:
        row = int(wrong[0])
        fail(
            f"{name}['sale_date'] at row {row} is {dates.iloc[row]}; expected "
            f"{want_dates.iloc[row].date()} (Year_Sold {year.iloc[row]}, Mo_Sold "
            f"{month.iloc[row]}, day 1); {wrong.size} rows differ"
        )
    angle = 2 * np.pi * (month - 1) / 12
    this_year = datetime.date.today().year
    want = {
        "sale_quarter": (month - 1) // 3 + 1,
        "months_since_start": (year - 2006) * 12 + month - 1,
        "month_sin": np.sin(angle),
        "month_cos": np.cos(angle),
        "house_age": year - pristine["Year_Built"],
        "years_since_remodel": year - pristine["Year_Remod_Add"],
    }
    mistakes = {
        "sale_quarter": {
            "Mo_Sold // 3 + 1 (March lands in quarter 2): use (Mo_Sold − 1) // 3 + 1 or "
            ".dt.quarter": month // 3 + 1,
            "quarters counted from 0 (they run 1–4)": (month - 1) // 3,
        },
        "months_since_start": {
            "months counted from 1 (January 2006 must be 0)": want["months_since_start"] + 1,
        },
        "month_sin": {"the month not shifted (use Mo_Sold − 1)": np.sin(2 * np.pi * month / 12)},
        "month_cos": {"the month not shifted (use Mo_Sold − 1)": np.cos(2 * np.pi * month / 12)},
        "house_age": {
            "the age today, not at the sale (use Year_Sold − Year_Built)": this_year
            - pristine["Year_Built"],
            "Year_Built − Year_Sold (the sign is flipped)": -want["house_age"],
        },
        "years_since_remodel": {
            "the years since the remodel counted from today, not from the sale": this_year
            - pristine["Year_Remod_Add"],
        },
    }
    _new_columns(got, want, name, mistakes)


# ----- task 2 -----------------------------------------------------------------------------------
def _smoothed(
    values: np.ndarray, y: np.ndarray, m: float, prior: float | None = None, pull: bool = True
) -> tuple[dict[Any, float], float]:
    prior = float(np.mean(y)) if prior is None else prior
    table = pd.DataFrame({"c": values, "y": y}).groupby("c")["y"].agg(["sum", "count"])
    # pull=False: m added to the count only, the m · prior term missing from the numerator
    encoding = (table["sum"] + (m * prior if pull else 0.0)) / (table["count"] + m)
    return dict(zip(table.index, encoding.to_numpy(), strict=True)), prior


def _apply_encoding(values: np.ndarray, encoding: dict[Any, float], prior: float) -> np.ndarray:
    return np.array([encoding.get(v, prior) for v in values], dtype=float)


def _reference_encoding(
    train_values: pd.Series,
    y: pd.Series,
    test_values: pd.Series,
    n_splits: int,
    seed: int,
    m: float,
    *,
    folds: bool = True,
    fold_prior: bool = True,
    shuffle: bool = True,
    pull: bool = True,
    test_from_folds: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    tv = train_values.to_numpy(dtype=object)
    yv = y.to_numpy(dtype=float)
    test = test_values.to_numpy(dtype=object)
    full, full_prior = _smoothed(tv, yv, m, pull=pull)
    if not folds:
        train_encoded = _apply_encoding(tv, full, full_prior)
    else:
        train_encoded = np.empty(len(tv))
        kfold = KFold(n_splits, shuffle=True, random_state=seed) if shuffle else KFold(n_splits)
        by_fold = []
        for fit_rows, rows in kfold.split(tv):
            # fold_prior=False: the prior of all training rows, held-out fold included
            prior = None if fold_prior else full_prior
            encoding, prior = _smoothed(tv[fit_rows], yv[fit_rows], m, prior, pull=pull)
            train_encoded[rows] = _apply_encoding(tv[rows], encoding, prior)
            by_fold.append(_apply_encoding(test, encoding, prior))
        if test_from_folds:  # the test rows: the mean of the folds' encodings
            return train_encoded, np.mean(by_fold, axis=0)
    return train_encoded, _apply_encoding(test, full, full_prior)


def _two_arrays(got: Any, name: str, n_train: int, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    got = assert_tuple(got, ("train_encoded", "test_encoded"), name)
    train_encoded = np.asarray(got[0], dtype=float).reshape(-1)
    test_encoded = np.asarray(got[1], dtype=float).reshape(-1)
    if train_encoded.shape != (n_train,) or test_encoded.shape != (n_test,):
        fail(
            f"{name} returned arrays of {train_encoded.shape[0]} and {test_encoded.shape[0]} "
            f"values; expected {n_train} (one per training row) and {n_test} (one per test row)"
        )
    return train_encoded, test_encoded


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("column", "n_splits", "seed", "smoothing"),
    [("Neighborhood", 5, 0, 10.0), ("Exterior_1st", 3, 1, 2.0)],
)
def test_target_encode_matches_the_out_of_fold_definition(
    learner, column, n_splits, seed, smoothing
):
    train, test = _house_split()
    y = np.log(train["Sale_Price"])
    name = (
        f"target_encode(train[{column!r}], log price, test[{column!r}], n_splits={n_splits}, "
        f"seed={seed}, smoothing={smoothing})"
    )
    got = learner.target_encode(
        train[column].copy(),
        y.copy(),
        test[column].copy(),
        n_splits=n_splits,
        seed=seed,
        smoothing=smoothing,
    )
    got_train, got_test = _two_arrays(got, name, len(train), len(test))
    args = (train[column], y, test[column], n_splits, seed)
    want_train, want_test = _reference_encoding(*args, smoothing)
    if not np.allclose(got_train, want_train, rtol=1e-9, atol=1e-12):
        assert_array(
            got_train,
            want_train,
            name=f"{name}[0] (training rows)",
            rtol=1e-9,
            mistakes={
                "target encoding without folds: each row's encoding includes its own price": (
                    _reference_encoding(*args, smoothing, folds=False)[0]
                ),
                "no smoothing (plain means of the other folds)": _reference_encoding(*args, 0.0)[0],
                "the prior of all training rows in every fold (use the mean of the other folds)": (
                    _reference_encoding(*args, smoothing, fold_prior=False)[0]
                ),
                "KFold without shuffle=True (the folds must be KFold(n_splits, shuffle=True, "
                "random_state=seed))": lambda: _reference_encoding(*args, smoothing, shuffle=False)[
                    0
                ],
                "smoothing added to the count only: the numerator lacks smoothing · prior": (
                    lambda: _reference_encoding(*args, smoothing, pull=False)[0]
                ),
            },
        )
    assert_array(
        got_test,
        want_test,
        name=f"{name}[1] (test rows)",
        rtol=1e-9,
        mistakes={
            "no smoothing (plain means of the training rows)": _reference_encoding(*args, 0.0)[1],
            "the mean of the folds' encodings (encode the test rows with all training rows)": (
                lambda: _reference_encoding(*args, smoothing, test_from_folds=True)[1]
            ),
            "smoothing added to the count only: the numerator lacks smoothing · prior": (
                lambda: _reference_encoding(*args, smoothing, pull=False)[1]
            ),
        },
    )


@pytest.mark.task(2)
def test_target_encode_has_no_gap_between_training_and_new_rows(learner):
    noise = np.random.default_rng(2024)
    n, levels = 1000, 250
    train_values = pd.Series([f"id{i}" for i in noise.integers(0, levels, n)])
    y_train = pd.Series(noise.normal(size=n))
    test_values = pd.Series([f"id{i}" for i in noise.integers(0, levels, n)] + ["never_seen"])
    y_test = noise.normal(size=n)
    got = learner.target_encode(train_values, y_train, test_values, n_splits=5, seed=0)
    got_train, got_test = _two_arrays(got, "target_encode(noise)", n, n + 1)
    if not np.all(np.isfinite(got_train)) or not np.all(np.isfinite(got_test[:-1])):
        fail("target_encode returned NaN or inf on a category column without missing values")
    on_train = float(np.corrcoef(got_train, y_train)[0, 1])
    on_new = float(np.corrcoef(got_test[:-1], y_test)[0, 1])
    if on_train - on_new > 0.15:
        fail(
            f"on a category that carries no information (random labels, random target), your "
            f"encoding of the training rows correlates {on_train:.2f} with their target, but only "
            f"{on_new:.2f} on new rows: every training row's encoding contains its own target. "
            "That is target encoding without folds — encode each fold with statistics of the "
            "other folds only"
        )
    assert_close(
        got_test[-1],
        float(y_train.mean()),
        name="the test encoding of a category never seen in training",
        rtol=1e-9,
    )


# ----- task 3 -----------------------------------------------------------------------------------
@pytest.mark.task(3)
def test_add_interactions(learner):
    houses = ames()
    pristine = houses.copy()
    got = learner.add_interactions(houses)
    name = "add_interactions(houses)"
    _returned_frame(got, name, houses, pristine)
    h = pristine
    total_sf = h["Total_Bsmt_SF"] + h["First_Flr_SF"] + h["Second_Flr_SF"]
    want = {
        "total_sf": total_sf,
        "total_baths": h["Full_Bath"]
        + h["Bsmt_Full_Bath"]
        + 0.5 * (h["Half_Bath"] + h["Bsmt_Half_Bath"]),
        "sf_per_room": h["Gr_Liv_Area"] / h["TotRms_AbvGrd"],
        "age_x_total_sf": (h["Year_Sold"] - h["Year_Built"]) * total_sf,
        "log_lot_area": np.log1p(h["Lot_Area"]),
    }
    mistakes = {
        "total_baths": {
            "half baths counted as whole ones": h["Full_Bath"]
            + h["Bsmt_Full_Bath"]
            + h["Half_Bath"]
            + h["Bsmt_Half_Bath"],
        },
        "log_lot_area": {"log(Lot_Area) without the + 1 (use np.log1p)": np.log(h["Lot_Area"])},
    }
    _new_columns(got, want, name, mistakes)


# ----- task 4 -----------------------------------------------------------------------------------
def _changed_test_houses(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Every second test house changed a lot; the others are the witnesses."""
    changed = test.copy()
    rows = changed.index[1::2]
    for column in ("Gr_Liv_Area", "First_Flr_SF", "Total_Bsmt_SF", "Garage_Area"):
        changed.loc[rows, column] = changed.loc[rows, column] * 3
    changed.loc[rows, "Lot_Area"] = changed.loc[rows, "Lot_Area"] * 10
    changed.loc[rows, "Year_Built"] = changed.loc[rows, "Year_Built"] - 60
    changed.loc[rows, "Year_Remod_Add"] = changed.loc[rows, "Year_Built"]
    changed.loc[rows, "Neighborhood"] = train["Neighborhood"].mode().iloc[0]
    return changed


@cached
def _predictions(learner: Any, changed: bool = False) -> np.ndarray:
    """fit_predict on the check's split (with the changed test houses when ``changed``)."""
    train, test = _house_split()
    if changed:
        test = _changed_test_houses(train, test)
    random.seed(0)  # the same random state for every call: a random model stays comparable
    np.random.seed(0)
    got = learner.fit_predict(train.copy(), test.drop(columns=["Sale_Price"]))
    assert_returned(got, "fit_predict(...)", what="the predictions")
    predicted = np.asarray(got, dtype=float).reshape(-1)
    if predicted.shape != (len(test),):
        fail(
            f"fit_predict returned {predicted.shape[0]} predictions for {len(test)} test "
            "houses: one price per test row, in order"
        )
    return predicted


@functools.lru_cache(maxsize=1)
def _baseline_mae() -> float:
    """StandardScaler + Ridge on the raw numeric columns, predicting the raw price."""
    train, test = _house_split()
    numeric = train.select_dtypes(include="number").columns.drop("Sale_Price")
    model = make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    model.fit(train[numeric], train["Sale_Price"])
    return float(np.mean(np.abs(model.predict(test[numeric]) - test["Sale_Price"])))


@pytest.mark.task(4)
def test_fit_predict_returns_prices_in_dollars(learner):
    _, test = _house_split()
    predicted = _predictions(learner)
    if not np.all(np.isfinite(predicted)):
        fail(f"fit_predict returned {int(np.sum(~np.isfinite(predicted)))} NaN or inf predictions")
    median = float(np.median(predicted))
    if 5 < median < 20:
        fail(
            f"the predictions have a median of {median:.2f}: they look like log prices. The model "
            "learns log(Sale_Price); turn its predictions back into dollars with np.exp"
        )
    if median < 20_000 or median > 2_000_000:
        fail(
            f"the predictions have a median of {median:,.0f}; the test houses' median price is "
            f"${float(test['Sale_Price'].median()):,.0f}. Return prices in dollars"
        )


@pytest.mark.task(4)
def test_fit_predict_beats_the_raw_baseline(learner):
    _, test = _house_split()
    predicted = _predictions(learner)
    error = float(np.mean(np.abs(predicted - test["Sale_Price"].to_numpy(dtype=float))))
    baseline = _baseline_mae()
    assert_beats(
        error,
        baseline,
        margin=MARGIN * baseline,
        higher_is_better=False,
        name="the mean absolute error on the test houses ($)",
        baseline_name="StandardScaler + Ridge on the raw numeric columns and the raw price",
    )


@pytest.mark.task(4)
def test_fit_predict_uses_no_statistics_of_the_test_rows(learner):
    _train, test = _house_split()
    before = _predictions(learner)
    after = _predictions(learner, changed=True)
    witnesses = np.arange(0, len(test), 2)
    moved = np.abs(after[witnesses] - before[witnesses])
    scale = np.maximum(np.abs(before[witnesses]), 1.0)
    if np.any(moved > 1e-7 * scale + 1e-6):
        worst = int(np.argmax(moved))
        fail(
            f"the predictions for test houses that did not change moved (by up to "
            f"${float(moved[worst]):,.2f}, for {int(np.sum(moved > 1e-7 * scale + 1e-6))} of "
            f"{witnesses.size} houses) when other test houses changed: your features or your "
            "scaler use statistics of the test rows — transforming with statistics of the full "
            "data. Fit every scaler, encoder, median or quantile on the training rows only (and "
            "give a model that draws random numbers a fixed random_state)"
        )
