"""An alternative: BLEU's clipped matches as sum((hypothesis counts & union of the references'
counts).values()), the closest reference length found by a scan over the sorted lengths, token
F1 in its Dice form 2 · common / (len(pred) + len(gold)) (equal to 2PR / (P + R) up to
rounding), and evaluate built with a dict comprehension."""

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
    tokens = list(tokens)
    return Counter([tuple(tokens[i:i + n]) for i in range(max(len(tokens) - n + 1, 0))])


def sentence_stats(hypothesis: str, references: Sequence[str]) -> list[int]:
    words = hypothesis.split()
    ref_words = [r.split() for r in references]
    lengths = sorted(len(r) for r in ref_words)
    ref_len = lengths[0]
    for L in lengths:
        if abs(L - len(words)) < abs(ref_len - len(words)):
            ref_len = L
    out = [len(words), ref_len]
    hyp_ngrams = [ngram_counts(words, n) for n in range(1, MAX_ORDER + 1)]
    for n in range(1, MAX_ORDER + 1):
        union = Counter()
        for r in ref_words:
            union = union | ngram_counts(r, n)
        out.append(sum((hyp_ngrams[n - 1] & union).values()))
    out += [max(len(words) - n + 1, 0) for n in range(1, MAX_ORDER + 1)]
    return out


# ----- task 2 -----------------------------------------------------------------------------------
def bleu_from_stats(stats: Sequence[float], smooth: str = "exp") -> dict[str, Any]:
    c, r = stats[0], stats[1]
    matches = list(stats[2 : 2 + MAX_ORDER])
    totals = list(stats[2 + MAX_ORDER : 2 + 2 * MAX_ORDER])
    if c < r:
        bp = math.exp(1 - r / c) if c > 0 else 0.0
    else:
        bp = 1.0
    precisions = [0.0] * MAX_ORDER
    result = {"score": 0.0, "precisions": precisions, "bp": bp, "sys_len": c, "ref_len": r}
    if not any(matches):
        return result
    k = 1.0
    for n in range(MAX_ORDER):
        if totals[n] == 0:
            break
        if matches[n] == 0:
            if smooth == "exp":
                k *= 2
                precisions[n] = 100.0 / (k * totals[n])
            elif smooth == "floor":
                precisions[n] = 100.0 * FLOOR / totals[n]
        else:
            precisions[n] = 100.0 * matches[n] / totals[n]
    if any(p <= 0 for p in precisions):
        return result
    result["score"] = bp * math.exp(sum(math.log(p) for p in precisions) / MAX_ORDER)
    return result


def corpus_bleu(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], smooth: str = "exp"
) -> dict[str, Any]:
    total = [0] * (2 + 2 * MAX_ORDER)
    for h, refs in zip(hypotheses, references):
        total = [a + b for a, b in zip(total, sentence_stats(h, refs))]
    return bleu_from_stats(total, smooth)


# ----- task 3 -----------------------------------------------------------------------------------
def rouge_tokenize(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def _f(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def rouge_n(prediction: str, reference: str, n: int) -> tuple[float, float, float]:
    pred = ngram_counts(rouge_tokenize(prediction), n)
    ref = ngram_counts(rouge_tokenize(reference), n)
    overlap = sum((pred & ref).values())
    np_, nr = sum(pred.values()), sum(ref.values())
    p = overlap / np_ if np_ else 0.0
    r = overlap / nr if nr else 0.0
    return (p, r, _f(p, r))


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
    if not pred or not ref:
        return (0.0, 0.0, 0.0)
    lcs = lcs_length(pred, ref)
    p, r = lcs / len(pred), lcs / len(ref)
    return (p, r, _f(p, r))


# ----- task 4 -----------------------------------------------------------------------------------
def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, references: Sequence[str]) -> float:
    pred = normalize_answer(prediction)
    return float(max(pred == normalize_answer(r) for r in references))


def _f1_one(prediction: str, reference: str) -> float:
    pred = normalize_answer(prediction).split()
    gold = normalize_answer(reference).split()
    if not pred or not gold:
        return float(pred == gold)
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    p, r = same / len(pred), same / len(gold)
    return 2 * p * r / (p + r)


def token_f1(prediction: str, references: Sequence[str]) -> float:
    pred = normalize_answer(prediction).split()
    best = 0.0
    for ref in references:
        gold = normalize_answer(ref).split()
        if not pred or not gold:
            f = 1.0 if pred == gold else 0.0
        else:
            common = sum((Counter(pred) & Counter(gold)).values())
            f = 0.0 if common == 0 else 2 * common / (len(pred) + len(gold))
        best = max(best, f)
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
    idx = rng.integers(0, n, size=(n_resamples, n))
    values = np.array([statistic(row) for row in idx], dtype=float)
    alpha = 1 - confidence
    low, high = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return (float(low), float(high))


# ----- task 6 -----------------------------------------------------------------------------------
def item_scores(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> dict[str, np.ndarray]:
    out: dict[str, list] = {m: [] for m in METRICS}
    for h, refs in zip(hypotheses, references):
        out["bleu"].append(sentence_stats(h, refs))
        out["rouge1"].append(max(rouge_n(h, r, 1)[2] for r in refs))
        out["rouge2"].append(max(rouge_n(h, r, 2)[2] for r in refs))
        out["rougeL"].append(max(rouge_l(h, r)[2] for r in refs))
        out["exact_match"].append(exact_match(h, refs))
        out["f1"].append(token_f1(h, refs))
    result = {m: np.array(v, dtype=float) for m, v in out.items()}
    result["bleu"] = np.array(out["bleu"], dtype=np.int64).reshape(-1, 10)
    return result


def aggregate(metric: str, scores: np.ndarray) -> float:
    if metric == "bleu":
        return float(bleu_from_stats(np.asarray(scores).sum(axis=0).tolist())["score"])
    return float(100.0 * np.mean(scores))


def evaluate(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    items = item_scores(hypotheses, references)
    n = len(hypotheses)

    def one(metric: str) -> dict[str, float]:
        s = items[metric]
        lo, hi = bootstrap_ci(lambda i: aggregate(metric, s[i]), n, n_resamples=n_resamples,
                              confidence=confidence, seed=seed)
        return {"score": aggregate(metric, s), "low": lo, "high": hi}

    return {metric: one(metric) for metric in METRICS}


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
    base = item_scores(baseline, references)[metric]
    cand = item_scores(candidate, references)[metric]
    delta = aggregate(metric, cand) - aggregate(metric, base)
    low, high = bootstrap_ci(
        lambda idx: aggregate(metric, cand[idx]) - aggregate(metric, base[idx]),
        len(baseline), n_resamples=n_resamples, confidence=confidence, seed=seed,
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
