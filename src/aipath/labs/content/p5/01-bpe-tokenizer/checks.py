"""Checks for p5-bpe-tokenizer: training rule, encode/decode, specials, Hugging Face, bits/byte.

The checks carry their own BPE (trainer, encoder, bigram model), written independently of the
learner's file, and build the Hugging Face tokenizer they compare with themselves.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence

import pytest
import regex
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

from aipath.checks import (
    assert_close,
    assert_returned,
    assert_tuple,
    cached,
    call_learner,
    fail,
    fmt,
    matching_mistake,
    raised,
    text_corpus,
)

SPLIT = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
EOT, PAD = "<|endoftext|>", "<|pad|>"
UNICODE = "Café naïve — Ελληνικά, 日本語 and 🙂🚀! Zürich 100 °C"
TEXTS = [
    "The data set gives the annual numbers of 1,234 passengers (in thousands).",
    UNICODE,
    "it's   they'll\n\n  indented\tline 2024 -- end ",
    f"first document{EOT}second document{EOT}{PAD}{PAD}",
    f"glued{EOT}words<|endoftext|>  and{EOT}\n",
]


# ----- the checks' own tokenizer ------------------------------------------------------------------
def _pretokens(text: str, pretokenize: bool = True) -> list[str]:
    return SPLIT.findall(text) if pretokenize else ([text] if text else [])


def _split_special(text: str, specials: Sequence[str]) -> list[str]:
    if not specials:
        return [text] if text else []
    ordered = sorted(set(specials), key=len, reverse=True)
    pattern = "(" + "|".join(regex.escape(s) for s in ordered) + ")"
    return [p for p in regex.split(pattern, text) if p]


def _words(text: str, specials: Sequence[str] = (), *, strip=True, pretokenize=True, code=False):
    counts: Counter[tuple[int, ...]] = Counter()
    pieces = _split_special(text, specials) if strip else ([text] if text else [])
    for piece in pieces:
        if strip and piece in specials:
            continue
        for token in _pretokens(piece, pretokenize):
            counts[tuple(ord(ch) for ch in token) if code else tuple(token.encode())] += 1
    return dict(counts)


def _pairs(words, *, overlap=True, weighted=True, distinct=False):
    counts: Counter[tuple[int, int]] = Counter()
    for word, n in words.items():
        if distinct:  # each different pair once per word
            for pair in set(itertools.pairwise(word)):
                counts[pair] += n
            continue
        i = 0
        while i + 1 < len(word):
            pair = (word[i], word[i + 1])
            counts[pair] += n if weighted else 1
            i += 2 if (not overlap and word[i] == word[i + 1]) else 1
    return dict(counts)


def _merge(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _train(
    text,
    vocab_size,
    specials=(),
    *,
    tie="bytes",
    n_merges=None,
    strip=True,
    pretokenize=True,
    overlap=True,
    special_ids="after",
):
    """BPE as the README states it, and the known ways of getting it wrong (keyword options)."""
    if n_merges is None:
        n_merges = vocab_size - 256 - len(specials)
    vocab = {i: bytes([i]) for i in range(256)}
    words = _words(text, specials, strip=strip, pretokenize=pretokenize)
    merges = []
    for _ in range(max(n_merges, 0)):
        pairs = _pairs(words, overlap=overlap)
        if not pairs:
            break
        if tie == "bytes":
            best = max(pairs, key=lambda p: (pairs[p], vocab[p[0]], vocab[p[1]]))
        elif tie == "bytes-min":
            best = min(pairs, key=lambda p: (-pairs[p], vocab[p[0]], vocab[p[1]]))
        elif tie == "ids":
            best = max(pairs, key=lambda p: (pairs[p], p))
        elif tie == "concat":
            best = max(pairs, key=lambda p: (pairs[p], vocab[p[0]] + vocab[p[1]]))
        elif tie == "swapped":
            best = max(pairs, key=lambda p: (pairs[p], vocab[p[1]], vocab[p[0]]))
        else:  # the first pair met with the top count (dict order)
            best = max(pairs, key=pairs.__getitem__)
        new_id = 256 + len(merges)
        merges.append(best)
        vocab[new_id] = vocab[best[0]] + vocab[best[1]]
        words_next: dict = {}
        for word, n in words.items():
            key = tuple(_merge(word, best, new_id))
            words_next[key] = words_next.get(key, 0) + n
        words = words_next
    start = 256 + len(merges) if special_ids == "after" else vocab_size - len(specials)
    for i, token in enumerate(specials):
        vocab[start + i] = token.encode()
    return merges, vocab


def _encode(text, merges, specials=None, *, order="rank"):
    specials = dict(specials or {})
    ranks = {pair: k for k, pair in enumerate(merges)}
    cache: dict = {}
    out = []
    for piece in _split_special(text, list(specials)):
        if piece in specials:
            out.append(specials[piece])
            continue
        for token in _pretokens(piece):
            if order == "rank" and token in cache:
                out.extend(cache[token])
                continue
            ids = list(token.encode())
            if order == "rank":
                while len(ids) > 1:
                    pair = min(itertools.pairwise(ids), key=lambda p: ranks.get(p, math.inf))
                    if pair not in ranks:
                        break
                    ids = _merge(ids, pair, 256 + ranks[pair])
                cache[token] = ids
            elif order == "max-rank":
                while len(ids) > 1:
                    here = [p for p in itertools.pairwise(ids) if p in ranks]
                    if not here:
                        break
                    pair = max(here, key=ranks.__getitem__)
                    ids = _merge(ids, pair, 256 + ranks[pair])
            elif order == "frequency":
                while len(ids) > 1:
                    here = Counter(p for p in itertools.pairwise(ids) if p in ranks)
                    if not here:
                        break
                    pair = max(here, key=here.__getitem__)
                    ids = _merge(ids, pair, 256 + ranks[pair])
            elif order == "one-pass":
                for pair in {p: None for p in itertools.pairwise(ids) if p in ranks}:
                    ids = _merge(ids, pair, 256 + ranks[pair])
            out.extend(ids)
    return out


def _spell_table():
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    table = {b: chr(b) for b in printable}
    for extra, b in enumerate(b for b in range(256) if b not in table):
        table[b] = chr(256 + extra)
    return table


def _hf(merges, vocab, specials, *, prefix_space=False, use_regex=True, add_specials=True):
    """Hugging Face's BPE, built by the checks from a merge list."""
    table = _spell_table()

    def spell(token):
        return "".join(table[b] for b in token)

    special_ids = set(specials.values())
    hf_vocab = {spell(t): i for i, t in vocab.items() if i not in special_ids}
    hf_merges = [(spell(vocab[a]), spell(vocab[b])) for a, b in merges]
    tok = Tokenizer(models.BPE(vocab=hf_vocab, merges=hf_merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix_space, use_regex=use_regex)
    tok.decoder = decoders.ByteLevel()
    if add_specials:
        ordered = sorted(specials.items(), key=lambda item: item[1])
        tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s, _ in ordered])
    return tok


def _bigram_bits(
    train,
    test,
    vocab_size,
    alpha,
    *,
    base=2.0,
    contexts_all=False,
    v=None,
    contexts_tail=False,
    reversed_pairs=False,
    first_v=True,
):
    v = vocab_size if v is None else v
    uni, bi = Counter(train), Counter(itertools.pairwise(train))
    ctx = Counter(train) if contexts_all else Counter(train[1:] if contexts_tail else train[:-1])
    total = 0.0
    if test:
        total -= math.log(
            (uni[test[0]] + alpha) / (len(train) + alpha * (v if first_v else 1)), base
        )
    for a, b in itertools.pairwise(test):
        total -= math.log(
            (bi[(b, a) if reversed_pairs else (a, b)] + alpha) / (ctx[a] + alpha * v), base
        )
    return total


# ----- data --------------------------------------------------------------------------------------
@cached
def corpus() -> tuple[str, str, str]:
    """(training text with documents separated by <|endoftext|>, 20 KB training, 10 KB test)."""
    text = text_corpus(60_000)
    lines = text[:10_000].split("\n")[:-1]
    return EOT.join(lines) + EOT, text[:20_000], text[40_000:50_000]


@cached
def reference_tokenizer() -> tuple[list, dict, dict]:
    merges, vocab = _train_fast(corpus()[0], 402, (EOT, PAD))
    specials = {EOT: 256 + len(merges), PAD: 257 + len(merges)}
    return merges, vocab, specials


def _show(vocab, ids) -> str:
    return "[" + ", ".join(f"{i} {vocab[i]!r}" if i in vocab else str(i) for i in ids) + "]"


def _compare_ids(got, want, name, vocab, mistakes=None, hint=""):
    if not isinstance(got, list) or not all(isinstance(i, int) for i in got):
        fail(f"{name} should be a list of int ids; got {fmt(got)}")
    if got == want:
        return
    label = matching_mistake(got, mistakes, exact=True) if mistakes else None
    k = next(
        (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
        min(len(got), len(want)),
    )
    message = (
        f"{name} has {len(got)} ids, expected {len(want)}; first difference at position {k}: "
        f"{_show(vocab, got[k : k + 4])} where {_show(vocab, want[k : k + 4])} was expected"
    )
    if label:
        message = f"{name} looks like {label}. " + message
    fail(message + (f". {hint}" if hint else ""))


def _learner_train(learner, text, vocab_size, specials=()):
    name = f"train_bpe(text, {vocab_size}, {list(specials)})"
    out = call_learner(name, learner.train_bpe, text, vocab_size, list(specials))
    merges, vocab = assert_tuple(assert_returned(out, name), ("merges", "vocab"), name)
    if not isinstance(merges, list) or not all(
        isinstance(p, tuple) and len(p) == 2 and all(isinstance(i, int) for i in p) for p in merges
    ):
        fail(f"merges from {name} should be a list of (int, int) tuples; got {fmt(merges)[:200]}")
    if not isinstance(vocab, dict) or not all(
        isinstance(k, int) and isinstance(v, bytes) for k, v in vocab.items()
    ):
        fail(f"vocab from {name} should be a dict of int id -> bytes; got {fmt(vocab)[:200]}")
    return merges, vocab


def _why_not(got_pair, want_pair, k, words, merges, vocab):
    """Why merge ``k`` is ``want_pair``: the counts of both pairs after the first k merges."""
    for i, pair in enumerate(merges[:k]):
        words_next: dict = {}
        for word, n in words.items():
            key = tuple(_merge(word, pair, 256 + i))
            words_next[key] = words_next.get(key, 0) + n
        words = words_next
    counts = _pairs(words)
    mine, theirs = counts.get(tuple(got_pair), 0), counts[want_pair]
    if mine == 0:
        return (
            f"; {got_pair} does not occur in the words after the first {k} merges, so the "
            "count that chose it is not the current words' count: recount the pairs after each "
            "merge, or update them for every word the merge changed"
        )
    if mine < theirs:
        return (
            f"; after the first {k} merges {got_pair} occurs {mine} times and {want_pair} "
            f"{theirs} times: each step merges the pair that is most frequent in the current "
            "words (after a merge, the counts of the words it changed change too)"
        )
    spell = [(vocab.get(a), vocab.get(b)) for a, b in (got_pair, want_pair)]
    return (
        f"; both pairs occur {mine} times, a tie: the rule takes the pair whose bytes "
        f"(vocab[a], vocab[b]) compare largest as a tuple, and {spell[1]} > {spell[0]}"
    )


def _compare_merges(got, want, name, vocab_want, mistakes: Callable[[], dict], words=None):
    if got == want:
        return
    table = mistakes()
    label = matching_mistake(got, {k: v[0] for k, v in table.items()}, exact=True)
    if len(got) != len(want) and got[: len(want)] == want[: len(got)]:
        message = f"{name} learned {len(got)} merges; expected {len(want)} (the first ones agree)"
    else:
        k = next(i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b)
        spelled = "?"
        try:
            left = vocab_want.get(got[k][0], bytes([got[k][0]]) if got[k][0] < 256 else None)
            right = vocab_want.get(got[k][1], bytes([got[k][1]]) if got[k][1] < 256 else None)
            spelled = f"{left!r} + {right!r}"
        except (TypeError, ValueError):
            pass
        a, b = want[k]
        message = (
            f"{name}: merge {k} is {got[k]} ({spelled}); expected {want[k]} "
            f"({vocab_want[a]!r} + {vocab_want[b]!r}), the first {k} merges agree"
        )
        if words is not None and not label:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                message += _why_not(got[k], want[k], k, words, want, vocab_want)
    if label:
        message = f"{name} looks like {label}. " + message
    fail(message)


# ----- task 1 ------------------------------------------------------------------------------------
SPLIT_CASES = [
    ("a<|eot|>b<|eot|><|pad|>", ["<|eot|>", "<|pad|>"]),
    ("x<|user|>:hi<|user|>", ["<|user|>", "<|user|>:"]),
    ("<|eot|>only<|eot|>", ["<|eot|>"]),
    ("no specials here", []),
    ("", ["<|eot|>"]),
    ("costs [SEP] 3.5 a.b axb", ["[SEP]", "a.b"]),
]


@pytest.mark.task(1)
def test_split_special(learner):
    for text, specials in SPLIT_CASES:
        name = f"split_special({text!r}, {specials})"
        got = assert_returned(call_learner(name, learner.split_special, text, specials), name)
        want = _split_special(text, specials)
        if got == want:
            continue
        if not isinstance(got, list):
            fail(f"{name} should be a list of str; got {fmt(got)}")
        if "" in got:
            fail(f"{name} is {got}: drop the empty pieces (expected {want})")
        if "".join(got) != text:
            fail(f"{name} is {got}: joined, the pieces must give the text back (expected {want})")
        hint = ""
        if any(s.startswith(t) and s != t for s in specials for t in specials):
            hint = ": where two specials match at one place the longer one wins (sort by length)"
        elif any(regex.escape(s) != s for s in specials):
            hint = (
                ": a special token is a literal string; '[SEP]' or 'a.b' as a regex match other "
                "text (regex.escape each one)"
            )
        fail(f"{name} is {got}; expected {want}{hint}")


@pytest.mark.task(1)
def test_word_counts(learner):
    for text in (f"low lower{EOT} lowest  low Café café\nlow", f"low{EOT}er hi{EOT}{EOT}!"):
        _check_word_counts(learner, text)


def _check_word_counts(learner, text):
    name = f"word_counts({text!r}, [{EOT!r}])"
    got = assert_returned(call_learner(name, learner.word_counts, text, [EOT]), name)
    if not isinstance(got, dict):
        fail(f"{name} should be a dict; got {fmt(got)}")
    bad = [k for k in got if not (isinstance(k, tuple) and all(isinstance(i, int) for i in k))]
    if bad:
        kind = type(bad[0]).__name__
        fail(
            f"{name} has a key {bad[0]!r} of type {kind}; each key is a tuple of the pre-token's "
            "UTF-8 byte values, e.g. (108, 111, 119) for 'low' (tuple(token.encode('utf-8')))"
        )
    want = _words(text, [EOT])
    if got == want:
        return
    mistakes = {
        "the special tokens counted as text: cut them out first with split_special": _words(
            text, [EOT], strip=False
        ),
        "Unicode code points (ord) where UTF-8 bytes were asked: 'é' is the two bytes 195, 169": (
            _words(text, [EOT], code=True)
        ),
        "each piece taken whole, not pre-tokenised": _words(text, [EOT], pretokenize=False),
        "the pieces between the specials joined before pre-tokenising, so a pre-token spans "
        "a removed special: pretokenize each piece on its own": _words(
            "".join(p for p in _split_special(text, [EOT]) if p != EOT)
        ),
        "words from str.split(), which drops the spaces: use pretokenize": dict(
            Counter(
                tuple(w.encode())
                for p in _split_special(text, [EOT])
                if p != EOT
                for w in p.split()
            )
        ),
    }
    label = matching_mistake(got, mistakes, exact=True)
    diff = sorted(
        (bytes(k).decode(errors="replace"), got.get(k), want.get(k))
        for k in set(got) | set(want)
        if got.get(k) != want.get(k)
    )[:3]
    message = "; ".join(f"{w!r}: {g} (expected {e})" for w, g, e in diff)
    fail(
        (f"{name} looks like {label}. " if label else f"{name} differs: ")
        + message
        + " (None: missing)"
    )


@pytest.mark.task(1)
def test_pair_counts(learner):
    words = {(97, 97, 97): 1, (97, 98): 2, (97, 97, 97, 97): 3, (98,): 5, (98, 97): 1}
    before = dict(words)
    name = "pair_counts({(97, 97, 97): 1, (97, 98): 2, (97, 97, 97, 97): 3, (98,): 5, (98, 97): 1})"
    got = assert_returned(call_learner(name, learner.pair_counts, words), name)
    if words != before:
        fail(f"{name} changed its input: it must leave the words as they are")
    want = _pairs(words)
    if not isinstance(got, dict):
        fail(f"{name} should be a dict of (int, int) -> int; got {fmt(got)}")
    got = {k: v for k, v in got.items() if v}
    if got == want:
        return
    joined = {tuple(i for w, n in words.items() for _ in range(n) for i in w): 1}
    mistakes = {
        "runs counted without overlap: (97, 97, 97) holds the pair (97, 97) at two positions": (
            _pairs(words, overlap=False)
        ),
        "each word counted once, not times its count": _pairs(words, weighted=False),
        "each different pair counted once per word (a set): every position counts, "
        "(97, 97, 97, 97) holds (97, 97) three times": _pairs(words, distinct=True),
        "pairs across the end of one word and the start of the next (the words joined)": _pairs(
            joined
        ),
    }
    label = matching_mistake(got, mistakes, exact=True)
    fail((f"{name} looks like {label}. " if label else "") + f"{name} is {got}; expected {want}")


@pytest.mark.task(1)
def test_merge(learner):
    cases = [
        ([97, 97, 97, 97, 97], (97, 97), 256),
        ([97, 97, 97], (97, 97), 256),
        ((97, 98, 99, 97, 98), (97, 98), 300),
        ([120, 97, 98], (97, 98), 257),
        ([97, 98], (98, 97), 256),
        ([], (97, 98), 256),
        ([97], (97, 97), 256),
    ]
    for ids, pair, new_id in cases:
        original = list(ids)
        name = f"merge({list(ids)}, {pair}, {new_id})"
        got = assert_returned(call_learner(name, learner.merge, ids, pair, new_id), name)
        if list(ids) != original:
            fail(f"{name} changed its input list to {list(ids)}: return a new list")
        want = _merge(ids, pair, new_id)
        if got == want:
            continue
        if not isinstance(got, list):
            fail(f"{name} should be a list; got {fmt(got)}")
        reversed_merge = _merge(list(ids)[::-1], pair[::-1], new_id)[::-1]
        hint = ""
        if got == reversed_merge:
            hint = ": the scan went right to left; merge from the left"
        elif len(got) != len(want):
            hint = (
                ": scan left to right and step past both ids of a match; an id used by one merge "
                "cannot start the next"
            )
        fail(f"{name} is {got}; expected {want}{hint}")


# ----- task 2 ------------------------------------------------------------------------------------
@pytest.mark.task(2)
def test_train_small_example_and_ties(learner):
    for text, size, specials in (
        ("ab cd", 259, []),
        ("low lower lowest low", 262, ["<|eot|>"]),
        ("xy ab ab xy zz", 262, []),
    ):
        name = f"train_bpe({text!r}, {size}, {specials})"
        merges, vocab = _learner_train(learner, text, size, specials)
        _check_merge_ids(merges, vocab, name)
        want, want_vocab = _train(text, size, specials)
        _compare_merges(
            merges,
            want,
            name,
            want_vocab,
            lambda text=text, size=size, specials=specials: {
                "ties broken the wrong way: among equal counts take the pair whose "
                "(vocab[a], vocab[b]) bytes are the LARGEST": _train(
                    text, size, specials, tie="bytes-min"
                ),
                "ties broken by the first pair seen: among equal counts take the pair "
                "whose (vocab[a], vocab[b]) bytes are the largest": _train(
                    text, size, specials, tie="first"
                ),
                "ties broken by comparing the ids: compare the pairs' bytes "
                "(vocab[a], vocab[b]), not (a, b)": _train(text, size, specials, tie="ids"),
                **_tie_mistakes(text, size, specials),
            },
            words=_words(text, specials),
        )


@pytest.mark.task(2)
def test_train_on_the_corpus(learner):
    text = corpus()[0]
    want, want_vocab, _ = reference_tokenizer()
    merges, vocab = _learner_train(learner, text, 402, [EOT, PAD])
    crossing = [vocab[256 + k] for k in range(len(merges)) if 256 + k in vocab]
    crossing = [t for t in crossing if regex.search(rb"[A-Za-z] |[A-Za-z][.,;:(]|\n.", t)]
    if crossing:
        fail(
            f"train_bpe learned the token {crossing[0]!r}, which spans two pre-tokens "
            "(a letter followed by a space or punctuation never sits in one pre-token): count "
            "pairs inside each pre-token (word_counts), never across the whole text"
        )
    if any(EOT.encode()[:2] in vocab[256 + k] for k in range(len(merges)) if 256 + k in vocab):
        fail(
            "train_bpe learned a token from the special token's bytes (b'<|'): the specials are "
            "cut out of the training text (word_counts with the special tokens) and never merged"
        )
    _compare_merges(
        merges,
        want,
        "train_bpe(corpus, 402, ['<|endoftext|>', '<|pad|>'])",
        want_vocab,
        lambda: {
            "the special tokens counted in vocab_size's budget wrongly: vocab_size counts "
            "the 256 bytes, the merges AND the special tokens": _train(
                text, 402, [EOT, PAD], n_merges=402 - 256
            ),
            "one merge too many (vocab_size - 256 - len(specials) merges)": _train(
                text, 402, [EOT, PAD], n_merges=402 - 256 - 2 + 1
            ),
            "one merge too few (vocab_size - 256 - len(specials) merges)": _train(
                text, 402, [EOT, PAD], n_merges=402 - 256 - 2 - 1
            ),
            "ties broken the wrong way: among equal counts take the pair whose bytes are the "
            "LARGEST": _train(text, 402, [EOT, PAD], tie="bytes-min"),
            "ties broken by the first pair seen: among equal counts take the pair whose bytes "
            "are the largest": _train(text, 402, [EOT, PAD], tie="first"),
            "ties broken by comparing the ids: compare the pairs' bytes (vocab[a], vocab[b]), "
            "not (a, b)": _train(text, 402, [EOT, PAD], tie="ids"),
            "pairs in runs counted without overlap (every position counts)": _train(
                text, 402, [EOT, PAD], overlap=False
            ),
            "the special tokens trained on as text": _train(text, 402, [EOT, PAD], strip=False),
            **_tie_mistakes(text, 402, [EOT, PAD]),
        },
        words=_words(text, [EOT, PAD]),
    )
    for k, (a, b) in enumerate(merges):
        if vocab.get(256 + k) != vocab.get(a, b"?") + vocab.get(b, b"?"):
            fail(
                f"vocab[{256 + k}] is {vocab.get(256 + k)!r}; merge {k} is ({a}, {b}), so it "
                f"should be vocab[{a}] + vocab[{b}] = {want_vocab[a] + want_vocab[b]!r}"
            )
    if any(vocab.get(i) != bytes([i]) for i in range(256)):
        i = next(i for i in range(256) if vocab.get(i) != bytes([i]))
        fail(f"vocab[{i}] is {vocab.get(i)!r}; ids 0-255 are the single bytes ({bytes([i])!r})")
    _check_special_ids(vocab, len(merges), [EOT, PAD], 402)


def _tie_mistakes(text, size, specials):
    return {
        "ties broken on the joined bytes vocab[a] + vocab[b]: compare the tuple "
        "(vocab[a], vocab[b]), so (b'th', b'e') beats (b't', b'he')": _train(
            text, size, specials, tie="concat"
        ),
        "ties broken on (vocab[b], vocab[a]), the second token first: compare "
        "(vocab[a], vocab[b])": _train(text, size, specials, tie="swapped"),
    }


def _check_merge_ids(merges, vocab, name):
    """Merge k must be id 256 + k, with vocab[256 + k] == vocab[a] + vocab[b]."""
    for k, (a, b) in enumerate(merges):
        if a not in vocab or b not in vocab:
            fail(
                f"{name}: merge {k} is ({a}, {b}), but id {a if a not in vocab else b} is not in vocab"
            )
        joined = vocab[a] + vocab[b]
        if vocab.get(256 + k) == joined:
            continue
        sits = [i for i, t in vocab.items() if t == joined and i >= 256]
        fail(
            f"{name}: merge {k} ({a}, {b}) should create id {256 + k} = 256 + {k} with "
            f"vocab[{256 + k}] = {joined!r}; vocab[{256 + k}] is {vocab.get(256 + k)!r}"
            + (f" and {joined!r} sits at id {sits[0]}" if sits else "")
            + " (the first merge is id 256)"
        )


def _check_special_ids(vocab, n_merges, specials, vocab_size):
    for i, token in enumerate(specials):
        want_id = 256 + n_merges + i
        if vocab.get(want_id) != token.encode():
            where = [k for k, v in vocab.items() if v == token.encode()]
            fail(
                f"the special token {token!r} should have id {want_id} (256 + {n_merges} merges "
                f"+ {i}), right after the last merge; vocab[{want_id}] is "
                f"{vocab.get(want_id)!r} and the special sits at {where or 'no id'}"
            )
    if len(vocab) != 256 + n_merges + len(specials):
        extra = sorted(set(vocab) - set(range(256 + n_merges + len(specials))))
        fail(
            f"vocab has {len(vocab)} entries; expected 256 bytes + {n_merges} merges + "
            f"{len(specials)} specials = {256 + n_merges + len(specials)} (ids 0 to "
            f"{255 + n_merges + len(specials)}); extra ids: {extra[:5]}"
        )
    if len(vocab) > vocab_size:
        fail(f"vocab has {len(vocab)} entries, more than vocab_size={vocab_size}")


@pytest.mark.task(2)
def test_train_stops_when_no_pair_is_left_and_rejects_tiny_sizes(learner):
    text = EOT.join(["hi", "ab ab", "hi"])
    merges, vocab = _learner_train(learner, text, 300, [EOT])
    want, _ = _train(text, 300, [EOT])
    if merges != want:
        fail(
            f"train_bpe({text!r}, 300, [{EOT!r}]) learned {len(merges)} merges {merges[:6]}; "
            f"expected {want}: stop when no pair is left (every word is one token), and the "
            "special token is neither trained on nor split"
        )
    _check_special_ids(vocab, len(merges), [EOT], 300)
    error = raised(learner.train_bpe, "some text", 257, [EOT, PAD])
    if not isinstance(error, ValueError):
        fail(
            "train_bpe('some text', 257, ['<|endoftext|>', '<|pad|>']) should raise ValueError "
            "(257 ids cannot hold 256 bytes and 2 special tokens); "
            + ("it returned normally" if error is None else f"it raised {type(error).__name__}")
        )
    error = raised(learner.train_bpe, "some text", 258, [EOT, PAD])
    if error is not None:
        fail(
            "train_bpe('some text', 258, ['<|endoftext|>', '<|pad|>']) raised "
            f"{type(error).__name__}: 258 = 256 bytes + 2 specials leaves room for 0 merges, "
            "which is allowed (ValueError only when vocab_size < 256 + len(special_tokens)); "
            "expected ([], vocab with the specials at 256 and 257)"
        )
    merges, vocab = _learner_train(learner, "some text", 258, [EOT, PAD])
    if merges:
        fail(f"train_bpe('some text', 258, [EOT, PAD]) learned {len(merges)} merges; expected 0")
    _check_special_ids(vocab, 0, [EOT, PAD], 258)


# ----- task 3 ------------------------------------------------------------------------------------
def _learner_encode(learner, text, merges, specials=None):
    name = f"encode({text[:40]!r}{'…' if len(text) > 40 else ''}, merges, specials)"
    return name, assert_returned(call_learner(name, learner.encode, text, merges, specials), name)


@pytest.mark.task(3)
def test_encode_small_example(learner):
    merges, vocab = _train("low lower lowest low", 262, ["<|eot|>"])
    name, got = _learner_encode(learner, "lower<|eot|> low", merges, {"<|eot|>": 261})
    _compare_ids(got, [257, 101, 114, 261, 258], name, vocab)


@pytest.mark.task(3)
def test_encode_matches_hugging_face_on_learned_merges(learner):
    merges, vocab, specials = reference_tokenizer()
    hf = _hf(merges, vocab, specials)
    for text in [corpus()[2][:3000], *TEXTS]:
        want = hf.encode(text).ids
        name, got = _learner_encode(learner, text, merges, specials)
        _compare_ids(
            got,
            want,
            name + " (Hugging Face's BPE on the same merges)",
            vocab,
            mistakes=lambda text=text: {
                "merges chosen by their frequency in the text being encoded: apply them by "
                "rank (the lowest-ranked pair present first)": _encode(
                    text, merges, specials, order="frequency"
                ),
                "each merge tried once, in the order the pairs appear: repeat until no pair "
                "present is a merge, lowest rank first": _encode(
                    text, merges, specials, order="one-pass"
                ),
                "the special tokens encoded as text (split into bytes)": _encode(
                    text, merges, None
                ),
                "the present pair with the HIGHEST rank merged first: merge the one learned "
                "earliest (the lowest rank)": _encode(text, merges, specials, order="max-rank"),
            },
        )


CODE = "def f(x):\n    if x:\n        return 1\n    return  2\n" * 20 + "plain words here " * 10


@pytest.mark.task(3)
def test_encode_keeps_to_pre_tokens_in_indented_text(learner):
    merges, vocab = _train(CODE, 300)
    text = "def g(y):\n        if y:\n            return   3\n"
    want = _hf(merges, vocab, {}).encode(text).ids
    name, got = _learner_encode(learner, text, merges, None)

    def whole():
        ranks = {pair: k for k, pair in enumerate(merges)}
        ids = list(text.encode())
        while len(ids) > 1:
            pair = min(itertools.pairwise(ids), key=lambda p: ranks.get(p, math.inf))
            if pair not in ranks:
                break
            ids = _merge(ids, pair, 256 + ranks[pair])
        return ids

    _compare_ids(
        got,
        want,
        name + " (merges learned on indented code; Hugging Face's BPE)",
        vocab,
        mistakes={
            "the whole text merged as one sequence: pretokenize first and merge inside each "
            "pre-token (runs of spaces are where it shows)": whole
        },
    )


@pytest.mark.task(3)
def test_special_tokens_are_single_ids(learner):
    merges, vocab, specials = reference_tokenizer()
    for text in (EOT, f"{EOT}{PAD}{EOT}", f"word{EOT}word", f" {PAD} "):
        name, got = _learner_encode(learner, text, merges, specials)
        _compare_ids(
            got,
            _encode(text, merges, specials),
            name,
            vocab,
            hint=f"each special token is the one id {specials[EOT]} or {specials[PAD]}, never split",
        )
    moved = {EOT: 1000, PAD: 1001}
    text = f"a{PAD}b{EOT}"
    name, got = _learner_encode(learner, text, merges, moved)
    _compare_ids(
        got,
        _encode(text, merges, moved),
        name.replace("specials", str(moved)),
        {**vocab, 1000: EOT.encode(), 1001: PAD.encode()},
        hint="each special token is the id that special_tokens gives it (here 1000 and 1001)",
    )
    name, got = _learner_encode(learner, EOT, merges, None)
    _compare_ids(
        got,
        _encode(EOT, merges, None),
        name.replace("specials", "None"),
        vocab,
        hint="without special_tokens, '<|endoftext|>' is ordinary text",
    )


@pytest.mark.task(3)
def test_decode_joins_bytes_before_decoding(learner):
    merges, vocab, specials = reference_tokenizer()
    for text in TEXTS:
        ids = _encode(text, merges, specials)
        name = f"decode(encode({text[:30]!r}…), vocab)"
        got = assert_returned(call_learner(name, learner.decode, ids, vocab), name)
        if got == text:
            continue
        per_token = "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)
        if got == per_token:
            fail(
                f"{name} is {got!r}; expected {text!r}: each token was decoded on its own, so "
                "a character whose bytes fall in two tokens became U+FFFD; join all the bytes, "
                "then decode once"
            )
        fail(f"{name} is {fmt(got)}; expected {text!r}")
    bad = [0xE2, 0x82, ord("a"), 0xFF]
    error = raised(learner.decode, bad, vocab)
    if error is not None:
        fail(
            f"decode({bad}, vocab) raised {type(error).__name__}: bytes that are not valid UTF-8 "
            "become U+FFFD (errors='replace'), they do not stop the decoding"
        )
    got = learner.decode(bad, vocab)
    want = bytes(bad).decode("utf-8", errors="replace")
    if got != want:
        hint = ""
        if got == bytes(bad).decode("utf-8", errors="ignore"):
            hint = ": errors='ignore' drops them silently; use errors='replace'"
        fail(f"decode({bad}, vocab) is {got!r}; expected {want!r}{hint}")


@pytest.mark.task(3)
def test_round_trip_on_learned_merges(learner):
    merges, vocab = _learner_train(learner, corpus()[0], 402, [EOT, PAD])
    specials = {EOT: 256 + len(merges), PAD: 257 + len(merges)}
    for text in TEXTS:
        _name, ids = _learner_encode(learner, text, merges, specials)
        back = learner.decode(ids, vocab)
        if back != text:
            fail(f"decode(encode(text)) is {back!r}; expected the text back: {text!r}")


# ----- task 4 ------------------------------------------------------------------------------------
@pytest.mark.task(4)
def test_hugging_face_export(learner):
    merges, vocab, specials = reference_tokenizer()
    name = "to_hf_tokenizer(merges, vocab, specials)"
    tok = assert_returned(
        call_learner(name, learner.to_hf_tokenizer, merges, vocab, specials),
        name,
        what="the tokenizer",
        of=Tokenizer,
    )
    if tok.get_vocab_size() == len(vocab) - len(specials):
        fail(
            f"{name}.get_vocab_size() is {tok.get_vocab_size()}; expected {len(vocab)}: the "
            "special tokens were not added to the tokenizer (add_special_tokens)"
        )
    if tok.get_vocab_size() != len(vocab):
        fail(
            f"{name}.get_vocab_size() is {tok.get_vocab_size()}; expected {len(vocab)} "
            "(256 bytes, the merges and the 2 specials)"
        )
    spelling = _spelling_hint(tok, vocab, specials)
    for text in [corpus()[2][:2000], *TEXTS]:
        want = _encode(text, merges, specials)
        got = tok.encode(text).ids
        _compare_ids(
            got,
            want,
            f"{name}.encode({text[:30]!r}…).ids",
            vocab,
            mistakes=lambda text=text: {
                "a ByteLevel pre-tokenizer with add_prefix_space=True (the library's default), "
                "which puts a space before the text": _hf(
                    merges, vocab, specials, prefix_space=True
                )
                .encode(text)
                .ids,
                "ByteLevel without its GPT-2 regex (use_regex=False)": _hf(
                    merges, vocab, specials, use_regex=False
                )
                .encode(text)
                .ids,
                "the special tokens not added to the tokenizer (add_special_tokens)": _hf(
                    merges, vocab, specials, add_specials=False
                )
                .encode(text)
                .ids,
            },
            hint=spelling,
        )
        back = tok.decode(got, skip_special_tokens=False)
        if back != text:
            hint = ""
            if "Ġ" in back:
                hint = ": the bytes are still spelled as GPT-2 characters (Ġ is a space); set decoders.ByteLevel()"
            fail(
                f"{name}.decode(ids, skip_special_tokens=False) is {back!r}; expected {text!r}{hint}"
            )
    code_merges, code_vocab = _train(CODE, 300)
    code_tok = call_learner(name, learner.to_hf_tokenizer, code_merges, code_vocab, {})
    text = "def g(y):\n        if y:\n            return   3\n"
    _compare_ids(
        code_tok.encode(text).ids,
        _encode(text, code_merges),
        "to_hf_tokenizer(merges learned on indented code, vocab, {}).encode(indented code).ids",
        code_vocab,
        mistakes={
            "ByteLevel without its GPT-2 regex (use_regex=False), so the merges cross "
            "pre-tokens": lambda: _hf(code_merges, code_vocab, {}, use_regex=False).encode(text).ids
        },
    )
    added = tok.get_added_tokens_decoder()
    for token, i in specials.items():
        if i not in added or not added[i].special:
            fail(
                f"{name}: {token!r} (id {i}) is not a special token of the tokenizer "
                f"({'an ordinary added token' if i in added else 'not added'}); add the specials "
                "with add_special_tokens / AddedToken(..., special=True), so that "
                "decode(ids) can skip them"
            )
    n = len(code_vocab)
    roles = {"<|system|>": n + 2, "<|user|>": n, "<|assistant|>": n + 1}
    roles_vocab = {**code_vocab, **{i: s.encode() for s, i in roles.items()}}
    roles_tok = call_learner(name, learner.to_hf_tokenizer, code_merges, roles_vocab, roles)
    got_ids = {s: roles_tok.token_to_id(s) for s in roles}
    if got_ids != roles:
        fail(
            f"to_hf_tokenizer(merges, vocab, {roles}) gave the specials the ids {got_ids}: "
            "add_special_tokens gives each new token the next free id, so add them in id order "
            "(sorted by their id), not in the order of the dict or of their names"
        )


def _spelling_hint(tok, vocab, specials):
    """How the learner's tokenizer spells the first token whose spelling is not GPT-2's."""
    table = _spell_table()
    special_ids = set(specials.values())
    for i in sorted(vocab, key=lambda i: (i != 32, i)):  # the space first: 'Ġ'
        if i in special_ids:
            continue
        want = "".join(table[b] for b in vocab[i])
        got = tok.id_to_token(i)
        if got != want:
            return (
                f"id {i} ({vocab[i]!r}) is spelled {got!r} in the tokenizer's vocab, not "
                f"{want!r}: spell every byte with bytes_to_unicode() (a space is 'Ġ'), as "
                "ByteLevel does"
            )
    return ""


# ----- task 5 ------------------------------------------------------------------------------------
@pytest.mark.task(5)
def test_bigram_bits(learner, rng):
    cases = [([1, 2, 1, 2, 1], [1, 2], 3, 0.1)]
    train = [int(i) for i in rng.integers(0, 12, 400)]
    test = [int(i) for i in rng.integers(0, 12, 60)]
    cases += [(train, test, 16, 0.5), (train, [3], 16, 1.0), (train, [], 16, 0.1)]
    for train_ids, test_ids, v, alpha in cases:
        short = lambda ids: str(ids) if len(ids) < 8 else f"<{len(ids)} ids>"  # noqa: E731
        name = f"bigram_bits({short(train_ids)}, {short(test_ids)}, {v}, {alpha})"
        got = assert_returned(
            call_learner(name, learner.bigram_bits, train_ids, test_ids, v, alpha), name
        )
        assert_close(
            got,
            _bigram_bits(train_ids, test_ids, v, alpha),
            name=name,
            rtol=1e-9,
            atol=1e-12,
            mistakes={
                "nats (natural log) where bits (log2) were asked": _bigram_bits(
                    train_ids, test_ids, v, alpha, base=math.e
                ),
                "the context count taken over every train id (the last one has no successor)": (
                    _bigram_bits(train_ids, test_ids, v, alpha, contexts_all=True)
                ),
                "alpha * (number of ids seen in training) in the denominator, where the "
                "vocabulary size was asked": _bigram_bits(
                    train_ids, test_ids, v, alpha, v=len(set(train_ids))
                ),
                "the sum of log2 P (negative): bits are -log2 P": -_bigram_bits(
                    train_ids, test_ids, v, alpha
                ),
                "the first test id left out (it costs its add-alpha unigram probability)": (
                    _bigram_bits(train_ids, test_ids, v, alpha)
                    - _bigram_bits(train_ids, test_ids[:1], v, alpha)
                ),
                "the contexts counted over train_ids[1:] (every id with a predecessor), where "
                "train_ids[:-1] (every id with a successor) was asked": _bigram_bits(
                    train_ids, test_ids, v, alpha, contexts_tail=True
                ),
                "the pair looked up as (t, prev): count(prev, t) is how often t follows prev": (
                    _bigram_bits(train_ids, test_ids, v, alpha, reversed_pairs=True)
                ),
                "the first test id's denominator without V: (count(t) + alpha) / "
                "(len(train_ids) + alpha * V)": _bigram_bits(
                    train_ids, test_ids, v, alpha, first_v=False
                ),
            },
        )


@pytest.mark.task(5)
def test_bits_per_byte(learner):
    _, train, test = corpus()
    merges, _, _ = reference_tokenizer()
    test = test[:2000] + " " + UNICODE
    for m, alpha in ((merges, 0.1), ([], 0.1), (merges[:40], 0.5)):
        name = f"bits_per_byte(train, test, <{len(m)} merges>, alpha={alpha})"
        got = assert_returned(
            call_learner(name, learner.bits_per_byte, train, test, m, alpha), name
        )
        tr, te = _encode(train, m), _encode(test, m)
        bits = _bigram_bits(tr, te, 256 + len(m), alpha)
        n_bytes = len(test.encode())
        assert_close(
            got,
            bits / n_bytes,
            name=name,
            rtol=1e-9,
            mistakes={
                "bits per token (divided by the number of test ids), not per byte": bits / len(te),
                "bits per character (len(test_text)), not per UTF-8 byte": bits / len(test),
                "nats per byte (natural log), not bits": bits * math.log(2) / n_bytes,
                "the total bits, not divided by the number of bytes": bits,
                "the vocabulary size taken as the number of distinct training ids, not "
                "256 + len(merges)": _bigram_bits(tr, te, len(set(tr)), alpha) / n_bytes,
                **(
                    {
                        f"alpha=0.1 (the default), not the alpha={alpha} passed in: hand alpha "
                        "on to bigram_bits": _bigram_bits(tr, te, 256 + len(m), 0.1) / n_bytes
                    }
                    if alpha != 0.1
                    else {}
                ),
            },
        )


@pytest.mark.task(5)
def test_vocab_sweep_small_data(learner):
    _, train, test = corpus()
    sizes = [256, 320, 512, 768]
    name = "vocab_sweep(20 KB of text, 10 KB held out, [256, 320, 512, 768])"
    got = assert_returned(call_learner(name, learner.vocab_sweep, train, test, sizes), name)
    if not isinstance(got, dict) or sorted(got) != sizes:
        fail(f"{name} should be a dict with the keys {sizes}; got {fmt(got)}")
    merges, _ = _train_fast(train, max(sizes))
    want = {s: _bpb(train, test, merges[: s - 256]) for s in sizes}
    for s in sizes:
        assert_close(
            got[s],
            want[s],
            name=f"{name}[{s}]",
            rtol=1e-9,
            mistakes={
                f"the first {s} merges, not size - 256 = {s - 256}": lambda s=s: _bpb(
                    train, test, merges[:s]
                ),
            },
        )
    best = min(sizes, key=got.get)
    if not got[best] < got[256]:
        fail(f"{name} is {got}: every BPE size should beat bytes alone (256)")


def _bpb(train, test, merges):
    return _bigram_bits(
        _encode(train, merges), _encode(test, merges), 256 + len(merges), 0.1
    ) / len(test.encode())


@cached
def _train_fast(text: str, vocab_size: int, specials: tuple[str, ...] = ()) -> tuple[list, dict]:
    """The README's rule with pair counts kept up to date (the same merges as _train)."""
    vocab = {i: bytes([i]) for i in range(256)}
    counted = _words(text, specials)
    words, weights = [list(w) for w in counted], list(counted.values())
    pairs: Counter = Counter()
    holders: dict = {}
    for index, word in enumerate(words):
        for pair in itertools.pairwise(word):
            pairs[pair] += weights[index]
            holders.setdefault(pair, set()).add(index)
    merges: list = []
    while len(merges) < vocab_size - 256 - len(specials) and pairs:
        top = max(pairs.values())
        best = max(
            (p for p, n in pairs.items() if n == top), key=lambda p: (vocab[p[0]], vocab[p[1]])
        )
        new_id = 256 + len(merges)
        merges.append(best)
        vocab[new_id] = vocab[best[0]] + vocab[best[1]]
        for index in holders.pop(best):
            for pair in zip(words[index], words[index][1:], strict=False):
                pairs[pair] -= weights[index]
                if not pairs[pair]:
                    del pairs[pair]
            words[index] = _merge(words[index], best, new_id)
            for pair in zip(words[index], words[index][1:], strict=False):
                pairs[pair] += weights[index]
                holders.setdefault(pair, set()).add(index)
    for i, token in enumerate(specials):
        vocab[256 + len(merges) + i] = token.encode()
    return merges, vocab
