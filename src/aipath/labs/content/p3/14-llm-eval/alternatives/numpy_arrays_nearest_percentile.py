"""An alternative: NumPy where it fits — BLEU's precisions, smoothing and geometric mean as
arrays (the "exp" halvings from a cumulative count of the unmatched orders), n-gram maxima with
functools.reduce, a memoised recursive LCS, the punctuation deleted with a regex, resamples
drawn all at once with rng.choice and the "nearest" percentile."""

from __future__ import annotations

import functools
import re
import string
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
    tokens = tuple(tokens)
    return Counter(tokens[i : i + n] for i in range(max(len(tokens) - n + 1, 0)))


def sentence_stats(hypothesis: str, references: Sequence[str]) -> list[int]:
    hyp = hypothesis.split()
    refs = [r.split() for r in references]
    ref_len = len(min(refs, key=lambda r: (abs(len(r) - len(hyp)), len(r))))
    matches, totals = [], []
    for n in range(1, MAX_ORDER + 1):
        counts = ngram_counts(hyp, n)
        ceiling = functools.reduce(lambda a, b: a | b, (ngram_counts(r, n) for r in refs))
        matches.append(sum((counts & ceiling).values()))
        totals.append(max(len(hyp) - n + 1, 0))
    return [len(hyp), ref_len, *matches, *totals]


# ----- task 2 -----------------------------------------------------------------------------------
def bleu_from_stats(stats: Sequence[float], smooth: str = "exp") -> dict[str, Any]:
    if smooth not in {"none", "floor", "exp"}:
        raise ValueError(smooth)
    values = np.asarray(stats, dtype=np.float64)
    c, r = values[0], values[1]
    hits, totals = values[2 : 2 + MAX_ORDER], values[2 + MAX_ORDER :]
    bp = 1.0 if c >= r else (float(np.exp(1 - r / c)) if c > 0 else 0.0)
    precisions = np.zeros(MAX_ORDER)
    if hits.sum() > 0:
        # orders up to the first one without any n-gram; later ones stay 0
        live = np.cumprod(totals > 0).astype(bool)
        safe = np.where(totals > 0, totals, 1.0)
        precisions = np.where(live & (hits > 0), 100 * hits / safe, 0.0)
        unmatched = live & (hits == 0)
        if smooth == "exp":
            k = np.cumsum(unmatched)
            precisions = np.where(unmatched, 100 / (2.0**k * safe), precisions)
        elif smooth == "floor":
            precisions = np.where(unmatched, 100 * FLOOR / safe, precisions)
    score = float(bp * np.exp(np.log(precisions).mean())) if precisions.min() > 0 else 0.0
    return {
        "score": score,
        "precisions": precisions.tolist(),
        "bp": bp,
        "sys_len": int(c),
        "ref_len": int(r),
    }


def corpus_bleu(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], smooth: str = "exp"
) -> dict[str, Any]:
    rows = np.array(
        [sentence_stats(h, refs) for h, refs in zip(hypotheses, references, strict=True)]
    )
    return bleu_from_stats(rows.sum(axis=0), smooth)


# ----- task 3 -----------------------------------------------------------------------------------
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def rouge_tokenize(text: str) -> list[str]:
    return [t for t in _NOT_ALNUM.split(text.lower()) if t]


def _f(overlap: float, predicted: int, wanted: int) -> tuple[float, float, float]:
    if overlap == 0:
        return 0.0, 0.0, 0.0
    precision, recall = overlap / predicted, overlap / wanted
    return precision, recall, 2 / (1 / precision + 1 / recall)


def rouge_n(prediction: str, reference: str, n: int) -> tuple[float, float, float]:
    pred = ngram_counts(rouge_tokenize(prediction), n)
    ref = ngram_counts(rouge_tokenize(reference), n)
    return _f(sum((pred & ref).values()), pred.total(), ref.total())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    a, b = tuple(a), tuple(b)

    @functools.cache
    def best(i: int, j: int) -> int:
        if i == len(a) or j == len(b):
            return 0
        if a[i] == b[j]:
            return 1 + best(i + 1, j + 1)
        return max(best(i + 1, j), best(i, j + 1))

    return best(0, 0)


def rouge_l(prediction: str, reference: str) -> tuple[float, float, float]:
    pred, ref = rouge_tokenize(prediction), rouge_tokenize(reference)
    if not (pred and ref):
        return 0.0, 0.0, 0.0
    return _f(lcs_length(pred, ref), len(pred), len(ref))


# ----- task 4 -----------------------------------------------------------------------------------
_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}]")


def normalize_answer(text: str) -> str:
    text = _PUNCTUATION.sub("", text.lower())
    return " ".join(w for w in text.split() if w not in {"a", "an", "the"})


def exact_match(prediction: str, references: Sequence[str]) -> float:
    return float(normalize_answer(prediction) in {normalize_answer(r) for r in references})


def token_f1(prediction: str, references: Sequence[str]) -> float:
    pred = Counter(normalize_answer(prediction).split())

    def one(reference: str) -> float:
        gold = Counter(normalize_answer(reference).split())
        if not pred or not gold:
            return float(pred == gold)
        same = (pred & gold).total()
        return 2 * same / (pred.total() + gold.total())

    return max(map(one, references))


# ----- task 5 -----------------------------------------------------------------------------------
def bootstrap_ci(
    statistic: Callable[[np.ndarray], float],
    n: int,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    draws = np.random.default_rng(seed).choice(n, size=(n_resamples, n))
    values = np.fromiter((statistic(row) for row in draws), dtype=np.float64, count=n_resamples)
    half = 50 * (1 - confidence)
    low, high = np.percentile(values, [half, 100 - half], method="nearest")
    return float(low), float(high)


# ----- task 6 -----------------------------------------------------------------------------------
def item_scores(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> dict[str, np.ndarray]:
    pairs = list(zip(hypotheses, references, strict=True))

    def best(score: Callable[[str, str], tuple[float, float, float]]) -> np.ndarray:
        return np.array([max(score(h, r)[2] for r in refs) for h, refs in pairs], dtype=float)

    return {
        "bleu": np.array([sentence_stats(h, refs) for h, refs in pairs], dtype=np.int64),
        "rouge1": best(lambda h, r: rouge_n(h, r, 1)),
        "rouge2": best(lambda h, r: rouge_n(h, r, 2)),
        "rougeL": best(rouge_l),
        "exact_match": np.array([exact_match(h, refs) for h, refs in pairs], dtype=float),
        "f1": np.array([token_f1(h, refs) for h, refs in pairs], dtype=float),
    }


def aggregate(metric: str, scores: np.ndarray) -> float:
    if metric == "bleu":
        return bleu_from_stats(np.sum(scores, axis=0))["score"]
    return float(np.mean(scores) * 100)


def evaluate(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    items = item_scores(hypotheses, references)
    options = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed}
    out = {}
    for metric, rows in items.items():
        low, high = bootstrap_ci(
            functools.partial(lambda m, r, idx: aggregate(m, r[idx]), metric, rows),
            len(rows),
            **options,
        )
        out[metric] = {"score": aggregate(metric, rows), "low": low, "high": high}
    return out


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
    runs = [item_scores(run, references)[metric] for run in (baseline, candidate)]

    def delta(idx: np.ndarray) -> float:
        return aggregate(metric, runs[1][idx]) - aggregate(metric, runs[0][idx])

    everything = np.arange(len(baseline))
    low, high = bootstrap_ci(
        delta, len(baseline), n_resamples=n_resamples, confidence=confidence, seed=seed
    )
    return {
        "passed": bool(high >= -tolerance),
        "delta": delta(everything),
        "low": low,
        "high": high,
    }


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
