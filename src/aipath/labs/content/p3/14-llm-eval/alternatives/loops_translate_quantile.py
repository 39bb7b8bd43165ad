"""An alternative: plain loops everywhere — n-grams from zip, a full LCS table, the SQuAD
normalisation with str.translate, a bootstrap that draws one resample at a time with
rng.choice and reads np.quantile, and a gate that computes the paired delta with its own
loops (the mean of per-item differences; BLEU from sums of its own statistics lists)."""

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
    tokens = list(tokens)
    counts: Counter[tuple[str, ...]] = Counter()
    if n > len(tokens):
        return counts
    for gram in zip(*(tokens[k:] for k in range(n)), strict=False):
        counts[gram] += 1
    return counts


def sentence_stats(hypothesis: str, references: Sequence[str]) -> list[int]:
    hyp = hypothesis.split()
    refs = [r.split() for r in references]
    ref_len = sorted((len(r) for r in refs), key=lambda length: (abs(length - len(hyp)), length))[0]
    stats = [len(hyp), ref_len] + [0] * (2 * MAX_ORDER)
    for n in range(1, MAX_ORDER + 1):
        for gram, count in ngram_counts(hyp, n).items():
            best = max(ngram_counts(r, n)[gram] for r in refs)
            stats[1 + n] += min(count, best)
            stats[1 + MAX_ORDER + n] += count
    return stats


# ----- task 2 -----------------------------------------------------------------------------------
def bleu_from_stats(stats: Sequence[float], smooth: str = "exp") -> dict[str, Any]:
    c, r = int(stats[0]), int(stats[1])
    hits = list(stats[2 : 2 + MAX_ORDER])
    totals = list(stats[2 + MAX_ORDER : 2 + 2 * MAX_ORDER])
    bp = 0.0 if c == 0 else min(1.0, math.exp(1 - r / c))
    precisions = [0.0, 0.0, 0.0, 0.0]
    unmatched = 0
    if sum(hits) > 0:
        for n in range(MAX_ORDER):
            if totals[n] == 0:
                break
            if hits[n]:
                precisions[n] = 100 * hits[n] / totals[n]
                continue
            unmatched += 1
            if smooth == "exp":
                precisions[n] = 100 / (2**unmatched * totals[n])
            elif smooth == "floor":
                precisions[n] = 100 * FLOOR / totals[n]
            elif smooth != "none":
                raise ValueError(smooth)
    score = 0.0
    if all(p > 0 for p in precisions):
        score = bp * math.exp(sum(map(math.log, precisions)) / MAX_ORDER)
    return {"score": score, "precisions": precisions, "bp": bp, "sys_len": c, "ref_len": r}


def corpus_bleu(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], smooth: str = "exp"
) -> dict[str, Any]:
    totals = [0] * (2 + 2 * MAX_ORDER)
    for hypothesis, refs in zip(hypotheses, references, strict=True):
        totals = [a + b for a, b in zip(totals, sentence_stats(hypothesis, refs), strict=True)]
    return bleu_from_stats(totals, smooth)


# ----- task 3 -----------------------------------------------------------------------------------
def rouge_tokenize(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _scores(overlap: int, predicted: int, wanted: int) -> tuple[float, float, float]:
    precision = overlap / max(predicted, 1)
    recall = overlap / max(wanted, 1)
    f = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f


def rouge_n(prediction: str, reference: str, n: int) -> tuple[float, float, float]:
    pred = ngram_counts(rouge_tokenize(prediction), n)
    ref = ngram_counts(rouge_tokenize(reference), n)
    overlap = sum(min(count, pred[gram]) for gram, count in ref.items())
    return _scores(overlap, sum(pred.values()), sum(ref.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table[len(a)][len(b)]


def rouge_l(prediction: str, reference: str) -> tuple[float, float, float]:
    pred, ref = rouge_tokenize(prediction), rouge_tokenize(reference)
    if len(pred) == 0 or len(ref) == 0:
        return (0.0, 0.0, 0.0)
    return _scores(lcs_length(pred, ref), len(pred), len(ref))


# ----- task 4 -----------------------------------------------------------------------------------
_DELETE = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def normalize_answer(text: str) -> str:
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_DELETE)).split())


def exact_match(prediction: str, references: Sequence[str]) -> float:
    mine = normalize_answer(prediction)
    return 1.0 if any(mine == normalize_answer(r) for r in references) else 0.0


def token_f1(prediction: str, references: Sequence[str]) -> float:
    pred = normalize_answer(prediction).split()
    best = 0.0
    for reference in references:
        gold = normalize_answer(reference).split()
        if not pred or not gold:
            score = 1.0 if pred == gold else 0.0
        else:
            left = Counter(gold)
            same = 0
            for token in pred:
                if left[token] > 0:
                    left[token] -= 1
                    same += 1
            score = 0.0 if same == 0 else 2 * same / (len(pred) + len(gold))
        best = max(best, score)
    return best


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
    values = []
    for _ in range(n_resamples):
        values.append(statistic(rng.choice(n, size=n, replace=True)))
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


# ----- task 6 -----------------------------------------------------------------------------------
def item_scores(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {
        "bleu": np.array(
            [sentence_stats(h, r) for h, r in zip(hypotheses, references, strict=True)],
            dtype=np.int64,
        ).reshape(len(hypotheses), 2 + 2 * MAX_ORDER)
    }
    scorers: dict[str, Callable[[str, str], float]] = {
        "rouge1": lambda h, r: rouge_n(h, r, 1)[2],
        "rouge2": lambda h, r: rouge_n(h, r, 2)[2],
        "rougeL": lambda h, r: rouge_l(h, r)[2],
    }
    for name, score in scorers.items():
        out[name] = np.array(
            [max(score(h, r) for r in refs) for h, refs in zip(hypotheses, references, strict=True)]
        )
    out["exact_match"] = np.array(
        [exact_match(h, r) for h, r in zip(hypotheses, references, strict=True)]
    )
    out["f1"] = np.array([token_f1(h, r) for h, r in zip(hypotheses, references, strict=True)])
    return out


def aggregate(metric: str, scores: np.ndarray) -> float:
    rows = np.asarray(scores)
    if metric == "bleu":
        return bleu_from_stats(rows.sum(axis=0).tolist())["score"]
    return float(rows.sum() * 100 / len(rows))


def evaluate(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    items = item_scores(hypotheses, references)

    def report(name: str) -> dict[str, float]:
        scores = items[name]
        low, high = bootstrap_ci(
            lambda idx: aggregate(name, scores[idx]),
            len(scores),
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )
        return {"score": aggregate(name, scores), "low": low, "high": high}

    return {name: report(name) for name in METRICS}


# ----- task 7 -----------------------------------------------------------------------------------
def _metric_on(metric: str, outputs: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    if metric == "bleu":
        return corpus_bleu(outputs, refs)["score"]
    return aggregate(metric, item_scores(outputs, refs)[metric])


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
    if metric == "bleu":  # BLEU of each resample from its summed sentence statistics
        before_stats = [sentence_stats(h, r) for h, r in zip(baseline, references, strict=True)]
        after_stats = [sentence_stats(h, r) for h, r in zip(candidate, references, strict=True)]

        def bleu_of(rows: list[list[int]], idx: np.ndarray) -> float:
            sums = [sum(rows[i][k] for i in idx) for k in range(2 + 2 * MAX_ORDER)]
            return bleu_from_stats(sums)["score"]

        def delta_on(idx: np.ndarray) -> float:
            return bleu_of(after_stats, idx) - bleu_of(before_stats, idx)

    else:
        before = item_scores(baseline, references)[metric]
        after = item_scores(candidate, references)[metric]

        def delta_on(idx: np.ndarray) -> float:
            return 100 * float(np.mean(after[idx] - before[idx]))

    delta = _metric_on(metric, candidate, references) - _metric_on(metric, baseline, references)
    low, high = bootstrap_ci(
        delta_on, len(baseline), n_resamples=n_resamples, confidence=confidence, seed=seed
    )
    return {"passed": bool(high >= -tolerance), "delta": delta, "low": low, "high": high}


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
