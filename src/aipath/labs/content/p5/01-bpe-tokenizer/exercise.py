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

import math  # noqa: F401  (math.log2)
from collections import Counter  # noqa: F401
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
    """``text`` cut around every occurrence of a special token; the specials are pieces of their own.

    Empty pieces are dropped; joined, the pieces give ``text`` back. Where two specials could
    match at the same place, the longer one wins. No specials: ``[text]`` (``[]`` for "").

    >>> split_special("a<|eot|>b<|eot|><|pad|>", ["<|eot|>", "<|pad|>"])
    ['a', '<|eot|>', 'b', '<|eot|>', '<|pad|>']
    >>> split_special("x<|end|><|endoftext|>", ["<|end|>", "<|endoftext|>"])
    ['x', '<|end|>', '<|endoftext|>']
    """
    # TODO: one regex alternation of the escaped specials, longest first, inside a group,
    #       so that regex.split keeps them
    raise NotImplementedError


def word_counts(text: str, special_tokens: Iterable[str] = ()) -> dict[Word, int]:
    """How often each pre-token occurs in ``text``, keyed by the tuple of its UTF-8 bytes.

    The special tokens are cut out first (``split_special``) and not counted; every other
    piece is pre-tokenised with ``pretokenize``.

    >>> word_counts("low lower low")
    {(108, 111, 119): 1, (32, 108, 111, 119, 101, 114): 1, (32, 108, 111, 119): 1}
    """
    # TODO: split_special, skip the specials, pretokenize each piece, count tuple(token.encode())
    raise NotImplementedError


def pair_counts(words: Mapping[Word, int]) -> dict[Pair, int]:
    """Occurrences of each adjacent pair inside each word, times the word's count.

    Every position counts, overlapping ones included: ``(97, 97, 97)`` holds ``(97, 97)`` twice.
    Pairs never span two words. The input is left unchanged.

    >>> pair_counts({(97, 97, 97): 1, (97, 98): 2})
    {(97, 97): 2, (97, 98): 2}
    """
    # TODO: for each word and count, every (word[i], word[i + 1])
    raise NotImplementedError


def merge(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """A new list: ``ids`` with each occurrence of ``pair`` replaced by ``new_id``.

    Scanned left to right; a merged position is not used again, so five 97s merged on
    ``(97, 97)`` give two new ids and the last 97.

    >>> merge([97, 97, 97, 97, 97], (97, 97), 256)
    [256, 256, 97]
    """
    # TODO: walk with an index; on a match append new_id and step 2, else append and step 1
    raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
def train_bpe(
    text: str, vocab_size: int, special_tokens: Sequence[str] = ()
) -> tuple[list[Pair], dict[int, bytes]]:
    """Learn byte-level BPE merges on ``text``.

    ``vocab_size`` counts everything: the 256 bytes, the merges and the special tokens, so
    at most ``vocab_size - 256 - len(special_tokens)`` merges are learned (fewer when no pair is
    left to merge). ``ValueError`` when that number is negative.

    Each step merges the most frequent pair (``pair_counts`` of the current words). Ties: the
    pair whose bytes ``(vocab[a], vocab[b])`` compare largest as a tuple of Python ``bytes``.

    Returns ``(merges, vocab)``: vocab has the 256 bytes, one entry per merge
    (``vocab[a] + vocab[b]``), then the special tokens at ``256 + len(merges) + i``.

    >>> merges, vocab = train_bpe("low lower lowest low", 262, ["<|eot|>"])
    >>> merges
    [(111, 119), (108, 256), (32, 257), (258, 101), (115, 116)]
    >>> vocab[259], vocab[261]
    (b' lowe', b'<|eot|>')
    """
    # TODO: words = word_counts(...); repeat: pair_counts, the best pair, merge it in every word
    raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
def encode(
    text: str, merges: Sequence[Pair], special_tokens: Mapping[str, int] | None = None
) -> list[int]:
    """The token ids of ``text``.

    Each special token (a key of ``special_tokens``) becomes its one id. Every other piece is
    pre-tokenised; each pre-token's UTF-8 bytes are merged by rank: of the pairs present, the one
    with the lowest rank in ``merges`` is merged (everywhere in the pre-token), again and again
    until no present pair is in ``merges``.

    >>> merges, vocab = train_bpe("low lower lowest low", 262, ["<|eot|>"])
    >>> encode("lower<|eot|> low", merges, {"<|eot|>": 261})
    [257, 101, 114, 261, 258]
    """
    # TODO: ranks = {pair: rank}; split_special; pretokenize; merge by lowest rank in each pre-token
    raise NotImplementedError


def decode(ids: Iterable[int], vocab: Mapping[int, bytes]) -> str:
    """The text of ``ids``: their bytes joined, then decoded as UTF-8 once.

    Bytes that are not valid UTF-8 become U+FFFD ("\ufffd"), as ``errors="replace"`` does.

    >>> vocab = {i: bytes([i]) for i in range(256)}
    >>> decode(list("€".encode("utf-8")), vocab)   # three ids, one character
    '€'
    >>> decode([0xE2, 0x82], vocab)                 # a character cut short
    '\ufffd'
    """
    # TODO: b"".join(...).decode("utf-8", errors="replace")
    raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
def to_hf_tokenizer(
    merges: Sequence[Pair], vocab: Mapping[int, bytes], special_tokens: Mapping[str, int]
) -> Tokenizer:
    """The same tokenizer as a Hugging Face ``tokenizers.Tokenizer``.

    ``tok.encode(text).ids == encode(text, merges, special_tokens)`` for every text, and
    ``tok.decode(ids, skip_special_tokens=False)`` gives the text back.

    >>> merges, vocab = train_bpe("low lower lowest low", 262, ["<|eot|>"])
    >>> tok = to_hf_tokenizer(merges, vocab, {"<|eot|>": 261})
    >>> tok.encode("lower<|eot|> low").ids
    [257, 101, 114, 261, 258]
    """
    # TODO: spell each token with bytes_to_unicode(); models.BPE(vocab=..., merges=...);
    #       ByteLevel pre-tokenizer and decoder; the specials as AddedToken(..., special=True)
    raise NotImplementedError


# ----- task 5 -----------------------------------------------------------------------------------
def bigram_bits(
    train_ids: Sequence[int], test_ids: Sequence[int], vocab_size: int, alpha: float = 0.1
) -> float:
    """Total bits, -sum(log2 P), of ``test_ids`` under an add-alpha bigram model of ``train_ids``.

    First test id: (count(t) + alpha) / (len(train_ids) + alpha * vocab_size).
    Each next one:  (count(prev, t) + alpha) / (count(prev as a context) + alpha * vocab_size),
    where a context is any train id that has a successor (all but the last).

    >>> round(bigram_bits([1, 2, 1, 2, 1], [1, 2], vocab_size=3, alpha=0.1), 4)
    0.905
    """
    # TODO: Counter of ids, of contexts (train_ids[:-1]) and of pairs; sum -log2 of each P
    raise NotImplementedError


def bits_per_byte(
    train_text: str, test_text: str, merges: Sequence[Pair], alpha: float = 0.1
) -> float:
    """Held-out bits per UTF-8 byte of ``test_text``: bigram_bits over this tokenizer's ids.

    Both texts encoded with ``encode(text, merges)``; the vocabulary has ``256 + len(merges)``
    ids; the total is divided by the number of UTF-8 bytes of ``test_text``.
    """
    # TODO: encode both, bigram_bits, divide by len(test_text.encode("utf-8"))
    raise NotImplementedError


def vocab_sweep(
    train_text: str, test_text: str, sizes: Sequence[int], alpha: float = 0.1
) -> dict[int, float]:
    """``{size: bits_per_byte(...)}`` for each vocabulary size (256 is bytes alone).

    Train once, with the largest size: the first ``size - 256`` merges of that run are exactly
    what a run with ``vocab_size=size`` learns.
    """
    # TODO: one train_bpe(train_text, max(sizes)); then bits_per_byte with merges[: size - 256]
    raise NotImplementedError
