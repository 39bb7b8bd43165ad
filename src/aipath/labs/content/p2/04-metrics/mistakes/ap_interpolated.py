# expect: interpolated precision
"""Mistake: average precision uses the interpolated (running maximum) precision."""

from __future__ import annotations

import numpy as np


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int, int]:
    truth = np.asarray(y_true).astype(bool)
    pred = np.asarray(y_pred).astype(bool)
    tp = int(np.sum(truth & pred))
    fp = int(np.sum(~truth & pred))
    fn = int(np.sum(truth & ~pred))
    tn = int(np.sum(~truth & ~pred))
    return tp, fp, fn, tn


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, or 0.0 when the denominator is 0 (sklearn's zero_division=0)."""
    return float(numerator / denominator) if denominator else 0.0


def precision_recall_f1(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float]:
    tp, fp, fn, _tn = confusion_counts(y_true, y_pred)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return precision, recall, f1


def _cumulative_counts(
    y_true: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tp, fp, thresholds) at each distinct score, from the highest score down."""
    truth = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    sorted_truth = truth[order]
    # The last index of each run of tied scores: all of them cross the threshold together.
    last_of_group = np.flatnonzero(np.diff(sorted_scores) != 0)
    ends = np.append(last_of_group, sorted_scores.size - 1)
    tp = np.cumsum(sorted_truth)[ends]
    fp = np.cumsum(~sorted_truth)[ends]
    return tp, fp, sorted_scores[ends]


def roc_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp, fp, thresholds = _cumulative_counts(y_true, scores)
    tpr = np.concatenate([[0.0], tp / tp[-1]])
    fpr = np.concatenate([[0.0], fp / fp[-1]])
    return fpr, tpr, np.concatenate([[np.inf], thresholds])


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(y_true, scores)
    return float(np.trapezoid(tpr, fpr))


def pr_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp, fp, thresholds = _cumulative_counts(y_true, scores)
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    return precision, recall, thresholds


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    precision, recall, _ = pr_curve(y_true, scores)
    gained = np.diff(recall, prepend=0.0)
    interpolated = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(gained * interpolated))


def best_f1_threshold(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    precision, recall, thresholds = pr_curve(y_true, scores)
    with np.errstate(invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.argmax(f1))
    return float(thresholds[best]), float(f1[best])


def threshold_for_precision(
    y_true: np.ndarray, scores: np.ndarray, min_precision: float
) -> float | None:
    precision, recall, thresholds = pr_curve(y_true, scores)
    allowed = np.flatnonzero(precision >= min_precision)
    if allowed.size == 0:
        return None
    # Thresholds are decreasing and recall never decreases along them, so the first index that
    # reaches the best allowed recall is the highest threshold with that recall.
    best_recall = recall[allowed].max()
    best = allowed[recall[allowed] == best_recall][0]
    return float(thresholds[best])
