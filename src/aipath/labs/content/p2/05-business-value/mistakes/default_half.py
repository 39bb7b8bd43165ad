# expect: default 0.5 cut-off
"""Mistake: the usual 0.5 probability cut-off is used whatever the payoffs."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.metrics import roc_curve

Payoffs = Mapping[str, float]


def expected_profit(
    tpr: float | np.ndarray, fpr: float | np.ndarray, base_rate: float, payoffs: Payoffs
) -> float | np.ndarray:
    positives = tpr * payoffs["tp"] + (1 - tpr) * payoffs["fn"]
    negatives = fpr * payoffs["fp"] + (1 - fpr) * payoffs["tn"]
    return base_rate * positives + (1 - base_rate) * negatives


def _rates(
    y_true: np.ndarray, scores: np.ndarray, base_rate: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(thresholds, tpr, fpr, base rate) with thresholds [inf, distinct scores decreasing]."""
    y = np.asarray(y_true)
    fpr, tpr, thresholds = roc_curve(y, np.asarray(scores, dtype=float), drop_intermediate=False)
    rate = float(np.mean(y)) if base_rate is None else float(base_rate)
    return thresholds, tpr, fpr, rate


def profit_curve(
    y_true: np.ndarray, scores: np.ndarray, payoffs: Payoffs, base_rate: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    thresholds, tpr, fpr, rate = _rates(y_true, scores, base_rate)
    return thresholds, np.asarray(expected_profit(tpr, fpr, rate, payoffs))


def choose_threshold(
    y_true: np.ndarray, scores: np.ndarray, payoffs: Payoffs, base_rate: float | None = None
) -> tuple[float, float]:
    rate = _rates(y_true, scores, base_rate)[3]
    s = np.asarray(scores, dtype=float)
    y = np.asarray(y_true)
    tpr_half = np.mean(s[y == 1] >= 0.5)
    fpr_half = np.mean(s[y == 0] >= 0.5)
    return 0.5, float(expected_profit(tpr_half, fpr_half, rate, payoffs))


def stakeholder_summary(
    y_true: np.ndarray,
    scores: np.ndarray,
    payoffs: Payoffs,
    n_customers: int,
    base_rate: float | None = None,
) -> str:
    thresholds, tpr, fpr, rate = _rates(y_true, scores, base_rate)
    threshold, per_customer = choose_threshold(y_true, scores, payoffs, base_rate)
    if np.isinf(threshold):
        return (
            f"Based on the model's scores and the expected response rate of {rate:.1%}, no "
            f"group of customers is likely enough to respond to cover the cost of contacting "
            f"them, so we recommend not running this campaign on the {n_customers:,} customers: "
            "every version of it is expected to lose money. This changes if the cost per "
            "contact falls or the margin per sale rises."
        )
    i = int(np.flatnonzero(thresholds == threshold)[0])
    share = rate * tpr[i] + (1 - rate) * fpr[i]
    total = per_customer * n_customers
    everyone = float(expected_profit(1.0, 1.0, rate, payoffs)) * n_customers
    return (
        f"We recommend contacting only the customers whose model score is at least "
        f"{threshold:.3f}, about {share:.0%} of the {n_customers:,} customers. With a response "
        f"rate of {rate:.1%} and the current margin and cost per contact, this is expected to "
        f"earn {total:,.0f} in total, against {everyone:,.0f} if we contacted everyone. "
        "The figure is an average over many campaigns, not a promise for this one, and it "
        "rests on the model ranking customers as well as it did on past data; if costs or "
        "margins change, the cut-off should be recomputed."
    )
