"""From scores to money: expected profit per threshold, the best threshold, a summary.

payoffs: {"tp": ..., "fp": ..., "fn": ..., "tn": ...}, the value per customer of each outcome
(costs negative). A threshold t acts on every customer with score >= t. base_rate: the share of
positives in the population you will act on; None -> the share of positives in y_true.
You may use NumPy and sklearn.metrics.roc_curve(..., drop_intermediate=False).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

Payoffs = Mapping[str, float]


# ----- task 1 ---------------------------------------------------------------------------------
def expected_profit(
    tpr: float | np.ndarray, fpr: float | np.ndarray, base_rate: float, payoffs: Payoffs
) -> float | np.ndarray:
    """Expected value per customer of acting at a threshold with these rates.

    base_rate * (tpr * tp + (1 - tpr) * fn) + (1 - base_rate) * (fpr * fp + (1 - fpr) * tn).
    tpr and fpr: floats, or arrays of one shape (the result then has that shape).

    >>> round(expected_profit(0.5, 0.1, 0.06, {"tp": 112.0, "fp": -8.0, "fn": 0.0, "tn": 0.0}), 3)
    2.608
    """
    # TODO
    raise NotImplementedError


# ----- task 2 ---------------------------------------------------------------------------------
def profit_curve(
    y_true: np.ndarray, scores: np.ndarray, payoffs: Payoffs, base_rate: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, profit): thresholds = [inf, distinct scores in decreasing order].

    profit[i] is the expected profit per customer of acting on score >= thresholds[i]
    (thresholds[0] = inf: act on no one).

    >>> t, p = profit_curve(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.4, 0.1]),
    ...                     {"tp": 10.0, "fp": -2.0, "fn": 0.0, "tn": 0.0})
    >>> t.tolist(), p.tolist()
    ([inf, 0.9, 0.8, 0.4, 0.1], [0.0, 2.5, 2.0, 4.5, 4.0])
    """
    # TODO: the ROC rates at every distinct score, then expected_profit with the right base rate
    raise NotImplementedError


# ----- task 3 ---------------------------------------------------------------------------------
def choose_threshold(
    y_true: np.ndarray, scores: np.ndarray, payoffs: Payoffs, base_rate: float | None = None
) -> tuple[float, float]:
    """(threshold, profit per customer) of the most profitable threshold (inf: act on no one).

    >>> choose_threshold(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.4, 0.1]),
    ...                  {"tp": 10.0, "fp": -2.0, "fn": 0.0, "tn": 0.0})
    (0.4, 4.5)
    """
    # TODO
    raise NotImplementedError


# ----- task 4 ---------------------------------------------------------------------------------
def stakeholder_summary(
    y_true: np.ndarray,
    scores: np.ndarray,
    payoffs: Payoffs,
    n_customers: int,
    base_rate: float | None = None,
) -> str:
    """One paragraph for a non-technical decision maker (30-150 words, no blank lines).

    Must quote: the chosen threshold (at least two decimals), the expected total profit for
    n_customers (profit per customer * n_customers, a plain number such as 12,345), and the share
    of customers to contact as a percentage (base_rate * tpr + (1 - base_rate) * fpr at the chosen
    threshold). No acronyms TP, FP, FN, TN, TPR, FPR, ROC, AUC, F1.
    """
    # TODO: choose_threshold, the share contacted, then an f-string paragraph
    raise NotImplementedError
