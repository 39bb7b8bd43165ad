"""Checks for p5-sequence-labelling: BIO tags and spans on hand-made and generated sentences,
word labels aligned to MiniLM's word pieces with the real tokenizer's ``word_ids()``, span-level
scores computed here (seqeval is not installed) with each plausible wrong score computed on the
same input, the loss on a tensor built here, predictions decoded from a head made here, and a
trained head scored on the test split (names never seen in training) against a word-lookup
baseline measured here.

The corpus comes from the lab's own ``corpus.py`` (the learner's copy may be edited). The
encoder is frozen, so the check scores the learner's head on the reference MiniLM's hidden
states; the learner's own functions get a copy of the model.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from aipath.checks import (
    CheckFailure,
    ForwardCalls,
    assert_beats,
    assert_close,
    assert_reaches,
    assert_tuple,
    assert_unchanged,
    call_learner,
    fail,
    fmt,
    learner_minilm,
    matching_mistake,
    minilm,
    once_per_run,
    seed_everything,
    to_numpy,
)

LAB_DIR = Path(__file__).resolve().parent


def _load_corpus() -> Any:
    name = "_p5_sequence_labelling_corpus"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, LAB_DIR / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


cp = _load_corpus()
IGNORE = cp.IGNORE
MAX_LENGTH = 32


def _same_list(got: Any, want: list[Any], name: str, mistakes: dict[str, Any]) -> None:
    """Exact comparison of a list, naming the first difference and a known mistake."""
    if got is None:
        fail(f"{name} is None: did you forget to `return` the result?")
    try:
        got = [tuple(x) if isinstance(x, list) else x for x in got]
    except TypeError:
        fail(f"{name} should be a list; got {type(got).__name__}")
    if got == want:
        return
    label = matching_mistake(got, mistakes, exact=True)
    if label is not None:
        fail(f"{name} is {fmt(got)}; expected {fmt(want)}. It looks like {label}")
    if len(got) != len(want):
        fail(f"{name} has {len(got)} items; expected {len(want)}: {fmt(want)} (got {fmt(got)})")
    i = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
    fail(f"{name}[{i}] is {fmt(got[i])}; expected {fmt(want[i])} (whole result {fmt(got)})")


# ----- references and the mistakes they are compared with ---------------------------------------
def _bio(
    n: int, spans: Sequence[tuple[int, int, str]], *, all_b: bool = False, inclusive: bool = False
) -> list[str]:
    tags = ["O"] * n
    for start, end, kind in spans:
        stop = min(end + 1, n) if inclusive else end
        for i in range(start, stop):
            tags[i] = f"B-{kind}" if i == start or all_b else f"I-{kind}"
    return tags


def _spans(
    tags: Sequence[str],
    *,
    stray: str = "start",
    check_type: bool = True,
    close_last: bool = True,
    inclusive: bool = False,
    b_continues: bool = False,
) -> list[tuple[int, int, str]]:
    """BIO → spans. stray: 'start' (seqeval's default), 'drop' (strict)."""
    spans = []
    start, kind = None, None
    for i, tag in enumerate([*tags, "O"] if close_last else list(tags)):
        prefix, _, tag_kind = tag.partition("-")
        continues = prefix == "I" and kind is not None and (kind == tag_kind or not check_type)
        continues = continues or (b_continues and prefix == "B" and kind == tag_kind)
        if start is not None and not continues:
            spans.append((start, i - 1 if inclusive else i, kind))
            start, kind = None, None
        if (prefix == "B" and not continues) or (
            prefix == "I" and not continues and stray == "start"
        ):
            start, kind = i, tag_kind
    return spans


def _aligned(
    word_ids,
    tags,
    *,
    all_pieces=False,
    keep_b=False,
    specials=IGNORE,
    continuation_ignored=True,
    zero_is_none=False,
    plus_one=False,
) -> list[int]:
    labels, previous = [], None
    for word in word_ids:
        if word is None or (zero_is_none and word == 0):
            labels.append(specials)
        elif word != previous:
            labels.append(cp.LABEL2ID[tags[word]])
        elif plus_one:
            labels.append(cp.LABEL2ID[tags[word]] + 1)
        elif all_pieces or not continuation_ignored:
            tag = tags[word] if keep_b else tags[word].replace("B-", "I-", 1)
            labels.append(cp.LABEL2ID[tag])
        else:
            labels.append(IGNORE)
        previous = word
    return labels


def _scores(true_spans: list[set], pred_spans: list[set]) -> dict[str, float]:
    t = sum(len(s) for s in true_spans)
    p = sum(len(s) for s in pred_spans)
    h = sum(len(a & b) for a, b in zip(true_spans, pred_spans, strict=True))
    return _prf(h, p, t)


def _prf(hits: float, predicted: float, true: float) -> dict[str, float]:
    precision = hits / predicted if predicted else 0.0
    recall = hits / true if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _score_mistakes(truth: list[list[str]], guess: list[list[str]]) -> dict[str, dict]:
    flat_t = [x for s in truth for x in s]
    flat_p = [x for s in guess for x in s]
    accuracy = sum(a == b for a, b in zip(flat_t, flat_p, strict=True)) / len(flat_t)
    non_o = sum(a == b != "O" for a, b in zip(flat_t, flat_p, strict=True))
    ts = [set(_spans(s)) for s in truth]
    ps = [set(_spans(s)) for s in guess]

    def overlap_hits() -> dict[str, float]:
        hits_p = sum(
            any(a[2] == b[2] and a[0] < b[1] and b[0] < a[1] for b in tset)
            for tset, pset in zip(ts, ps, strict=True)
            for a in pset
        )
        hits_t = sum(
            any(a[2] == b[2] and a[0] < b[1] and b[0] < a[1] for b in pset)
            for tset, pset in zip(ts, ps, strict=True)
            for a in tset
        )
        p = sum(len(s) for s in ps)
        t = sum(len(s) for s in ts)
        precision, recall = hits_p / p if p else 0.0, hits_t / t if t else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1}

    def macro() -> dict[str, float]:
        per = [
            _scores(
                [{x for x in s if x[2] == k} for s in ts], [{x for x in s if x[2] == k} for s in ps]
            )
            for k in cp.TYPES
        ]
        return {key: sum(d[key] for d in per) / len(per) for key in ("precision", "recall", "f1")}

    def per_sentence() -> dict[str, float]:
        per = [_scores([a], [b]) for a, b in zip(ts, ps, strict=True)]
        return {key: sum(d[key] for d in per) / len(per) for key in ("precision", "recall", "f1")}

    right = _scores(ts, ps)
    pooled_t, pooled_p = set().union(*ts), set().union(*ps)
    pooled = _prf(len(pooled_t & pooled_p), len(pooled_p), len(pooled_t))

    return {
        "precision and recall swapped: precision = hits / predicted entities, recall = hits / "
        "true entities": {
            "precision": right["recall"],
            "recall": right["precision"],
            "f1": right["f1"],
        },
        "F1 as the arithmetic mean (P + R) / 2: F1 is the harmonic mean 2PR / (P + R)": {
            **right,
            "f1": (right["precision"] + right["recall"]) / 2,
        },
        "the spans of every sentence pooled into one set, so the same (start, end, type) in two "
        "sentences counts once: compare each sentence's spans with its own (or key them by "
        "sentence)": pooled,
        "token-level accuracy (the share of words whose tag is right, O words included)": {
            "precision": accuracy,
            "recall": accuracy,
            "f1": accuracy,
        },
        "token-level scores (each non-O word a unit), not spans": _prf(
            non_o, sum(x != "O" for x in flat_p), sum(x != "O" for x in flat_t)
        ),
        "partial overlaps counted as hits (a span must match exactly: same start, end and type)": overlap_hits(),
        "spans matched on their boundaries alone, the type ignored": _scores(
            [{x[:2] for x in s} for s in ts], [{x[:2] for x in s} for s in ps]
        ),
        "a macro average over the entity types (average the counts over the corpus: micro)": macro(),
        "an average of per-sentence scores (count hits over the whole corpus: micro)": per_sentence(),
    }


def _tagged(sentences) -> tuple[list[list[str]], list[list[str]]]:
    return [list(w) for w, _ in sentences], [_bio(len(w), s) for w, s in sentences]


# ----- task 1 -----------------------------------------------------------------------------------
SPAN_CASES = [
    (6, [(0, 2, "PER"), (4, 5, "LOC")]),
    (5, [(2, 5, "DATE")]),
    (4, [(0, 1, "ORG"), (1, 3, "ORG")]),
    (3, []),
    (7, [(1, 4, "ORG"), (5, 7, "PER")]),
    (6, [(4, 6, "DATE"), (0, 2, "PER")]),  # spans need not come in order
]


@pytest.mark.task(1)
def test_spans_to_bio(learner):
    for n, spans in SPAN_CASES:
        name = f"spans_to_bio({n}, {spans})"
        passed = list(spans)
        got = call_learner(name, learner.spans_to_bio, n, passed)
        assert_unchanged(name, {"spans": passed}, {"spans": list(spans)})
        _same_list(
            got,
            _bio(n, spans),
            name,
            {
                "every word of an entity tagged B-: only the first word is B-, the rest I-": _bio(
                    n, spans, all_b=True
                ),
                "`end` read as inclusive: words[start:end] is the entity, so the word at `end` "
                "is outside it": lambda n=n, spans=spans: _bio(n, spans, inclusive=True),
            },
        )


BIO_CASES = [
    ["B-PER", "I-PER", "O", "B-LOC", "O"],
    ["O", "B-DATE", "I-DATE", "I-DATE"],
    ["B-ORG", "B-ORG", "I-ORG", "O"],
    ["O", "I-PER", "I-PER", "O", "B-LOC"],
    ["B-PER", "I-LOC", "O"],
    ["B-LOC", "I-LOC", "B-LOC"],
    ["O", "O"],
]


@pytest.mark.task(1)
def test_bio_to_spans(learner):
    for tags in BIO_CASES:
        name = f"bio_to_spans({tags})"
        passed = list(tags)
        got = call_learner(name, learner.bio_to_spans, passed)
        assert_unchanged(name, {"tags": passed}, {"tags": list(tags)})
        _same_list(
            got,
            _spans(tags),
            name,
            {
                "a stray I- (one that follows O or another type) dropped; this lab follows "
                "seqeval's default and conlleval: a stray I-X starts a new X entity": _spans(
                    tags, stray="drop"
                ),
                "an I- tag of another type (B-PER I-LOC) continuing the entity; a change of type "
                "ends it and starts a new one": _spans(tags, check_type=False),
                "the entity at the end of the sentence lost: close the open span after the last "
                "tag": _spans(tags, close_last=False),
                "`end` inclusive: spans are (start, end, type) with end exclusive, "
                "words[start:end]": _spans(tags, inclusive=True),
                "a B- right after an entity of the same type merged into it: a B- always "
                "starts a new entity (B-ORG B-ORG is two organisations)": _spans(
                    tags, b_continues=True
                ),
            },
        )


@pytest.mark.task(1)
def test_round_trip_on_the_corpus(learner):
    for i, (words, spans) in enumerate(cp.make_corpus(40, seed=5)):
        tags = call_learner("spans_to_bio(...)", learner.spans_to_bio, len(words), list(spans))
        back = call_learner("bio_to_spans(...)", learner.bio_to_spans, list(tags))
        _same_list(
            back,
            list(spans),
            f"bio_to_spans(spans_to_bio(...)) on sentence {i} {' '.join(words)!r}",
            {},
        )


# ----- task 2 -----------------------------------------------------------------------------------
ALIGN_WORDS = ["Chidinma", "Okonkwo", "joined", "Vodafone", "on", "3", "May", "2020", "."]
ALIGN_TAGS = ["B-PER", "I-PER", "O", "B-ORG", "O", "B-DATE", "I-DATE", "I-DATE", "O"]


def _word_ids(words: list[str]) -> list[int | None]:
    return minilm()[0](words, is_split_into_words=True).word_ids()


@pytest.mark.task(2)
def test_align_labels_first_piece(learner):
    word_ids = _word_ids(ALIGN_WORDS)
    name = f"align_labels(word_ids, word_tags) on {' '.join(ALIGN_WORDS)!r} (word_ids {word_ids})"
    got = call_learner(name, learner.align_labels, list(word_ids), list(ALIGN_TAGS))
    shifted = [IGNORE] + [cp.LABEL2ID[t] for t in ALIGN_TAGS]
    shifted = (shifted + [IGNORE] * len(word_ids))[: len(word_ids)]
    _same_list(
        got,
        _aligned(word_ids, ALIGN_TAGS),
        name,
        {
            "continuation pieces labelled too: by default only a word's first piece carries its "
            "label, the others get -100": lambda: _aligned(word_ids, ALIGN_TAGS, all_pieces=True),
            "continuation pieces labelled with the word's own tag (B- again)": lambda: _aligned(
                word_ids, ALIGN_TAGS, all_pieces=True, keep_b=True
            ),
            "[CLS] and [SEP] labelled 0 (O); special tokens (word id None) get -100": lambda: (
                _aligned(word_ids, ALIGN_TAGS, specials=0)
            ),
            "word 0's pieces labelled -100 like [CLS] and [SEP]: `if not word_id` is true for "
            "word id 0 too; test `word_id is None`": lambda: _aligned(
                word_ids, ALIGN_TAGS, zero_is_none=True
            ),
            "the word labels laid on the pieces one by one (an off-by-one from [CLS], and words "
            "split into several pieces ignored): use word_ids() to find each piece's word": shifted,
            "the special tokens dropped: the labels must line up with the input ids, one per "
            "token, [CLS] and [SEP] included": [
                x
                for x, w in zip(_aligned(word_ids, ALIGN_TAGS), word_ids, strict=True)
                if w is not None
            ],
        },
    )


@pytest.mark.task(2)
def test_align_labels_every_piece(learner):
    word_ids = _word_ids(ALIGN_WORDS)
    name = "align_labels(word_ids, word_tags, label_all_pieces=True)"
    got = call_learner(
        name, learner.align_labels, list(word_ids), list(ALIGN_TAGS), label_all_pieces=True
    )
    _same_list(
        got,
        _aligned(word_ids, ALIGN_TAGS, all_pieces=True),
        name,
        {
            "continuation pieces labelled B- again: a word's later pieces are inside the entity, "
            "so B-X becomes I-X on them": lambda: _aligned(
                word_ids, ALIGN_TAGS, all_pieces=True, keep_b=True
            ),
            "label_all_pieces ignored: with it, continuation pieces get the word's label (B- "
            "turned into I-)": lambda: _aligned(word_ids, ALIGN_TAGS),
            "[CLS] and [SEP] labelled 0 (O); special tokens get -100 in both modes": lambda: (
                _aligned(word_ids, ALIGN_TAGS, all_pieces=True, specials=0)
            ),
            "continuation pieces labelled LABEL2ID[tag] + 1 whatever the tag: only a B-X tag "
            "moves to I-X (its id + 1); the later pieces of an I-X word stay I-X (and of an O "
            "word, O)": lambda: _aligned(word_ids, ALIGN_TAGS, all_pieces=True, plus_one=True),
            "word 0's pieces labelled -100 like [CLS] and [SEP]: `if not word_id` is true for "
            "word id 0 too; test `word_id is None`": lambda: _aligned(
                word_ids, ALIGN_TAGS, all_pieces=True, zero_is_none=True
            ),
        },
    )


def _joined(sentences: list[Any]) -> tuple[list[str], list[tuple[int, int, str]]]:
    """Several sentences as one long one (longer than max_length=32 tokens)."""
    words: list[str] = []
    spans: list[tuple[int, int, str]] = []
    for sentence_words, sentence_spans in sentences:
        spans += [(a + len(words), b + len(words), kind) for a, b, kind in sentence_spans]
        words += sentence_words
    return words, spans


# the shortest sentence first: aligning every row with row 0's word ids then gives wrong labels
# (named below) rather than an IndexError
ENCODE_SENTENCES = [
    *sorted(cp.make_corpus(5, seed=11), key=lambda s: len(s[0])),
    _joined(cp.make_corpus(3, seed=12)),
]


@pytest.mark.task(2)
def test_encode_pads_and_aligns_a_batch(learner):
    words, tags = _tagged(ENCODE_SENTENCES)
    tokenizer = minilm()[0]
    batch = tokenizer(
        words,
        is_split_into_words=True,
        padding=True,
        truncation=True,
        max_length=MAX_LENGTH,
        return_tensors="pt",
    )
    got = call_learner(
        "encode(tokenizer, sentences, tags)",
        learner.encode,
        learner_minilm()[0],
        [list(w) for w in words],
        [list(t) for t in tags],
    )
    if got is None or "labels" not in got:
        fail(
            "encode(tokenizer, sentences, tags) should return a dict with input_ids, "
            "attention_mask and labels; got " + (repr(sorted(got)) if got else "None")
        )
    for key in ("input_ids", "attention_mask"):
        value = to_numpy(torch.as_tensor(got[key]))
        if value.shape != tuple(batch[key].shape) or (value != batch[key].numpy()).any():
            fail(
                f"encode(...)[{key!r}] differs from the tokenizer's own call on the words "
                "(is_split_into_words=True, padding=True, truncation=True, max_length=32): "
                f"shape {value.shape}, expected {tuple(batch[key].shape)}"
                + (
                    f": the batch was not cut at max_length={MAX_LENGTH} (pass truncation=True, "
                    "max_length=max_length to the tokenizer)"
                    if value.ndim == 2 and value.shape[1] > MAX_LENGTH
                    else ""
                )
            )
    labels_tensor = torch.as_tensor(got["labels"])
    if labels_tensor.dtype != torch.int64:
        fail(
            f"encode(...)['labels'] has dtype {labels_tensor.dtype}; expected torch.int64 "
            "(torch.long): cross-entropy takes its class indices as int64"
        )
    labels = to_numpy(labels_tensor).tolist()
    for i, sentence_tags in enumerate(tags):
        want = _aligned(batch.word_ids(i), sentence_tags)
        name = f"encode(...)['labels'][{i}] ({' '.join(words[i])!r})"
        pads_zero = [
            0 if m == 0 else x for x, m in zip(want, batch["attention_mask"][i], strict=True)
        ]
        _same_list(
            labels[i] if i < len(labels) else None,
            want,
            name,
            {
                "padding tokens labelled 0 (O): padding (word id None) gets -100 like [CLS] and "
                "[SEP], or the loss trains the head to say O on padding": pads_zero,
                "every row aligned with row 0's word ids: word_ids() without an index is the "
                "first row's; use batch.word_ids(i) for row i": lambda i=i, t=sentence_tags: (
                    _aligned(batch.word_ids(0), t)
                ),
            },
        )
    short = 16
    batch_short = tokenizer(
        words,
        is_split_into_words=True,
        padding=True,
        truncation=True,
        max_length=short,
        return_tensors="pt",
    )
    got_short = call_learner(
        f"encode(tokenizer, sentences, tags, max_length={short})",
        learner.encode,
        learner_minilm()[0],
        [list(w) for w in words],
        [list(t) for t in tags],
        max_length=short,
    )
    ids_short = to_numpy(torch.as_tensor(got_short["input_ids"]))
    if ids_short.shape != tuple(batch_short["input_ids"].shape):
        fail(
            f"encode(..., max_length={short})['input_ids'] has shape {ids_short.shape}; expected "
            f"{tuple(batch_short['input_ids'].shape)}"
            + (
                f": that is the max_length={MAX_LENGTH} batch, so the max_length argument never "
                "reached the tokenizer (pass max_length=max_length)"
                if ids_short.shape == tuple(batch["input_ids"].shape)
                else ""
            )
        )


# ----- task 3 -----------------------------------------------------------------------------------
def _corrupted(tags: list[list[str]], seed: int) -> list[list[str]]:
    """Predictions with the usual errors: wrong type, a span cut short or made longer, a
    missed entity, an invented one."""
    import random

    rng = random.Random(seed)
    out = []
    for sentence in tags:
        guess = list(sentence)
        spans = _spans(sentence)
        for start, end, _kind in spans:
            r = rng.random()
            if r < 0.15:
                kind = rng.choice(cp.TYPES)
                guess[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
            elif r < 0.25 and end - start > 1:
                guess[end - 1] = "O"
            elif r < 0.35 and end < len(guess) and guess[end] == "O":
                guess[end] = guess[start].replace("B-", "I-")
            elif r < 0.45:
                guess[start:end] = ["O"] * (end - start)
        if rng.random() < 0.2:
            i = rng.randrange(len(guess))
            if guess[i] == "O":
                guess[i] = f"B-{rng.choice(cp.TYPES)}"
        out.append(guess)
    return out


def _check_scores(learner, truth, guess, what: str) -> None:
    got = call_learner(
        f"span_scores({what})",
        learner.span_scores,
        [list(t) for t in truth],
        [list(g) for g in guess],
    )
    if not isinstance(got, dict) or not {"precision", "recall", "f1"} <= set(got):
        fail(f"span_scores(...) should return a dict with precision, recall and f1; got {got!r}")
    want = _scores([set(_spans(t)) for t in truth], [set(_spans(g)) for g in guess])
    mistakes = _score_mistakes(truth, guess)
    for key in ("precision", "recall", "f1"):
        assert_close(
            got[key],
            want[key],
            name=f"span_scores({what})[{key!r}]",
            rtol=1e-9,
            mistakes={label: value[key] for label, value in mistakes.items()},
        )


@pytest.mark.task(3)
def test_span_scores_on_corrupted_predictions(learner):
    _words, truth = _tagged(cp.make_corpus(80, seed=21, split="test"))
    _check_scores(learner, truth, _corrupted(truth, 3), "80 test sentences, corrupted guesses")


@pytest.mark.task(3)
def test_span_scores_edge_cases(learner):
    truth = [["B-PER", "I-PER", "O"], ["O", "B-LOC"]]
    _check_scores(learner, truth, [["O", "O", "O"], ["O", "O"]], "nothing predicted")
    _check_scores(learner, truth, [list(t) for t in truth], "perfect guesses")
    _check_scores(learner, truth, [["B-PER", "O", "O"], ["O", "B-LOC"]], "one span cut short")


# ----- task 4 -----------------------------------------------------------------------------------
@pytest.mark.task(4)
def test_token_loss_ignores_minus_100(learner):
    seed_everything(0)
    logits = torch.randn(3, 7, len(cp.LABELS))
    labels = torch.randint(len(cp.LABELS), (3, 7))
    labels[:, 0] = IGNORE
    labels[0, 4:] = IGNORE
    labels[2, 2] = IGNORE
    want = F.cross_entropy(logits.reshape(-1, 9), labels.reshape(-1), ignore_index=IGNORE)
    got = call_learner(
        "token_loss(logits (3, 7, 9), labels (3, 7) with -100s)",
        learner.token_loss,
        logits.clone(),
        labels.clone(),
        hint="Cross-entropy must skip the -100 labels: ignore_index=-100 (and flatten logits "
        "to (B·T, C), labels to (B·T,)).",
    )
    flat, flat_labels = logits.reshape(-1, 9), labels.reshape(-1)
    keep = flat_labels != IGNORE
    per_token = F.cross_entropy(flat, flat_labels.clamp(min=0), reduction="none")
    assert_close(
        float(got),
        float(want),
        name="token_loss(logits, labels)",
        rtol=1e-5,
        mistakes={
            "-100 replaced by 0: the ignored tokens counted as O": float(per_token.mean()),
            "the masked sum divided by every token, the ignored ones included": float(
                (per_token * keep).sum() / keep.numel()
            ),
            "a sum over the tokens, not a mean": float((per_token * keep).sum()),
            "softmax applied before cross_entropy: F.cross_entropy takes raw logits (it applies "
            "log_softmax itself)": float(
                F.cross_entropy(flat.softmax(-1), flat_labels, ignore_index=IGNORE)
            ),
            "logits flattened after transpose(0, 1) while labels were flattened as (B, T): the "
            "rows no longer pair each token's logits with its label; reshape logits (B, T, C) "
            "straight to (B·T, C)": float(
                F.cross_entropy(
                    logits.transpose(0, 1).reshape(-1, 9), flat_labels, ignore_index=IGNORE
                )
            ),
            "logits flattened after transpose(1, 2) (the (B, C, T) layout) while labels were "
            "flattened as (B, T): the rows mix classes and tokens; either pass the (B, C, T) "
            "tensor itself with labels (B, T), or reshape (B, T, C) straight to (B·T, C)": float(
                F.cross_entropy(
                    logits.transpose(1, 2).reshape(-1, 9), flat_labels, ignore_index=IGNORE
                )
            ),
        },
    )


# the last one is longer than max_length=32 tokens: its last words are cut off and tagged O
PREDICT_SENTENCES = [*cp.make_corpus(8, seed=31, split="test"), _joined(cp.make_corpus(3, seed=12))]


def _probe_head() -> nn.Linear:
    generator = torch.Generator().manual_seed(7)
    head = nn.Linear(384, len(cp.LABELS))
    with torch.no_grad():
        head.weight.copy_(torch.randn(head.weight.shape, generator=generator) * 0.2)
        head.bias.zero_()
    return head


def _reference_predictions(
    head: nn.Module,
    sentences: list[list[str]],
    *,
    piece: str = "first",
    max_length: int = MAX_LENGTH,
    cut_words_dropped: bool = False,
) -> list[list[str]]:
    tokenizer, model = minilm()
    batch = tokenizer(
        sentences,
        is_split_into_words=True,
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    head.eval()
    with torch.no_grad():
        states = model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).last_hidden_state
        predicted = head(states).argmax(dim=-1)
    out = []
    for i, words in enumerate(sentences):
        tags = ["O"] * len(words)
        ids = batch.word_ids(i)
        for position, word in enumerate(ids):
            if word is None:
                continue
            if piece == "first" and position > 0 and ids[position - 1] == word:
                continue
            tags[word] = cp.LABELS[int(predicted[i, position])]
        if piece == "shifted":
            tags = [cp.LABELS[int(predicted[i, j])] for j in range(len(words))[: len(ids)]]
            tags += ["O"] * (len(words) - len(tags))
        if cut_words_dropped:
            tags = tags[: 1 + max((w for w in ids if w is not None), default=-1)]
        out.append(tags)
    return out


@pytest.mark.task(4)
def test_predict_tags_reads_the_first_piece_in_eval_mode(learner):
    words = [list(w) for w, _ in PREDICT_SENTENCES]
    head = _probe_head()
    model = learner_minilm()[1]
    model.train()  # as a training loop leaves it: predict_tags must switch it to eval
    head.train()
    with ForwardCalls(model) as log:
        got = call_learner(
            "predict_tags(tokenizer, model, head, sentences)",
            learner.predict_tags,
            learner_minilm()[0],
            model,
            head,
            [list(w) for w in words],
        )
    model.eval()
    if not log.calls:
        fail("predict_tags() never ran the model it was given: run model(...) on the batch")
    if any(c.training for c in log.calls):
        fail(
            "predict_tags() ran the encoder in train mode: dropout was on, so the same sentence "
            "gets other tags on every call. Call model.eval() (and head.eval()) first"
        )
    if any(c.grad_enabled for c in log.calls):
        fail(
            "predict_tags() ran the encoder with autograd recording: wrap prediction in "
            "torch.no_grad() (or torch.inference_mode())"
        )
    if any(not c.mask for c in log.calls):
        fail(
            "predict_tags() ran the encoder without an attention_mask: in a padded batch every "
            "real token then attends to the [PAD] tokens too. Pass "
            "attention_mask=batch['attention_mask']"
        )
    if not isinstance(got, list) or len(got) != len(words):
        fail(
            f"predict_tags(...) should return one list of tags per sentence ({len(words)}); "
            f"got {type(got).__name__} of length {len(got) if hasattr(got, '__len__') else '?'}"
        )
    want = _reference_predictions(head, words)
    last = _reference_predictions(head, words, piece="last")
    shifted = _reference_predictions(head, words, piece="shifted")
    dropped = _reference_predictions(head, words, cut_words_dropped=True)
    for i, sentence in enumerate(words):
        _same_list(
            got[i],
            want[i],
            f"predict_tags(...)[{i}] ({' '.join(sentence)!r}, a random head made by the check)",
            {
                "the prediction of each word's last piece: a word's tag is read at its first "
                "piece, the one that carried the label in training": last[i],
                "the predictions read position by position, without word_ids() (an off-by-one "
                "from [CLS], and split words shift the rest)": shifted[i],
                f"the words cut off by truncation (past max_length={MAX_LENGTH} tokens) left out: "
                "return one tag per word, 'O' for each word the tokenizer cut off": dropped[i],
            },
        )
    short = 12
    got_short = call_learner(
        f"predict_tags(tokenizer, model, head, sentences, max_length={short})",
        learner.predict_tags,
        learner_minilm()[0],
        learner_minilm()[1],
        head,
        [list(w) for w in words],
        max_length=short,
    )
    model.eval()
    want_short = _reference_predictions(head, words, max_length=short)
    dropped_short = _reference_predictions(head, words, max_length=short, cut_words_dropped=True)
    for i, sentence in enumerate(words):
        _same_list(
            got_short[i] if isinstance(got_short, list) and i < len(got_short) else None,
            want_short[i],
            f"predict_tags(..., max_length={short})[{i}] ({' '.join(sentence)!r})",
            {
                f"the max_length argument ignored: these are the tags of the max_length="
                f"{MAX_LENGTH} encoding; pass max_length=max_length to the tokenizer": want[i],
                f"the words cut off by truncation (past max_length={short} tokens) left out: "
                "return one tag per word, 'O' for each word the tokenizer cut off": (
                    dropped_short[i]
                ),
            },
        )


TRAIN_N, TEST_N, STEPS = 200, 60, 150


@once_per_run
def _trained(learner) -> tuple[nn.Module, list[float], list[Any]]:
    words, tags = _tagged(cp.make_corpus(TRAIN_N, seed=1, split="train"))
    tokenizer, model = learner_minilm()
    model.train()  # as a training loop may leave it: train_head must switch it to eval
    with ForwardCalls(model) as log:
        result = call_learner(
            f"train_head(tokenizer, model, {TRAIN_N} sentences, tags, steps={STEPS})",
            learner.train_head,
            tokenizer,
            model,
            words,
            tags,
            steps=STEPS,
        )
    model.eval()
    model.zero_grad(set_to_none=True)
    head, losses = assert_tuple(result, ("head", "losses"), "train_head(...)")
    return head, [float(x) for x in losses], log.calls


def _lookup_baseline(train, test_words) -> list[list[str]]:
    counts: dict[str, Counter] = defaultdict(Counter)
    for words, tags in zip(*train, strict=True):
        for word, tag in zip(words, tags, strict=True):
            counts[word.lower()][tag] += 1
    return [
        [counts[w.lower()].most_common(1)[0][0] if w.lower() in counts else "O" for w in s]
        for s in test_words
    ]


@pytest.mark.task(4)
def test_training_loss_falls(learner):
    result, error = _trained(learner)
    if error is not None:
        raise error
    _head, losses, calls = result
    if any(c.training for c in calls):
        fail(
            "train_head() ran the frozen encoder in train mode: dropout was on while the "
            "hidden states were computed, so the head learns from noisier states than it will "
            "see at prediction time. Call model.eval() before computing them"
        )
    if any(c.grad_enabled for c in calls):
        fail(
            "train_head() ran the frozen encoder with autograd recording: that builds a graph "
            "through all six layers (time and memory) that training a head on fixed states "
            "never needs. Compute the hidden states once under torch.no_grad()"
        )
    if any(not c.mask for c in calls):
        fail(
            "train_head() ran the frozen encoder without an attention_mask: in the padded batch "
            "every real token then attends to the [PAD] tokens too, so the head learns from "
            "other states than it meets at prediction. Pass attention_mask=batch['attention_mask']"
        )
    if len(losses) != STEPS:
        fail(f"train_head(..., steps={STEPS}) returned {len(losses)} losses; expected one per step")
    if losses[0] < 1.0:
        fail(
            f"the first training loss is {losses[0]:.3f}; a fresh head over 9 labels starts "
            f"near ln 9 = {torch.log(torch.tensor(9.0)):.2f}. Record loss.item() of every step, "
            "from the first"
        )
    assert_reaches(
        losses, 0.3, name="training loss (token cross-entropy)", within=STEPS, unit="steps"
    )


@pytest.mark.task(4)
def test_train_head_uses_seed_and_lr(learner):
    words, tags = _tagged(cp.make_corpus(16, seed=41, split="train"))
    tokenizer, model = learner_minilm()

    def run(**options: Any) -> list[float]:
        torch.manual_seed(123)  # the same global RNG state before every call
        what = f"train_head(tokenizer, model, 16 sentences, tags, steps=2, batch_size=8, {options})"
        result = call_learner(
            what,
            learner.train_head,
            tokenizer,
            model,
            [list(w) for w in words],
            [list(t) for t in tags],
            steps=2,
            batch_size=8,
            **options,
        )
        _head, losses = assert_tuple(result, ("head", "losses"), "train_head(...)")
        if len(losses) != 2:
            fail(f"train_head(..., steps=2) returned {len(losses)} losses; expected 2")
        return [float(x) for x in losses]

    base = run(seed=0, lr=5e-3)
    other_seed = run(seed=1, lr=5e-3)
    model.eval()
    if base == other_seed:
        fail(
            f"train_head(..., seed=0) and train_head(..., seed=1) returned the same losses "
            f"{fmt([round(x, 4) for x in base])} (the global torch RNG reset to the same state "
            "before each call): the batches do not depend on `seed`. Draw each batch's rows "
            "with a torch.Generator seeded with `seed` (torch.Generator().manual_seed(seed), "
            "passed as generator=), not with a fixed seed or the global RNG"
        )
    other_lr = run(seed=0, lr=0.5)
    model.eval()
    if base[1:] == other_lr[1:]:
        fail(
            f"train_head(..., lr=0.005) and train_head(..., lr=0.5) returned the same losses "
            f"{fmt([round(x, 4) for x in base])}: the `lr` argument never reaches the optimizer "
            "(torch.optim.AdamW(head.parameters(), lr=lr))"
        )


@pytest.mark.task(4)
def test_head_beats_the_lookup_baseline_on_unseen_names(learner):
    result, error = _trained(learner)
    if error is not None:
        raise error
    head, _losses, _calls = result
    train = _tagged(cp.make_corpus(TRAIN_N, seed=1, split="train"))
    test_words, test_tags = _tagged(cp.make_corpus(TEST_N, seed=2, split="test"))
    try:
        predicted = _reference_predictions(head, test_words)
    except (RuntimeError, TypeError, ValueError) as exc:
        fail(
            f"the head returned by train_head() cannot score MiniLM's hidden states (B, T, 384) "
            f"→ (B, T, 9): {type(exc).__name__}: {str(exc)[:200]}"
        )
    f1 = _scores([set(_spans(t)) for t in test_tags], [set(_spans(p)) for p in predicted])["f1"]
    look = _lookup_baseline(train, test_words)
    base = _scores([set(_spans(t)) for t in test_tags], [set(_spans(p)) for p in look])["f1"]
    try:
        assert_beats(
            f1,
            base,
            margin=0.2,
            name=f"span F1 of your head on the {TEST_N} test sentences (unseen names)",
            baseline_name="tagging each word with its most frequent training tag",
        )
    except CheckFailure as failure:
        fail(
            f"{failure}. The head did not reach it within {STEPS} steps: check that it is "
            "trained on the aligned labels with -100 ignored, and that the encoder's states "
            "come from model(...).last_hidden_state"
        )
