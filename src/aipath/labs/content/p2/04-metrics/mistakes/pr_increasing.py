# expect: in reverse order
# slip: pr_curve lists thresholds in increasing order
"""Metrics: review base."""

from __future__ import annotations

import numpy as np


def confusion_counts(y_true, y_pred):
    t = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    tp = int(np.sum(t & p))
    fp = int(np.sum(~t & p))
    fn = int(np.sum(t & ~p))
    tn = int(np.sum(~t & ~p))
    return tp, fp, fn, tn


def _div(a, b):
    return float(a / b) if b else 0.0


def precision_recall_f1(y_true, y_pred):
    tp, fp, fn, _ = confusion_counts(y_true, y_pred)
    p = _div(tp, tp + fp)
    r = _div(tp, tp + fn)
    f = _div(2 * p * r, p + r)
    return p, r, f


def _counts(y_true, scores):
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=float)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    tps = np.cumsum(y)
    fps = np.cumsum(~y)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    return s[last], tps[last].astype(float), fps[last].astype(float), y.sum(), (~y).sum()


def roc_curve(y_true, scores):
    thr, tps, fps, P, N = _counts(y_true, scores)
    fpr = np.r_[0.0, fps / N]
    tpr = np.r_[0.0, tps / P]
    return fpr, tpr, np.r_[np.inf, thr]


def roc_auc(y_true, scores):
    fpr, tpr, _ = roc_curve(y_true, scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def pr_curve(y_true, scores):
    thr, tps, fps, P, _ = _counts(y_true, scores)
    precision = tps / (tps + fps)
    recall = tps / P
    return precision[::-1], recall[::-1], thr[::-1]


def average_precision(y_true, scores):
    precision, recall, _ = pr_curve(y_true, scores)
    precision, recall = precision[::-1], recall[::-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def best_f1_threshold(y_true, scores):
    precision, recall, thr = pr_curve(y_true, scores)
    precision, recall, thr = precision[::-1], recall[::-1], thr[::-1]
    denom = precision + recall
    f1 = np.where(denom > 0, 2 * precision * recall / np.where(denom > 0, denom, 1), 0.0)
    i = int(np.argmax(f1))
    return float(thr[i]), float(f1[i])


def threshold_for_precision(y_true, scores, min_precision):
    precision, recall, thr = pr_curve(y_true, scores)
    ok = precision >= min_precision
    if not ok.any():
        return None
    best = recall[ok].max()
    candidates = thr[ok & (recall == best)]
    return float(candidates.max())
