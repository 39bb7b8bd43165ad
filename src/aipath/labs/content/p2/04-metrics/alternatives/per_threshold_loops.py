"""A correct solution written differently: one pass per threshold (np.unique for the distinct
scores), AUC from all positive/negative pairs (the Mann-Whitney view), plain Python sums."""

from __future__ import annotations

import numpy as np


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int, int]:
    tp = fp = fn = tn = 0
    for truth, pred in zip(np.asarray(y_true).tolist(), np.asarray(y_pred).tolist(), strict=True):
        if truth and pred:
            tp += 1
        elif pred:
            fp += 1
        elif truth:
            fn += 1
        else:
            tn += 1
    return tp, fp, fn, tn


def precision_recall_f1(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float]:
    tp, fp, fn, _ = confusion_counts(y_true, y_pred)
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    # 2PR / (P + R) simplifies to 2TP / (2TP + FP + FN), which is 0 exactly when TP is 0.
    f1 = 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0
    return float(precision), float(recall), float(f1)


def _counts_per_threshold(y_true: np.ndarray, scores: np.ndarray):
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=float)
    thresholds = np.unique(s)[::-1]
    tps = np.array([np.sum(y & (s >= t)) for t in thresholds])
    fps = np.array([np.sum(~y & (s >= t)) for t in thresholds])
    return tps, fps, thresholds, int(y.sum()), int((~y).sum())


def roc_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tps, fps, thresholds, positives, negatives = _counts_per_threshold(y_true, scores)
    fpr = np.insert(fps / negatives, 0, 0.0)
    tpr = np.insert(tps / positives, 0, 0.0)
    return fpr, tpr, np.insert(thresholds, 0, np.inf)


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=float)
    pos, neg = s[y][:, None], s[~y][None, :]
    wins = (pos > neg).sum() + 0.5 * (pos == neg).sum()
    return float(wins / (pos.size * neg.size))


def pr_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tps, fps, thresholds, positives, _ = _counts_per_threshold(y_true, scores)
    return tps / (tps + fps), tps / positives, thresholds


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    precision, recall, _ = pr_curve(y_true, scores)
    total, previous = 0.0, 0.0
    for p, r in zip(precision, recall, strict=True):
        total += (r - previous) * p
        previous = r
    return float(total)


def best_f1_threshold(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    best_t, best_f1 = None, -1.0
    for t in np.unique(scores)[::-1]:
        f1 = precision_recall_f1(y_true, (np.asarray(scores) >= t).astype(int))[2]
        if f1 > best_f1:
            best_t, best_f1 = float(t), f1
    return best_t, best_f1


def threshold_for_precision(
    y_true: np.ndarray, scores: np.ndarray, min_precision: float
) -> float | None:
    precision, recall, thresholds = pr_curve(y_true, scores)
    best = None
    for p, r, t in zip(precision, recall, thresholds, strict=True):
        # Walk down from the highest threshold; only a strictly larger recall replaces the choice.
        if p >= min_precision and (best is None or r > best[0]):
            best = (r, float(t))
    return None if best is None else best[1]
