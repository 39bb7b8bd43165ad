"""Evaluating LLM outputs: the file you edit.

Read README.md first. Words: a hypothesis (a system's output) and its references are strings;
BLEU's words are what ``str.split()`` gives, ROUGE's what ``rouge_tokenize`` gives, the QA
metrics' what ``normalize_answer(...).split()`` gives. N = items in an evaluation set, B = bootstrap
resamples. Scores of single items stay between 0 and 1; corpus scores (BLEU, and everything that
``aggregate`` and ``evaluate`` report) are in points, 0 to 100.

Do not import sacrebleu, rouge_score, nltk or evaluate here: the checks compare your metrics with
those libraries. ``python exercise.py`` evaluates two made-up systems once tasks 1–7 are done.
"""

from __future__ import annotations

import math  # noqa: F401  (exp and log for BLEU)
import re  # noqa: F401  (ROUGE's tokenizer, the articles of task 4)
import string  # noqa: F401  (string.punctuation, task 4)
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

MAX_ORDER = 4  # BLEU's n-grams: 1 to 4 words
FLOOR = 0.1  # the "floor" smoothing's count for an n-gram order without a match
METRICS = ("bleu", "rouge1", "rouge2", "rougeL", "exact_match", "f1")


# ----- given ------------------------------------------------------------------------------------
_WORDS = (
    "model answer report river city bridge storm market price school garden letter engine "
    "doctor window summer winter island forest road train museum village harbour castle "
    "library student teacher farmer painter dinner kitchen mountain valley station"
).split()
_VERBS = "opened closed crossed painted visited repaired sold found watched described".split()
_ADJECTIVES = "old new small quiet busy bright narrow famous local empty".split()


def synthetic_runs(n: int = 40, seed: int = 0) -> tuple[list[list[str]], list[str], list[str]]:
    """``(references, baseline, candidate)`` for ``n`` made-up items, drawn with ``seed``.

    Each item has two references, a sentence and its passive rephrasing; each system output is
    the first reference with words dropped and replaced at random (the baseline errs on some
    items more than on others; the candidate errs more everywhere), sometimes lowercased without
    its full stop. The checks build their runs the same way, with seeds of their own.

    >>> references, baseline, candidate = synthetic_runs(3)
    >>> references[0]
    ['The island crossed a new farmer.', 'A new farmer was crossed by the island.']
    """
    rng = np.random.default_rng(seed)

    def phrase() -> list[str]:
        words = [str(rng.choice(_ADJECTIVES))] if rng.random() < 0.6 else []
        words.append(str(rng.choice(_WORDS)))
        article = "the" if rng.random() < 0.7 else ("an" if words[0][0] in "aeiou" else "a")
        return [article, *words]

    def sentence(words: Sequence[str]) -> str:
        return " ".join(words).capitalize() + "."

    def noisy(words: Sequence[str], drop: float, swap: float) -> str:
        out = [w for w in words if rng.random() >= drop] or list(words[:1])
        out = [str(rng.choice(_WORDS)) if rng.random() < swap else w for w in out]
        return " ".join(out).lower() if rng.random() < 0.3 else sentence(out)

    references, baseline, candidate = [], [], []
    for _ in range(n):
        subject, verb, obj = phrase(), str(rng.choice(_VERBS)), phrase()
        tail = ["near", *phrase()] if rng.random() < 0.5 else []
        words = [*subject, verb, *obj, *tail]
        references.append([sentence(words), sentence([*obj, "was", verb, "by", *subject, *tail])])
        quality = float(rng.choice([0.0, 0.15, 0.5]))
        baseline.append(noisy(words, quality, quality / 2))
        candidate.append(noisy(words, 0.3, 0.2))
    return references, baseline, candidate


# ----- task 1 -----------------------------------------------------------------------------------
def ngram_counts(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    """How often each run of ``n`` consecutive tokens occurs, keyed by tuples of words.

    >>> ngram_counts(["the", "cat", "the", "cat"], 2)
    Counter({('the', 'cat'): 2, ('cat', 'the'): 1})
    >>> ngram_counts(["the", "cat"], 3)
    Counter()
    """
    # TODO: one tuple per start position; there are len(tokens) - n + 1 of them (or none)
    raise NotImplementedError


def sentence_stats(hypothesis: str, references: Sequence[str]) -> list[int]:
    """BLEU's sufficient statistics of one hypothesis against its references (one or more).

    ``[hyp_len, ref_len, matches_1, …, matches_4, totals_1, …, totals_4]`` (sacrebleu's layout):
    ``hyp_len`` its number of words; ``ref_len`` the length of the reference closest to it (on a
    tie, the shorter); ``totals_n`` its number of n-grams; ``matches_n`` those n-grams clipped:
    each counts at most as often as it occurs in the one reference that has it most often.
    Words are ``str.split()``'s; case matters.

    >>> sentence_stats("the the the the", ["the cat is on the mat"])
    [4, 6, 2, 0, 0, 0, 4, 3, 2, 1]
    >>> sentence_stats("the cat sat on a mat", ["the cat is on the mat", "a cat sat on the mat"])
    [6, 6, 6, 3, 1, 0, 6, 5, 4, 3]
    """
    # TODO: split; for n in 1..4: ngram_counts of the hypothesis, the largest count of each
    # n-gram over the references (Counter | Counter keeps the larger), min() of the two
    raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
def bleu_from_stats(stats: Sequence[float], smooth: str = "exp") -> dict[str, Any]:
    """BLEU from (summed) statistics in sentence_stats' layout, as sacrebleu computes it.

    Returns ``{"score": 0–100, "precisions": [p1, p2, p3, p4] in percent, "bp": brevity
    penalty, "sys_len": c, "ref_len": r}``. ``smooth`` is ``"none"``, ``"floor"`` or ``"exp"``
    (README, task 2). BLEU is 0 when nothing matches, when an order has no n-gram at all, or when
    a precision is 0 after smoothing. Do not change ``stats``.

    >>> result = bleu_from_stats([8, 12, 6, 4, 2, 1, 8, 7, 6, 5])
    >>> round(result["score"], 4), round(result["bp"], 4), result["precisions"][0]
    (24.9365, 0.6065, 75.0)
    """
    # TODO: bp = exp(1 - r / c) when c < r (0 when c == 0), else 1; the precisions, smoothed;
    # score = bp * exp(mean of the logs of the 4 precisions)
    raise NotImplementedError


def corpus_bleu(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], smooth: str = "exp"
) -> dict[str, Any]:
    """Corpus BLEU, equal to ``sacrebleu.corpus_bleu(hypotheses, streams, tokenize="none")``.

    ``references[i]`` is the list of references of ``hypotheses[i]`` (sacrebleu takes the same
    references as *streams*, ``streams[j][i]``). Returns bleu_from_stats' dict.

    >>> result = corpus_bleu(["the cat sat on the mat", "a dog"], [["the cat sat on the mat"],
    ...                      ["a dog barked"]])
    >>> round(result["score"], 2), result["sys_len"], result["ref_len"]
    (88.25, 8, 9)
    """
    # TODO: the sum of the sentence statistics, then ONE bleu_from_stats of the sums
    raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
def rouge_tokenize(text: str) -> list[str]:
    """rouge-score's default tokenizer (no stemming): lowercase, every character other than
    a–z and 0–9 becomes a space, split.

    >>> rouge_tokenize("Hello, World! It's 2024.")
    ['hello', 'world', 'it', 's', '2024']
    """
    raise NotImplementedError  # TODO


def rouge_n(prediction: str, reference: str, n: int) -> tuple[float, float, float]:
    """ROUGE-N ``(precision, recall, fmeasure)`` of ``prediction`` against ``reference``.

    overlap = the shared n-grams, each counted min(count in prediction, count in reference)
    times; precision = overlap / the prediction's n-grams, recall = overlap / the reference's;
    F = 2PR / (P + R); 0 where a count is 0. Equal to rouge-score's
    ``RougeScorer([f"rouge{n}"]).score(reference, prediction)`` (the reference comes first
    there).

    >>> rouge_n("the cat sat", "the cat sat down", 1)
    (1.0, 0.75, 0.8571428571428571)
    """
    raise NotImplementedError  # TODO


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """The length of the longest common subsequence of two token lists (in order, gaps allowed).

    >>> lcs_length(["police", "killed", "the", "gunman"],
    ...            ["the", "gunman", "was", "killed", "by", "police"])
    2
    """
    # TODO: dynamic programming over a (len(a) + 1) × (len(b) + 1) table
    raise NotImplementedError


def rouge_l(prediction: str, reference: str) -> tuple[float, float, float]:
    """ROUGE-L ``(precision, recall, fmeasure)``: the LCS of the two token lists over the
    prediction's and the reference's numbers of tokens; all 0 when either has no token.

    >>> rouge_l("police killed the gunman", "the gunman was killed by police")
    (0.5, 0.3333333333333333, 0.4)
    """
    raise NotImplementedError  # TODO


# ----- task 4 -----------------------------------------------------------------------------------
def normalize_answer(text: str) -> str:
    """The SQuAD normalisation: lowercase, delete the characters of ``string.punctuation``,
    replace the words a / an / the by spaces, collapse the whitespace.

    >>> normalize_answer("The Eiffel-Tower!")
    'eiffeltower'
    """
    raise NotImplementedError  # TODO


def exact_match(prediction: str, references: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised reference, else 0.0.

    >>> exact_match("the eiffel tower", ["Eiffel Tower."])
    1.0
    """
    raise NotImplementedError  # TODO


def token_f1(prediction: str, references: Sequence[str]) -> float:
    """The best token F1 over the references, as in the SQuAD v2.0 script: tokens of the
    normalised texts, common tokens counted as a multiset; when either text has no token, 1.0 if
    both have none, else 0.0.

    >>> round(token_f1("Paris, France", ["Paris"]), 4)
    0.6667
    """
    raise NotImplementedError  # TODO


# ----- task 5 -----------------------------------------------------------------------------------
def bootstrap_ci(
    statistic: Callable[[np.ndarray], float],
    n: int,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """The percentile bootstrap interval ``(low, high)`` of ``statistic`` over ``n`` items.

    Each of the ``n_resamples`` resamples draws ``n`` item indices WITH replacement from a
    generator made from ``seed`` (np.random.default_rng); ``statistic(indices)`` (one ``(n,)``
    int array at a time) computes the metric on those items. The interval cuts
    ``(1 − confidence) / 2`` off each tail of the resampled values. Same seed, same interval.

    >>> scores = np.array([0.0, 1.0, 1.0, 1.0, 0.5])
    >>> bootstrap_ci(lambda idx: scores[idx].mean(), 5, n_resamples=1000, seed=0)
    (0.3, 1.0)
    """
    # TODO: rng = np.random.default_rng(seed); rng.integers(0, n, size=(n_resamples, n));
    # one statistic per row; np.percentile at 100 * alpha / 2 and 100 * (1 - alpha / 2)
    raise NotImplementedError


# ----- task 6 -----------------------------------------------------------------------------------
def item_scores(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> dict[str, np.ndarray]:
    """Per-item material for every metric in METRICS, the items in order:

    ``"bleu"``: an ``(N, 10)`` int array, the sentence_stats of each item; ``"rouge1"``,
    ``"rouge2"``, ``"rougeL"``: ``(N,)``, each item's best F-measure over its references;
    ``"exact_match"``, ``"f1"``: ``(N,)``, exact_match and token_f1 of each item. Between 0 and 1.

    >>> items = item_scores(["a dog"], [["a dog barked"]])
    >>> items["bleu"].tolist(), round(float(items["f1"][0]), 4)
    ([[2, 3, 2, 1, 0, 0, 2, 1, 0, 0]], 0.6667)
    """
    raise NotImplementedError  # TODO


def aggregate(metric: str, scores: np.ndarray) -> float:
    """The corpus value, in points (0–100), of ``metric`` on rows of item_scores(...)[metric]:
    ``"bleu"`` → BLEU (smooth="exp") of the summed statistics; any other → 100 × the mean.

    >>> items = item_scores(["the cat sat on the mat", "a dog"], [["the cat sat on the mat"],
    ...                     ["a dog barked"]])
    >>> round(aggregate("bleu", items["bleu"]), 2), round(aggregate("f1", items["f1"]), 2)
    (88.25, 83.33)
    """
    raise NotImplementedError  # TODO


def evaluate(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """``{metric: {"score": …, "low": …, "high": …}}`` for every metric in METRICS, in points:
    the score on all the items and its bootstrap interval, from
    ``bootstrap_ci(statistic, N, n_resamples=…, confidence=…, seed=seed)`` where the statistic
    is the aggregate of the resampled items."""
    raise NotImplementedError  # TODO


# ----- task 7 -----------------------------------------------------------------------------------
def regression_gate(
    baseline: Sequence[str],
    candidate: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    metric: str = "f1",
    tolerance: float = 1.0,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Does ``candidate`` regress on ``baseline``? Both are outputs for the same items.

    Returns ``{"passed": bool, "delta": …, "low": …, "high": …}``: delta = candidate's
    aggregate − baseline's (points), ``(low, high)`` its paired bootstrap interval (one
    bootstrap_ci whose statistic computes the delta on the SAME resampled items for both runs).
    The gate fails (passed False) only when the whole interval lies below −tolerance:
    ``high < -tolerance``.
    """
    raise NotImplementedError  # TODO


if __name__ == "__main__":
    references, baseline, candidate = synthetic_runs()
    for name, run in (("baseline", baseline), ("candidate", candidate)):
        report = evaluate(run, references)
        print(name)
        for metric, entry in report.items():
            low, high = entry["low"], entry["high"]
            print(f"  {metric:12s} {entry['score']:6.1f}  [{low:6.1f}, {high:6.1f}]")
    for metric in METRICS:
        verdict = regression_gate(baseline, candidate, references, metric=metric)
        print(metric, verdict)
