# expect: base_rate argument ignored
"""Mistake: profit is counted on the sample itself, so the base_rate argument is never used."""

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
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=float)
    thresholds = np.concatenate([[np.inf], np.unique(s)[::-1]])
    acted = s[None, :] >= thresholds[:, None]
    tp = (acted & (y == 1)).sum(axis=1)
    fp = (acted & (y == 0)).sum(axis=1)
    fn = (~acted & (y == 1)).sum(axis=1)
    tn = (~acted & (y == 0)).sum(axis=1)
    total = tp * payoffs["tp"] + fp * payoffs["fp"] + fn * payoffs["fn"] + tn * payoffs["tn"]
    return thresholds, total / y.size


def choose_threshold(
    y_true: np.ndarray, scores: np.ndarray, payoffs: Payoffs, base_rate: float | None = None
) -> tuple[float, float]:
    thresholds, profit = profit_curve(y_true, scores, payoffs, base_rate)
    best = int(np.argmax(profit))
    return float(thresholds[best]), float(profit[best])


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
