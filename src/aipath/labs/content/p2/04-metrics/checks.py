"""Checks for p2-metrics: cross-checked against scikit-learn on random and tied inputs."""

from __future__ import annotations

import gc
import math
import sys

import numpy as np
import pytest
import sklearn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    auc,
    average_precision_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.metrics import roc_curve as sk_roc_curve

from aipath.checks import assert_array, assert_close, assert_tuple, fail, forbid_imports

# The checks call scikit-learn hundreds of times on tiny arrays: skip its argument validation.
sklearn.set_config(skip_parameter_validation=True, assume_finite=True)

# Startup costs of hypothesis that dominate a sub-second check run (both only speed, never
# results): it runs gc.collect() once per process, which would walk the whole preloaded heap, and
# on its first draw it parses every loaded module looking for constants to try.
gc.freeze()
try:
    from hypothesis.internal.conjecture import providers as _providers

    _providers._seen_modules.update(id(module) for module in list(sys.modules.values()))
except (ImportError, AttributeError):  # a future hypothesis: merely slower
    pass

PROPERTY = settings(
    max_examples=12,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    deadline=None,
    derandomize=True,
    database=None,
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)
FORBIDDEN = ("sklearn", "scipy", "torch", "pandas", "statsmodels")


@st.composite
def labels_and_predictions(draw):
    """Any 0/1 labels and predictions, including all-negative ones (empty denominators).

    One byte per sample (bit 0: label, bit 1: prediction) keeps generation cheap and lets
    hypothesis shrink a failure down to a handful of samples.
    """
    raw = np.frombuffer(draw(st.binary(min_size=1, max_size=25)), dtype=np.uint8)
    return (raw & 1).astype(int), ((raw >> 1) & 1).astype(int)


@st.composite
def labels_and_scores(draw):
    """Both classes present; scores on a coarse grid (many ties) or a fine one (almost none)."""
    raw = np.frombuffer(draw(st.binary(min_size=6, max_size=60)), dtype=np.uint8)
    raw = raw[: raw.size // 3 * 3].reshape(-1, 3).astype(int)
    y = raw[:, 0] & 1
    y[0], y[1] = 1, 0
    levels = draw(st.sampled_from([1, 3, 10, 60_000]))
    scores = (raw[:, 1] * 256 + raw[:, 2]) % (levels + 1) / levels
    return y, scores


def _show(y, s=None):
    text = f"y_true={np.asarray(y).tolist()}"
    if s is not None:
        text += f", scores={np.round(np.asarray(s, dtype=float), 6).tolist()}"
    return text


def _sklearn_pr(y, s):
    """scikit-learn's PR curve in this lab's order: decreasing thresholds, no final (1, 0) point."""
    precision, recall, thresholds = precision_recall_curve(y, s)
    return precision[:-1][::-1], recall[:-1][::-1], thresholds[::-1]


def _order_probe(learner, y, s):
    """AUC is a property of the set of (label, score) pairs: the listing order must not matter."""
    given_order = float(learner.roc_auc(y, s))
    for label, order in (
        ("reversed", np.arange(y.size)[::-1]),
        ("sorted by score", np.argsort(-s)),
    ):
        other = float(learner.roc_auc(y[order], s[order]))
        if not math.isclose(given_order, other, rel_tol=1e-9, abs_tol=1e-12):
            fail(
                f"roc_auc changes when the same samples are listed in another order ({label}): "
                f"{given_order:.4g} vs {other:.4g}. The ROC curve sweeps the threshold from the "
                "highest score down: sort the samples by score (descending) before accumulating"
            )
    return given_order


# ----- task 1 ---------------------------------------------------------------------------------
@pytest.mark.task(1)
def test_numpy_only(learner, learner_file):
    learner.confusion_counts(np.array([1, 0]), np.array([1, 0]))  # the starter stops here
    forbid_imports(
        learner_file,
        FORBIDDEN,
        "this lab builds the metrics from NumPy alone — the checks use scikit-learn to verify you",
    )


@pytest.mark.task(1)
def test_confusion_counts(learner):
    y_true = np.array([1, 1, 0, 0, 1, 0, 1, 0, 0])
    y_pred = np.array([1, 0, 1, 0, 1, 1, 0, 0, 0])
    got = assert_tuple(
        learner.confusion_counts(y_true, y_pred),
        4,
        "confusion_counts(y_true, y_pred)",
        allow_list=True,
    )
    for value in got:
        if isinstance(value, np.integer):
            fail(
                f"confusion_counts returned NumPy integers ({type(value).__name__}); the task asks "
                "for Python ints: wrap each count in int(...)"
            )
        if not isinstance(value, int) or isinstance(value, bool):
            fail(f"confusion_counts should return ints; got {type(value).__name__} {value!r}")
    want = (2, 2, 2, 3)
    assert_array(
        np.array(got),
        np.array(want),
        name=f"confusion_counts({_show(y_true)}, y_pred={y_pred.tolist()})",
        exact=True,
    )
    y_pred2 = np.array([1, 1, 1, 0, 1, 1, 1, 0, 0])
    got2 = learner.confusion_counts(y_true, y_pred2)
    assert_array(
        np.array(got2),
        np.array([4, 2, 0, 3]),
        name=f"confusion_counts({_show(y_true)}, y_pred={y_pred2.tolist()}) as (tp, fp, fn, tn)",
        exact=True,
        mistakes={
            "false positives and false negatives swapped (FP: predicted 1 but truly 0; FN: "
            "predicted 0 but truly 1)": [4, 0, 2, 3],
            "the order (tn, fp, fn, tp) of sklearn's confusion_matrix(...).ravel() instead of "
            "(tp, fp, fn, tn)": [3, 2, 0, 4],
        },
    )
    booleans = learner.confusion_counts(y_true.astype(bool), y_pred2.astype(bool))
    assert_array(
        np.array(booleans),
        np.array([4, 2, 0, 3]),
        name="confusion_counts of bool arrays",
        exact=True,
    )


@pytest.mark.task(1)
def test_zero_division_gives_zero(learner):
    cases = [
        ("nothing is predicted positive (tp + fp == 0)", np.array([1, 0, 1]), np.array([0, 0, 0])),
        ("there are no positives at all (tp + fn == 0)", np.array([0, 0, 0]), np.array([1, 0, 0])),
        ("there are no positives and none predicted", np.array([0, 0]), np.array([0, 0])),
    ]
    for why, y_true, y_pred in cases:
        try:
            result = learner.precision_recall_f1(y_true, y_pred)
        except ZeroDivisionError:
            fail(
                f"precision_recall_f1({_show(y_true)}, y_pred={y_pred.tolist()}) raised "
                f"ZeroDivisionError: a division by zero when {why}; return 0.0 for that metric "
                "(sklearn's zero_division=0)"
            )
        values = assert_tuple(result, 3, "precision_recall_f1", allow_list=True)
        values = np.asarray(values, dtype=float)
        if np.any(np.isnan(values)):
            fail(
                f"precision_recall_f1({_show(y_true)}, y_pred={y_pred.tolist()}) is "
                f"{values.tolist()}: NaN from a division by zero (0 / 0) when {why}; return 0.0 "
                "for that metric (sklearn's zero_division=0)"
            )
        want = precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0)[
            :3
        ]
        assert_array(
            values, np.array(want, dtype=float), name=f"(precision, recall, f1) when {why}"
        )


@pytest.mark.task(1)
def test_precision_recall_f1_match_sklearn(learner):
    # A starter that still raises NotImplementedError stops here, before hypothesis runs.
    learner.precision_recall_f1(np.array([1, 0]), np.array([1, 0]))

    @PROPERTY
    @given(labels_and_predictions())
    def check(data):
        y_true, y_pred = data
        got = np.asarray(
            assert_tuple(
                learner.precision_recall_f1(y_true, y_pred),
                3,
                "precision_recall_f1",
                allow_list=True,
            ),
            dtype=float,
        )
        p, r, f = precision_recall_fscore_support(
            y_true, y_pred, average="binary", zero_division=0
        )[:3]
        assert_array(
            got,
            np.array([p, r, f], dtype=float),
            name=f"precision_recall_f1({_show(y_true)}, y_pred={y_pred.tolist()})",
            rtol=1e-9,
            mistakes={
                "precision and recall exchanged (returned as (recall, precision, f1), or false "
                "positives and false negatives swapped)": [r, p, f],
                "F1 without the factor 2: f1 = 2·p·r / (p + r)": [p, r, f / 2],
            },
        )

    check()


# ----- task 2 ---------------------------------------------------------------------------------
@pytest.mark.task(2)
def test_roc_curve_example(learner):
    y, s = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    fpr, tpr, thresholds = assert_tuple(learner.roc_curve(y, s), 3, "roc_curve", allow_list=True)
    assert_array(
        thresholds,
        [np.inf, 0.8, 0.4, 0.35, 0.1],
        name=f"roc_curve({_show(y, s)}) thresholds",
        mistakes={
            "the distinct scores without the leading inf (the (0, 0) point)": s[[3, 1, 2, 0]]
        },
    )
    strict = (
        "score > threshold where score >= threshold belongs (each threshold's own samples left out)"
    )
    assert_array(
        fpr,
        [0.0, 0.0, 0.5, 0.5, 1.0],
        name="roc_curve fpr",
        mistakes={
            "the tpr values: roc_curve returns (fpr, tpr, thresholds), fpr first": [
                0.0,
                0.5,
                0.5,
                1.0,
                1.0,
            ],
            strict: [0.0, 0.0, 0.0, 0.5, 0.5],
        },
    )
    assert_array(
        tpr, [0.0, 0.5, 0.5, 1.0, 1.0], name="roc_curve tpr", mistakes={strict: [0, 0, 0.5, 0.5, 1]}
    )
    assert_close(
        _order_probe(learner, y, s),
        0.75,
        name=f"roc_auc({_show(y, s)})",
        mistakes={"1 - AUC (the curve integrated with the axes swapped or scores reversed)": 0.25},
    )


@pytest.mark.task(2)
def test_roc_does_not_depend_on_sample_order(learner, rng):
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0])
    s = np.round(rng.random(y.size), 4)
    shuffled = rng.permutation(y.size)
    auc_given = _order_probe(learner, y, s)
    other = float(learner.roc_auc(y[shuffled], s[shuffled]))
    if not math.isclose(auc_given, other, rel_tol=1e-9, abs_tol=1e-12):
        fail(
            f"roc_auc changes when the same samples are shuffled: {auc_given:.4g} vs {other:.4g}; "
            "sort the samples by score (descending) before accumulating"
        )
    assert_close(auc_given, float(roc_auc_score(y, s)), name=f"roc_auc({_show(y, s)})")


@pytest.mark.task(2)
def test_tied_scores_share_one_point(learner):
    y, s = np.array([1, 1, 0, 0]), np.array([0.5, 0.5, 0.5, 0.5])
    area = float(learner.roc_auc(y, s))
    if not math.isclose(area, 0.5, abs_tol=1e-12):
        fail(
            f"with every score tied at 0.5, roc_auc({_show(y)}) is {area:.4g}; expected 0.5: tied "
            "samples cross the threshold together, so they share one ROC point (a tie counts "
            "one half); group equal scores before computing the curve"
        )
    fpr, tpr, thresholds = assert_tuple(learner.roc_curve(y, s), 3, "roc_curve", allow_list=True)
    if np.size(thresholds) != 2:
        fail(
            f"with every score tied at 0.5, roc_curve has {np.size(thresholds)} points; expected 2 "
            "(inf, then the one shared score): tied samples must share one point"
        )
    y2 = np.array([0, 1, 1, 0, 1, 0])
    s2 = np.array([0.2, 0.7, 0.2, 0.7, 0.9, 0.2])
    sk_fpr, sk_tpr, sk_thr = sk_roc_curve(y2, s2, drop_intermediate=False)
    fpr, tpr, thresholds = assert_tuple(learner.roc_curve(y2, s2), 3, "roc_curve", allow_list=True)
    name = f"roc_curve({_show(y2, s2)})"
    assert_array(thresholds, sk_thr, name=f"{name} thresholds (tied samples share a point)")
    assert_array(fpr, sk_fpr, name=f"{name} fpr")
    assert_array(tpr, sk_tpr, name=f"{name} tpr")
    assert_close(
        learner.roc_auc(y2, s2), float(roc_auc_score(y2, s2)), name=f"roc_auc({_show(y2, s2)})"
    )


@pytest.mark.task(2)
def test_roc_matches_sklearn(learner):
    # A starter that still raises NotImplementedError stops here, before hypothesis runs.
    learner.roc_curve(np.array([0, 1]), np.array([0.2, 0.7]))
    learner.roc_auc(np.array([0, 1]), np.array([0.2, 0.7]))

    @PROPERTY
    @given(labels_and_scores())
    def check(data):
        y, s = data
        sk_fpr, sk_tpr, sk_thr = sk_roc_curve(y, s, drop_intermediate=False)
        fpr, tpr, thresholds = assert_tuple(
            learner.roc_curve(y, s), 3, "roc_curve", allow_list=True
        )
        name = f"roc_curve({_show(y, s)})"
        assert_array(thresholds, sk_thr, name=f"{name} thresholds")
        assert_array(fpr, sk_fpr, name=f"{name} fpr", mistakes={"tpr in place of fpr": sk_tpr})
        assert_array(tpr, sk_tpr, name=f"{name} tpr")
        want = float(auc(sk_fpr, sk_tpr))
        assert_close(
            learner.roc_auc(y, s),
            want,
            name=f"roc_auc({_show(y, s)})",
            rtol=1e-9,
            mistakes={
                "1 - AUC (the curve integrated with the axes swapped or scores reversed)": 1 - want
            },
        )

    check()


# ----- task 3 ---------------------------------------------------------------------------------
def _ap_mistakes(precision: np.ndarray, recall: np.ndarray) -> dict[str, float]:
    """What known slips give for average precision, from the PR curve in decreasing thresholds."""
    steps = np.diff(recall, prepend=0.0)
    return {
        "interpolated precision (the running maximum): average precision weights the raw "
        "precision at each threshold": float(
            np.sum(steps * np.maximum.accumulate(precision[::-1])[::-1])
        ),
        "the trapezoid area under the PR curve (average precision is a step sum)": float(
            np.trapezoid(precision, recall)
        ),
        "each recall step weighted by the previous threshold's precision (P_{i-1}): weight it "
        "by the precision P_i at the threshold that adds it": float(
            np.sum(steps * np.r_[1.0, precision[:-1]])
        ),
    }


@pytest.mark.task(3)
def test_pr_curve_example(learner):
    y, s = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    precision, recall, thresholds = assert_tuple(
        learner.pr_curve(y, s), 3, "pr_curve", allow_list=True
    )
    assert_array(thresholds, [0.8, 0.4, 0.35, 0.1], name=f"pr_curve({_show(y, s)}) thresholds")
    assert_array(
        precision,
        [1.0, 0.5, 2 / 3, 0.5],
        name="pr_curve precision",
        mistakes={"the recall values (precision and recall swapped)": [0.5, 0.5, 1.0, 1.0]},
    )
    assert_array(recall, [0.5, 0.5, 1.0, 1.0], name="pr_curve recall")
    assert_close(
        learner.average_precision(y, s),
        5 / 6,
        name=f"average_precision({_show(y, s)})",
        mistakes=_ap_mistakes(np.array([1.0, 0.5, 2 / 3, 0.5]), np.array([0.5, 0.5, 1.0, 1.0])),
    )
    y2 = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    s2 = np.array([0.2, 0.7, 0.2, 0.7, 0.9, 0.2, 0.5, 0.5])
    assert_close(
        learner.average_precision(y2, s2),
        float(average_precision_score(y2, s2)),
        name=f"average_precision({_show(y2, s2)}) with tied scores",
    )


@pytest.mark.task(3)
def test_pr_curve_and_average_precision_match_sklearn(learner):
    # A starter that still raises NotImplementedError stops here, before hypothesis runs.
    learner.pr_curve(np.array([0, 1]), np.array([0.2, 0.7]))
    learner.average_precision(np.array([0, 1]), np.array([0.2, 0.7]))

    @PROPERTY
    @given(labels_and_scores())
    def check(data):
        y, s = data
        sk_precision, sk_recall, sk_thr = _sklearn_pr(y, s)
        precision, recall, thresholds = assert_tuple(
            learner.pr_curve(y, s), 3, "pr_curve", allow_list=True
        )
        name = f"pr_curve({_show(y, s)})"
        assert_array(thresholds, sk_thr, name=f"{name} thresholds (distinct scores, decreasing)")
        assert_array(precision, sk_precision, name=f"{name} precision")
        assert_array(recall, sk_recall, name=f"{name} recall")
        # sklearn's average_precision_score is exactly this sum over its own PR curve.
        want = float(np.sum(np.diff(sk_recall, prepend=0.0) * sk_precision))
        assert_close(
            learner.average_precision(y, s),
            want,
            name=f"average_precision({_show(y, s)})",
            rtol=1e-9,
            mistakes=_ap_mistakes(sk_precision, sk_recall),
        )

    check()


# ----- task 4 ---------------------------------------------------------------------------------
def _f1_at_each_threshold(y, s):
    precision, recall, thresholds = _sklearn_pr(y, s)
    with np.errstate(invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return thresholds, f1


@pytest.mark.task(4)
def test_best_f1_threshold(learner):
    # A starter that still raises NotImplementedError stops here, before hypothesis runs.
    learner.best_f1_threshold(np.array([0, 1]), np.array([0.2, 0.7]))

    @PROPERTY
    @given(labels_and_scores())
    def check(data):
        y, s = data
        thresholds, f1 = _f1_at_each_threshold(y, s)
        result = assert_tuple(
            learner.best_f1_threshold(y, s), 2, "best_f1_threshold", allow_list=True
        )
        threshold, best = float(result[0]), result[1]
        name = f"best_f1_threshold({_show(y, s)})"
        assert_close(best, float(f1.max()), name=f"{name} F1", rtol=1e-9)
        matches = np.flatnonzero(thresholds == threshold)
        if matches.size == 0:
            fail(f"{name} returned threshold {threshold!r}, which is not one of the scores")
        reached = float(f1[matches[0]])
        if not math.isclose(reached, float(f1.max()), rel_tol=1e-9):
            fail(
                f"{name} returned threshold {threshold:.6g}, where F1 is {reached:.4g}; the best "
                f"threshold {float(thresholds[np.argmax(f1)]):.6g} reaches {float(f1.max()):.4g}"
            )

    check()


def _reference_threshold_for_precision(y, s, min_precision, *, strict=False):
    precision, recall, thresholds = _sklearn_pr(y, s)
    allowed = np.flatnonzero(precision > min_precision if strict else precision >= min_precision)
    if allowed.size == 0:
        return None, None
    best_recall = recall[allowed].max()
    choice = allowed[recall[allowed] == best_recall][0]
    return float(thresholds[choice]), float(thresholds[allowed[0]])


@pytest.mark.task(4)
def test_threshold_for_precision_example(learner):
    y = np.array([1, 1, 0, 1, 0, 1, 0, 0, 1, 0])
    s = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.45, 0.3, 0.2])
    # 0.75: the threshold 0.8 has precision exactly 3/4, and qualifies ("at least").
    cases = ((0.65, 0.6), (0.71234, 0.8), (0.8, 0.9), (0.55, 0.3), (0.4, 0.3), (0.75, 0.8))
    for min_precision, want in cases:
        got = learner.threshold_for_precision(y, s, min_precision)
        first = _reference_threshold_for_precision(y, s, min_precision)[1]
        strict = _reference_threshold_for_precision(y, s, min_precision, strict=True)[0]
        if got is None or not math.isclose(float(got), want):
            clue = ""
            if got is not None and strict != want and math.isclose(float(got), strict):
                clue = (
                    f" — that is precision > {min_precision} where at least (>=) was asked: a "
                    "threshold whose precision equals min_precision qualifies"
                )
            elif got is not None and math.isclose(float(got), first) and first != want:
                clue = (
                    " — that is the first threshold (from the top) that reaches the precision: "
                    "the highest, with the least recall; keep going down while the precision "
                    "still holds"
                )
            elif got is not None and float(got) < want:
                clue = (
                    " — a lower threshold than needed: among thresholds with the same recall, "
                    "take the highest (same catches, fewer false alarms)"
                )
            fail(
                f"threshold_for_precision({_show(y, s)}, min_precision={min_precision}) is {got}; "
                f"expected {want}{clue}"
            )
    got = learner.threshold_for_precision(y, s, 1.01)
    if got is not None:
        fail(
            f"threshold_for_precision(..., min_precision=1.01) is {got}; expected None (unreachable)"
        )


@pytest.mark.task(4)
def test_threshold_for_precision_matches_reference(learner):
    # A starter that still raises NotImplementedError stops here, before hypothesis runs.
    learner.threshold_for_precision(np.array([0, 1]), np.array([0.2, 0.7]), 0.5)

    @PROPERTY
    @given(labels_and_scores(), st.sampled_from([0.31234, 0.51234, 0.71234, 0.90123]))
    def check(data, min_precision):
        y, s = data
        want, first = _reference_threshold_for_precision(y, s, min_precision)
        got = learner.threshold_for_precision(y, s, min_precision)
        name = f"threshold_for_precision({_show(y, s)}, min_precision={min_precision})"
        if want is None:
            if got is not None:
                fail(f"{name} is {got}; expected None: no threshold reaches that precision")
            return
        if got is None:
            fail(f"{name} is None; expected {want} (precision there is at least {min_precision})")
        if float(got) != want:
            clue = ""
            if float(got) == first:
                clue = (
                    " — that is the first threshold from the top that reaches the precision: the "
                    "highest, with the least recall"
                )
            fail(f"{name} is {float(got)}; expected {want}{clue}")

    check()
