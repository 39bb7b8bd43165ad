"""Business value: review base."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.metrics import roc_curve

Payoffs = Mapping[str, float]


def expected_profit(tpr, fpr, base_rate, payoffs):
    tpr, fpr = np.asarray(tpr, dtype=float), np.asarray(fpr, dtype=float)
    gain = (
        base_rate * (payoffs["tp"] - payoffs["fn"]) * tpr
        + (1 - base_rate) * (payoffs["fp"] - payoffs["tn"]) * fpr
    )
    out = gain + base_rate * payoffs["fn"] + (1 - base_rate) * payoffs["tn"]
    return float(out) if out.ndim == 0 else out


def _rates(y_true, scores, base_rate):
    y = np.asarray(y_true)
    fpr, tpr, thresholds = roc_curve(y, np.asarray(scores, dtype=float), drop_intermediate=False)
    pi = float(np.mean(y)) if base_rate is None else float(base_rate)
    return thresholds, tpr, fpr, pi


def profit_curve(y_true, scores, payoffs, base_rate=None):
    thresholds, tpr, fpr, pi = _rates(y_true, scores, base_rate)
    return thresholds, np.asarray(expected_profit(tpr, fpr, pi, payoffs), dtype=float)


def choose_threshold(y_true, scores, payoffs, base_rate=None):
    thresholds, profit = profit_curve(y_true, scores, payoffs, base_rate)
    i = int(np.nanargmax(profit))
    return float(thresholds[i]), float(profit[i])


def stakeholder_summary(y_true, scores, payoffs, n_customers, base_rate=None):
    threshold, profit = choose_threshold(y_true, scores, payoffs, base_rate)
    thresholds, tpr, fpr, pi = _rates(y_true, scores, base_rate)
    i = int(np.flatnonzero(thresholds == threshold)[0])
    share = pi * tpr[i] + (1 - pi) * fpr[i]
    total = profit * n_customers
    return (
        f"Send the offer to customers scoring {threshold:.2f} or more. "
        f"That means contacting about {share * 100:.1f}% of the {n_customers:,} customers, and "
        f"the campaign should earn about {total:,.0f} in total after printing and postage. "
        "The estimate rests on the model's scores and on last season's response rate; if the "
        "margin per policy or the cost of a mailing changes, the best cut changes too."
    )
