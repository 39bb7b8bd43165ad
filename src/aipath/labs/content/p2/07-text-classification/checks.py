"""Checks for p2-text-classification: one test per behaviour, each marked with its task.

The leak checks probe behaviour: the learner's own vectorizer is refitted here on the training
texts only and must give the same matrices; test reviews with words found nowhere in training are
slipped in and must not reach the vocabulary; flipping the test labels or appending test reviews
must not move a single prediction. Scores are recomputed here from the learner's predictions.
"""

from __future__ import annotations

import functools
import html
import math
import re
from typing import Any

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from threadpoolctl import threadpool_limits

from aipath.checks import (
    assert_array,
    assert_beats,
    assert_close,
    assert_in_band,
    assert_returned,
    assert_tuple,
    cached,
    call_learner,
    fail,
    rdataset,
    strip_html,
)

_PROBE = (400, 100)  # training and test reviews of the leak probes: small, so they run fast
# Words no review contains, so a vocabulary that holds them was fitted on the probe's test texts.
_NONCE = ["zorblax quindle", "quindle zorblax fribbet", "fribbet zorblax"]
VECTORIZE_PARTS = ("X_train", "X_test", "fitted_vectorizer")

threadpool_limits(1)


# ----- data, loaded once per check session ------------------------------------------------------
@cached
def _raw() -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    train = rdataset("modeldata", "training_data")
    test = rdataset("modeldata", "testing_data")
    return (
        train["review"].tolist(),
        train["score"].to_numpy(dtype=str),
        test["review"].tolist(),
        test["score"].to_numpy(dtype=str),
    )


@cached
def _corpus() -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """The published split, cleaned here; copies, so a learner that edits its input changes
    nothing."""
    train, y_train, test, y_test = _raw()
    return [strip_html(t) for t in train], y_train, [strip_html(t) for t in test], y_test


def _predicted_labels(got: Any, name: str, n: int) -> np.ndarray:
    assert_returned(got, name)
    values = np.asarray(got)
    if values.shape != (n,):
        fail(f"{name} has shape {values.shape}; expected ({n},), one label per text")
    return values.astype(str)


# ----- task 1 -----------------------------------------------------------------------------------
_CLEAN_CASES = [
    ("Tasty!<br /><br />Would buy   again.", "Tasty! Would buy again."),
    ('I &lt;3 it, &quot;yum&quot; <a href="http://x">link</a>', 'I <3 it, "yum" link'),
    ("  <p>Caf&eacute;\tcrème</p>\n", "Café crème"),
    ("no tags here", "no tags here"),
    ('Crunchy<br/>and&amp;salty<span class="tiny"> (12 oz)</span>', "Crunchy and&salty (12 oz)"),
]


@pytest.mark.task(1)
@pytest.mark.parametrize(("text", "want"), _CLEAN_CASES)
def test_clean_text(learner, text, want):
    got = assert_returned(learner.clean_text(text), "clean_text()", what="the text")
    if got == want:
        return
    clue = ""
    if got == re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", html.unescape(text))).strip():
        clue = (
            " — the entities were decoded before the tags were removed, so `&lt;3 it, …` "
            "became a tag and was cut out: remove tags first, then html.unescape"
        )
    elif got == re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", text)).strip():
        clue = (
            " — the HTML entities (&quot;, &lt;, …) are still there: decode them with html.unescape"
        )
    elif got == re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]*>", "", text))).strip():
        clue = " — tags were removed without leaving a space, so words on both sides were glued"
    elif got == html.unescape(re.sub(r"<[^>]*>", " ", text)).strip():
        clue = " — whitespace runs were not collapsed into one space (re.sub(r'\\s+', ' ', …))"
    elif got == html.unescape(re.sub(r"<[^>]*>", " ", text)):
        clue = " — whitespace runs were not collapsed into one space, nor the ends stripped"
    elif got == want.lower():
        clue = " — the text was lowercased: leave the case alone (the vectorizer lowercases)"
    fail(f"clean_text({text!r}) is {got!r}; expected {want!r}{clue}")


@pytest.mark.task(1)
def test_load_reviews(learner):
    got = assert_tuple(
        learner.load_reviews(),
        ("train_texts", "train_labels", "test_texts", "test_labels"),
        "load_reviews()",
    )
    raw_train, y_train, raw_test, y_test = _raw()
    for name, texts, raw in (("train_texts", got[0], raw_train), ("test_texts", got[2], raw_test)):
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            fail(f"{name} should be a list of str; got {type(texts).__name__}")
        if len(texts) != len(raw):
            fail(
                f"{name} has {len(texts)} reviews; the published file has {len(raw)}. Keep the "
                "published split and every review"
            )
        for index, (text, original) in enumerate(zip(texts, raw, strict=True)):
            if text != learner.clean_text(original):
                fail(
                    f"{name}[{index}] is {text[:80]!r}…; expected clean_text() of the review in "
                    f"that row, {learner.clean_text(original)[:80]!r}… (same order as the file, "
                    "every review cleaned)"
                )
    for name, labels, want in (("train_labels", got[1], y_train), ("test_labels", got[3], y_test)):
        values = _predicted_labels(labels, name, len(want))
        assert_array(values, want, name=name, check_dtype_kind=False)


# ----- task 2 -----------------------------------------------------------------------------------
def _analyzers(vectorizer: Any) -> list[str]:
    params = vectorizer.get_params(deep=True)
    found = [str(v) for k, v in params.items() if (k == "analyzer" or k.endswith("__analyzer"))]
    return found


def _sample(n_train: int, n_test: int) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    train, y_train, test, y_test = _corpus()
    return train[:n_train], y_train[:n_train], test[:n_test], y_test[:n_test]


def _as_csr(matrix: Any, name: str) -> sparse.csr_matrix:
    assert_returned(matrix, name)
    if not (sparse.issparse(matrix) or isinstance(matrix, np.ndarray)):
        fail(f"{name} should be a (sparse) matrix; got {type(matrix).__name__}")
    return sparse.csr_matrix(matrix, dtype=float)


def _max_difference(a: sparse.csr_matrix, b: sparse.csr_matrix) -> float:
    diff = abs(a - b)
    return float(diff.max()) if diff.nnz else 0.0


# The settings task 2 asks of each part, by analyzer kind.
_PART_SETTINGS = {
    "word": {"ngram_range": (1, 2), "min_df": 2, "sublinear_tf": True},
    "char": {"ngram_range": (3, 5), "min_df": 2, "sublinear_tf": True},
}
_WHY = {
    "ngram_range": "the n-gram lengths",
    "min_df": "each n-gram kept only if it appears in at least two reviews",
    "sublinear_tf": "1 + log(count) instead of the raw count",
}


def _check_parts(vectorizer: Any) -> None:
    """Each text vectorizer in the union (any object with an `analyzer` parameter) as asked."""
    values = [vectorizer, *vectorizer.get_params(deep=True).values()]
    parts = [v for v in values if hasattr(v, "get_params") and "analyzer" in v.get_params(False)]
    for part in parts:
        params = part.get_params(deep=False)
        kind = "char" if str(params["analyzer"]).startswith("char") else str(params["analyzer"])
        for key, want in _PART_SETTINGS.get(kind, {}).items():
            if key not in params:  # e.g. sublinear_tf on a TfidfTransformer after a counter
                continue
            got = tuple(params[key]) if key == "ngram_range" else params[key]
            if got != want:
                fail(
                    f"make_vectorizer()'s {kind} part (analyzer={params['analyzer']!r}) has "
                    f"{key}={got!r}; task 2 asks for {key}={want!r} ({_WHY[key]})"
                )


@pytest.mark.task(2)
def test_make_vectorizer(learner):
    first = learner.make_vectorizer()
    if first is None:
        fail("make_vectorizer() returned None: did you forget to `return` it?")
    if not hasattr(first, "get_params") or not hasattr(first, "fit_transform"):
        fail(
            "make_vectorizer() should return a scikit-learn transformer (fit/transform on a list "
            f"of strings); got {type(first).__name__}"
        )
    if learner.make_vectorizer() is first:
        fail("make_vectorizer() returned the same object twice: build a new one on every call")
    analyzers = _analyzers(first)
    if "word" not in analyzers:
        fail(
            f"make_vectorizer() has no word n-grams (analyzers found: {analyzers}); add "
            "TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)"
        )
    if not {"char", "char_wb"} & set(analyzers):
        fail(
            f"make_vectorizer() has no character n-grams (analyzers found: {analyzers}); add "
            "TfidfVectorizer(analyzer='char_wb', ngram_range=(3, 5), min_df=2, sublinear_tf=True) "
            "next to the word one in a FeatureUnion"
        )
    _check_parts(first)
    try:
        first.transform(["unfitted?"])
    except (ValueError, AttributeError, TypeError):  # NotFittedError is both of the first two
        return
    fail("make_vectorizer() returned an already fitted vectorizer: return a new, unfitted one")


@pytest.mark.task(2)
def test_vectorize_fits_on_training_texts_only(learner):
    train, _y, test, _yt = _sample(300, 60)
    test = test + _NONCE + _NONCE  # twice each, so min_df=2 would keep them
    got = assert_tuple(
        call_learner("vectorize(train_texts, test_texts)", learner.vectorize, train, test),
        VECTORIZE_PARTS,
        "vectorize()",
    )
    X_train = _as_csr(got[0], "X_train")
    X_test = _as_csr(got[1], "X_test")
    reference = clone(learner.make_vectorizer()).fit(train)
    want_train = sparse.csr_matrix(reference.transform(train), dtype=float)
    want_test = sparse.csr_matrix(reference.transform(test), dtype=float)
    if X_train.shape[0] != len(train) or X_test.shape[0] != len(test):
        fail(
            f"X_train has {X_train.shape[0]} rows and X_test {X_test.shape[0]}; expected "
            f"{len(train)} and {len(test)}, one row per text"
        )
    if X_test.shape[1] != X_train.shape[1]:
        refit = clone(learner.make_vectorizer()).fit(test)
        clue = (
            ": it looks like the vectorizer was refitted on the test texts (fit_transform on "
            "them) — it gets another vocabulary, so the columns mean other n-grams. Only "
            "`transform` the test texts"
            if X_test.shape[1] == len(refit.get_feature_names_out())
            else ""
        )
        fail(
            f"X_test has {X_test.shape[1]} columns and X_train {X_train.shape[1]}; both must "
            f"use the training vocabulary{clue}"
        )
    if X_train.shape == want_train.shape and _max_difference(X_train, want_train) <= 1e-9:
        if _max_difference(X_test, want_test) <= 1e-9:
            return
        fail(
            "X_train matches a vectorizer fitted on the training texts, but X_test does not "
            f"(max difference {_max_difference(X_test, want_test):.3g}): transform the test "
            "texts with that same fitted vectorizer"
        )
    leaky = clone(learner.make_vectorizer()).fit(train + test)
    leaky_train = sparse.csr_matrix(leaky.transform(train), dtype=float)
    nonce_seen = any("zorblax" in str(name) for name in leaky.get_feature_names_out())
    if X_train.shape == leaky_train.shape and _max_difference(X_train, leaky_train) <= 1e-9:
        fail(
            f"X_train has {X_train.shape[1]} columns, like a vectorizer fitted on the training "
            f"and test texts together; fitted on the training texts only it has "
            f"{want_train.shape[1]}"
            + (
                " (words that occur only in the test texts, such as 'zorblax', made it into the "
                "vocabulary)"
                if nonce_seen
                else ""
            )
            + ". The vocabulary and the idf weights must be learned from the training texts "
            "only: fit on train_texts, then transform test_texts"
        )
    fail(
        f"X_train ({X_train.shape[0]}×{X_train.shape[1]}) differs from make_vectorizer() fitted "
        f"on the training texts ({want_train.shape[0]}×{want_train.shape[1]}): does vectorize() "
        "use a new make_vectorizer(), fitted on train_texts?"
    )


@pytest.mark.task(2)
def test_vectorize_returns_the_fitted_vectorizer(learner):
    train, _y, test, _yt = _sample(200, 30)
    got = assert_tuple(
        call_learner("vectorize(train_texts, test_texts)", learner.vectorize, train, test),
        VECTORIZE_PARTS,
        "vectorize()",
    )
    fitted = got[2]
    if fitted is None or not hasattr(fitted, "transform"):
        fail(f"the third value of vectorize() should be the fitted vectorizer; got {fitted!r}")
    again = call_learner("the returned vectorizer's transform", fitted.transform, test)
    again = _as_csr(again, "again")
    X_test = _as_csr(got[1], "X_test")
    if again.shape != X_test.shape or _max_difference(again, X_test) > 1e-9:
        fail(
            "the vectorizer returned by vectorize() does not transform the test texts into "
            "X_test: return the one you fitted (and used)"
        )


# ----- task 3 -----------------------------------------------------------------------------------
def _evaluation_inputs(which: str) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """The (train, labels, test, labels) of each run of train_and_evaluate the checks make:
    the full split, the small probe, the probe with its test labels flipped, and the probe
    with 150 more test reviews (and the nonce words) appended."""
    if which == "full":
        return _corpus()
    train, y_train, test, y_test = _sample(*_PROBE)
    if which == "probe-flipped":
        return train, y_train, test, np.where(y_test == "great", "other", "great")
    if which == "probe-more":
        extra, extra_y = _more_test_reviews(len(test))
        return train, y_train, test + extra, np.concatenate([y_test, extra_y])
    return train, y_train, test, y_test


def _more_test_reviews(n: int) -> tuple[list[str], np.ndarray]:
    _all_train, _ally, all_test, all_y = _corpus()
    extra = all_test[n : n + 150] + _NONCE + _NONCE
    return extra, np.concatenate([all_y[n : n + 150], np.full(2 * len(_NONCE), "other")])


@cached
def _train_and_evaluate(learner: Any, which: str) -> dict[str, Any]:
    args = _evaluation_inputs(which)
    result = call_learner("train_and_evaluate(...)", learner.train_and_evaluate, *args)
    if not isinstance(result, dict):
        fail(f"train_and_evaluate() should return a dict; got {type(result).__name__}")
    missing = [k for k in ("predictions", "macro_f1", "accuracy") if k not in result]
    if missing:
        fail(f"train_and_evaluate()'s result lacks the keys {missing}; it has {sorted(result)}")
    return result


def _full(learner: Any) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    _train, _y_train, test, y_test = _corpus()
    result = _train_and_evaluate(learner, "full")
    predictions = _predicted_labels(result["predictions"], "result['predictions']", len(test))
    return result, predictions, y_test


@pytest.mark.task(3)
def test_scores_are_computed_from_the_predictions(learner):
    result, predictions, y_test = _full(learner)
    want = float(f1_score(y_test, predictions, average="macro"))
    assert_close(
        result["macro_f1"],
        want,
        name="macro_f1",
        rtol=1e-9,
        mistakes={
            "the accuracy — on skewed classes it rewards the majority class; macro-F1 averages "
            "the F1 of each class with equal weight: f1_score(..., average='macro')": float(
                accuracy_score(y_test, predictions)
            ),
            "the weighted F1 (average='weighted'), which weighs each class by its size; use "
            "average='macro'": float(f1_score(y_test, predictions, average="weighted")),
            "the F1 of 'great' only; average the F1 of both classes": float(
                f1_score(y_test, predictions, pos_label="great")
            ),
            "the F1 of 'other' only; average the F1 of both classes": float(
                f1_score(y_test, predictions, pos_label="other")
            ),
        },
    )
    assert_close(
        result["accuracy"], float(accuracy_score(y_test, predictions)), name="accuracy", rtol=1e-9
    )


@pytest.mark.task(3)
def test_macro_f1_beats_the_majority_baseline(learner):
    _result, predictions, y_test = _full(learner)
    score = float(f1_score(y_test, predictions, average="macro"))
    labels, counts = np.unique(y_test, return_counts=True)
    majority = np.full(len(y_test), labels[np.argmax(counts)])
    baseline = float(f1_score(y_test, majority, average="macro"))
    assert_in_band(score, 0.72, 0.88, name="macro-F1 on the published test split")
    assert_beats(
        score,
        baseline,
        margin=0.25,
        name="macro-F1 on the published test split",
        baseline_name="always answering 'great'",
    )


@pytest.mark.task(3)
def test_test_labels_are_for_scoring_only(learner):
    _train, _y_train, test, y_test = _sample(*_PROBE)
    base = _train_and_evaluate(learner, "probe")
    flipped_labels = np.where(y_test == "great", "other", "great")
    flipped = _train_and_evaluate(learner, "probe-flipped")
    a = _predicted_labels(base["predictions"], "predictions", len(test))
    b = _predicted_labels(flipped["predictions"], "predictions", len(test))
    if not np.array_equal(a, b):
        fail(
            f"{int(np.sum(a != b))} of {len(test)} predictions changed when only the test labels "
            "were flipped: the model learned from the test labels. Fit on the training texts and "
            "labels only; test_labels are for scoring"
        )
    scored = float(f1_score(flipped_labels, b, average="macro"))
    if not math.isclose(float(flipped["macro_f1"]), scored, rel_tol=1e-9):
        fail(
            f"with the test labels flipped, macro_f1 is {float(flipped['macro_f1']):.4f}; the "
            f"predictions scored against those labels give {scored:.4f}: is macro_f1 computed "
            "against the test_labels passed in?"
        )


@pytest.mark.task(3)
def test_other_test_texts_do_not_change_predictions(learner):
    _train, _y_train, test, _y_test = _sample(*_PROBE)
    extra, _extra_y = _more_test_reviews(len(test))
    base = _train_and_evaluate(learner, "probe")
    more = _train_and_evaluate(learner, "probe-more")
    a = _predicted_labels(base["predictions"], "predictions", len(test))
    b = _predicted_labels(more["predictions"], "predictions", len(test) + len(extra))[: len(test)]
    if not np.array_equal(a, b):
        fail(
            f"{int(np.sum(a != b))} of the same {len(test)} test reviews got another prediction "
            f"when {len(extra)} more test reviews were appended: the test texts shaped the "
            "features — the vectorizer (its vocabulary and idf) was fitted on the training and "
            "test texts together. Fit it on the training texts only"
        )


# ----- task 4 -----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _binary_model() -> tuple[Any, Any]:
    train, y_train, _test, _y = _corpus()
    train, y_train = train[:1500], y_train[:1500]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=3, sublinear_tf=True).fit(train)
    model = LogisticRegression(class_weight="balanced", max_iter=1000)
    return vectorizer, model.fit(vectorizer.transform(train), y_train)


@functools.lru_cache(maxsize=1)
def _three_class_model() -> tuple[Any, Any]:
    """A small seeded corpus about three foods, each with its own words plus shared ones."""
    rng = np.random.default_rng(3)
    topics = {
        "coffee": ["espresso", "roast", "beans", "crema", "arabica", "brew"],
        "pets": ["dog", "kibble", "cat", "treats", "chew", "puppy"],
        "snacks": ["chips", "crunchy", "salty", "popcorn", "pretzels", "crackers"],
    }
    shared = ["good", "bag", "price", "taste", "bought", "again", "box", "love"]
    texts, labels = [], []
    for label, words in topics.items():
        for _ in range(60):
            own = rng.choice(words, size=rng.integers(2, 5))
            common = rng.choice(shared, size=rng.integers(2, 6))
            texts.append(" ".join(rng.permutation(np.concatenate([own, common]))))
            labels.append(label)
    vectorizer = TfidfVectorizer().fit(texts)
    model = LogisticRegression(max_iter=1000).fit(vectorizer.transform(texts), labels)
    return vectorizer, model


def _coefficients_by_class(model: Any) -> dict[str, np.ndarray]:
    coef = np.asarray(model.coef_)
    rows = [-coef[0], coef[0]] if len(model.classes_) == 2 else list(coef)
    return {str(label): row for label, row in zip(model.classes_, rows, strict=True)}


def _check_top(got: Any, vectorizer: Any, model: Any, k: int, what: str) -> None:
    names = [str(n) for n in vectorizer.get_feature_names_out()]
    position = {name: i for i, name in enumerate(names)}
    weights = _coefficients_by_class(model)
    if not isinstance(got, dict):
        fail(f"top_features() should return a dict {{class: [names]}}; got {type(got).__name__}")
    got = {str(key): value for key, value in got.items()}
    if sorted(got) != sorted(weights):
        fail(f"top_features() has the keys {sorted(got)}; expected the classes {sorted(weights)}")
    for label, row in weights.items():
        chosen = [str(n) for n in got[label]]
        if len(chosen) != k:
            fail(f"top_features(..., k={k})[{label!r}] has {len(chosen)} names; expected {k}")
        unknown = [n for n in chosen if n not in position]
        if unknown:
            fail(f"top_features()[{label!r}] holds {unknown[:3]}, which are not feature names")
        got_weights = np.array([row[position[n]] for n in chosen])
        best = np.sort(row)[::-1][:k]
        if np.allclose(got_weights, best, rtol=1e-9, atol=1e-12):
            continue
        others = [o for o in weights if o != label]
        clue = ""
        other_row = weights[others[0]]
        if len(weights) == 2 and np.allclose(
            np.array([other_row[position[n]] for n in chosen]),
            np.sort(other_row)[::-1][:k],
            rtol=1e-9,
            atol=1e-12,
        ):
            clue = (
                f" These are the top features of {others[0]!r}: the two classes are swapped. "
                "With two classes coef_ has one row, the weights for classes_[1] "
                f"({str(model.classes_[1])!r}); the most negative weights belong to classes_[0]"
            )
        elif np.allclose(np.sort(got_weights)[::-1], best, rtol=1e-9, atol=1e-12):
            clue = " The right features in the wrong order: strongest (largest weight) first."
        elif np.allclose(np.sort(row)[:k], got_weights, rtol=1e-9, atol=1e-12):
            clue = " These are the weakest weights (np.argsort sorts ascending): take the largest."
        else:
            magnitude = np.sort(np.abs(row))[::-1][:k]
            if np.allclose(np.abs(got_weights), magnitude, rtol=1e-9, atol=1e-12):
                clue = (
                    " They are the largest weights in absolute value, which mixes in features "
                    "that push away from this class: rank by the signed weight"
                )
        best_names = [names[i] for i in np.argsort(-row, kind="stable")[:k]]
        fail(
            f"top_features() on {what}, class {label!r}: got {chosen[:5]}… with weights "
            f"{np.round(got_weights[:5], 3).tolist()}…; the strongest are {best_names[:5]}… with "
            f"{np.round(best[:5], 3).tolist()}….{clue}"
        )


@pytest.mark.task(4)
@pytest.mark.parametrize("k", [10, 3])
def test_top_features_two_classes(learner, k):
    vectorizer, model = _binary_model()
    got = learner.top_features(vectorizer, model, k=k)
    _check_top(got, vectorizer, model, k, "a two-class model of the reviews (great / other)")


@pytest.mark.task(4)
@pytest.mark.parametrize("k", [4, 9])  # 9 > the 6 words of a topic: strong negatives compete
def test_top_features_three_classes(learner, k):
    vectorizer, model = _three_class_model()
    got = learner.top_features(vectorizer, model, k=k)
    _check_top(got, vectorizer, model, k, "a three-class model (coffee / pets / snacks)")
