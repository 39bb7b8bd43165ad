# right: leftmost-one-at-a-time encode, HF built from JSON, two-step tie rule
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
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers  # noqa: F401

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
    import re

    toks = sorted(special_tokens, key=lambda s: -len(s))
    if not toks:
        return [text] if text != "" else []
    parts = re.split("(" + "|".join(map(re.escape, toks)) + ")", text)
    return [p for p in parts if p != ""]


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
    from collections import defaultdict

    d: defaultdict = defaultdict(int)
    for w in words:
        for a, b in itertools.pairwise(w):
            d[(a, b)] += words[w]
    return dict(d)


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
    if vocab_size < 256 + len(special_tokens):
        raise ValueError("too small")
    vocab = {i: bytes([i]) for i in range(256)}
    words = word_counts(text, special_tokens)
    merges: list[Pair] = []
    while 256 + len(merges) + len(special_tokens) < vocab_size:
        pc = pair_counts(words)
        if not pc:
            break
        top = max(pc.values())
        tied = [p for p, c in pc.items() if c == top]
        best = max(tied, key=lambda p: (vocab[p[0]], vocab[p[1]]))
        nid = 256 + len(merges)
        merges.append(best)
        vocab[nid] = vocab[best[0]] + vocab[best[1]]
        words = {tuple(merge(w, best, nid)): c for w, c in words.items()}
    for s in special_tokens:
        vocab[len(vocab)] = s.encode()
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
    rank = {p: r for r, p in enumerate(merges)}
    sp = special_tokens if special_tokens is not None else {}
    res: list[int] = []
    for piece in split_special(text, sp.keys()):
        if piece in sp:
            res.append(sp[piece])
            continue
        for pt in pretokenize(piece):
            seq = list(pt.encode("utf-8"))
            while True:
                best_i, best_r = -1, None
                for i in range(len(seq) - 1):
                    r = rank.get((seq[i], seq[i + 1]))
                    if r is not None and (best_r is None or r < best_r):
                        best_i, best_r = i, r
                if best_r is None:
                    break
                seq[best_i : best_i + 2] = [256 + best_r]
            res.extend(seq)
    return res


def decode(ids: Iterable[int], vocab: Mapping[int, bytes]) -> str:
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


# ----- task 4 -----------------------------------------------------------------------------------
def to_hf_tokenizer(
    merges: Sequence[Pair], vocab: Mapping[int, bytes], special_tokens: Mapping[str, int]
) -> Tokenizer:
    import json

    t = bytes_to_unicode()
    sp = lambda b: "".join(t[x] for x in b)  # noqa: E731
    specials = set(special_tokens.values())
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": i,
                "content": s,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for s, i in sorted(special_tokens.items(), key=lambda kv: kv[1])
        ],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": True,
            "use_regex": True,
        },
        "post_processor": None,
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": True,
            "trim_offsets": True,
            "use_regex": True,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "vocab": {sp(v): i for i, v in vocab.items() if i not in specials},
            "merges": [sp(vocab[a]) + " " + sp(vocab[b]) for a, b in merges],
        },
    }
    return Tokenizer.from_str(json.dumps(spec))


# ----- task 5 -----------------------------------------------------------------------------------
def bigram_bits(
    train_ids: Sequence[int], test_ids: Sequence[int], vocab_size: int, alpha: float = 0.1
) -> float:
    tr = list(train_ids)
    te = list(test_ids)
    uni = Counter(tr)
    ctx = Counter(tr[:-1])
    bi = Counter(itertools.pairwise(tr))
    terms = []
    for j, t in enumerate(te):
        if j == 0:
            num, den = uni[t] + alpha, len(tr) + alpha * vocab_size
        else:
            num, den = bi[(te[j - 1], t)] + alpha, ctx[te[j - 1]] + alpha * vocab_size
        terms.append(math.log2(den) - math.log2(num))
    return math.fsum(terms)


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
    n = len(test_text.encode("utf-8"))
    out = {}
    for s in sizes:
        m = merges[: s - 256]
        out[s] = bigram_bits(encode(train_text, m), encode(test_text, m), 256 + len(m), alpha) / n
    return out
