"""A correct solution written differently: counts per threshold in a loop (no sklearn), rates
re-weighted by the base rate, and a summary worded another way, with rounded figures."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

Payoffs = Mapping[str, float]


def expected_profit(
    tpr: float | np.ndarray, fpr: float | np.ndarray, base_rate: float, payoffs: Payoffs
) -> float | np.ndarray:
    tpr = np.asarray(tpr, dtype=float)
    fpr = np.asarray(fpr, dtype=float)
    value_of_buyer = payoffs["fn"] + tpr * (payoffs["tp"] - payoffs["fn"])
    value_of_non_buyer = payoffs["tn"] + fpr * (payoffs["fp"] - payoffs["tn"])
    result = base_rate * value_of_buyer + (1 - base_rate) * value_of_non_buyer
    return float(result) if result.ndim == 0 else result


def _table(y_true: np.ndarray, scores: np.ndarray, base_rate: float | None):
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=float)
    positives, negatives = int(y.sum()), int((~y).sum())
    rows = [(math.inf, 0.0, 0.0)]
    for t in sorted(set(s.tolist()), reverse=True):
        acted = s >= t
        rows.append((t, (acted & y).sum() / positives, (acted & ~y).sum() / negatives))
    rate = positives / y.size if base_rate is None else base_rate
    return rows, rate


def profit_curve(
    y_true: np.ndarray, scores: np.ndarray, payoffs: Payoffs, base_rate: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    rows, rate = _table(y_true, scores, base_rate)
    thresholds = np.array([t for t, _, _ in rows])
    profit = np.array([expected_profit(tpr, fpr, rate, payoffs) for _, tpr, fpr in rows])
    return thresholds, profit


def choose_threshold(
    y_true: np.ndarray, scores: np.ndarray, payoffs: Payoffs, base_rate: float | None = None
) -> tuple[float, float]:
    thresholds, profit = profit_curve(y_true, scores, payoffs, base_rate)
    best_t, best_p = math.inf, -math.inf
    for t, p in zip(thresholds.tolist(), profit.tolist(), strict=True):
        if p > best_p:
            best_t, best_p = t, p
    return best_t, best_p


def stakeholder_summary(
    y_true: np.ndarray,
    scores: np.ndarray,
    payoffs: Payoffs,
    n_customers: int,
    base_rate: float | None = None,
) -> str:
    rows, rate = _table(y_true, scores, base_rate)
    threshold, per_customer = choose_threshold(y_true, scores, payoffs, base_rate)
    _, tpr, fpr = next(row for row in rows if row[0] == threshold)
    share = 100 * (rate * tpr + (1 - rate) * fpr)
    total = float(f"{per_customer * n_customers:.3g}")  # three significant figures
    return (
        f"Send the offer to the {share:.1f} percent of customers the model rates highest, that is "
        f"everyone scoring {threshold:.2f} or more. Out of {n_customers:,} customers that should "
        f"bring in roughly €{total:,.0f} after mailing costs; mailing more people adds more cost "
        "than sales, mailing fewer leaves profitable buyers unreached. This assumes buyers "
        "respond as they did in the data the model learned from."
    )
