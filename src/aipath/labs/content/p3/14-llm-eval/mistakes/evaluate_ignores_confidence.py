# expect: where confidence=0.9 was asked
"""A known-wrong solution: evaluate does not pass its confidence on to bootstrap_ci
(every interval is a 95 % one)."""

from __future__ import annotations

import math
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
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def sentence_stats(hypothesis: str, references: Sequence[str]) -> list[int]:
    hyp = hypothesis.split()
    refs = [reference.split() for reference in references]
    # the closest reference length; on a tie, the shorter reference
    ref_len = min((abs(len(ref) - len(hyp)), len(ref)) for ref in refs)[1]
    matches, totals = [], []
    for n in range(1, MAX_ORDER + 1):
        counts = ngram_counts(hyp, n)
        most: Counter[tuple[str, ...]] = Counter()
        for ref in refs:
            most |= ngram_counts(ref, n)  # the largest count of each n-gram in one reference
        matches.append(sum(min(count, most[gram]) for gram, count in counts.items()))
        totals.append(sum(counts.values()))
    return [len(hyp), ref_len, *matches, *totals]


# ----- task 2 -----------------------------------------------------------------------------------
def bleu_from_stats(stats: Sequence[float], smooth: str = "exp") -> dict[str, Any]:
    if smooth not in ("none", "floor", "exp"):
        raise ValueError(f"unknown smoothing {smooth!r}")
    sys_len, ref_len = int(stats[0]), int(stats[1])
    matches = [float(m) for m in stats[2 : 2 + MAX_ORDER]]
    totals = [float(t) for t in stats[2 + MAX_ORDER : 2 + 2 * MAX_ORDER]]
    if sys_len >= ref_len:
        bp = 1.0
    else:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    precisions = [0.0] * MAX_ORDER
    if any(matches):
        halving = 1.0
        for n in range(MAX_ORDER):
            if totals[n] == 0:
                break  # no hypothesis is n + 1 words long: this precision stays 0
            if matches[n] > 0:
                precisions[n] = 100.0 * matches[n] / totals[n]
            elif smooth == "exp":
                halving *= 2
                precisions[n] = 100.0 / (halving * totals[n])
            elif smooth == "floor":
                precisions[n] = 100.0 * FLOOR / totals[n]
    if min(precisions) > 0:
        score = bp * math.exp(sum(math.log(p) for p in precisions) / MAX_ORDER)
    else:
        score = 0.0
    return {
        "score": score,
        "precisions": precisions,
        "bp": bp,
        "sys_len": sys_len,
        "ref_len": ref_len,
    }


def corpus_bleu(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], smooth: str = "exp"
) -> dict[str, Any]:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    stats = np.zeros(2 + 2 * MAX_ORDER, dtype=np.int64)
    for hypothesis, refs in zip(hypotheses, references, strict=True):
        stats += np.asarray(sentence_stats(hypothesis, refs), dtype=np.int64)
    return bleu_from_stats(stats, smooth)


# ----- task 3 -----------------------------------------------------------------------------------
def rouge_tokenize(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def _prf(overlap: float, predicted: int, wanted: int) -> tuple[float, float, float]:
    precision = overlap / predicted if predicted else 0.0
    recall = overlap / wanted if wanted else 0.0
    if precision + recall == 0:
        return precision, recall, 0.0
    return precision, recall, 2 * precision * recall / (precision + recall)


def rouge_n(prediction: str, reference: str, n: int) -> tuple[float, float, float]:
    pred = ngram_counts(rouge_tokenize(prediction), n)
    ref = ngram_counts(rouge_tokenize(reference), n)
    overlap = sum((pred & ref).values())
    return _prf(overlap, sum(pred.values()), sum(ref.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> tuple[float, float, float]:
    pred, ref = rouge_tokenize(prediction), rouge_tokenize(reference)
    if not pred or not ref:
        return 0.0, 0.0, 0.0
    return _prf(lcs_length(pred, ref), len(pred), len(ref))


# ----- task 4 -----------------------------------------------------------------------------------
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, references: Sequence[str]) -> float:
    mine = normalize_answer(prediction)
    return max(float(mine == normalize_answer(reference)) for reference in references)


def _f1(pred: list[str], gold: list[str]) -> float:
    if not pred or not gold:
        return float(pred == gold)
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, references: Sequence[str]) -> float:
    mine = normalize_answer(prediction).split()
    return max(_f1(mine, normalize_answer(reference).split()) for reference in references)


# ----- task 5 -----------------------------------------------------------------------------------
def bootstrap_ci(
    statistic: Callable[[np.ndarray], float],
    n: int,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_resamples, n))
    values = np.array([statistic(indices) for indices in draws], dtype=np.float64)
    alpha = 1.0 - confidence
    low, high = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


# ----- task 6 -----------------------------------------------------------------------------------
def item_scores(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> dict[str, np.ndarray]:
    rows: dict[str, list[Any]] = {name: [] for name in METRICS}
    for hypothesis, refs in zip(hypotheses, references, strict=True):
        rows["bleu"].append(sentence_stats(hypothesis, refs))
        rows["rouge1"].append(max(rouge_n(hypothesis, ref, 1)[2] for ref in refs))
        rows["rouge2"].append(max(rouge_n(hypothesis, ref, 2)[2] for ref in refs))
        rows["rougeL"].append(max(rouge_l(hypothesis, ref)[2] for ref in refs))
        rows["exact_match"].append(exact_match(hypothesis, refs))
        rows["f1"].append(token_f1(hypothesis, refs))
    return {
        name: np.asarray(values, dtype=np.int64 if name == "bleu" else np.float64)
        for name, values in rows.items()
    }


def aggregate(metric: str, scores: np.ndarray) -> float:
    if metric == "bleu":
        return float(bleu_from_stats(np.asarray(scores).sum(axis=0))["score"])
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    return 100.0 * float(np.mean(scores))


def evaluate(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    items = item_scores(hypotheses, references)
    report = {}
    for name in METRICS:
        scores = items[name]
        low, high = bootstrap_ci(
            lambda idx, name=name, scores=scores: aggregate(name, scores[idx]),
            len(hypotheses),
            n_resamples=n_resamples,
            seed=seed,
        )
        report[name] = {"score": aggregate(name, scores), "low": low, "high": high}
    return report


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
    before = item_scores(baseline, references)[metric]
    after = item_scores(candidate, references)[metric]
    delta = aggregate(metric, after) - aggregate(metric, before)
    low, high = bootstrap_ci(
        lambda idx: aggregate(metric, after[idx]) - aggregate(metric, before[idx]),
        len(baseline),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )
    return {"passed": not high < -tolerance, "delta": delta, "low": low, "high": high}


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
