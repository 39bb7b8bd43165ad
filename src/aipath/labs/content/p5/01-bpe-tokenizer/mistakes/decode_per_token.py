# expect: decoded on its own
"""Mistake: per-token decode."""

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
    """The pre-tokens of ``text``, in order; joined, they give ``text`` back."""
    return GPT2_SPLIT.findall(text)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table from each byte to a printable character (what Hugging Face stores)."""
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
    """``text`` cut around every special token, the specials kept as their own pieces."""
    specials = sorted(set(special_tokens), key=len, reverse=True)
    if not specials:
        return [text] if text else []
    pattern = "(" + "|".join(regex.escape(s) for s in specials) + ")"
    return [piece for piece in regex.split(pattern, text) if piece]


def word_counts(text: str, special_tokens: Iterable[str] = ()) -> dict[Word, int]:
    """How often each pre-token occurs, as a tuple of its UTF-8 bytes; specials left out."""
    specials = set(special_tokens)
    counts: Counter[Word] = Counter()
    for piece in split_special(text, specials):
        if piece in specials:
            continue
        for token in pretokenize(piece):
            counts[tuple(token.encode("utf-8"))] += 1
    return dict(counts)


def pair_counts(words: Mapping[Word, int]) -> dict[Pair, int]:
    """Occurrences of each adjacent pair inside the words, weighted by the words' counts."""
    counts: Counter[Pair] = Counter()
    for word, n in words.items():
        for pair in itertools.pairwise(word):
            counts[pair] += n
    return dict(counts)


def merge(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """``ids`` with every occurrence of ``pair`` replaced by ``new_id``, left to right."""
    out: list[int] = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train_bpe(
    text: str, vocab_size: int, special_tokens: Sequence[str] = ()
) -> tuple[list[Pair], dict[int, bytes]]:
    """Learn ``vocab_size - 256 - len(special_tokens)`` merges (fewer if the pairs run out)."""
    n_merges = vocab_size - 256 - len(special_tokens)
    if n_merges < 0:
        raise ValueError(
            f"vocab_size {vocab_size} leaves no room for the 256 bytes and "
            f"{len(special_tokens)} special tokens"
        )
    vocab = {i: bytes([i]) for i in range(256)}
    counted = word_counts(text, special_tokens)
    words = [list(word) for word in counted]
    weights = list(counted.values())
    # Pair counts kept up to date, and for each pair the words it occurs in, so that a merge
    # only revisits the words it changes.
    pairs: Counter[Pair] = Counter()
    where: dict[Pair, set[int]] = {}
    for index, word in enumerate(words):
        for pair in itertools.pairwise(word):
            pairs[pair] += weights[index]
            where.setdefault(pair, set()).add(index)
    merges: list[Pair] = []
    while len(merges) < n_merges and pairs:
        top = max(pairs.values())
        best = max(
            (p for p, n in pairs.items() if n == top), key=lambda p: (vocab[p[0]], vocab[p[1]])
        )
        new_id = 256 + len(merges)
        merges.append(best)
        vocab[new_id] = vocab[best[0]] + vocab[best[1]]
        for index in where.pop(best):
            word, n = words[index], weights[index]
            for pair in itertools.pairwise(word):
                pairs[pair] -= n
                if pairs[pair] == 0:
                    del pairs[pair]
            word = merge(word, best, new_id)
            words[index] = word
            for pair in itertools.pairwise(word):
                pairs[pair] += n
                where.setdefault(pair, set()).add(index)
    for i, token in enumerate(special_tokens):
        vocab[256 + len(merges) + i] = token.encode("utf-8")
    return merges, vocab


# ----- task 2 -----------------------------------------------------------------------------------
def encode_word(ids: Sequence[int], ranks: Mapping[Pair, int]) -> list[int]:
    """One pre-token's bytes, merged by rank: the lowest-ranked pair present first, repeatedly."""
    out = list(ids)
    while len(out) > 1:
        pair = min(itertools.pairwise(out), key=lambda p: ranks.get(p, math.inf))
        if pair not in ranks:
            break
        out = merge(out, pair, 256 + ranks[pair])
    return out


def encode(
    text: str, merges: Sequence[Pair], special_tokens: Mapping[str, int] | None = None
) -> list[int]:
    """Token ids of ``text``: specials as one id each, the rest pre-tokenised and merged."""
    specials = dict(special_tokens or {})
    ranks = {pair: rank for rank, pair in enumerate(merges)}
    cache: dict[str, list[int]] = {}  # a pre-token is merged the same way every time
    ids: list[int] = []
    for piece in split_special(text, specials):
        if piece in specials:
            ids.append(specials[piece])
            continue
        for token in pretokenize(piece):
            if token not in cache:
                cache[token] = encode_word(token.encode("utf-8"), ranks)
            ids.extend(cache[token])
    return ids


def decode(ids: Iterable[int], vocab: Mapping[int, bytes]) -> str:
    """The text of ``ids``: all their bytes joined, then decoded once (bad bytes become U+FFFD)."""
    return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)


# ----- task 4 -----------------------------------------------------------------------------------
def to_hf_tokenizer(
    merges: Sequence[Pair], vocab: Mapping[int, bytes], special_tokens: Mapping[str, int]
) -> Tokenizer:
    """The same tokenizer as a Hugging Face ``tokenizers.Tokenizer`` (what tokenizer.json holds)."""
    table = bytes_to_unicode()

    def spell(token: bytes) -> str:
        return "".join(table[b] for b in token)

    specials = set(special_tokens.values())
    hf_vocab = {spell(token): i for i, token in vocab.items() if i not in specials}
    hf_merges = [(spell(vocab[a]), spell(vocab[b])) for a, b in merges]
    tokenizer = Tokenizer(models.BPE(vocab=hf_vocab, merges=hf_merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    ordered = sorted(special_tokens.items(), key=lambda item: item[1])
    tokenizer.add_special_tokens(
        [AddedToken(token, special=True, normalized=False) for token, _ in ordered]
    )
    return tokenizer


# ----- task 5 -----------------------------------------------------------------------------------
def bigram_bits(
    train_ids: Sequence[int], test_ids: Sequence[int], vocab_size: int, alpha: float = 0.1
) -> float:
    """Total bits (-sum of log2 P) of ``test_ids`` under an add-alpha bigram fit on ``train_ids``."""
    unigrams = Counter(train_ids)
    contexts = Counter(train_ids[:-1])
    bigrams = Counter(itertools.pairwise(train_ids))
    total = 0.0
    if test_ids:
        first = test_ids[0]
        p = (unigrams[first] + alpha) / (len(train_ids) + alpha * vocab_size)
        total -= math.log2(p)
    for a, b in itertools.pairwise(test_ids):
        p = (bigrams[(a, b)] + alpha) / (contexts[a] + alpha * vocab_size)
        total -= math.log2(p)
    return total


def bits_per_byte(
    train_text: str, test_text: str, merges: Sequence[Pair], alpha: float = 0.1
) -> float:
    """Held-out bits per UTF-8 byte of the bigram model over this tokenizer's ids."""
    train_ids = encode(train_text, merges)
    test_ids = encode(test_text, merges)
    bits = bigram_bits(train_ids, test_ids, 256 + len(merges), alpha)
    return bits / len(test_text.encode("utf-8"))


def vocab_sweep(
    train_text: str, test_text: str, sizes: Sequence[int], alpha: float = 0.1
) -> dict[int, float]:
    """Bits per byte for each vocabulary size (256: bytes alone), from ONE training run."""
    merges, _ = train_bpe(train_text, max(sizes))
    return {
        size: bits_per_byte(train_text, test_text, merges[: size - 256], alpha) for size in sizes
    }
