"""Classification metrics from scratch (NumPy only: no sklearn, no scipy).

y_true: 0/1 (or bool) array, 1 = positive. y_pred: 0/1 array. scores: floats, higher = more
likely positive. A threshold t predicts positive when score >= t.
"""

from __future__ import annotations

import numpy as np


# ----- task 1 ---------------------------------------------------------------------------------
def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) as Python ints.

    fp: predicted 1, truly 0. fn: predicted 0, truly 1.

    >>> confusion_counts(np.array([1, 1, 0, 0, 1, 0]), np.array([1, 0, 1, 0, 1, 0]))
    (2, 1, 1, 2)
    """
    # TODO
    raise NotImplementedError


def precision_recall_f1(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float]:
    """(precision, recall, f1) as floats; 0.0 wherever a denominator is 0 (never NaN).

    >>> p, r, f = precision_recall_f1(np.array([1, 1, 0, 0, 1, 0]), np.array([1, 0, 1, 0, 1, 0]))
    >>> round(p, 4), round(r, 4), round(f, 4)
    (0.6667, 0.6667, 0.6667)
    >>> precision_recall_f1(np.array([1, 0]), np.array([0, 0]))  # nothing predicted positive
    (0.0, 0.0, 0.0)
    """
    # TODO
    raise NotImplementedError


# ----- task 2 ---------------------------------------------------------------------------------
def roc_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds): thresholds = [inf, distinct scores in decreasing order].

    fpr[i], tpr[i] are the false and true positive rates when predicting score >= thresholds[i];
    the first point is (0, 0). Tied scores share one point.

    >>> fpr, tpr, thr = roc_curve(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> fpr.tolist(), tpr.tolist(), thr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0], [inf, 0.8, 0.4, 0.35, 0.1])
    """
    # TODO: sort by score (descending), cumulative sums, keep the last index of each tied group
    raise NotImplementedError


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (trapezoid rule); ties count one half.

    >>> roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    >>> roc_auc(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.5, 0.5]))
    0.5
    """
    # TODO
    raise NotImplementedError


# ----- task 3 ---------------------------------------------------------------------------------
def pr_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds): thresholds = distinct scores in decreasing order.

    precision[i], recall[i] are computed when predicting score >= thresholds[i].

    >>> p, r, t = pr_curve(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> np.round(p, 3).tolist(), r.tolist(), t.tolist()
    ([1.0, 0.5, 0.667, 0.5], [0.5, 0.5, 1.0, 1.0], [0.8, 0.4, 0.35, 0.1])
    """
    # TODO
    raise NotImplementedError


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """sum over thresholds (decreasing) of (recall_i - recall_{i-1}) * precision_i, recall_{-1} = 0.

    >>> round(average_precision(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])), 4)
    0.8333
    """
    # TODO
    raise NotImplementedError


# ----- task 4 ---------------------------------------------------------------------------------
def best_f1_threshold(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(threshold, f1): the distinct score that maximises F1 as a threshold, and that F1.

    Any of several equally good thresholds is accepted.

    >>> best_f1_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    (0.35, 0.8)
    """
    # TODO
    raise NotImplementedError


def threshold_for_precision(
    y_true: np.ndarray, scores: np.ndarray, min_precision: float
) -> float | None:
    """The threshold with the highest recall among those with precision >= min_precision.

    Among thresholds with that same recall, the highest one. None if no threshold qualifies.

    >>> threshold_for_precision(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]), 0.6)
    0.35
    >>> threshold_for_precision(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]), 0.9)
    0.8
    """
    # TODO
    raise NotImplementedError
