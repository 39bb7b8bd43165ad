"""Checks for p3-llm-eval: BLEU's sentence statistics and corpus score against sacrebleu
(``tokenize="none"``: words are what ``str.split()`` gives), ROUGE-1/2/L against rouge-score's
``RougeScorer`` (``use_stemmer=False``), exact match and token F1 against the functions of the
official SQuAD v2.0 evaluation script (restated below), the bootstrap interval by recording the
resamples the learner's code hands to a statistic of the check's own, and the evaluation pipeline
and the regression gate on seeded synthetic runs built here.

Every known mistake is a variant of the reference computed here on the same input; a variant is
named only when the learner's answers equal it on every input of the check.
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest
import sacrebleu
from sacrebleu.metrics.bleu import BLEU

from aipath.checks import (
    LEARNER_ERRORS,
    CheckFailure,
    call_learner,
    fail,
    fmt,
    forbid_calls,
    forbid_imports,
    global_draws,
)

MAX_ORDER = 4
FLOOR = 0.1
METRICS = ("bleu", "rouge1", "rouge2", "rougeL", "exact_match", "f1")
ERRORS = (*LEARNER_ERRORS, ZeroDivisionError)
BANNED = ["sacrebleu", "rouge_score", "nltk", "evaluate", "torchmetrics", "bert_score", "jiwer"]
STAT_FIELDS = (
    "hyp_len",
    "ref_len",
    *(f"{n}-gram matches" for n in range(1, MAX_ORDER + 1)),
    *(f"{n}-gram totals" for n in range(1, MAX_ORDER + 1)),
)


def _own_code(learner_file: Any) -> None:
    forbid_imports(
        learner_file,
        BANNED,
        "this lab builds the metrics itself, and the checks compare them with those "
        "libraries: write them with collections.Counter, re and plain Python",
    )


def _q(text: str, width: int = 48) -> str:
    """A text as a message quotes it: repr, cut when long."""
    shown = repr(text)
    return shown if len(shown) <= width else shown[: width - 4] + "…'"


def _first_mismatch(got: Sequence[Any], want: Sequence[Any]) -> int | None:
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if not _same(g, w):
            return i
    return None


def _same(got: Any, want: Any) -> bool:
    """Equal values: floats to 1e-9 (relative), sequences and dicts element by element."""
    if isinstance(want, Mapping):
        return isinstance(got, Mapping) and all(
            key in got and _same(got[key], value) for key, value in want.items()
        )
    if isinstance(want, str):
        return isinstance(got, str) and got == want
    if isinstance(want, Sequence | np.ndarray):
        try:
            return len(got) == len(want) and all(
                _same(g, w) for g, w in zip(got, want, strict=True)
            )
        except TypeError:
            return False
    try:
        return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9)
    except (TypeError, ValueError):
        return False


def _matching(got: list[Any], variants: Mapping[Any, Callable[[], list[Any]]]) -> str | None:
    """The first variant whose outputs equal the learner's on every input of the check.

    A key is the variant's label, or ``(label, k)`` for the k-th other way of writing the same
    mistake (one that differs from the first only on an edge case, such as an empty output).
    """
    for key, make in variants.items():
        label = key if isinstance(key, str) else key[0]
        try:
            outputs = make()
        except Exception:  # a variant that cannot be computed on these inputs is skipped
            continue
        if len(outputs) == len(got) and all(
            o is not None and _same(g, o) for g, o in zip(got, outputs, strict=True)
        ):
            return label
    return None


def _looks_like(label: str | None) -> str:
    return f" It looks like {label}." if label else ""


# ----- references: sacrebleu and the BLEU variants ----------------------------------------------
def _streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Per-item reference lists as sacrebleu's reference streams (None pads a shorter list)."""
    most = max(len(refs) for refs in references)
    return [[refs[j] if j < len(refs) else None for refs in references] for j in range(most)]


def _sacrebleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]], smooth: str):
    return sacrebleu.corpus_bleu(
        list(hypotheses), _streams(references), smooth_method=smooth, tokenize="none"
    )


def _sacre_stats(hypothesis: str, references: Sequence[str]) -> list[int]:
    score = _sacrebleu([hypothesis], [list(references)], "none")
    return [score.sys_len, score.ref_len, *score.counts, *score.totals]


def _as_dict(score: Any) -> dict[str, Any]:
    return {
        "score": float(score.score),
        "precisions": [float(p) for p in score.precisions],
        "bp": float(score.bp),
        "sys_len": int(score.sys_len),
        "ref_len": int(score.ref_len),
    }


def _sacre_from_stats(stats: Sequence[float], smooth: str) -> dict[str, Any]:
    score = BLEU.compute_bleu(
        correct=[float(x) for x in stats[2 : 2 + MAX_ORDER]],
        total=[float(x) for x in stats[2 + MAX_ORDER :]],
        sys_len=int(stats[0]),
        ref_len=int(stats[1]),
        smooth_method=smooth,
    )
    return _as_dict(score)


def _grams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _stats(
    hypothesis: str,
    references: Sequence[str],
    *,
    clip: str = "max",
    length: str = "closest",
    split: str = "words",
    lower: bool = False,
    totals_of: str = "all",
) -> list[int]:
    """sentence_stats, right by default; each other setting is a known mistake."""

    def words(text: str) -> list[str]:
        text = text.lower() if lower else text
        return text.split(" ") if split == "space" else text.split()

    hyp = words(hypothesis)
    refs = [words(r) for r in references]
    sizes = [len(r) for r in refs]
    if length == "closest":
        ref_len = min((abs(s - len(hyp)), s) for s in sizes)[1]
    elif length == "closest-longer":
        ref_len = min((abs(s - len(hyp)), -s) for s in sizes)[1] * -1
    elif length == "shortest":
        ref_len = min(sizes)
    elif length == "longest":
        ref_len = max(sizes)
    elif length == "first":
        ref_len = sizes[0]
    elif length == "average":
        ref_len = round(sum(sizes) / len(sizes))
    else:  # pragma: no cover - a typo in this file
        raise ValueError(length)
    matches, totals = [], []
    for n in range(1, MAX_ORDER + 1):
        counts = _grams(hyp, n)
        per_ref = [_grams(r, n) for r in refs]
        most: Counter[tuple[str, ...]] = Counter()
        for c in per_ref:
            most |= c
        if clip == "max":
            hit = sum(min(k, most[g]) for g, k in counts.items())
        elif clip == "none":
            hit = sum(k for g, k in counts.items() if g in most)
        elif clip == "sum":
            summed = sum(per_ref, Counter())
            hit = sum(min(k, summed[g]) for g, k in counts.items())
        elif clip == "first":
            hit = sum(min(k, per_ref[0][g]) for g, k in counts.items())
        elif clip == "distinct":
            hit = sum(1 for g in counts if g in most)
        else:  # pragma: no cover
            raise ValueError(clip)
        matches.append(hit)
        totals.append(len(counts) if totals_of == "distinct" else sum(counts.values()))
    return [len(hyp), ref_len, *matches, *totals]


STATS_VARIANTS: dict[str, dict[str, Any]] = {
    "n-gram counts that are not clipped: a hypothesis n-gram scores every time it occurs, "
    "even beyond its count in the references (clip it at the largest count it has in one "
    "reference)": {"clip": "none"},
    "n-grams clipped at the sum of their counts over all the references (clip at the largest "
    "count in any ONE reference)": {"clip": "sum"},
    "n-grams clipped against the first reference only (use every reference: the largest count "
    "over them)": {"clip": "first"},
    "distinct n-grams counted once each (a set) instead of clipped counts (a Counter)": {
        "clip": "distinct"
    },
    "the length of the shortest reference instead of the closest one": {"length": "shortest"},
    "the length of the longest reference instead of the closest one": {"length": "longest"},
    "the length of the first reference instead of the closest one": {"length": "first"},
    "the average reference length instead of the closest one": {"length": "average"},
    "totals that count each distinct n-gram once: t_n is the number of n-grams of the "
    "hypothesis, repeats included (max(hyp_len − n + 1, 0))": {"totals_of": "distinct"},
    "the closest reference length with a tie going to the longer reference (a tie goes to the "
    "shorter one)": {"length": "closest-longer"},
    "words split on single spaces (str.split(' ') keeps an empty string between two spaces): "
    "split on runs of whitespace, str.split()": {"split": "space"},
    "the words lowercased: sacrebleu's BLEU is case-sensitive by default, 'Party' and 'party' "
    "are different words": {"lower": True},
}


def _stats_variants(pairs: Sequence[tuple[str, Sequence[str]]]) -> dict[str, Callable[[], list]]:
    return {
        label: (lambda o=options: [_stats(h, r, **o) for h, r in pairs])
        for label, options in STATS_VARIANTS.items()
    }


def _bleu(
    stats: Sequence[float],
    smooth: str = "exp",
    *,
    bp: str = "right",
    mean: str = "geometric",
    exp_mode: str = "right",
    early_stop: bool = True,
    empty: str = "break",
    scale: float = 100.0,
    floor: float = FLOOR,
) -> dict[str, Any]:
    """bleu_from_stats, right by default; each other setting is a known mistake."""
    c, r = float(stats[0]), float(stats[1])
    matches = [float(x) for x in stats[2 : 2 + MAX_ORDER]]
    totals = [float(x) for x in stats[2 + MAX_ORDER :]]
    if bp == "right":
        brevity = 1.0 if c >= r else (math.exp(1 - r / c) if c > 0 else 0.0)
    elif bp == "none":
        brevity = 1.0
    elif bp == "inverted":
        brevity = 1.0 if c >= r else math.exp(1 - c / r)
    elif bp == "inverted-guarded":
        brevity = 1.0 if c >= r else (math.exp(1 - c / r) if c > 0 else 0.0)
    elif bp == "always":
        brevity = math.exp(1 - r / c)
    elif bp == "always-guarded":
        brevity = math.exp(1 - r / c) if c > 0 else 0.0
    else:  # pragma: no cover
        raise ValueError(bp)
    precisions = [0.0] * MAX_ORDER
    used = list(range(MAX_ORDER))
    if any(matches) or not early_stop:
        halving = 1.0
        for n in range(MAX_ORDER):
            if totals[n] == 0:
                if empty == "break":
                    break
                used = [k for k in used if totals[k] > 0]
                continue
            if matches[n] > 0:
                precisions[n] = scale * matches[n] / totals[n]
            elif smooth == "exp":
                halving *= 2
                if exp_mode == "right":
                    precisions[n] = scale / (halving * totals[n])
                elif exp_mode == "no-doubling":
                    precisions[n] = scale / (2 * totals[n])
                elif exp_mode == "no-total":
                    precisions[n] = scale / halving
                elif exp_mode == "by-order":
                    precisions[n] = scale / (2 ** (n + 1) * totals[n])
            elif smooth == "floor":
                precisions[n] = scale * floor / totals[n]
    kept = [precisions[k] for k in used]
    if not kept or min(kept) <= 0:
        score = 0.0
    elif mean == "geometric":
        score = brevity * math.exp(sum(math.log(p) for p in kept) / len(kept))
    else:
        score = brevity * sum(kept) / len(kept)
    return {
        "score": score,
        "precisions": precisions,
        "bp": brevity,
        "sys_len": int(stats[0]),
        "ref_len": int(stats[1]),
    }


BP_INVERTED = (
    "a brevity penalty with the ratio upside down, exp(1 − sys_len / ref_len) (it is "
    "exp(1 − ref_len / sys_len))"
)
BP_ALWAYS = (
    "a brevity penalty applied also when the hypotheses are longer than the references "
    "(it is 1 then: BLEU penalises short output only)"
)


def _bleu_variants(smooth: str) -> dict[Any, dict[str, Any]]:
    """Settings of _bleu that are known mistakes, for the smoothing the check asked for."""
    table: dict[Any, dict[str, Any]] = {
        "BLEU without the brevity penalty (BP = exp(1 − ref_len / sys_len) when the "
        "hypotheses are shorter than the references)": {"bp": "none"},
        BP_INVERTED: {"bp": "inverted"},
        (BP_INVERTED, 1): {"bp": "inverted-guarded"},
        BP_ALWAYS: {"bp": "always"},
        (BP_ALWAYS, 1): {"bp": "always-guarded"},
        "the arithmetic mean of the n-gram precisions (BLEU takes their geometric mean, "
        "exp of the mean of the logs)": {"mean": "arithmetic"},
        "scores and precisions between 0 and 1 (sacrebleu reports both in percent, 0 to 100)": {
            "scale": 1.0
        },
        "precisions or a score that still count an order no hypothesis is long enough for: "
        "when an order has no n-gram at all (total 0), its precision stays 0 and BLEU is 0, "
        "whatever the smoothing": {"empty": "skip"},
    }
    if smooth != "none":
        table[
            f"BLEU with smooth={smooth!r} ignored (no smoothing applied): a precision with no "
            "match must be smoothed"
        ] = {"smooth": "none"}
        table[
            "a smoothing applied even though no n-gram matches at all (BLEU is 0 then, "
            "whatever the smoothing)"
        ] = {"early_stop": False}
    if smooth == "exp":
        table[
            "the 'exp' smoothing without the doubling: the k-th order without a match gets "
            "1 / (2^k · total), k = 1, 2, … counting those orders, not 1 / (2 · total) each time"
        ] = {"exp_mode": "no-doubling"}
        table[
            "the 'exp' smoothing without the division by the order's total: the k-th order "
            "without a match gets 100 / (2^k · total)"
        ] = {"exp_mode": "no-total"}
        table[
            "the 'exp' smoothing with 2^n for the order n (a 3-gram order without a match "
            "got 100 / (8 · total)): k counts only the orders WITHOUT a match, k = 1 for the "
            "first such order, 2 for the second"
        ] = {"exp_mode": "by-order"}
    if smooth == "floor":
        table[
            "the 'floor' smoothing with a count of 1 for an order without a match: sacrebleu's "
            "floor is 0.1 (p_n = 100 · 0.1 / total)"
        ] = {"floor": 1.0}
    if smooth != "exp":
        table[
            f"the 'exp' smoothing where {smooth!r} was asked (the default must not override "
            "the smooth argument)"
        ] = {"smooth": "exp"}
    return table


def _bleu_text(d: Mapping[str, Any]) -> str:
    return (
        f"score {fmt(float(d['score']))}, precisions "
        f"{[round(float(p), 4) for p in d['precisions']]}, bp {fmt(float(d['bp']))}, "
        f"sys_len {d['sys_len']}, ref_len {d['ref_len']}"
    )


def _bleu_difference(got: Mapping[str, Any], want: Mapping[str, Any]) -> str:
    for key in ("sys_len", "ref_len", "bp"):
        if not _same(got[key], want[key]):
            return f"its {key} is {fmt(got[key])}; expected {fmt(want[key])}"
    for n in range(MAX_ORDER):
        if not _same(got["precisions"][n], want["precisions"][n]):
            return (
                f"its {n + 1}-gram precision is {fmt(float(got['precisions'][n]))}; expected "
                f"{fmt(float(want['precisions'][n]))}"
            )
    return f"its score is {fmt(float(got['score']))}; expected {fmt(float(want['score']))}"


def _read_bleu(value: Any, call: str) -> dict[str, Any]:
    """A learner's BLEU result as a plain dict, or a failure that says what is missing."""
    if value is None:
        fail(f"{call} is None: did you forget to `return` the dict?")
    if not isinstance(value, Mapping):
        fail(
            f"{call} should return a dict with the keys score, precisions, bp, sys_len, "
            f"ref_len; got {type(value).__name__}"
        )
    missing = [k for k in ("score", "precisions", "bp", "sys_len", "ref_len") if k not in value]
    if missing:
        fail(f"the dict of {call} lacks the keys {missing}; it has {sorted(map(str, value))}")
    try:
        precisions = [float(p) for p in value["precisions"]]
    except (TypeError, ValueError):
        fail(f"{call}['precisions'] should be a list of {MAX_ORDER} numbers")
    if len(precisions) != MAX_ORDER:
        fail(
            f"{call}['precisions'] has {len(precisions)} values; expected {MAX_ORDER}, one per "
            "n-gram order 1 to 4"
        )
    out = {"precisions": precisions}
    for key in ("score", "bp", "sys_len", "ref_len"):
        try:
            out[key] = float(value[key])
        except (TypeError, ValueError):
            fail(f"{call}[{key!r}] should be a number; got {type(value[key]).__name__}")
    return out


# ----- task 1 -----------------------------------------------------------------------------------
@pytest.mark.task(1)
def test_ngram_counts(learner, learner_file):
    _own_code(learner_file)
    tokens = "the cat saw the cat on the mat".split()
    for n in (1, 2, 3, 4, 8, 9):
        call = f"ngram_counts({tokens}, {n})"
        got = call_learner(call, learner.ngram_counts, list(tokens), n, errors=ERRORS)
        want = _grams(tokens, n)
        if got is None:
            fail(f"{call} is None: did you forget to `return` the Counter?")
        if not isinstance(got, Mapping):
            fail(f"{call} should be a Counter of n-gram tuples; got {type(got).__name__}")
        keys = list(got)
        if keys and not all(isinstance(k, tuple) for k in keys):
            fail(
                f"{call} has keys such as {keys[0]!r}: an n-gram is a tuple of words, such as "
                f"{next(iter(want)) if want else ('the', 'cat')!r}"
            )
        mine = {k: int(v) for k, v in got.items() if v}
        if mine == dict(want):
            continue
        clue = ""
        if n <= len(tokens) and mine == dict(_grams(tokens[:-1], n)):
            clue = (
                ": the last n-gram is missing — there are len(tokens) − n + 1 of them, "
                "range(len(tokens) - n + 1)"
            )
        elif set(mine) == set(want) and all(v == 1 for v in mine.values()):
            clue = ": every n-gram counted once — count repeats, ('the', 'cat') occurs twice"
        elif n > len(tokens):
            clue = f": {len(tokens)} tokens hold no n-gram of {n} words"
        fail(f"{call} is {dict(sorted(mine.items()))}; expected {dict(sorted(want.items()))}{clue}")


SENTENCE_CASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the the the the the the the", ("the cat is on the mat",)),
    ("the cat the cat on the mat", ("the cat is on the mat", "there is a cat on the mat")),
    (
        "It is a guide to action which ensures that the military always obeys the commands "
        "of the party",
        (
            "It is a guide to action that ensures that the military will forever heed Party "
            "commands",
            "It is the guiding principle which guarantees the military forces always being "
            "under the command of the Party",
            "It is the practical guide for the army always to heed the directions of the party",
        ),
    ),
    ("one two three four five", ("one two three four six seven", "one two three four")),
    ("a  quick test of it", ("a quick test of the system",)),
    ("Party commands", ("heed party commands",)),
    ("", ("the cat",)),
)


@pytest.mark.task(1)
def test_sentence_stats(learner, learner_file):
    _own_code(learner_file)
    got_all = []
    for hyp, refs in SENTENCE_CASES:
        call = f"sentence_stats({_q(hyp)}, {len(refs)} reference(s))"
        got = call_learner(call, learner.sentence_stats, hyp, list(refs), errors=ERRORS)
        if got is None:
            fail(f"{call} is None: did you forget to `return` the list?")
        try:
            values = [float(x) for x in got]
        except (TypeError, ValueError):
            fail(f"{call} should be a list of 10 numbers; got {type(got).__name__}")
        if len(values) != len(STAT_FIELDS):
            fail(
                f"{call} has {len(values)} values; expected 10: [hyp_len, ref_len, the matches "
                "of orders 1–4, the totals of orders 1–4]"
            )
        got_all.append(values)
    want_all = [_sacre_stats(h, r) for h, r in SENTENCE_CASES]
    bad = _first_mismatch(got_all, want_all)
    if bad is None:
        return
    hyp, refs = SENTENCE_CASES[bad]
    field = _first_mismatch(got_all[bad], want_all[bad])
    assert field is not None
    label = _matching(got_all, _stats_variants(SENTENCE_CASES))
    fail(
        f"sentence_stats({_q(hyp, 60)}, {list(refs)}) is {[int(x) for x in got_all[bad]]}; "
        f"sacrebleu's statistics are {want_all[bad]} — the {STAT_FIELDS[field]} are "
        f"{fmt(got_all[bad][field])}, expected {want_all[bad][field]}.{_looks_like(label)}"
    )


# ----- task 2 -----------------------------------------------------------------------------------
STATS_CASES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("shorter than the references", (8, 12, 6, 4, 2, 1, 8, 7, 6, 5)),
    ("no 3-gram and no 4-gram match", (12, 10, 9, 5, 0, 0, 12, 11, 10, 9)),
    ("one 4-gram order without a match", (10, 10, 7, 3, 1, 0, 10, 9, 8, 7)),
    ("too short for any 4-gram", (3, 5, 2, 1, 0, 0, 3, 2, 1, 0)),
    ("no match at all", (6, 6, 0, 0, 0, 0, 6, 5, 4, 3)),
    ("an empty output", (0, 5, 0, 0, 0, 0, 0, 0, 0, 0)),
    ("longer than the references", (15, 11, 11, 7, 4, 2, 15, 14, 13, 12)),
)


@pytest.mark.task(2)
@pytest.mark.parametrize("smooth", ["exp", "none", "floor"])
def test_bleu_from_stats(learner, learner_file, smooth):
    _own_code(learner_file)
    got_all = []
    for _what, stats in STATS_CASES:
        call = f"bleu_from_stats({list(stats)}, smooth={smooth!r})"
        given = list(stats)
        value = call_learner(
            call,
            learner.bleu_from_stats,
            given,
            smooth=smooth,
            errors=ERRORS,
            hint="BLEU is 0 when a precision is 0 (no smoothing, or an order with no n-gram "
            "at all) or the output is empty: test for those before log() or a division",
        )
        if given != list(stats):
            changed = [
                f"{STAT_FIELDS[i]} {fmt(stats[i])} → {fmt(given[i])}"
                for i in range(min(len(given), len(stats)))
                if given[i] != stats[i]
            ]
            fail(
                f"{call} changed the list it was given: it is now {given} "
                f"({', '.join(changed) or 'its length changed'}). bleu_from_stats must leave "
                "stats as it was (a caller may use them again): smooth a copy of the counts, "
                "or only the precisions"
            )
        got_all.append(_read_bleu(value, call))
    want_all = [_sacre_from_stats(stats, smooth) for _w, stats in STATS_CASES]
    bad = _first_mismatch(got_all, want_all)
    if bad is None:
        return
    what, stats = STATS_CASES[bad]
    variants = {
        label: (lambda o=options: [_bleu(s, **{"smooth": smooth, **o}) for _w, s in STATS_CASES])
        for label, options in _bleu_variants(smooth).items()
    }
    label = _matching(got_all, variants)
    fail(
        f"bleu_from_stats({list(stats)}, smooth={smooth!r}) ({what}): "
        f"{_bleu_difference(got_all[bad], want_all[bad])}. sacrebleu's compute_bleu gives "
        f"{_bleu_text(want_all[bad])}.{_looks_like(label)}"
    )


PAPINENI = SENTENCE_CASES[2]
CORPORA: dict[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "one reference each, two outputs shorter than theirs": (
        (
            "the cat sat on the mat",
            "there is a cat on the mat",
            "the quick brown fox jumps over the lazy dog",
            "a man bites a dog",
        ),
        (
            ("the cat is sitting on the mat",),
            ("the cat is on the mat",),
            ("the quick brown fox jumped over the lazy dog",),
            ("a dog bites a man in the park today",),
        ),
    ),
    "several references per output (Papineni's examples)": (
        (PAPINENI[0], "the cat the cat on the mat", "It is to insure the troops forever hearing"),
        (
            PAPINENI[1],
            ("the cat is on the mat", "there is a cat on the mat"),
            (
                "It is a guide to action that ensures that the military will forever heed "
                "Party commands",
                "It is the practical guide for the army always to heed the directions of the party",
            ),
        ),
    ),
    "repeated words": (
        ("the the the the the the the", "on on the mat mat mat"),
        (("the cat is on the mat",), ("the cat is on the mat",)),
    ),
    "no word in common": (
        ("alpha beta gamma delta epsilon", "one two"),
        (("the cat sat on the mat",), ("a dog barked loudly",)),
    ),
    "short outputs (no 4-gram anywhere)": (
        ("the cat", "on mat", "a dog sat"),
        (("the cat sat",), ("on the mat",), ("a dog sat down",)),
    ),
    "no 3-gram or 4-gram match": (
        ("the cat on the sat mat", "dog the barked"),
        (("the cat sat on the mat",), ("the dog barked",)),
    ),
}


def _sentence_bleu_mean(hyps: Sequence[str], refs: Sequence[Sequence[str]], smooth: str) -> float:
    return float(
        np.mean([_bleu(_stats(h, r), smooth)["score"] for h, r in zip(hyps, refs, strict=True)])
    )


def _corpus_variants(smooth: str) -> dict[str, Callable[[], list]]:
    corpora = list(CORPORA.values())

    def summed(hyps: Sequence[str], refs: Sequence[Sequence[str]], **options: Any) -> list[int]:
        rows = [_stats(h, r, **options) for h, r in zip(hyps, refs, strict=True)]
        return [int(x) for x in np.sum(rows, axis=0)]

    def per_sentence_bp(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> dict[str, Any]:
        whole = _bleu(summed(hyps, refs), smooth)
        bps = [_bleu(_stats(h, r), smooth)["bp"] for h, r in zip(hyps, refs, strict=True)]
        bp = float(np.mean(bps))
        score = whole["score"] / whole["bp"] * bp if whole["bp"] > 0 else 0.0
        return {**whole, "bp": bp, "score": score}

    table: dict[str, Callable[[], list]] = {
        "the mean of the sentence BLEUs: corpus BLEU sums the statistics of all the sentences "
        "first and computes one BLEU from the sums": lambda: [
            {"score": _sentence_bleu_mean(h, r, smooth)} for h, r in corpora
        ],
        "a brevity penalty averaged over the sentences: the corpus BP compares the summed "
        "lengths": lambda: [per_sentence_bp(h, r) for h, r in corpora],
    }
    for label, options in STATS_VARIANTS.items():
        table[label] = lambda o=options: [_bleu(summed(h, r, **o), smooth) for h, r in corpora]
    for label, options in _bleu_variants(smooth).items():
        table[label] = lambda o=options: [
            _bleu(summed(h, r), **{"smooth": smooth, **o}) for h, r in corpora
        ]
    return table


@pytest.mark.task(2)
@pytest.mark.parametrize("smooth", ["exp", "none", "floor"])
def test_corpus_bleu(learner, learner_file, smooth):
    _own_code(learner_file)
    got_all, want_all = [], []
    for what, (hyps, refs) in CORPORA.items():
        call = f"corpus_bleu(<{what}>, smooth={smooth!r})"
        value = call_learner(
            call,
            learner.corpus_bleu,
            list(hyps),
            [list(r) for r in refs],
            smooth=smooth,
            errors=ERRORS,
        )
        got_all.append(_read_bleu(value, call))
        want_all.append(_as_dict(_sacrebleu(hyps, refs, smooth)))
    bad = _first_mismatch(got_all, want_all)
    if bad is None:
        return
    what = list(CORPORA)[bad]
    hyps, refs = CORPORA[what]
    label = _matching(got_all, _corpus_variants(smooth))
    fail(
        f"corpus_bleu(hypotheses, references, smooth={smooth!r}) on {len(hyps)} outputs with "
        f"{what}: {_bleu_difference(got_all[bad], want_all[bad])}. sacrebleu's corpus_bleu "
        f"(tokenize='none') gives {_bleu_text(want_all[bad])}. The outputs: {list(hyps)}; the "
        f"references: {[list(r) for r in refs]}.{_looks_like(label)}"
    )


# ----- task 3 -----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)


def _tokens(text: str, how: str = "rouge") -> list[str]:
    """rouge-score's tokenizer by default; the other settings are known mistakes."""
    if how == "rouge":
        return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()
    if how == "split":
        return text.split()
    if how == "lower-split":
        return text.lower().split()
    if how == "strip-punctuation":
        return "".join(ch for ch in text.lower() if ch not in string.punctuation).split()
    if how == "word-regex":
        return re.findall(r"\w+", text.lower())
    if how == "no-lower":
        return re.sub(r"[^a-zA-Z0-9]+", " ", text).split()
    if how == "lower-after":
        return re.sub(r"[^a-z0-9]+", " ", text).lower().split()
    raise ValueError(how)  # pragma: no cover


TOKENIZE_VARIANTS = {
    "a plain str.split(): rouge-score lowercases and turns every character other than a–z "
    "and 0–9 into a space first": "split",
    "the text lowercased and split on whitespace, with the punctuation left on the words "
    "(rouge-score turns every character other than a–z and 0–9 into a space)": "lower-split",
    "punctuation deleted instead of turned into spaces ('it's' became 'its'; rouge-score "
    "gives 'it', 's')": "strip-punctuation",
    "words found with \\w+, which keeps '_' and letters such as 'é' (rouge-score keeps only "
    "a–z and 0–9)": "word-regex",
    "the text not lowercased (rouge-score lowercases first)": "no-lower",
    "the characters other than a–z and 0–9 replaced BEFORE lowercasing, so capital letters "
    "became spaces ('The' → 'he'): lowercase first, then replace": "lower-after",
}


def _lcs(a: Sequence[Any], b: Sequence[Any]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def _substring(a: Sequence[Any], b: Sequence[Any]) -> int:
    best = 0
    for i in range(len(a)):
        for j in range(len(b)):
            k = 0
            while i + k < len(a) and j + k < len(b) and a[i + k] == b[j + k]:
                k += 1
            best = max(best, k)
    return best


def _prf(overlap: float, predicted: float, wanted: float, f: str = "harmonic"):
    p = overlap / predicted if predicted else 0.0
    r = overlap / wanted if wanted else 0.0
    if f == "arithmetic":
        return p, r, (p + r) / 2
    return p, r, (2 * p * r / (p + r) if p + r > 0 else 0.0)


def _rouge(
    prediction: str,
    reference: str,
    kind: str,
    *,
    tokens: str = "rouge",
    overlap: str = "counter",
    swap: bool = False,
    f: str = "harmonic",
    lcs: str = "tokens",
) -> tuple[float, float, float]:
    """rouge-score's ROUGE by default; every other setting is a known mistake."""
    pred, ref = _tokens(prediction, tokens), _tokens(reference, tokens)
    if kind == "rougeL":
        if lcs == "chars":
            if not prediction or not reference:
                return 0.0, 0.0, 0.0
            hit, pn, rn = _lcs(prediction, reference), len(prediction), len(reference)
        elif lcs == "chars-tokenized":
            a, b = " ".join(pred), " ".join(ref)
            if not a or not b:
                return 0.0, 0.0, 0.0
            hit, pn, rn = _lcs(a, b), len(a), len(b)
        else:
            if not pred or not ref:
                return 0.0, 0.0, 0.0
            length = _substring(pred, ref) if lcs == "substring" else _lcs(pred, ref)
            hit, pn, rn = length, len(pred), len(ref)
    else:
        n = int(kind[-1])
        pc, rc = _grams(pred, n), _grams(ref, n)
        if overlap == "set":
            hit = len(set(pc) & set(rc))
        else:
            hit = sum((pc & rc).values())
        pn, rn = sum(pc.values()), sum(rc.values())
    if swap:
        pn, rn = rn, pn
    return _prf(hit, pn, rn, f)


ROUGE_CASES: tuple[tuple[str, str], ...] = (
    ("police killed the gunman", "the gunman was killed by police"),
    ("The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog"),
    ("the the the the the the the", "the cat is on the mat"),
    ("a a a b", "a b b a a"),
    ("Hello, World! It's 2024...", "hello world it s 2024"),
    ("cat", "the cat sat on the mat near the old harbour wall"),
    ("the old harbour wall near the cat sat on the mat", "the cat"),
    ("completely different words", "nothing shared here"),
    ("", "the cat"),
    ("!!!", "cat"),
    ("Naïve café OWNERS opened_late", "naive cafe owners opened late"),
)


def _rouge_variants(kind: str) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {
        "precision and recall swapped: precision divides the overlap by the PREDICTION's "
        "count, recall by the REFERENCE's": {"swap": True},
        "an F-measure that is the arithmetic mean (P + R) / 2: F1 is the harmonic mean "
        "2PR / (P + R)": {"f": "arithmetic"},
    }
    if kind == "rougeL":
        table[
            "ROUGE-L from the LCS of the characters: it is the longest common subsequence of "
            "the WORDS (tokens), over the numbers of words"
        ] = {"lcs": "chars"}
        table[
            "ROUGE-L from the LCS of the characters of the tokenised texts: it is the longest "
            "common subsequence of the words"
        ] = {"lcs": "chars-tokenized"}
        table[
            "the longest common SUBSTRING (contiguous words) instead of the longest common "
            "subsequence (the words in order, gaps allowed)"
        ] = {"lcs": "substring"}
    else:
        table[
            "n-grams compared as sets (each distinct n-gram counted once): the overlap is the "
            "sum over n-grams of min(count in prediction, count in reference)"
        ] = {"overlap": "set"}
    for label, how in TOKENIZE_VARIANTS.items():
        table[f"tokens from {label}"] = {"tokens": how}
    return table


def _read_prf(value: Any, call: str) -> tuple[float, float, float]:
    if value is None:
        fail(f"{call} is None: did you forget to `return` (precision, recall, fmeasure)?")
    try:
        parts = tuple(float(x) for x in value)
    except (TypeError, ValueError):
        fail(f"{call} should be a tuple (precision, recall, fmeasure); got {type(value).__name__}")
    if len(parts) != 3:
        fail(
            f"{call} should be a tuple of 3 numbers (precision, recall, fmeasure); got {len(parts)}"
        )
    return parts  # type: ignore[return-value]


@pytest.mark.task(3)
def test_rouge_tokenize(learner, learner_file):
    _own_code(learner_file)
    from rouge_score import tokenize as rouge_tokenize

    texts = [p for pair in ROUGE_CASES for p in pair] + ["  Tabs\tand\nnew lines  ", "x-ray_42"]
    got_all = []
    for text in texts:
        value = call_learner(f"rouge_tokenize({_q(text)})", learner.rouge_tokenize, text)
        if value is None:
            fail(f"rouge_tokenize({_q(text)}) is None: did you forget to `return` the tokens?")
        got_all.append([str(t) for t in value] if isinstance(value, list | tuple) else value)
    want_all = [rouge_tokenize.tokenize(t, None) for t in texts]
    bad = _first_mismatch(got_all, want_all)
    if bad is None:
        return
    label = _matching(
        got_all,
        {k: (lambda h=h: [_tokens(t, h) for t in texts]) for k, h in TOKENIZE_VARIANTS.items()},
    )
    fail(
        f"rouge_tokenize({_q(texts[bad], 60)}) is {got_all[bad]!r}; rouge-score's tokenizer "
        f"gives {want_all[bad]!r}.{_looks_like(label)}"
    )


def _judge_rouge(learner: Any, kind: str, call_of: Callable[[str, str], tuple[str, Any]]) -> None:
    got_all = []
    for prediction, reference in ROUGE_CASES:
        call, value = call_of(prediction, reference)
        got_all.append(_read_prf(value, call))
    scorer = _scorer()
    want_all = []
    for prediction, reference in ROUGE_CASES:
        s = scorer.score(reference, prediction)[kind]  # rouge-score takes the reference first
        want_all.append((s.precision, s.recall, s.fmeasure))
    bad = _first_mismatch(got_all, want_all)
    if bad is None:
        return
    prediction, reference = ROUGE_CASES[bad]
    variants = {
        label: (lambda o=options: [_rouge(p, r, kind, **o) for p, r in ROUGE_CASES])
        for label, options in _rouge_variants(kind).items()
    }
    label = _matching(got_all, variants)
    g, w = got_all[bad], want_all[bad]
    fail(
        f"{call_of(prediction, reference)[0]} is (precision {fmt(g[0])}, recall {fmt(g[1])}, "
        f"fmeasure {fmt(g[2])}); rouge-score's {kind} gives (precision {fmt(w[0])}, recall "
        f"{fmt(w[1])}, fmeasure {fmt(w[2])}).{_looks_like(label)}"
    )


@pytest.mark.task(3)
@pytest.mark.parametrize("n", [1, 2])
def test_rouge_n(learner, learner_file, n):
    _own_code(learner_file)

    def call_of(prediction: str, reference: str) -> tuple[str, Any]:
        call = f"rouge_n({_q(prediction)}, {_q(reference)}, n={n})"
        return call, call_learner(call, learner.rouge_n, prediction, reference, n, errors=ERRORS)

    _judge_rouge(learner, f"rouge{n}", call_of)


LCS_CASES: tuple[tuple[tuple[str, ...], tuple[str, ...], int], ...] = (
    (("police", "killed", "the", "gunman"), ("the", "gunman", "was", "killed", "by", "police"), 2),
    (tuple("ABCBDAB"), tuple("BDCABA"), 4),
    (("a", "b", "c"), (), 0),
    (("x", "y", "z"), ("x", "y", "z"), 3),
    (("the", "cat", "the", "mat"), ("the", "mat", "the", "cat"), 2),
    (("w", "a", "x", "b", "y", "c"), ("a", "b", "c"), 3),
)


@pytest.mark.task(3)
def test_lcs_length(learner, learner_file):
    _own_code(learner_file)
    for a, b, want in LCS_CASES:
        call = f"lcs_length({list(a)}, {list(b)})"
        got = call_learner(call, learner.lcs_length, list(a), list(b), errors=ERRORS)
        if got is None:
            fail(f"{call} is None: did you forget to `return` the length?")
        if _same(got, want):
            continue
        clue = ""
        if _same(got, _substring(a, b)):
            clue = (
                ": that is the longest common SUBSTRING (contiguous). The longest common "
                "subsequence keeps the order but allows gaps: table[i][j] = table[i-1][j-1] + 1 "
                "when the words match, else max(table[i-1][j], table[i][j-1])"
            )
        elif _same(got, len(set(a) & set(b))):
            clue = ": that is the number of words the two share, ignoring their order"
        fail(f"{call} is {fmt(got)}; expected {want}{clue}")


@pytest.mark.task(3)
def test_rouge_l(learner, learner_file):
    _own_code(learner_file)

    def call_of(prediction: str, reference: str) -> tuple[str, Any]:
        call = f"rouge_l({_q(prediction)}, {_q(reference)})"
        return call, call_learner(call, learner.rouge_l, prediction, reference, errors=ERRORS)

    _judge_rouge(learner, "rougeL", call_of)


# ----- task 4 -----------------------------------------------------------------------------------
# The answer normalisation and scores of the official SQuAD v2.0 evaluation script
# (evaluate-v2.0.py: normalize_answer, get_tokens, compute_exact, compute_f1), restated.
def _squad_normalize(s: str) -> str:
    def remove_articles(text: str) -> str:
        return re.sub(re.compile(r"\b(a|an|the)\b", re.UNICODE), " ", text)

    def white_space_fix(text: str) -> str:
        return " ".join(text.split())

    def remove_punc(text: str) -> str:
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def _squad_tokens(s: str) -> list[str]:
    return _squad_normalize(s).split() if s else []


def _squad_exact(a_gold: str, a_pred: str) -> int:
    return int(_squad_normalize(a_gold) == _squad_normalize(a_pred))


def _squad_f1(a_gold: str, a_pred: str) -> float:
    gold_toks, pred_toks = _squad_tokens(a_gold), _squad_tokens(a_pred)
    common = Counter(gold_toks) & Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def _normalize(
    s: str,
    *,
    articles: str = "after",
    punctuation: str = "remove",
    lower: bool = True,
    spaces: bool = True,
) -> str:
    """The SQuAD normalisation by default; every other setting is a known mistake."""

    def drop_articles(text: str) -> str:
        pattern = {"substring": r"(a|an|the)", "substring-longest": r"(an|the|a)"}.get(
            articles, r"\b(a|an|the)\b"
        )
        return re.sub(pattern, " ", text)

    text = s
    if articles == "before-lower":
        text = drop_articles(text)
    if lower and articles != "punctuation-then-before-lower":
        text = text.lower()
    if articles == "before-punctuation":
        text = drop_articles(text)
    if punctuation == "remove":
        text = "".join(ch for ch in text if ch not in string.punctuation)
    elif punctuation == "space":
        text = "".join(" " if ch in string.punctuation else ch for ch in text)
    elif punctuation == "regex":
        text = re.sub(r"[^\w\s]", "", text)
    if articles in ("after", "substring", "substring-longest", "punctuation-then-before-lower"):
        text = drop_articles(text)
    if articles == "punctuation-then-before-lower":
        text = text.lower()
    return " ".join(text.split()) if spaces else text


ARTICLES_BEFORE_LOWER = "articles removed before lowercasing, so 'The' survives: lowercase first"
ARTICLES_INSIDE = (
    "articles removed inside words too ('theory' lost its 'the'): match whole words, "
    "r'\\b(a|an|the)\\b'"
)
NORMALIZE_VARIANTS: dict[Any, dict[str, Any]] = {
    "a normalisation that keeps the articles (drop the words a, an and the)": {"articles": "no"},
    "a normalisation that keeps the punctuation (delete every character of string.punctuation)": {
        "punctuation": "no"
    },
    ARTICLES_BEFORE_LOWER: {"articles": "before-lower"},
    (ARTICLES_BEFORE_LOWER, 1): {"articles": "punctuation-then-before-lower"},
    ARTICLES_INSIDE: {"articles": "substring"},
    (ARTICLES_INSIDE, 1): {"articles": "substring-longest"},
    "articles removed before the punctuation ('the-end' lost its 'the'): the script removes "
    "the punctuation first, then the articles": {"articles": "before-punctuation"},
    "punctuation replaced by spaces instead of deleted ('new york-based' should become 'new "
    "yorkbased')": {"punctuation": "space"},
    "punctuation removed with the regex [^\\w\\s], which keeps '_' (string.punctuation has it)": {
        "punctuation": "regex"
    },
    "a normalisation that does not lowercase": {"lower": False},
    "a normalisation that does not collapse the whitespace (' '.join(text.split()))": {
        "spaces": False
    },
}

NORMALIZE_CASES: tuple[str, ...] = (
    "The Eiffel Tower",
    "  eiffel   tower!\n",
    "an apple a day",
    "Theory of Everything",
    "the-end",
    "New York-based",
    "rock_n_roll",
    "Dr. Watson's notes, (1887)",
    "A",
    "",
)


@pytest.mark.task(4)
def test_normalize_answer(learner, learner_file):
    _own_code(learner_file)
    got_all = []
    for text in NORMALIZE_CASES:
        call = f"normalize_answer({_q(text)})"
        got = call_learner(call, learner.normalize_answer, text, errors=ERRORS)
        if got is None:
            fail(f"{call} is None: did you forget to `return` the normalised text?")
        got_all.append(got)
    want_all = [_squad_normalize(t) for t in NORMALIZE_CASES]
    bad = _first_mismatch(got_all, want_all)
    if bad is None:
        return
    label = _matching(
        got_all,
        {
            k: (lambda o=o: [_normalize(t, **o) for t in NORMALIZE_CASES])
            for k, o in NORMALIZE_VARIANTS.items()
        },
    )
    fail(
        f"normalize_answer({_q(NORMALIZE_CASES[bad])}) is {got_all[bad]!r}; the SQuAD script "
        f"gives {want_all[bad]!r} (lowercase, delete punctuation, drop the articles a/an/the, "
        f"collapse the whitespace).{_looks_like(label)}"
    )


QA_CASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("The Eiffel Tower", ("Eiffel Tower",)),
    ("eiffel tower!", ("The Eiffel Tower.",)),
    ("Paris, France", ("Paris",)),
    ("in 1876", ("1876", "in the year 1876")),
    ("Denver Broncos", ("Carolina Panthers", "The Denver Broncos")),
    ("cat cat dog", ("cat cat mouse",)),
    ("the the cat", ("a cat cat",)),
    ("theory of everything", ("the theory of everything",)),
    ("New York-based", ("new yorkbased",)),
    ("rock_n_roll", ("rocknroll",)),
    ("the-end", ("theend",)),
    ("The", ("an",)),
    ("no answer", ("",)),
    ("", ("",)),
    ("blue whale", ("whale shark", "blue", "the blue whale")),
)


def _qa_variants(kind: str) -> dict[str, Callable[[], list]]:
    def right_f1(pred: str, gold: str) -> float:
        return float(_squad_f1(gold, pred))

    def f1_with(
        pred: str,
        gold: str,
        *,
        multiset: bool | str = True,
        empty_one: bool = True,
        norm: Callable[[str], str] = _squad_normalize,
        ref_norm: Callable[[str], str] | None = None,
        measure: str = "f1",
    ) -> float:
        p, g = norm(pred).split(), (ref_norm or norm)(gold).split()
        if not p or not g:
            return float(p == g) if empty_one else 0.0
        same = sum((Counter(p) & Counter(g)).values()) if multiset is True else len(set(p) & set(g))
        if same == 0:
            return 0.0
        if multiset == "sets":  # the sets' sizes as the denominators too
            p, g = list(set(p)), list(set(g))
        precision, recall = same / len(p), same / len(g)
        if measure == "precision":
            return precision
        if measure == "recall":
            return recall
        return 2 * precision * recall / (precision + recall)

    def exact_with(
        pred: str,
        gold: str,
        norm: Callable[[str], str] = _squad_normalize,
        ref_norm: Callable[[str], str] | None = None,
    ) -> float:
        return float(norm(pred) == (ref_norm or norm)(gold))

    one = f1_with if kind == "f1" else exact_with
    base = right_f1 if kind == "f1" else (lambda p, g: float(_squad_exact(g, p)))
    table: dict[str, Callable[[], list]] = {
        "the score against the first reference only: take the best score over all the "
        "references": lambda: [base(p, refs[0]) for p, refs in QA_CASES],
        "the mean over the references instead of the best one (max)": lambda: [
            float(np.mean([base(p, r) for r in refs])) for p, refs in QA_CASES
        ],
        "the worst reference (min) instead of the best one (max)": lambda: [
            min(base(p, r) for r in refs) for p, refs in QA_CASES
        ],
        "texts compared without the SQuAD normalisation": lambda: [
            max(one(p, r, norm=lambda s: " ".join(s.split())) for r in refs) for p, refs in QA_CASES
        ],
        "the prediction normalised but not the references: normalise both sides": lambda: [
            max(
                (f1_with if kind == "f1" else exact_with)(
                    p, r, norm=_squad_normalize, ref_norm=lambda s: s
                )
                for r in refs
            )
            for p, refs in QA_CASES
        ],
        "texts only lowercased and stripped, not normalised (punctuation and articles kept)": (
            lambda: [
                max(one(p, r, norm=lambda s: " ".join(s.lower().split())) for r in refs)
                for p, refs in QA_CASES
            ]
        ),
    }
    for label, options in NORMALIZE_VARIANTS.items():
        table[label] = lambda o=options: [
            max(one(p, r, norm=lambda s, o=o: _normalize(s, **o)) for r in refs)
            for p, refs in QA_CASES
        ]
    if kind == "f1":
        table[
            "F1 from the SETS of tokens: the common tokens are a multiset, sum((Counter(pred) "
            "& Counter(gold)).values()), so a word shared twice counts twice"
        ] = lambda: [max(f1_with(p, r, multiset=False) for r in refs) for p, refs in QA_CASES]
        table[
            "F1 from the SETS of tokens (shared distinct tokens over the numbers of distinct "
            "tokens): the common tokens are a multiset, sum((Counter(pred) & "
            "Counter(gold)).values()), over len(pred) and len(gold), so a word shared twice "
            "counts twice"
        ] = lambda: [max(f1_with(p, r, multiset="sets") for r in refs) for p, refs in QA_CASES]
        table[
            "F1 0 when both answers normalise to nothing: the SQuAD v2.0 script gives 1 when "
            "both are empty, 0 when only one is"
        ] = lambda: [max(f1_with(p, r, empty_one=False) for r in refs) for p, refs in QA_CASES]
        table["the token precision instead of F1"] = lambda: [
            max(f1_with(p, r, measure="precision") for r in refs) for p, refs in QA_CASES
        ]
        table["the token recall instead of F1"] = lambda: [
            max(f1_with(p, r, measure="recall") for r in refs) for p, refs in QA_CASES
        ]
    return table


def _judge_qa(learner: Any, kind: str) -> None:
    func = learner.token_f1 if kind == "f1" else learner.exact_match
    name = "token_f1" if kind == "f1" else "exact_match"
    got_all = []
    for prediction, refs in QA_CASES:
        call = f"{name}({_q(prediction)}, {list(refs)})"
        value = call_learner(
            call,
            func,
            prediction,
            list(refs),
            errors=ERRORS,
            hint="When an answer normalises to no token at all, F1 is 1 if the other one does "
            "too and 0 otherwise: test for it before dividing",
        )
        if value is None:
            fail(f"{call} is None: did you forget to `return` the score?")
        try:
            got_all.append(float(value))
        except (TypeError, ValueError):
            fail(f"{call} should be a number; got {type(value).__name__}")
    if kind == "f1":
        want_all = [max(float(_squad_f1(r, p)) for r in refs) for p, refs in QA_CASES]
    else:
        want_all = [max(float(_squad_exact(r, p)) for r in refs) for p, refs in QA_CASES]
    bad = _first_mismatch(got_all, want_all)
    if bad is None:
        return
    prediction, refs = QA_CASES[bad]
    label = _matching(got_all, _qa_variants(kind))
    detail = ""
    if kind == "f1":
        best = max(refs, key=lambda r: _squad_f1(r, prediction))
        detail = (
            f" (against {best!r}: tokens {_squad_tokens(prediction)} and {_squad_tokens(best)})"
        )
    fail(
        f"{name}({_q(prediction)}, {list(refs)}) is {fmt(got_all[bad])}; the SQuAD script gives "
        f"{fmt(want_all[bad])}{detail}.{_looks_like(label)}"
    )


@pytest.mark.task(4)
def test_exact_match(learner, learner_file):
    _own_code(learner_file)
    _judge_qa(learner, "exact_match")


@pytest.mark.task(4)
def test_token_f1(learner, learner_file):
    _own_code(learner_file)
    _judge_qa(learner, "f1")


# ----- task 5 -----------------------------------------------------------------------------------
class _Recorder:
    """A statistic of the check's own: the mean of ``values`` over the indices it is given.

    It records every index array that bootstrap_ci hands it, and what it answered, so the check
    can see how the resamples were drawn and recompute the interval from the very same values.
    """

    def __init__(self, values: np.ndarray) -> None:
        self.values = np.asarray(values, dtype=np.float64)
        self.n = len(values)
        self.calls: list[np.ndarray] = []
        self.answers: list[float] = []
        self.problem: str | None = None

    def __call__(self, indices: Any) -> float:
        a = np.asarray(indices)
        if self.problem is None:
            if a.ndim != 1 or a.shape[0] != self.n:
                self.problem = (
                    f"bootstrap_ci called the statistic with an array of shape {a.shape}; "
                    f"expected one resample at a time: {self.n} item indices, shape ({self.n},)"
                )
            elif a.dtype.kind not in "iu":
                self.problem = (
                    f"bootstrap_ci called the statistic with an array of dtype {a.dtype}; "
                    "expected integer item indices (positions 0 … n − 1)"
                )
            elif self.n and (a.min() < 0 or a.max() >= self.n):
                self.problem = (
                    f"bootstrap_ci called the statistic with indices from {a.min()} to "
                    f"{a.max()}; the items are 0 … {self.n - 1}"
                )
        if self.problem is not None:
            return float("nan")
        value = float(self.values[a].mean())
        self.calls.append(a.copy())
        self.answers.append(value)
        return value

    def resamples(self) -> tuple[list[np.ndarray], np.ndarray]:
        """The resamples and their values, without a call on all the items in order (a point
        estimate the learner may compute through the statistic)."""
        whole = np.arange(self.n)
        keep = [i for i, c in enumerate(self.calls) if not np.array_equal(c, whole)]
        return [self.calls[i] for i in keep], np.array([self.answers[i] for i in keep])


def _skewed(n: int, seed: int) -> np.ndarray:
    """Per-item scores with a long right tail: percentile and normal intervals differ."""
    return np.random.default_rng(seed).lognormal(0.0, 1.2, size=n)


def _bootstrap(
    learner: Any, values: np.ndarray, *, n_resamples: int, confidence: float, seed: int
) -> tuple[_Recorder, tuple[float, float]]:
    recorder = _Recorder(values)
    call = (
        f"bootstrap_ci(statistic, n={len(values)}, n_resamples={n_resamples}, "
        f"confidence={confidence}, seed={seed})"
    )
    got, moved = global_draws(
        call_learner,
        call,
        learner.bootstrap_ci,
        recorder,
        len(values),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        errors=ERRORS,
    )
    if recorder.problem:
        fail(recorder.problem)
    if "numpy" in moved:
        fail(
            f"{call} changed NumPy's global random state (np.random.seed, np.random.randint, "
            "np.random.choice …): draw from a Generator of its own, "
            "rng = np.random.default_rng(seed), so that nothing else is disturbed"
        )
    if "random" in moved:
        fail(
            f"{call} changed the state of Python's `random` module: draw from a NumPy "
            "Generator of its own, rng = np.random.default_rng(seed)"
        )
    if got is None:
        fail(f"{call} is None: did you forget to `return` (low, high)?")
    try:
        low, high = (float(x) for x in got)
    except (TypeError, ValueError):
        fail(f"{call} should return a tuple (low, high) of two numbers; got {got!r}")
    return recorder, (low, high)


def _draw_problem(recorder: _Recorder, n_resamples: int) -> str | None:
    """What is wrong with the resamples bootstrap_ci drew, or None."""
    n = recorder.n
    calls, _values = recorder.resamples()
    extra = len(recorder.calls) - len(calls)
    if len(calls) != n_resamples or extra > 1:
        return (
            f"bootstrap_ci(statistic, n={n}, n_resamples={n_resamples}, …) called the "
            f"statistic {len(recorder.calls)} times; expected once per resample, "
            f"{n_resamples} times (one more call on all the items in order is allowed)"
        )
    stacked = np.stack(calls)
    if all(np.array_equal(np.sort(c), np.arange(n)) for c in calls):
        return (
            f"every one of the {n_resamples} resamples holds each of the {n} items exactly "
            "once: they were drawn WITHOUT replacement (a permutation), so every resample has "
            "the same mean and the interval shrinks to a point. A bootstrap resample draws n "
            "items WITH replacement: rng.integers(0, n, size=n)"
        )
    if len({c.tobytes() for c in calls}) == 1:
        return (
            f"all {n_resamples} resamples are the same draw: is the generator created again, "
            "with the same seed, for every resample? Create it once, before the loop"
        )
    if stacked.max() < n - 1:
        return (
            f"the last item (index {n - 1}) was never drawn in {n_resamples} resamples: "
            "rng.integers(0, n - 1) stops at n − 2 (the upper bound is exclusive) — draw with "
            "rng.integers(0, n)"
        )
    distinct = float(np.mean([len(np.unique(c)) for c in calls]))
    expected = n * (1 - (1 - 1 / n) ** n)
    if abs(distinct - expected) > 0.15 * n:
        return (
            f"a resample holds {distinct:.1f} distinct items on average; n = {n} draws with "
            f"replacement hold about {expected:.1f} (1 − 1/e of them): draw each of the n "
            "indices uniformly from 0 … n − 1, rng.integers(0, n, size=n)"
        )
    return None


PERCENTILE_METHODS = (
    "linear",
    "lower",
    "higher",
    "nearest",
    "midpoint",
    "inverted_cdf",
    "averaged_inverted_cdf",
    "closest_observation",
    "interpolated_inverted_cdf",
    "hazen",
    "weibull",
    "median_unbiased",
    "normal_unbiased",
)


def _percentile_range(values: np.ndarray, q: float) -> tuple[float, float]:
    found = [float(np.percentile(values, q, method=m)) for m in PERCENTILE_METHODS]
    return min(found), max(found)


def _interval_ok(got: tuple[float, float], values: np.ndarray, confidence: float) -> bool:
    alpha = 1 - confidence
    scale = max(1.0, float(np.abs(values).max()))
    for g, q in zip(got, (100 * alpha / 2, 100 * (1 - alpha / 2)), strict=True):
        lo, hi = _percentile_range(values, q)
        if not lo - 1e-9 * scale <= g <= hi + 1e-9 * scale:
            return False
    return True


def _interval_variants(values: np.ndarray, estimate: float, confidence: float):
    alpha = 1 - confidence
    z = NormalDist().inv_cdf(1 - alpha / 2)
    q_lo, q_hi = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    table = {
        f"a {100 * (1 - 2 * alpha):g} % interval, cut at α and 1 − α: each tail holds α / 2 "
        f"(the {100 * alpha / 2:g}th and {100 * (1 - alpha / 2):g}th percentiles)": (
            tuple(np.percentile(values, [100 * alpha, 100 * (1 - alpha)]))
        ),
        "percentiles given to np.percentile as fractions (it takes percents, 2.5 and 97.5; "
        "np.quantile takes fractions)": tuple(np.percentile(values, [alpha / 2, 1 - alpha / 2])),
        "a normal-approximation interval (mean ± z · standard deviation of the resampled "
        "values) instead of the percentile interval": (
            float(values.mean() - z * values.std()),
            float(values.mean() + z * values.std()),
        ),
        "a normal-approximation interval (mean ± z · sample standard deviation) instead of the "
        "percentile interval": (
            float(values.mean() - z * values.std(ddof=1)),
            float(values.mean() + z * values.std(ddof=1)),
        ),
        "a normal-approximation interval with z = 1.96 instead of the percentile interval": (
            float(values.mean() - 1.96 * values.std()),
            float(values.mean() + 1.96 * values.std()),
        ),
        "the 'basic' bootstrap interval (2 · estimate − the upper and lower percentiles) "
        "instead of the percentile interval": (2 * estimate - q_hi, 2 * estimate - q_lo),
        "the interval upside down, (high, low)": (q_hi, q_lo),
    }
    if not math.isclose(confidence, 0.95):
        table[f"a 95 % interval where confidence={confidence} was asked"] = tuple(
            np.percentile(values, [2.5, 97.5])
        )
    return table


@pytest.mark.task(5)
def test_bootstrap_resamples_with_replacement(learner, learner_file):
    forbid_calls(
        learner_file,
        ["bootstrap"],
        "task 5 asks you to draw the resamples yourself (the checks watch them)",
        modules=["scipy"],
    )
    recorder, _interval = _bootstrap(
        learner, _skewed(30, 1), n_resamples=500, confidence=0.95, seed=0
    )
    problem = _draw_problem(recorder, 500)
    if problem:
        fail(problem)


@pytest.mark.task(5)
@pytest.mark.parametrize(("confidence", "n_resamples"), [(0.95, 1000), (0.9, 400)])
def test_bootstrap_percentile_interval(learner, confidence, n_resamples):
    values = _skewed(25, 2)
    recorder, got = _bootstrap(
        learner, values, n_resamples=n_resamples, confidence=confidence, seed=1
    )
    problem = _draw_problem(recorder, n_resamples)
    if problem:
        fail(problem)
    _calls, answers = recorder.resamples()
    if _interval_ok(got, answers, confidence):
        return
    alpha = 1 - confidence
    want = tuple(np.percentile(answers, [100 * alpha / 2, 100 * (1 - alpha / 2)]))
    label = None
    for text, variant in _interval_variants(answers, float(values.mean()), confidence).items():
        if _same(got, variant):
            label = text
            break
    fail(
        f"bootstrap_ci(statistic, n=25, n_resamples={n_resamples}, confidence={confidence}) is "
        f"({fmt(got[0])}, {fmt(got[1])}); the {100 * alpha / 2:g}th and "
        f"{100 * (1 - alpha / 2):g}th percentiles of the {n_resamples} values the statistic "
        f"returned to your code are ({fmt(float(want[0]))}, {fmt(float(want[1]))})."
        f"{_looks_like(label)}"
    )


@pytest.mark.task(5)
def test_bootstrap_is_reproducible_and_seeded(learner):
    values = _skewed(20, 3)
    first, a = _bootstrap(learner, values, n_resamples=200, confidence=0.95, seed=3)
    again, b = _bootstrap(learner, values, n_resamples=200, confidence=0.95, seed=3)
    other, c = _bootstrap(learner, values, n_resamples=200, confidence=0.95, seed=4)
    for recorder in (first, again, other):
        problem = _draw_problem(recorder, 200)
        if problem:
            fail(problem)
    same_draws = len(first.calls) == len(again.calls) and all(
        np.array_equal(x, y) for x, y in zip(first.calls, again.calls, strict=False)
    )
    if not same_draws or a != b:
        fail(
            f"two calls of bootstrap_ci with seed=3 drew different resamples (intervals "
            f"({fmt(a[0])}, {fmt(a[1])}) and ({fmt(b[0])}, {fmt(b[1])})): create the generator "
            "from the seed inside bootstrap_ci, rng = np.random.default_rng(seed), so that the "
            "same seed gives the same interval"
        )
    if all(np.array_equal(x, y) for x, y in zip(first.calls, other.calls, strict=False)):
        fail(
            "bootstrap_ci drew the same resamples with seed=3 and seed=4: the seed argument is "
            "not used — rng = np.random.default_rng(seed)"
        )
    del c


@pytest.mark.task(5)
def test_bootstrap_contains_the_estimate(learner):
    rng = np.random.default_rng(5)
    f1 = np.clip(rng.beta(5, 2, size=40), 0, 1)  # per-item F1-like scores
    call = "bootstrap_ci(lambda idx: f1[idx].mean(), n=40, n_resamples=1000, seed=0)"
    got = call_learner(
        call,
        learner.bootstrap_ci,
        lambda idx: float(f1[np.asarray(idx)].mean()),
        40,
        n_resamples=1000,
        confidence=0.95,
        seed=0,
        errors=ERRORS,
    )
    if got is None:
        fail(f"{call} is None: did you forget to `return` (low, high)?")
    low, high = (float(x) for x in got)
    estimate = float(f1.mean())
    if not low < estimate < high:
        fail(
            f"{call} is ({fmt(low)}, {fmt(high)}), which does not hold the estimate on all the "
            f"items, {fmt(estimate)}: a percentile interval of the resampled means lies around "
            "the mean"
        )


# ----- tasks 6 and 7: synthetic runs --------------------------------------------------------------
WORDS = (
    "model answer report river city bridge storm market price school garden letter engine "
    "doctor window summer winter island forest road train museum village harbour castle "
    "library student teacher farmer painter dinner kitchen mountain valley station"
).split()
VERBS = "opened closed crossed painted visited repaired sold found watched described".split()
ADJECTIVES = "old new small quiet busy bright narrow famous local empty".split()
N_ITEMS = 40


@functools.lru_cache(maxsize=1)
def _reference_items() -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """Sentences (as words) and a rephrasing of each: the two references of an item."""
    rng = np.random.default_rng(11)

    def phrase() -> list[str]:
        words = [str(rng.choice(ADJECTIVES))] if rng.random() < 0.6 else []
        words.append(str(rng.choice(WORDS)))
        article = "the" if rng.random() < 0.7 else ("an" if words[0][0] in "aeiou" else "a")
        return [article, *words]

    items = []
    for _ in range(N_ITEMS):
        subject, verb, obj = phrase(), str(rng.choice(VERBS)), phrase()
        tail = ["near", *phrase()] if rng.random() < 0.5 else []
        items.append(
            (
                tuple([*subject, verb, *obj, *tail]),
                tuple([*obj, "was", verb, "by", *subject, *tail]),
            )
        )
    return tuple(items)


def _sentence(words: Sequence[str]) -> str:
    return " ".join(words).capitalize() + "."


@functools.lru_cache(maxsize=1)
def _references() -> tuple[tuple[str, ...], ...]:
    """Each item's two references, in a seeded order: the outputs are made from the active
    sentence, which comes first for some items and second for others."""
    first = np.random.default_rng(12).random(N_ITEMS) < 0.5
    return tuple(
        (_sentence(a), _sentence(b)) if keep else (_sentence(b), _sentence(a))
        for (a, b), keep in zip(_reference_items(), first, strict=True)
    )


def _made_up_system(seed: int, drop: Any, swap: Any) -> tuple[str, ...]:
    """A made-up system's outputs: the first reference with words dropped and swapped."""
    rng = np.random.default_rng(seed)
    outputs = []
    for i, (words, _other) in enumerate(_reference_items()):
        d = drop if np.isscalar(drop) else drop[i]
        s = swap if np.isscalar(swap) else swap[i]
        out = [w for w in words if rng.random() >= d] or list(words[:1])
        out = [str(rng.choice(WORDS)) if rng.random() < s else w for w in out]
        outputs.append(" ".join(out).lower() if rng.random() < 0.3 else _sentence(out))
    return tuple(outputs)


@functools.lru_cache(maxsize=1)
def _runs() -> dict[str, tuple[str, ...]]:
    # Items differ a lot in difficulty (no error, some, many): what pairing cancels.
    quality = np.random.default_rng(5).choice([0.0, 0.15, 0.5], size=N_ITEMS)
    baseline = _made_up_system(1, quality, quality / 2)
    extra = tuple(out[:-1] + " today." if out.endswith(".") else out + " today" for out in baseline)
    return {
        "baseline": baseline,
        "equal": tuple(baseline),
        "degraded": _made_up_system(2, 0.3, 0.2),
        "noisy": _made_up_system(11, quality, quality / 2),
        "noisy-up": _made_up_system(19, quality, quality / 2),
        "extra": extra,
        "improved": _made_up_system(3, quality / 4, quality / 8),
    }


def _item_reference(hypotheses: Sequence[str], references: Sequence[Sequence[str]]):
    """Per-item scores computed here: BLEU statistics, rouge-score's score_multi F, SQuAD."""
    scorer = _scorer()
    rows: dict[str, list[Any]] = {name: [] for name in METRICS}
    for hyp, refs in zip(hypotheses, references, strict=True):
        rows["bleu"].append(_stats(hyp, refs))
        best = scorer.score_multi(list(refs), hyp)
        for kind in ("rouge1", "rouge2", "rougeL"):
            rows[kind].append(best[kind].fmeasure)
        rows["exact_match"].append(max(float(_squad_exact(r, hyp)) for r in refs))
        rows["f1"].append(max(float(_squad_f1(r, hyp)) for r in refs))
    return {k: np.asarray(v, dtype=np.float64) for k, v in rows.items()}


@functools.lru_cache(maxsize=8)
def _items_of(run: str) -> dict[str, np.ndarray]:
    return _item_reference(_runs()[run], _references())


def _aggregate(metric: str, scores: np.ndarray) -> float:
    if metric == "bleu":
        return float(_bleu(np.asarray(scores).sum(axis=0), "exp")["score"])
    return 100.0 * float(np.mean(scores))


def _working_bootstrap(learner: Any, task: int) -> None:
    """Tasks 6 and 7 recompute intervals with the learner's bootstrap_ci: it must be right."""
    problem = _bootstrap_problem(learner)
    if problem:
        fail(
            f"task {task} takes its intervals from your bootstrap_ci, which does not pass task "
            f"5 yet: {problem}"
        )


@functools.lru_cache(maxsize=4)
def _bootstrap_problem(learner: Any) -> str | None:
    try:
        recorder, got = _bootstrap(learner, _skewed(15, 9), n_resamples=200, confidence=0.9, seed=2)
        problem = _draw_problem(recorder, 200)
        if problem is None and not _interval_ok(got, recorder.resamples()[1], 0.9):
            problem = "its interval is not the percentile interval of the resampled values"
    except AssertionError as exc:
        problem = str(exc)
    return problem


# ----- task 6 -----------------------------------------------------------------------------------
@pytest.mark.task(6)
def test_item_scores(learner, learner_file):
    _own_code(learner_file)
    hyps, refs = _runs()["baseline"], _references()
    call = f"item_scores(<{N_ITEMS} outputs>, <their references, two each>)"
    got = call_learner(
        call, learner.item_scores, list(hyps), [list(r) for r in refs], errors=ERRORS
    )
    if not isinstance(got, Mapping):
        fail(f"{call} should return a dict of per-item scores; got {type(got).__name__}")
    missing = [m for m in METRICS if m not in got]
    if missing:
        fail(f"the dict of {call} lacks the keys {missing}; expected {list(METRICS)}")
    want = _items_of("baseline")
    for metric in METRICS:
        values = np.asarray(got[metric], dtype=np.float64)
        shape = (N_ITEMS, 2 + 2 * MAX_ORDER) if metric == "bleu" else (N_ITEMS,)
        if values.shape != shape:
            fail(f"{call}[{metric!r}] has shape {values.shape}; expected {shape}")
        if np.allclose(values, want[metric], rtol=1e-9, atol=1e-12):
            continue
        row = int(np.argwhere(~np.isclose(values, want[metric], rtol=1e-9, atol=1e-12))[0][0])
        clue = ""
        if metric != "bleu":
            if np.allclose(values, 100 * want[metric]):
                clue = " It looks like percentages: per-item scores stay between 0 and 1"
            elif metric.startswith("rouge"):
                first = [
                    _scorer().score(r[0], h)[metric].fmeasure
                    for h, r in zip(hyps, refs, strict=True)
                ]
                mean = [
                    np.mean([_scorer().score(x, h)[metric].fmeasure for x in r])
                    for h, r in zip(hyps, refs, strict=True)
                ]
                recall_pick, best_p, best_r = [], [], []
                for h, r in zip(hyps, refs, strict=True):
                    scores = [_scorer().score(x, h)[metric] for x in r]
                    recall_pick.append(max(scores, key=lambda s: s.recall).fmeasure)
                    best_p.append(max(s.precision for s in scores))
                    best_r.append(max(s.recall for s in scores))
                if np.allclose(values, best_p):
                    clue = (
                        " It looks like the best PRECISION over the references: each item's "
                        "score is the best F-measure (the third value of the triple)"
                    )
                elif np.allclose(values, best_r):
                    clue = (
                        " It looks like the best RECALL over the references: each item's "
                        "score is the best F-measure (the third value of the triple)"
                    )
                elif np.allclose(values, first):
                    clue = " It looks like the first reference only: take the best F over them"
                elif np.allclose(values, mean):
                    clue = " It looks like the mean over the references: take the best F"
                elif np.allclose(values, recall_pick):
                    clue = (
                        " It looks like the reference with the best recall: pick the best "
                        "F-measure (what rouge-score's score_multi does)"
                    )
        elif np.array_equal(
            values, np.array([_stats(h, r[:1]) for h, r in zip(hyps, refs, strict=True)])
        ):
            clue = " It looks like the statistics against the first reference only"
        shown = values[row].tolist() if metric == "bleu" else fmt(float(values[row]))
        expected = (
            want[metric][row].astype(int).tolist()
            if metric == "bleu"
            else fmt(float(want[metric][row]))
        )
        source = {
            "bleu": "sentence_stats against both references",
            "exact_match": "the best exact match over the references (SQuAD)",
            "f1": "the best token F1 over the references (SQuAD)",
        }.get(metric, "rouge-score's score_multi: the best F-measure over the references")
        fail(
            f"{call}[{metric!r}][{row}] is {shown}; expected {expected}, {source}. The output: "
            f"{hyps[row]!r}; its references: {list(refs[row])}.{clue}"
        )


@pytest.mark.task(6)
def test_aggregate(learner):
    hyps, refs = _runs()["baseline"], _references()
    items = _items_of("baseline")
    picks = np.random.default_rng(4).integers(0, N_ITEMS, size=N_ITEMS)
    for metric in METRICS:
        for label, idx in (("all the items", np.arange(N_ITEMS)), ("a resample", picks)):
            rows = items[metric][idx]
            given = rows.astype(np.int64) if metric == "bleu" else rows.copy()
            call = f"aggregate({metric!r}, <the {metric} scores of {label}>)"
            got = call_learner(call, learner.aggregate, metric, given, errors=ERRORS)
            if metric == "bleu":
                subset = [hyps[i] for i in idx], [refs[i] for i in idx]
                want = float(_sacrebleu(*subset, "exp").score)
                variants = {
                    "the mean of the sentence BLEUs: corpus BLEU sums the rows of statistics "
                    "first and computes one BLEU from the sums (bleu_from_stats)": np.mean(
                        [_bleu(r, "exp")["score"] for r in rows]
                    ),
                    "BLEU between 0 and 1 (report it in points, 0 to 100, as sacrebleu does)": (
                        want / 100
                    ),
                }
            else:
                want = 100.0 * float(np.mean(rows))
                variants = {
                    "the mean between 0 and 1: aggregate reports points, 100 × the mean": want
                    / 100,
                    "the sum of the per-item scores instead of 100 × their mean": float(rows.sum()),
                    "100 × the median instead of 100 × the mean": 100 * float(np.median(rows)),
                }
            if got is None:
                fail(f"{call} is None: did you forget to `return` the value?")
            try:
                value = float(got)
            except (TypeError, ValueError):
                fail(f"{call} should be a number; got {type(got).__name__}")
            if _same(value, want):
                continue
            label_ = next((k for k, v in variants.items() if _same(value, v)), None)
            source = "sacrebleu's corpus BLEU of those items" if metric == "bleu" else "100 × mean"
            fail(f"{call} is {fmt(value)}; expected {fmt(want)} ({source}).{_looks_like(label_)}")


def _bootstrap_report(
    learner: Any, run: str, n_resamples: int, seed: int, confidence: float = 0.95
) -> dict[str, dict[str, float]]:
    hyps, refs = _runs()[run], _references()
    call = (
        f"evaluate(<{N_ITEMS} outputs>, <references>, n_resamples={n_resamples}, "
        f"confidence={confidence}, seed={seed})"
    )
    got = call_learner(
        call,
        learner.evaluate,
        list(hyps),
        [list(r) for r in refs],
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        errors=ERRORS,
    )
    if not isinstance(got, Mapping):
        fail(f"{call} should return a dict {{metric: {{'score', 'low', 'high'}}}}; got {got!r:.80}")
    out = {}
    for metric in METRICS:
        entry = got.get(metric)
        if not isinstance(entry, Mapping) or not all(k in entry for k in ("score", "low", "high")):
            fail(
                f"{call}[{metric!r}] should be a dict with the keys 'score', 'low' and 'high'; "
                f"got {entry!r:.80}"
            )
        try:
            out[metric] = {k: float(entry[k]) for k in ("score", "low", "high")}
        except (TypeError, ValueError):
            fail(f"{call}[{metric!r}] should hold numbers; got {entry!r:.80}")
    return out


@pytest.mark.task(6)
def test_evaluate_scores(learner):
    got = _bootstrap_report(learner, "baseline", 200, 0)
    hyps, refs = _runs()["baseline"], _references()
    items = _items_of("baseline")
    for metric in METRICS:
        if metric == "bleu":
            want = float(_sacrebleu(hyps, refs, "exp").score)
            source = "sacrebleu's corpus_bleu"
        else:
            want = 100 * float(items[metric].mean())
            source = (
                "100 × the mean of rouge-score's best F over the references"
                if metric.startswith("rouge")
                else "100 × the mean of the SQuAD per-item scores"
            )
        value = got[metric]["score"]
        if _same(value, want):
            continue
        clue = ""
        if _same(value, want / 100):
            clue = " It looks like a score between 0 and 1: evaluate reports points, 0 to 100."
        elif _same(value, (got[metric]["low"] + got[metric]["high"]) / 2):
            clue = (
                " It looks like the midpoint of the interval: the score is the metric on all "
                "the items (aggregate of every item's scores), not a summary of the resamples."
            )
        elif metric == "bleu" and _same(value, np.mean([_bleu(r)["score"] for r in items["bleu"]])):
            clue = (
                " It looks like the mean of the sentence BLEUs: corpus BLEU is one BLEU from the "
                "summed statistics"
            )
        fail(
            f"evaluate(...)[{metric!r}]['score'] is {fmt(value)}; expected {fmt(want)} "
            f"({source}).{clue}"
        )


@pytest.mark.task(6)
def test_evaluate_intervals(learner):
    _working_bootstrap(learner, 6)
    n_resamples, seed, confidence = 300, 7, 0.9
    got = _bootstrap_report(learner, "baseline", n_resamples, seed, confidence)
    items = _items_of("baseline")
    for metric in METRICS:
        scores = items[metric]
        entry = got[metric]

        def yours(seed_: int = seed, confidence_: float = confidence, s=scores, m=metric):
            """The learner's bootstrap_ci on this metric's aggregate of the resampled items."""
            value = call_learner(
                "bootstrap_ci",
                learner.bootstrap_ci,
                lambda idx: _aggregate(m, s[np.asarray(idx)]),
                N_ITEMS,
                n_resamples=n_resamples,
                confidence=confidence_,
                seed=seed_,
            )
            return tuple(float(x) for x in value)

        low, high = yours()
        if _same((entry["low"], entry["high"]), (low, high)):
            if not entry["low"] <= entry["score"] <= entry["high"]:
                fail(
                    f"evaluate(...)[{metric!r}]: the score {fmt(entry['score'])} lies outside "
                    f"its interval ({fmt(entry['low'])}, {fmt(entry['high'])})"
                )
            continue
        clue = ""
        mine = (entry["low"], entry["high"])
        if _same(mine, (low / 100, high / 100)):
            clue = " It looks like an interval between 0 and 1: report points, as the score."
        elif _same(mine, yours(confidence_=0.95)):
            clue = (
                f" It looks like a 95 % interval where confidence={confidence} was asked: pass "
                "evaluate's confidence on to bootstrap_ci."
            )
        elif _same(mine, yours(seed_=0)):
            clue = (
                f" It looks like the interval drawn with seed=0 where seed={seed} was asked: "
                "pass evaluate's seed on to bootstrap_ci."
            )
        elif metric == "bleu":
            sentence = call_learner(
                "bootstrap_ci",
                learner.bootstrap_ci,
                lambda idx: float(np.mean([_bleu(r)["score"] for r in scores[np.asarray(idx)]])),
                N_ITEMS,
                n_resamples=n_resamples,
                confidence=confidence,
                seed=seed,
            )
            if _same(mine, tuple(float(x) for x in sentence)):
                clue = (
                    " It looks like the interval of the mean sentence BLEU: each resample's "
                    "BLEU is one BLEU from the summed statistics of its items"
                )
        fail(
            f"evaluate(..., n_resamples={n_resamples}, confidence={confidence}, seed={seed})"
            f"[{metric!r}] has the interval ({fmt(entry['low'])}, {fmt(entry['high'])}); your "
            f"bootstrap_ci with the same settings, on the {metric} of each resample, gives "
            f"({fmt(low)}, {fmt(high)}). Take every "
            "metric's interval from bootstrap_ci(statistic, n, n_resamples=n_resamples, "
            f"confidence=confidence, seed=seed).{clue}"
        )


# ----- task 7 -----------------------------------------------------------------------------------
GATE_CASES: dict[str, dict[str, Any]] = {
    "equal": {
        "run": "equal",
        "metric": "f1",
        "tolerance": 1.0,
        "story": "the candidate's outputs are the baseline's, item for item",
    },
    "degraded": {
        "run": "degraded",
        "metric": "f1",
        "tolerance": 1.0,
        "story": "the candidate drops 30 % of the words and replaces a fifth of the rest",
    },
    "degraded-bleu": {
        "run": "degraded",
        "metric": "bleu",
        "tolerance": 1.0,
        "story": "the candidate drops 30 % of the words and replaces a fifth of the rest (judged "
        "on BLEU)",
    },
    "noisy": {
        "run": "noisy",
        "metric": "f1",
        "tolerance": 1.0,
        "story": "the candidate is as good as the baseline on average but errs on other items, "
        "so its point estimate came out a few points lower by chance",
    },
    "noisy-up": {
        "run": "noisy-up",
        "metric": "f1",
        "tolerance": 1.0,
        "story": "the candidate is as good as the baseline on average but errs on other items, "
        "so its point estimate came out a little higher by chance",
    },
    "extra-word": {
        "run": "extra",
        "metric": "f1",
        "tolerance": 1.0,
        "story": "the candidate appends one wrong word to every output: a small loss on every item",
    },
    "extra-word-tolerant": {
        "run": "extra",
        "metric": "f1",
        "tolerance": 10.0,
        "story": "the candidate appends one wrong word to every output, and the tolerance is 10 "
        "points",
    },
    "improved": {
        "run": "improved",
        "metric": "rougeL",
        "tolerance": 1.0,
        "story": "the candidate makes fewer errors than the baseline",
    },
}
GATE_RESAMPLES, GATE_SEED = 1000, 0


def _gate(learner: Any, case: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    base, cand, refs = _runs()["baseline"], _runs()[case["run"]], _references()
    call = (
        f"regression_gate(baseline, candidate, references, metric={case['metric']!r}, "
        f"tolerance={case['tolerance']})"
    )
    got = call_learner(
        call,
        learner.regression_gate,
        list(base),
        list(cand),
        [list(r) for r in refs],
        metric=case["metric"],
        tolerance=case["tolerance"],
        n_resamples=GATE_RESAMPLES,
        confidence=0.95,
        seed=GATE_SEED,
        errors=ERRORS,
    )
    if not isinstance(got, Mapping):
        fail(f"{call} should return a dict with passed, delta, low, high; got {got!r:.80}")
    missing = [k for k in ("passed", "delta", "low", "high") if k not in got]
    if missing:
        fail(f"the dict of {call} lacks the keys {missing}; it has {sorted(map(str, got))}")
    if not isinstance(got["passed"], bool | np.bool_):
        fail(f"{call}['passed'] should be True or False; got {got['passed']!r}")
    try:
        values = {k: float(got[k]) for k in ("delta", "low", "high")}
    except (TypeError, ValueError):
        fail(f"{call}: delta, low and high should be numbers")
    return call, {"passed": bool(got["passed"]), **values}


GATE_RULES: dict[str, Callable[[dict[str, Any], float], bool]] = {
    "a gate that compares the point estimates only (delta < −tolerance): a drop that the "
    "interval does not confirm is noise": lambda g, tol: g["delta"] >= -tol,
    "a gate that fails as soon as any part of the interval lies below −tolerance (low < "
    "−tolerance): the candidate fails only when the WHOLE interval is below it (high < "
    "−tolerance)": lambda g, tol: g["low"] >= -tol,
    "a gate that ignores the tolerance (high < 0): it fails only when the interval lies below "
    "−tolerance": lambda g, tol: g["high"] >= 0,
    "a gate with the verdict upside down (passed when the interval is below −tolerance)": (
        lambda g, tol: g["high"] < -tol
    ),
    "a gate that compares with +tolerance (high < tolerance): the threshold is −tolerance, "
    "a drop of more than the tolerance, so an equal run (interval (0, 0)) passes": (
        lambda g, tol: not g["high"] < tol
    ),
}


def _rule_label(learner: Any) -> str | None:
    """The wrong rule that gives the learner's verdicts, from their own numbers, on every case."""
    results = []
    for case in GATE_CASES.values():
        try:
            _call, got = _gate(learner, case)
        except CheckFailure:
            continue
        results.append((got, case["tolerance"]))
    for label, rule in GATE_RULES.items():
        if results and all(rule(g, tol) == g["passed"] for g, tol in results):
            return label
    return None


def _paired(learner: Any, metric: str, run: str, statistic: Callable | None = None):
    before, after = _items_of("baseline")[metric], _items_of(run)[metric]

    def delta(idx: Any) -> float:
        i = np.asarray(idx)
        return _aggregate(metric, after[i]) - _aggregate(metric, before[i])

    low, high = call_learner(
        "bootstrap_ci",
        learner.bootstrap_ci,
        statistic or delta,
        N_ITEMS,
        n_resamples=GATE_RESAMPLES,
        confidence=0.95,
        seed=GATE_SEED,
    )
    return float(low), float(high)


@pytest.mark.task(7)
@pytest.mark.parametrize("case_id", list(GATE_CASES))
def test_regression_gate(learner, learner_file, case_id):
    _own_code(learner_file)
    _working_bootstrap(learner, 7)
    case = GATE_CASES[case_id]
    metric, tolerance, run = case["metric"], case["tolerance"], case["run"]
    call, got = _gate(learner, case)
    before, after = _items_of("baseline")[metric], _items_of(run)[metric]
    delta = _aggregate(metric, after) - _aggregate(metric, before)
    low, high = _paired(learner, metric, run)
    passed = not high < -tolerance
    verdict = "passes" if passed else "fails"
    why = (
        f"the paired bootstrap interval of the delta, ({fmt(low)}, {fmt(high)}), lies entirely "
        f"below −tolerance = {fmt(-tolerance)}: evidence that the candidate is worse by more "
        "than the tolerance"
        if not passed
        else f"the paired bootstrap interval of the delta, ({fmt(low)}, {fmt(high)}), reaches "
        f"above −tolerance = {fmt(-tolerance)}: no evidence of a drop beyond the tolerance"
    )
    # the value of the delta first: a wrong delta explains a wrong verdict
    if not _same(got["delta"], delta):
        clue = ""
        if _same(got["delta"], -delta):
            clue = " It looks like baseline − candidate: the delta is candidate − baseline."
        elif _same(got["delta"], delta / 100):
            clue = " It looks like a delta between 0 and 1: it is in points, like aggregate."
        elif metric != "f1" and _same(
            got["delta"], 100 * (_items_of(run)["f1"].mean() - _items_of("baseline")["f1"].mean())
        ):
            clue = f" It looks like the F1 delta: the metric argument ({metric!r}) is not used."
        elif metric == "bleu" and _same(
            got["delta"],
            np.mean([_bleu(r)["score"] for r in after])
            - np.mean([_bleu(r)["score"] for r in before]),
        ):
            clue = (
                " It looks like the difference of the mean sentence BLEUs: each run's BLEU is "
                "aggregate('bleu', …), one BLEU from its summed statistics."
            )
        elif _same(got["delta"], (got["low"] + got["high"]) / 2) and not _same(
            got["low"], got["high"]
        ):
            clue = (
                " It looks like the midpoint of the interval: the delta is the difference of "
                "the two aggregates on all the items."
            )
        fail(
            f"{call}['delta'] is {fmt(got['delta'])}; expected {fmt(delta)}, the candidate's "
            f"{metric} minus the baseline's ({case['story']}).{clue}"
        )
    if not _same((got["low"], got["high"]), (low, high)):
        clue = ""
        mine = (got["low"], got["high"])
        cand = _paired(learner, metric, run, lambda i: _aggregate(metric, after[np.asarray(i)]))
        base = _paired(learner, metric, run, lambda i: _aggregate(metric, before[np.asarray(i)]))
        if _same(mine, (-high, -low)):
            clue = " It looks like the interval of baseline − candidate."
        elif _same(mine, cand):
            clue = " It looks like the candidate's own interval, not the interval of the delta."
        elif _same(mine, (cand[0] - base[1], cand[1] - base[0])):
            clue = (
                " It looks like the difference of the two runs' separate intervals (candidate "
                "low − baseline high, candidate high − baseline low): resample the items once "
                "and compute the delta on each resample."
            )
        elif high - low == 0 and got["high"] - got["low"] > 0:
            clue = (
                " The two runs are identical, so on the SAME items for both runs the delta is 0 "
                "in every resample and the paired interval is (0, 0): resample the items once "
                "per resample (one index array) and compute both runs on it."
            )
        elif got["high"] - got["low"] > 2 * (high - low):
            ratio = (got["high"] - got["low"]) / (high - low)
            clue = (
                f" Your interval is {ratio:.1f} times as wide as the paired interval: the paired "
                "bootstrap resamples the SAME items for both runs (one index array per "
                "resample), which cancels how hard each item is."
            )
        fail(
            f"{call} gives the interval ({fmt(got['low'])}, {fmt(got['high'])}) for the delta; "
            f"your bootstrap_ci (n_resamples={GATE_RESAMPLES}, seed={GATE_SEED}) on the delta "
            f"of each resample gives ({fmt(low)}, {fmt(high)}) ({case['story']}).{clue}"
        )
    if got["passed"] == passed:
        return
    label = _rule_label(learner)
    fail(
        f"{call}['passed'] is {got['passed']}; the gate {verdict} here: {case['story']}, the "
        f"delta is {fmt(delta)} and {why}.{_looks_like(label)}"
    )
