# expect: not the current words' count
# mistake: incremental pair counts add the new word's pairs but never subtract the old word's pairs
"""Byte-level BPE from scratch: the file you edit.

Read README.md first. Conventions used throughout:

* A token is an int id. Ids 0-255 are the 256 single bytes (id ``b`` is ``bytes([b])``); merge
  number ``k`` (counted from 0) creates id ``256 + k``; the special tokens come after the last
  merge, in the order given.
* ``merges`` is a list of id pairs in the order they were learned: ``merges[k] == (a, b)`` means
  "the pair a, b becomes id 256 + k". Its position ``k`` is the merge's *rank*.
* ``vocab`` maps every id to its bytes (a special token to its UTF-8 bytes).
* Text is cut into pre-tokens with GPT-2's pattern (``pretokenize``, below, already written);
  no merge ever crosses from one pre-token into the next.

Standard library, ``regex`` and ``tokenizers`` only: the checks compare your tokenizer with
Hugging Face's and your bits per byte with their own.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import regex
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

# GPT-2's pre-tokeniser: contractions, runs of letters, runs of digits, runs of other symbols
# (each may take one leading space), and whitespace. `regex` (not `re`) knows \p{L} and \p{N}.
GPT2_SPLIT = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)

Pair = tuple[int, int]
Word = tuple[int, ...]


def pretokenize(text: str) -> list[str]:
    """The pre-tokens of ``text``, in order; joined, they give ``text`` back.

    >>> pretokenize("It's 2024: héllo  world!")
    ['It', "'s", ' 2024', ':', ' héllo', ' ', ' world', '!']
    """
    return GPT2_SPLIT.findall(text)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table from each byte to a printable character (how Hugging Face spells bytes).

    >>> table = bytes_to_unicode()
    >>> table[ord("a")], table[ord(" ")], table[0xC3]
    ('a', 'Ġ', 'Ã')
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


# ----- task 1 -----------------------------------------------------------------------------------
def split_special(text: str, special_tokens: Iterable[str] = ()) -> list[str]:
    specials = sorted(set(special_tokens), key=len, reverse=True)
    if not specials:
        return [text] if text else []
    pattern = "(" + "|".join(regex.escape(s) for s in specials) + ")"
    return [p for p in regex.split(pattern, text) if p]


def word_counts(text: str, special_tokens: Iterable[str] = ()) -> dict[Word, int]:
    specials = set(special_tokens)
    counts: dict[Word, int] = {}
    for piece in split_special(text, specials):
        if piece in specials:
            continue
        for tok in pretokenize(piece):
            key = tuple(tok.encode("utf-8"))
            counts[key] = counts.get(key, 0) + 1
    return counts


def pair_counts(words: Mapping[Word, int]) -> dict[Pair, int]:
    out: dict[Pair, int] = {}
    for word, c in words.items():
        for i in range(len(word) - 1):
            p = (word[i], word[i + 1])
            out[p] = out.get(p, 0) + c
    return out


def merge(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    out = []
    i = 0
    n = len(ids)
    while i < n:
        if i + 1 < n and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


# ----- task 2 -----------------------------------------------------------------------------------
def train_bpe(
    text: str, vocab_size: int, special_tokens: Sequence[str] = ()
) -> tuple[list[Pair], dict[int, bytes]]:
    special_tokens = list(special_tokens)
    n_merges = vocab_size - 256 - len(special_tokens)
    if n_merges < 0:
        raise ValueError("vocab_size too small")
    vocab = {i: bytes([i]) for i in range(256)}
    words = {w: c for w, c in word_counts(text, special_tokens).items()}
    pairs = pair_counts(words)
    merges: list[Pair] = []
    for k in range(n_merges):
        if not pairs:
            break
        best = max(pairs, key=lambda p: (pairs[p], vocab[p[0]], vocab[p[1]]))
        new_id = 256 + k
        merges.append(best)
        vocab[new_id] = vocab[best[0]] + vocab[best[1]]
        new_words: dict[Word, int] = {}
        for w, c in words.items():
            nw = tuple(merge(w, best, new_id))
            if nw != w:
                for p in itertools.pairwise(nw):
                    if new_id in p:
                        pairs[p] = pairs.get(p, 0) + c
            new_words[nw] = new_words.get(nw, 0) + c
        del pairs[best]
        words = new_words
    for i, s in enumerate(special_tokens):
        vocab[256 + len(merges) + i] = s.encode("utf-8")
    return merges, vocab


# ----- task 3 -----------------------------------------------------------------------------------
def _encode_word(ids: list[int], ranks: dict[Pair, int]) -> list[int]:
    while len(ids) >= 2:
        best = min(itertools.pairwise(ids), key=lambda p: ranks.get(p, math.inf))
        if best not in ranks:
            break
        ids = merge(ids, best, 256 + ranks[best])
    return ids


def encode(
    text: str, merges: Sequence[Pair], special_tokens: Mapping[str, int] | None = None
) -> list[int]:
    ranks = {p: k for k, p in enumerate(merges)}
    specials = dict(special_tokens or {})
    out: list[int] = []
    for piece in split_special(text, specials):
        if piece in specials:
            out.append(specials[piece])
            continue
        for tok in pretokenize(piece):
            out.extend(_encode_word(list(tok.encode("utf-8")), ranks))
    return out


def decode(ids: Iterable[int], vocab: Mapping[int, bytes]) -> str:
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


# ----- task 4 -----------------------------------------------------------------------------------
def to_hf_tokenizer(
    merges: Sequence[Pair], vocab: Mapping[int, bytes], special_tokens: Mapping[str, int]
) -> Tokenizer:
    table = bytes_to_unicode()

    def spell(b: bytes) -> str:
        return "".join(table[x] for x in b)

    special_ids = set(special_tokens.values())
    hf_vocab = {spell(v): i for i, v in vocab.items() if i not in special_ids}
    hf_merges = [(spell(vocab[a]), spell(vocab[b])) for a, b in merges]
    tok = Tokenizer(models.BPE(vocab=hf_vocab, merges=hf_merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(
        [
            AddedToken(s, special=True, normalized=False)
            for s, _ in sorted(special_tokens.items(), key=lambda kv: kv[1])
        ]
    )
    return tok


# ----- task 5 -----------------------------------------------------------------------------------
def bigram_bits(
    train_ids: Sequence[int], test_ids: Sequence[int], vocab_size: int, alpha: float = 0.1
) -> float:
    train_ids = list(train_ids)
    test_ids = list(test_ids)
    uni = Counter(train_ids)
    ctx = Counter(train_ids[:-1])
    bi = Counter(itertools.pairwise(train_ids))
    V = vocab_size
    total = 0.0
    if not test_ids:
        return 0.0
    p = (uni[test_ids[0]] + alpha) / (len(train_ids) + alpha * V)
    total -= math.log2(p)
    for a, b in itertools.pairwise(test_ids):
        p = (bi[(a, b)] + alpha) / (ctx[a] + alpha * V)
        total -= math.log2(p)
    return total


def bits_per_byte(
    train_text: str, test_text: str, merges: Sequence[Pair], alpha: float = 0.1
) -> float:
    tr = encode(train_text, merges)
    te = encode(test_text, merges)
    return bigram_bits(tr, te, 256 + len(merges), alpha) / len(test_text.encode("utf-8"))


def vocab_sweep(
    train_text: str, test_text: str, sizes: Sequence[int], alpha: float = 0.1
) -> dict[int, float]:
    merges, _ = train_bpe(train_text, max(sizes))
    return {s: bits_per_byte(train_text, test_text, merges[: s - 256], alpha) for s in sizes}
