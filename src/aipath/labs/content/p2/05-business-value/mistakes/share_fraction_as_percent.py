# expect: a fraction written with a % sign
# slip: share written as a fraction with a % sign (0.2% for 20%)
"""Business value: review base."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.metrics import roc_curve

Payoffs = Mapping[str, float]


def expected_profit(tpr, fpr, base_rate, payoffs):
    pi = base_rate
    positive = tpr * payoffs["tp"] + (1 - tpr) * payoffs["fn"]
    negative = fpr * payoffs["fp"] + (1 - fpr) * payoffs["tn"]
    return pi * positive + (1 - pi) * negative


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
    i = int(np.argmax(profit))
    return float(thresholds[i]), float(profit[i])


def stakeholder_summary(y_true, scores, payoffs, n_customers, base_rate=None):
    threshold, profit = choose_threshold(y_true, scores, payoffs, base_rate)
    thresholds, tpr, fpr, pi = _rates(y_true, scores, base_rate)
    i = int(np.flatnonzero(thresholds == threshold)[0])
    share = pi * tpr[i] + (1 - pi) * fpr[i]
    total = profit * n_customers
    return (
        f"We recommend mailing every customer whose model score is at least {threshold:.3f}. "
        f"That means contacting about {share:.2f}% of the {n_customers:,} customers, and "
        f"the campaign should earn about {total:,.0f} in total after printing and postage. "
        "The estimate rests on the model's scores and on last season's response rate; if the "
        "margin per policy or the cost of a mailing changes, the best cut changes too."
    )
