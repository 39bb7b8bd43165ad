"""Unit tests of tinymodel: what CI runs with `pytest` before the evaluation gate."""

from __future__ import annotations

import numpy as np
import pytest

# isort: split
from tinymodel import (
    LogisticModel,
    accuracy,
    f1_score,
    log_loss,
    make_dataset,
    train_test_split,
)


def test_dataset_is_seeded() -> None:
    X1, y1 = make_dataset(seed=3)
    X2, y2 = make_dataset(seed=3)
    assert X1.shape == (1200, 4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)


def test_split_keeps_every_row_once() -> None:
    X, y = make_dataset(n=100)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_share=0.2)
    assert len(y_train) == 80 and len(y_test) == 20
    assert sorted(map(tuple, np.vstack([X_train, X_test]))) == sorted(map(tuple, X))


def test_probabilities_are_probabilities() -> None:
    X, y = make_dataset(n=200)
    p = LogisticModel(epochs=50).fit(X, y).predict_proba(X)
    assert p.shape == (200,)
    assert np.all((p > 0) & (p < 1))


def test_model_beats_chance() -> None:
    X, y = make_dataset()
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    model = LogisticModel().fit(X_train, y_train)
    assert accuracy(y_test, model.predict(X_test)) > 0.75


def test_metrics_on_known_values() -> None:
    y = np.array([1, 0, 1, 1])
    assert accuracy(y, np.array([1, 0, 0, 1])) == pytest.approx(0.75)
    assert f1_score(y, np.array([1, 0, 0, 1])) == pytest.approx(0.8)
    assert log_loss(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(np.log(2))


def test_predict_before_fit_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        LogisticModel().predict(np.zeros((1, 4)))
