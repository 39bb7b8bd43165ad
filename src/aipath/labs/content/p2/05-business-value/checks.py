"""Checks for p2-business-value: profit curves and thresholds on real insurance customers."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve
from sklearn.model_selection import train_test_split

from aipath.checks import assert_array, assert_close, assert_tuple, cached, fail, rdataset

MAILING = {"tp": 112.0, "fp": -8.0, "fn": 0.0, "tn": 0.0}
FEATURES = [
    "PPERSAUT",
    "APERSAUT",
    "APLEZIER",
    "PWAPART",
    "MKOOPKLA",
    "PBRAND",
    "PPLEZIER",
    "MOPLLAAG",
]
N_CUSTOMERS = 20_000
JARGON = ("TP", "FP", "FN", "TN", "TPR", "FPR", "ROC", "AUC", "F1")


@cached  # arrays copied for each call: a learner that edits its input spoils nothing
def caravan():
    """Held-out customers of the CoIL 2000 Caravan table, scored by a logistic regression.

    Scores are rounded to 3 decimals, as a scoring service would publish them (so ties occur).
    Returns (y, scores) for the natural sample and (y, scores, base rate) for a balanced one.
    """
    df = rdataset("ISLR", "Caravan")
    X = df[FEATURES].to_numpy(dtype=float)
    y = (df["Purchase"] == "Yes").to_numpy().astype(int)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, random_state=0, stratify=y
    )
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    model = LogisticRegression(max_iter=1000).fit((X_train - mean) / std, y_train)
    scores = np.round(model.predict_proba((X_test - mean) / std)[:, 1], 3)
    rng = np.random.default_rng(0)
    buyers = np.flatnonzero(y_test == 1)
    others = rng.choice(np.flatnonzero(y_test == 0), size=buyers.size, replace=False)
    balanced = np.sort(np.concatenate([buyers, others]))
    return (y_test, scores), (y_test[balanced], scores[balanced], float(y_test.mean()))


def _reference_curve(y, s, payoffs, base_rate=None):
    """(thresholds, profit, accuracy, share contacted, base rate) of the reference solution."""
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    rate = float(np.mean(y)) if base_rate is None else base_rate
    pos = tpr * payoffs["tp"] + (1 - tpr) * payoffs["fn"]
    neg = fpr * payoffs["fp"] + (1 - fpr) * payoffs["tn"]
    profit = rate * pos + (1 - rate) * neg
    accuracy = rate * tpr + (1 - rate) * (1 - fpr)
    share = rate * tpr + (1 - rate) * fpr
    return thresholds, profit, accuracy, share, rate


def _unweighted(y, s, payoffs):
    """The profit a learner who ignores the base rate computes (rates summed, 50/50 weights)."""
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    pos = tpr * payoffs["tp"] + (1 - tpr) * payoffs["fn"]
    neg = fpr * payoffs["fp"] + (1 - fpr) * payoffs["tn"]
    return pos + neg, 0.5 * (pos + neg)


# ----- task 1 ---------------------------------------------------------------------------------
@pytest.mark.task(1)
def test_expected_profit(learner):
    assert_close(
        learner.expected_profit(0.5, 0.1, 0.06, MAILING),
        2.608,
        name="expected_profit(0.5, 0.1, 0.06, mailing payoffs)",
        mistakes={
            "the base rate ignored (rates summed as if buyers and non-buyers were equally "
            "common)": 0.5 * 112 + 0.1 * -8,
            "the base rate ignored (a 50/50 weighting instead of the base rate)": 0.5
            * (0.5 * 112 + 0.1 * -8),
            "the base rate applied to the negatives: positives get π, negatives 1 - π": 0.94
            * 0.5
            * 112
            + 0.06 * 0.1 * -8,
            "tpr and fpr exchanged: the positives are caught with probability tpr, the "
            "negatives acted on with probability fpr": 0.06 * 0.1 * 112 + 0.94 * 0.5 * -8,
        },
    )
    payoffs = {"tp": 50.0, "fp": -5.0, "fn": -20.0, "tn": 1.0}
    tpr = np.array([0.0, 0.3, 0.8, 1.0])
    fpr = np.array([0.0, 0.05, 0.4, 1.0])
    rate = 0.2
    want = rate * (tpr * 50 + (1 - tpr) * -20) + (1 - rate) * (fpr * -5 + (1 - fpr) * 1)
    assert_array(
        learner.expected_profit(tpr, fpr, rate, payoffs),
        want,
        name="expected_profit(arrays of rates, base_rate=0.2, payoffs with fn=-20, tn=1)",
        rtol=1e-9,
        mistakes={
            "the fn and tn payoffs left out (missed buyers and untouched non-buyers have values "
            "too)": rate * tpr * 50 + (1 - rate) * fpr * -5,
            "the base rate ignored (rates summed without weighting)": (
                tpr * 50 + (1 - tpr) * -20 + fpr * -5 + (1 - fpr) * 1
            ),
        },
    )


# ----- task 2 ---------------------------------------------------------------------------------
STRICT = (
    "score > threshold where score >= threshold belongs: each threshold's own customers left "
    "out (every value is the one of the next threshold up)"
)


@pytest.mark.task(2)
def test_profit_curve_small_example(learner):
    y, s = np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.4, 0.1])
    payoffs = {"tp": 10.0, "fp": -2.0, "fn": 0.0, "tn": 0.0}
    thresholds, profit = assert_tuple(
        learner.profit_curve(y, s, payoffs), 2, "profit_curve", allow_list=True
    )
    thresholds = np.asarray(thresholds, dtype=float)
    if thresholds.size == 4 or (thresholds.size and not np.isinf(thresholds[0])):
        fail(
            f"profit_curve thresholds are {thresholds.tolist()}; the curve must start with "
            "threshold inf — act on no one (profit from fn and tn only) — so that doing nothing "
            "is one of the options compared"
        )
    assert_array(thresholds, [np.inf, 0.9, 0.8, 0.4, 0.1], name="profit_curve thresholds")
    assert_array(
        profit,
        [0.0, 2.5, 2.0, 4.5, 4.0],
        name="profit_curve profit per customer",
        mistakes={STRICT: [0.0, 0.0, 2.5, 2.0, 4.5]},
    )


@pytest.mark.task(2)
def test_profit_curve_on_real_customers(learner):
    (y, s), _ = caravan()
    thresholds, profit = assert_tuple(
        learner.profit_curve(y, s, MAILING), 2, "profit_curve", allow_list=True
    )
    ref_t, ref_p, *_ = _reference_curve(y, s, MAILING)
    assert_array(thresholds, ref_t, name="profit_curve thresholds on the Caravan customers")
    summed, halved = _unweighted(y, s, MAILING)
    assert_array(
        profit,
        ref_p,
        name="profit_curve profit on the Caravan customers",
        rtol=1e-9,
        mistakes={
            "the base rate ignored (rates summed as if buyers were as common as non-buyers)": summed,
            "the base rate ignored (a 50/50 weighting instead of the share of buyers)": halved,
            STRICT: np.r_[ref_p[0], ref_p[:-1]],
        },
    )


@pytest.mark.task(2)
def test_profit_curve_corrects_for_the_base_rate(learner):
    _, (y, s, base_rate) = caravan()
    thresholds, profit = assert_tuple(
        learner.profit_curve(y, s, MAILING, base_rate=base_rate), 2, "profit_curve", allow_list=True
    )
    ref_t, ref_p, *_ = _reference_curve(y, s, MAILING, base_rate)
    _, sample_rate_profit, *_ = _reference_curve(y, s, MAILING)
    assert_array(thresholds, ref_t, name="profit_curve thresholds on a balanced sample")
    assert_array(
        profit,
        ref_p,
        name=f"profit_curve on a balanced sample (half buyers) with base_rate={base_rate:.4f}",
        rtol=1e-9,
        mistakes={
            "the base_rate argument ignored: the balanced sample's own 50% share of buyers was "
            "used instead of the population's base rate": sample_rate_profit,
        },
    )


# ----- task 3 ---------------------------------------------------------------------------------
def _check_choice(learner, y, s, payoffs, base_rate, label):
    thresholds, profit, accuracy, _share, _rate = _reference_curve(y, s, payoffs, base_rate)
    best = float(profit.max())
    threshold, reported = assert_tuple(
        learner.choose_threshold(y, s, payoffs, base_rate=base_rate),
        2,
        "choose_threshold",
        allow_list=True,
    )
    threshold = float(threshold)
    matches = np.flatnonzero(thresholds == threshold)
    want = float(thresholds[int(np.argmax(profit))])
    if matches.size == 0:
        clue = ""
        if threshold == 0.5:
            clue = " — the default 0.5 cut-off, which knows nothing about what an error costs"
        fail(
            f"choose_threshold {label} is {threshold}, not one of the scores or inf; expected {want}{clue}"
        )
    got_profit = float(profit[matches[0]])
    if not math.isclose(got_profit, best, rel_tol=1e-9, abs_tol=1e-12):
        best_at = int(np.argmax(profit))
        mistakes = {
            "the threshold that maximises accuracy, not profit (accuracy ignores what each error "
            "costs)": float(thresholds[int(np.argmax(accuracy))]),
            "the least profitable threshold (argmin where argmax belongs)": float(
                thresholds[int(np.argmin(profit))]
            ),
        }
        for step in (1, -1):
            if 0 <= best_at + step < thresholds.size:
                mistakes[
                    f"the threshold {'after' if step == 1 else 'before'} the best one in the "
                    "curve: an index off by one"
                ] = float(thresholds[best_at + step])
        if base_rate is not None:
            _t, sample_profit, *_ = _reference_curve(y, s, payoffs)
            mistakes[
                "the threshold chosen with the sample's own share of positives: the base "
                "rate ignored"
            ] = float(thresholds[int(np.argmax(sample_profit))])
        for text, wrong in mistakes.items():
            if threshold == wrong:
                fail(
                    f"choose_threshold {label} is {threshold:.4g}, which looks like {text}; "
                    f"expected {want:.4g} (expected profit {best:.4g} per customer instead of "
                    f"{got_profit:.4g})"
                )
        fail(
            f"choose_threshold {label} is {threshold:.4g} with expected profit {got_profit:.4g} "
            f"per customer; {want:.4g} earns {best:.4g}"
        )
    assert_close(reported, best, name=f"the profit choose_threshold reports {label}", rtol=1e-9)


@pytest.mark.task(3)
def test_choose_threshold_on_real_customers(learner):
    (y, s), (yb, sb, base_rate) = caravan()
    _check_choice(learner, y, s, MAILING, None, "for the Caravan customers")
    _check_choice(
        learner, yb, sb, MAILING, base_rate, f"for a balanced sample with base_rate={base_rate:.4f}"
    )
    expensive = {"tp": 60.0, "fp": -12.0, "fn": -5.0, "tn": 1.0}
    _check_choice(learner, y, s, expensive, None, "with payoffs tp=60, fp=-12, fn=-5, tn=1")


@pytest.mark.task(3)
def test_choose_threshold_can_decline(learner):
    y, s = np.array([0, 1, 0, 0]), np.array([0.9, 0.8, 0.3, 0.1])
    payoffs = {"tp": 10.0, "fp": -20.0, "fn": 0.0, "tn": 0.0}
    threshold, profit = assert_tuple(
        learner.choose_threshold(y, s, payoffs), 2, "choose_threshold", allow_list=True
    )
    if not math.isinf(float(threshold)):
        fail(
            f"choose_threshold(y_true={y.tolist()}, scores={s.tolist()}, tp=10, fp=-20) is "
            f"{float(threshold)} with expected profit {float(profit):.4g} per customer, but "
            "every threshold loses money: act on no one (threshold inf, profit 0). Keep the "
            "'act on no one' option in the comparison"
        )
    assert_close(profit, 0.0, name="the profit of acting on no one")


# ----- task 4 ---------------------------------------------------------------------------------
NUMBER = re.compile(r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|(?<![\w\d])\.\d+")
PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:%|percent\b|per cent\b)")


def _numbers(text):
    return [float(m.group(0).replace(",", "")) for m in NUMBER.finditer(text)]


@pytest.mark.task(4)
def test_stakeholder_summary(learner):
    (y, s), (yb, sb, base_rate) = caravan()
    _check_summary(learner, y, s, None, "the summary")
    _check_summary(
        learner,
        yb,
        sb,
        base_rate,
        f"the summary for a balanced sample with base_rate={base_rate:.4f}",
    )


def _check_summary(learner, y, s, base_rate, label):
    text = learner.stakeholder_summary(y, s, MAILING, N_CUSTOMERS, base_rate=base_rate)
    if not isinstance(text, str):
        fail(f"stakeholder_summary should return a str; got {type(text).__name__}")
    thresholds, profit, _acc, share, _rate = _reference_curve(y, s, MAILING, base_rate)
    _fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    best = int(np.argmax(profit))
    threshold, per_customer = float(thresholds[best]), float(profit[best])
    total, contacted = per_customer * N_CUSTOMERS, float(share[best])

    if re.search(r"\n\s*\n", text.strip()):
        fail(f"{label} has a blank line: write one paragraph")
    words = len(text.split())
    if not 30 <= words <= 150:
        fail(f"{label} has {words} words; a stakeholder paragraph has 30 to 150")
    jargon = [term for term in JARGON if re.search(rf"\b{term}\b", text)]
    if jargon:
        fail(
            f"{label} uses {', '.join(jargon)}: the reader does not know these acronyms; "
            "say what they mean in words (e.g. 'customers we mail who do not buy')"
        )
    numbers = _numbers(text)
    if not any(abs(n - threshold) <= 0.005 + 1e-9 for n in numbers):
        fail(
            f"{label} does not quote the chosen threshold {threshold:.3f} (with at least two "
            f"decimals); numbers found: {numbers}"
        )
    if not any(abs(n - abs(total)) <= 0.006 * abs(total) + 1 for n in numbers):
        if any(abs(n - per_customer) <= 0.01 * abs(per_customer) + 0.005 for n in numbers):
            fail(
                f"{label} quotes {per_customer:.2f}, the expected profit per customer, but "
                f"not the total for the {N_CUSTOMERS:,} customers ({total:,.0f}): a stakeholder "
                "decides on the campaign's total"
            )
        if any(
            abs(n - per_customer * len(y)) <= 0.006 * abs(per_customer * len(y)) + 1
            for n in numbers
        ):
            fail(
                f"{label} quotes {per_customer * len(y):,.0f}: the profit per customer × the "
                f"sample size ({len(y):,}), not × n_customers ({N_CUSTOMERS:,}); expected "
                f"{total:,.0f}"
            )
        fail(
            f"{label} does not quote the expected total profit {total:,.0f} "
            f"(= {per_customer:.4f} per customer × {N_CUSTOMERS:,}); numbers found: {numbers}"
        )
    percents = [float(m.group(1)) for m in PERCENT.finditer(text)]
    if not any(abs(p - 100 * contacted) <= 0.6 for p in percents):
        clues = {
            "the share of buyers reached (tpr), not the share of all customers contacted "
            "(π · tpr + (1 − π) · fpr)": 100 * float(tpr[best]),
            "the share of the sample at or above the threshold, not weighted by the base rate "
            "(π · tpr + (1 − π) · fpr)": 100 * float(np.mean(s >= threshold)),
            "a fraction written with a % sign: multiply by 100": contacted,
        }
        clue = next(
            (
                f" — {percent:g}% looks like {text}"
                for text, wrong in clues.items()
                for percent in percents
                if abs(wrong - 100 * contacted) > 0.6 and abs(percent - wrong) <= 0.6
            ),
            "",
        )
        fail(
            f"{label} does not give the share of customers to contact, {contacted:.1%} "
            f"(as a percentage, e.g. '{contacted:.0%}'); percentages found: {percents}{clue}"
        )
