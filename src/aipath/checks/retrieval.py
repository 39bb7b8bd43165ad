"""Recall@k computed by the check, and the values its usual mistakes give.

Search and RAG labs both grade a learner's ``recall@k``; the definition (the mean over queries
of the share of each query's relevant items found in its first k results, each item counted
once) and the table of near misses live here once.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Sequence
from typing import Any

import numpy as np

__all__ = ["recall_at_k", "recall_mistakes"]


def _rows(retrieved: Any) -> list[list[Hashable]]:
    if isinstance(retrieved, np.ndarray):
        return [list(row.tolist()) for row in retrieved]
    return [list(row) for row in retrieved]


def recall_at_k(
    retrieved: Sequence[Sequence[Hashable]] | np.ndarray[Any, Any],
    relevant: Sequence[Collection[Hashable]],
    k: int,
) -> float:
    """Mean over queries of |distinct relevant items in the first k| / |relevant|."""
    rows = _rows(retrieved)
    return float(
        np.mean([len(set(g[:k]) & set(r)) / len(r) for g, r in zip(rows, relevant, strict=True)])
    )


def recall_mistakes(
    retrieved: Sequence[Sequence[Hashable]] | np.ndarray[Any, Any],
    relevant: Sequence[Collection[Hashable]],
    k: int,
) -> dict[str, Any]:
    """What each usual recall@k mistake gives on these rankings (``None`` when it cannot differ).

    For ``mistakes=`` of ``assert_close``: a learner's value equal to one of these is named.
    """
    rows = _rows(retrieved)
    pairs = list(zip(rows, relevant, strict=True))
    hits = [len(set(g[:k]) & set(r)) for g, r in pairs]
    sizes = [len(r) for _, r in pairs]
    precision = float(np.mean([h / k for h in hits]))
    capped = float(np.mean([h / min(k, n) for h, n in zip(hits, sizes, strict=True)]))
    has_repeats = any(len(set(g[:k])) < len(g[:k]) for g, _ in pairs)
    table: dict[str, Any] = {}
    precision_text = (
        "a recall computed over the retrieved items (hits / k: that is precision@k) instead "
        "of over the relevant ones (hits / number of relevant)"
    )
    if math.isclose(precision, capped):
        # every query has at least k relevant items: the two mistakes give one value
        table[
            f"{precision_text} — or hits divided by min(k, number of relevant), the same number "
            f"at k={k}"
        ] = precision
    else:
        table[precision_text] = precision
        table[
            "hits divided by min(k, number of relevant ids) (a capped recall) instead of by "
            "the number of relevant ids"
        ] = capped
    return table | {
        "an item counted once for each time it was retrieved (a document counted once for each "
        "of its retrieved passages): count distinct ids": (
            float(np.mean([sum(d in r for d in g[:k]) / len(r) for g, r in pairs]))
            if has_repeats
            else None
        ),
        "a hit rate (1 when any relevant item is in the first k) rather than the share of the "
        "relevant items found": float(np.mean([h > 0 for h in hits])),
        "all the hits divided by all the relevant items (one pooled micro average) instead of "
        "the mean of the per-query recalls": float(sum(hits) / sum(sizes)),
        "a recall over the whole ranking, not cut at k": recall_at_k(
            rows, relevant, max(len(g) for g in rows)
        ),
        "a recall cut at k + 1 (off by one)": recall_at_k(rows, relevant, k + 1),
        "a recall cut at k − 1 (off by one)": recall_at_k(rows, relevant, k - 1) if k > 1 else None,
    }
