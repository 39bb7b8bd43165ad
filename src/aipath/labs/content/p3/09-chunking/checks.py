"""Checks for p3-chunking: token counts and offsets against the packaged tokenizer's own
offset mapping, three chunkers against references written here (their chunks compared as
character spans, and read back as tokens to say how many tokens a chunk holds, whether it cuts a
token, which tokens two chunks share), and the recall table of task 5 recomputed here with the
packaged model from the same chunks.

The learner gets a copy of the tokenizer and of the model, never the check's own. Each call of a
learner's chunker runs under a CPU-time budget, so a loop that never ends (a step of 0 tokens)
fails with a message instead of running into the lab's timeout.

The reference recursive splitter equals langchain's RecursiveCharacterTextSplitter (separators
["\\n\\n", "\\n", ". ", " "], keep_separator="end", chunk_overlap=0, the token count as its
length function) on texts without a word longer than the limit: measured on 150 help pages at 24
and 64 tokens, identical chunks. langchain is not imported here (one alternative uses it).
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import bisect
import contextlib
import functools
import gc
import math
import re
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers.utils import logging as hf_logging

from aipath.checks import (
    CheckFailure,
    cached,
    call_with_inputs,
    fail,
    help_pages,
    learner_minilm,
    matching_mistake,
    minilm,
    none_message,
    once_per_run,
    precomputed,
    raised,
)

hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()

SEPARATORS = ("\n\n", "\n", ". ", " ")
CHUNK_TOKENS, OVERLAP = 48, 12  # task 5
KS = (1, 5)
CPU_BUDGET_S = 8.0  # one call of a learner's chunker on texts of a few hundred tokens: < 0.1 s
LOOP_BUDGET_S = 1.5  # the call that loops forever when step = size - overlap = 0

PROSE = (
    "Old Faithful, in Yellowstone, erupts roughly every 90 minutes. Its eruptions last 2 to 5 "
    "minutes!  Waiting times between eruptions are bimodal: short waits follow short eruptions."
    "\n\nCafé owners in Zürich noticed it too? No. The data were collected by rangers in August "
    "1978 and 1979, and later re-analysed by Azzalini and Bowman (1990), who used them to "
    "illustrate kernel density estimation, smoothing parameters, bootstrap confidence bands and "
    "a great many other techniques that statisticians still teach in their first course on "
    "nonparametric methods.\nSee also faithful and geyser.\n\n"
    "Source: https://www.stat.cmu.edu/~larry/all-of-statistics/=data/faithful.dat.txt\n"
)
ACCENTS = "Café prices in Zürich rose 12.5% in 2023!  Unbelievable—isn't it?"
# 20 tokens, one per word: windows of 8 with overlap 2 start at 0, 6 and 12 (the last one full).
TWENTY = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty"
)
SHORT_SENTENCES = "Cats sleep a lot. Dogs bark at night. Birds sing early. Fish swim. The end."


# ----- the reference tokenizer and model (never handed to the learner) --------------------------
def _tokenizer() -> Any:
    return minilm()[0]


def _learner_tokenizer() -> Any:
    return learner_minilm()[0]


@functools.lru_cache(maxsize=64)
def _spans(text: str) -> tuple[tuple[int, int], ...]:
    encoding = _tokenizer()(text, add_special_tokens=False, return_offsets_mapping=True)
    return tuple((int(a), int(b)) for a, b in encoding["offset_mapping"])


def _token_count(text: str) -> int:
    return len(_spans(text))


@functools.lru_cache(maxsize=8)
def _page(package: str, item: str) -> str:
    for pkg, name, _title, body in help_pages():
        if (pkg, name) == (package, item):
            return body
    raise LookupError(f"no help page {package}/{item}")  # pragma: no cover - data changed


def _describe_text(text: str) -> str:
    return f"text ({len(text):,} characters, {_token_count(text)} tokens)"


class _Tokens:
    """The reference tokens of one text, to read a chunk's span as tokens."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans = _spans(text)
        self.starts = [a for a, _b in self.spans]
        self.ends = [b for _a, b in self.spans]

    def inside(self, start: int, end: int) -> range:
        """Indices of the tokens lying wholly within [start, end)."""
        first = bisect.bisect_left(self.starts, start)
        last = bisect.bisect_right(self.ends, end)
        return range(first, max(first, last))

    def cut(self, position: int) -> tuple[int, int] | None:
        """The token that ``position`` falls strictly inside of, if any."""
        i = bisect.bisect_right(self.starts, position) - 1
        if i >= 0 and self.starts[i] < position < self.ends[i]:
            return self.spans[i]
        return None


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def _quote(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


# ----- calling the learner's chunkers -----------------------------------------------------------
class _OutOfTime(BaseException):
    """The learner's call used more CPU time than its budget (a BaseException: an `except
    Exception` in the learner's loop cannot swallow it)."""


@contextlib.contextmanager
def _cpu_budget(seconds: float) -> Iterator[None]:
    """Raise _OutOfTime once this process has used ``seconds`` more CPU time (main thread only;
    elsewhere the lab's own timeout is the limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def out_of_time(_signum: int, _frame: Any) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGVTALRM, out_of_time)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)


def _raised_within_budget(func: Callable[..., Any], *args: Any) -> tuple[Exception | None, str]:
    """(what ``func(*args)`` raised, "") — or (None, how it was stopped) when it never returned.

    A loop that never ends is stopped after LOOP_BUDGET_S of CPU time, or sooner by the lab's
    memory limit on a fast machine; either way it "was still running", and the memory it filled
    is released before the check reports (a MemoryError kept alive keeps its frames alive).
    """
    try:
        with _cpu_budget(LOOP_BUDGET_S):
            error = raised(func, *args)
    except _OutOfTime:
        return None, f"was still running after {LOOP_BUDGET_S:g} s of CPU time"
    except MemoryError:
        error = MemoryError()
    if isinstance(error, MemoryError):
        del error
        gc.collect()
        return None, "was still running when it had filled the lab's memory"
    return error, ""


def _call_with_cpu_budget(
    what: str,
    func: Callable[..., Any],
    *args: Any,
    given: str,
    budget: float = CPU_BUDGET_S,
    advice: str = "does every pass of your loop move forward?",
    **kwargs: Any,
) -> Any:
    timed_out = memory = False
    try:
        with _cpu_budget(budget):
            return call_with_inputs(what, func, *args, given=given, **kwargs)
    except CheckFailure as exc:
        if f"{what} raised RecursionError" in str(exc):
            fail(f"{exc}. The recursion never ended: {advice}")
        raise
    except _OutOfTime:
        timed_out = True
    except MemoryError:
        memory = True
    if timed_out:
        fail(f"{what} did not return within {budget:g} s of CPU time ({given}): {advice}")
    assert memory
    fail(f"{what} ran out of memory ({given}): it kept making chunks — {advice}")


def _as_chunks(got: Any, name: str) -> list[tuple[str, int, int]]:
    """The learner's chunks as (text, start, end) triples, or a failure saying why not."""
    if got is None:
        fail(none_message(name, "the list of chunks"))
    if isinstance(got, str | bytes) or not hasattr(got, "__iter__"):
        fail(f"{name} should be a list of Chunk(text, start, end); got {type(got).__name__}")
    chunks = []
    for i, chunk in enumerate(got):
        if all(hasattr(chunk, key) for key in ("text", "start", "end")):
            text, start, end = chunk.text, chunk.start, chunk.end
        elif isinstance(chunk, tuple | list) and len(chunk) == 3 and isinstance(chunk[0], str):
            text, start, end = chunk
        else:
            fail(
                f"{name}[{i}] is {_quote(repr(chunk), 60)}; each chunk should be a "
                "Chunk(text, start, end)"
            )
        if not isinstance(text, str):
            fail(f"{name}[{i}].text is a {type(text).__name__}; expected the chunk's text (str)")
        try:
            start, end = int(start), int(end)
        except (TypeError, ValueError):
            fail(f"{name}[{i}] has start {start!r} and end {end!r}; expected two ints")
        chunks.append((text, start, end))
    return chunks


# ----- judging a list of chunks -----------------------------------------------------------------
def _check_offsets(source: str, chunks: list[tuple[str, int, int]], name: str) -> None:
    """Every chunk non-empty, inside the text, and ``text == source[start:end]``."""
    tokenizer = _tokenizer()
    for i, (text, start, end) in enumerate(chunks):
        if not 0 <= start <= end <= len(source):
            fail(
                f"{name}[{i}] has start {start} and end {end}; offsets run from 0 to "
                f"{len(source)} (the length of the text), with start <= end"
            )
        if text == source[start:end]:
            if not text.strip():
                what = "empty" if not text else f"only whitespace ({text!r})"
                fail(f"{name}[{i}] is {what}: no chunk may be empty")
            continue
        clue = ""
        for da, db in ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, -1)):
            a, b = start + da, end + db
            if 0 <= a <= b <= len(source) and source[a:b] == text:
                clue = (
                    f": the text is source[{a}:{b}], so the offsets are off by one "
                    f"(start {start - a:+d}, end {end - b:+d})"
                )
                break
        if not clue:
            found = source.find(text) if text else -1
            decoded = tokenizer.decode(
                tokenizer(source[start:end], add_special_tokens=False)["input_ids"]
            )
            if found >= 0:
                clue = (
                    f": that text is at {found}–{found + len(text)} in the source, "
                    f"{start - found:+d} characters from the chunk's start"
                )
            elif text == decoded:
                clue = (
                    ": the text is the decoded tokens (lowercased, accents and spacing lost): "
                    "take the chunk's text from the source, source[start:end]"
                )
            elif text.split() == source[start:end].split():
                clue = (
                    ": the same words, with other whitespace between them: the chunk's text must "
                    "keep the source's separators and spacing"
                )
            else:
                clue = ": the chunk's text is not a piece of the source at all"
        fail(
            f"{name}[{i}].text is {_quote(text)}, but source[{start}:{end}] is "
            f"{_quote(source[start:end])}{clue}. The offsets must map back: "
            "source[chunk.start:chunk.end] == chunk.text"
        )


def _check_tokens(
    source: str, chunks: list[tuple[str, int, int]], name: str, limit: int | None
) -> None:
    """No chunk cuts a token in two, none holds more than ``limit`` tokens."""
    tokens = _Tokens(source)
    for i, (_text, start, end) in enumerate(chunks):
        for side, position in (("starts", start), ("ends", end)):
            token = tokens.cut(position)
            if token is not None:
                a, b = token
                fail(
                    f"{name}[{i}] {side} at character {position}, in the middle of the token "
                    f"{source[a:b]!r} (characters {a}–{b}): chunk boundaries must fall between "
                    "tokens — use the tokens' offsets, not character positions"
                )
        n = len(tokens.inside(start, end))
        if limit is not None and n > limit:
            fail(
                f"{name}[{i}] holds {n} tokens (not counting [CLS]/[SEP]): {n - limit} over the "
                f"limit of {limit} — {_quote(source[start:end], 60)}"
            )


def _spans_of(chunks: list[tuple[str, int, int]]) -> list[tuple[int, int]]:
    return [(start, end) for _text, start, end in chunks]


def _first_chunk_difference(
    source: str, got: list[tuple[int, int]], want: list[tuple[int, int]], name: str
) -> str:
    tokens = _Tokens(source)

    def show(span: tuple[int, int]) -> str:
        a, b = span
        return f"characters {a}–{b} ({len(tokens.inside(a, b))} tokens, {_quote(source[a:b])})"

    head = f"{name} has {len(got)} chunks; expected {len(want)}" if len(got) != len(want) else ""
    if len(got) == len(want) - 1 and got == want[:-1]:
        return f"{head}: the last chunk is missing, {show(want[-1])}"
    if len(got) > len(want) and got[: len(want)] == want:
        return f"{head}: an extra chunk at the end, {show(got[len(want)])}"
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        if g != w:
            prefix = f"{head}; " if head else ""
            return f"{prefix}{name}[{i}] is {show(g)}; expected {show(w)}"
    return head  # pragma: no cover - got == want


def _judge(
    source: str,
    got: Any,
    want: list[tuple[int, int]],
    name: str,
    *,
    limit: int | None,
    mistakes: Callable[[], dict[str, Any]] | None = None,
    properties: Callable[[list[tuple[str, int, int]]], None] | None = None,
) -> None:
    chunks = _as_chunks(got, name)
    spans = _spans_of(chunks)
    if spans == want and all(t == source[a:b] for t, a, b in chunks):
        return
    if spans != want and mistakes is not None:
        label = matching_mistake(np.array(spans, dtype=float).reshape(-1, 2), _span_table(mistakes))
        if label is not None:
            fail(f"{name} looks like {label}. {_first_chunk_difference(source, spans, want, name)}")
    _check_offsets(source, chunks, name)
    _check_tokens(source, chunks, name, limit)
    if properties is not None:
        properties(chunks)
    fail(_first_chunk_difference(source, spans, want, name))


def _span_table(mistakes: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    def table() -> dict[str, Any]:
        out = {}
        for label, make in mistakes().items():
            out[label] = lambda make=make: (
                np.array(make(), dtype=float).reshape(-1, 2) if make is not None else None
            )
        return out

    return table


# ----- task 1 -----------------------------------------------------------------------------------
def _long_text() -> str:
    return _page("AER", "CASchools") + "\n\n" + _page("datasets", "faithful")  # > 512 tokens


def _count_mistakes(text: str) -> dict[str, Any]:
    n = _token_count(text)
    return {
        "a count with [CLS] and [SEP] (2 more): pass add_special_tokens=False": n + 2,
        "a count cut at the model's 512 tokens (truncation=True): the count of a chunk's text "
        "must never be truncated": min(n, 512) if n > 512 else None,
        "a count with [CLS] and [SEP], cut at the model's 512 tokens": min(n + 2, 512),
        "the number of words (text.split()), not of tokens": len(text.split()),
        "the number of characters, not of tokens": len(text),
    }


@pytest.mark.task(1)
@pytest.mark.parametrize("which", ["prose", "accents", "long", "empty", "spaces"])
def test_count_tokens(learner, which):
    text = {
        "prose": PROSE,
        "accents": ACCENTS,
        "long": _long_text(),
        "empty": "",
        "spaces": "  \n\t ",
    }[which]
    name = f"count_tokens(tokenizer, {_describe_text(text) if len(text) > 40 else repr(text)})"
    got = _call_with_cpu_budget(
        "count_tokens(tokenizer, text)",
        learner.count_tokens,
        _learner_tokenizer(),
        text,
        given=_describe_text(text),
    )
    if got is None:
        fail(none_message(name, "the number of tokens"))
    if isinstance(got, bool) or not isinstance(got, int | np.integer):
        fail(f"{name} should be an int; got {type(got).__name__} {got!r}")
    want = _token_count(text)
    if int(got) == want:
        return
    for label, value in _count_mistakes(text).items():
        if value is not None and int(got) == value:
            fail(f"{name} is {int(got)}, which looks like {label}; expected {want}")
    fail(f"{name} is {int(got)}; expected {want} ({int(got) - want:+d})")


def _located_by_strings(text: str) -> list[tuple[int, int]]:
    """Spans found by searching each token's string in the text (wrong where the tokenizer
    lowercased, removed an accent, or marked a word piece with ##)."""
    tokenizer = _tokenizer()
    out, cursor = [], 0
    for token in tokenizer.convert_ids_to_tokens(
        tokenizer(text, add_special_tokens=False)["input_ids"]
    ):
        piece = token.removeprefix("##")
        found = text.find(piece, cursor)
        out.append((found, found + len(piece)))
        if found >= 0:
            cursor = found + len(piece)
    return out


def _span_mistakes(text: str) -> dict[str, Any]:
    spans = list(_spans(text))
    return {
        "the offsets of [CLS] and [SEP], (0, 0), at both ends: pass add_special_tokens=False": [
            (0, 0),
            *spans,
            (0, 0),
        ],
        "inclusive ends (end − 1): Python slices, and the tokenizer's offsets, exclude the end": [
            (a, b - 1) for a, b in spans
        ],
        "spans found by searching each token's string in the text (the tokens are lowercased, "
        "have lost their accents, and word pieces start with ##): use return_offsets_mapping": (
            _located_by_strings(text)
        ),
    }


@pytest.mark.task(1)
@pytest.mark.parametrize("which", ["accents", "prose", "empty"])
def test_token_spans(learner, which):
    text = {"accents": ACCENTS, "prose": PROSE, "empty": ""}[which]
    name = "token_spans(tokenizer, text)"
    got = _call_with_cpu_budget(
        name, learner.token_spans, _learner_tokenizer(), text, given=_describe_text(text)
    )
    if got is None:
        fail(none_message(name, "the list of (start, end) spans"))
    try:
        values = np.array([tuple(pair) for pair in got], dtype=float).reshape(-1, 2)
    except (TypeError, ValueError):
        fail(f"{name} should be a list of (start, end) pairs of ints; got {_quote(repr(got), 60)}")
    want = np.array(_spans(text), dtype=float).reshape(-1, 2)
    if values.shape == want.shape and np.array_equal(values, want):
        return
    table = {k: np.array(v, dtype=float).reshape(-1, 2) for k, v in _span_mistakes(text).items()}
    label = matching_mistake(values, table)
    where = f" for {_quote(text)}" if len(text) <= 70 else ""
    if label is not None:
        fail(f"{name}{where} looks like {label}")
    if values.shape != want.shape:
        fail(f"{name}{where} has {len(values)} spans; expected {len(want)}, one per token")
    i = int(np.argmax(np.any(values != want, axis=1)))
    a, b = (int(x) for x in want[i])
    fail(
        f"{name}[{i}] is {tuple(int(x) for x in values[i])}; expected ({a}, {b}), the characters "
        f"{text[a:b]!r} of token {i} — the tokenizer's offset_mapping"
    )


# ----- task 2 -----------------------------------------------------------------------------------
def _fixed(text: str, size: int, overlap: int, variant: str = "") -> list[tuple[int, int]]:
    """Reference windows as character spans; ``variant`` names a known mistake."""
    spans = _spans(text)
    n, step = len(spans), size - overlap
    if n == 0:
        return []
    if variant == "char overlap":
        out, first = [], 0
        while True:
            last = min(first + size, n)
            out.append((spans[first][0], spans[last - 1][1]))
            if last >= n:
                return out
            end = spans[last - 1][1]
            first = next(i for i in range(first + 1, n) if spans[i][0] >= end - overlap)
    if variant == "full windows only":
        firsts = list(range(0, n - size + 1, step))
    elif variant == "no stop":
        firsts = list(range(0, n, step))
    else:
        firsts = []
        for first in range(0, n, step):
            firsts.append(first)
            if first + size >= n:
                break
        if variant == "last aligned":
            firsts[-1] = max(0, n - size)
    if variant == "end at last start":
        return [(spans[f][0], spans[min(f + size, n) - 1][0]) for f in firsts]
    out = [(spans[f][0], spans[min(f + size, n) - 1][1]) for f in firsts]
    if variant == "end + 1":
        out = [(a, min(b + 1, len(text))) for a, b in out]
    elif variant == "end - 1":
        out = [(a, b - 1) for a, b in out]
    elif variant == "start + 1":
        out = [(a + 1, b) for a, b in out]
    return out


def _fixed_mistakes(text: str, size: int, overlap: int) -> Callable[[], dict[str, Any]]:
    def table() -> dict[str, Any]:
        out: dict[str, Any] = {
            "the overlap counted in characters, not tokens (the next chunk starts at the first "
            "token within `overlap` characters of the previous chunk's end)": (
                lambda: _fixed(text, size, overlap, "char overlap") if overlap else None
            ),
            "chunks with no overlap (step = size, where it should be size - overlap)": (
                lambda: _fixed(text, size, 0) if overlap else None
            ),
            "windows of size − 2 tokens, as if [CLS] and [SEP] counted in the size (the size "
            "counts the text's own tokens only)": (
                lambda: _fixed(text, size - 2, overlap) if size - 2 > overlap else None
            ),
            "the last, shorter chunk dropped (only full windows kept)": lambda: _fixed(
                text, size, overlap, "full windows only"
            ),
            "an extra chunk at the end made only of tokens the chunk before already holds "
            "(stop once a chunk reaches the last token)": lambda: _fixed(
                text, size, overlap, "no stop"
            ),
            "the last chunk moved back to a full window (it should start size - overlap tokens "
            "after the one before, and may be shorter)": lambda: _fixed(
                text, size, overlap, "last aligned"
            ),
            "chunks that end one character after their last token (end + 1)": lambda: _fixed(
                text, size, overlap, "end + 1"
            ),
            "chunks that end one character before their last token's end (end − 1)": lambda: _fixed(
                text, size, overlap, "end - 1"
            ),
            "chunks that start one character after their first token (start + 1)": lambda: _fixed(
                text, size, overlap, "start + 1"
            ),
            "chunks that end where their last token STARTS (spans[last][0]), which leaves that "
            "token out: a chunk ends at its last token's end, spans[last][1]": lambda: _fixed(
                text, size, overlap, "end at last start"
            ),
        }
        return out

    return table


def _fixed_properties(source: str, size: int, overlap: int, name: str) -> Callable[..., None]:
    def check(chunks: list[tuple[str, int, int]]) -> None:
        tokens = _Tokens(source)
        held = [set(tokens.inside(a, b)) for _t, a, b in chunks]
        for i in range(len(held) - 1):
            shared = len(held[i] & held[i + 1])
            if shared != overlap:
                fail(
                    f"{name}[{i}] and {name}[{i + 1}] share {shared} tokens; expected "
                    f"overlap={overlap} tokens in common (chunk {i + 1} starts "
                    f"size - overlap = {size - overlap} tokens after chunk {i})"
                )
        missing = set(range(len(tokens.spans))) - set().union(*held) if held else set()
        if missing:
            i = min(missing)
            a, b = tokens.spans[i]
            fail(
                f"{len(missing)} tokens are in no chunk, the first token {i} ({source[a:b]!r} at "
                f"{a}–{b}): the chunks must cover the whole text"
            )

    return check


def _check_fixed(learner: Any, text: str, size: int, overlap: int) -> None:
    call = f"fixed_size_chunks(tokenizer, text, size={size}, overlap={overlap})"
    got = _call_with_cpu_budget(
        call,
        learner.fixed_size_chunks,
        _learner_tokenizer(),
        text,
        size,
        overlap,
        given=f"{_describe_text(text)}, size {size}, overlap {overlap}",
    )
    _judge(
        text,
        got,
        _fixed(text, size, overlap),
        call,
        limit=size,
        mistakes=_fixed_mistakes(text, size, overlap),
        properties=_fixed_properties(text, size, overlap, call),
    )


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("which", "size", "overlap"),
    [("prose", 16, 4), ("prose", 10, 0), ("twenty", 8, 2), ("accents", 5, 3), ("page", 48, 12)],
)
def test_fixed_size_windows(learner, which, size, overlap):
    text = {"prose": PROSE, "twenty": TWENTY, "accents": ACCENTS}.get(which) or _page(
        "datasets", "faithful"
    )
    _check_fixed(learner, text, size, overlap)


@pytest.mark.task(2)
def test_fixed_size_overlap_one_less_than_size(learner):
    _check_fixed(learner, PROSE, 7, 6)  # step 1: every token starts a chunk, until the end


@pytest.mark.task(2)
@pytest.mark.parametrize("which", ["one chunk", "empty", "spaces"])
def test_fixed_size_edges(learner, which):
    text = {
        "one chunk": "  Speed and stopping distances of cars.\n",
        "empty": "",
        "spaces": " \n ",
    }[which]
    _check_fixed(learner, text, 64, 16)


@pytest.mark.task(2)
@pytest.mark.parametrize(
    ("size", "overlap", "why"),
    [
        (8, 10, "an overlap larger than the size would move each chunk backwards"),
        (8, -1, "a negative overlap would leave tokens out between the chunks"),
        (0, 0, "a size of 0 tokens makes empty chunks"),
    ],
)
def test_fixed_size_rejects_bad_arguments(learner, size, overlap, why):
    call = f"fixed_size_chunks(tokenizer, text, size={size}, overlap={overlap})"
    tokenizer = _learner_tokenizer()
    error, stopped = _raised_within_budget(
        learner.fixed_size_chunks, tokenizer, PROSE, size, overlap
    )
    if stopped:
        fail(f"{call} {stopped}: {why}. Raise ValueError unless size >= 1 and 0 <= overlap < size")
    if error is None:
        fail(
            f"{call} returned without an error: {why}. Raise ValueError unless size >= 1 and "
            "0 <= overlap < size"
        )
    if not isinstance(error, ValueError):
        fail(
            f"{call} raised {type(error).__name__} ({str(error)[:80]}); expected ValueError: "
            "check the arguments first"
        )


@pytest.mark.task(2)
def test_fixed_size_rejects_overlap_equal_to_size(learner):
    call = "fixed_size_chunks(tokenizer, text, size=8, overlap=8)"
    tokenizer = _learner_tokenizer()
    error, stopped = _raised_within_budget(learner.fixed_size_chunks, tokenizer, PROSE, 8, 8)
    if stopped:
        fail(
            f"{call} {stopped}: with overlap == size the step size - overlap is 0, so the loop "
            "makes the same chunk again and again and never reaches the end. Raise ValueError "
            "unless 0 <= overlap < size"
        )
    if error is None:
        fail(
            f"{call} returned without an error: with overlap == size the step size - overlap "
            "is 0 tokens. Raise ValueError unless 0 <= overlap < size"
        )
    if not isinstance(error, ValueError):
        hint = (
            " (range() refuses a step of 0: check the arguments yourself, before the loop)"
            if "must not be zero" in str(error)
            else ""
        )
        fail(f"{call} raised {type(error).__name__}: {str(error)[:80]}; expected ValueError{hint}")


# ----- task 3 -----------------------------------------------------------------------------------
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


def _sentence_spans(text: str) -> list[tuple[int, int]]:
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


def _sentences(
    text: str,
    limit: int,
    *,
    extra: int = 0,
    strict: bool = False,
    long: str = "windows",
    keep_last: bool = True,
) -> list[tuple[int, int]]:
    """Reference sentence packing; the keywords name known mistakes."""
    out: list[tuple[int, int]] = []
    group: list[int] = []
    total = 0

    def over(n: int) -> bool:
        return n >= limit if strict else n > limit

    for a, b in _sentence_spans(text):
        n = _token_count(text[a:b]) + extra
        if over(n) and long != "whole":
            if group:
                out.append((group[0], group[1]))
                group = []
            if long == "drop":
                continue
            shift = 0 if long == "unshifted" else a
            windows = [(shift + x, shift + y) for x, y in _fixed(text[a:b], limit, 0)]
            if long == "pack the tail":
                out.extend(windows[:-1])
                group, total = list(windows[-1]), _token_count(text[slice(*windows[-1])])
            else:
                out.extend(windows)
            continue
        if group and over(total + n):
            out.append((group[0], group[1]))
            group = []
        if group:
            group[1] = b
            total += n
        else:
            group, total = [a, b], n
    if group and keep_last:
        out.append((group[0], group[1]))
    return out


def _sentence_mistakes(text: str, limit: int) -> Callable[[], dict[str, Any]]:
    def table() -> dict[str, Any]:
        return {
            "the last chunk dropped (the sentences still being packed when the text ended were "
            "never added)": lambda: _sentences(text, limit, keep_last=False),
            "every sentence counted with [CLS] and [SEP] (2 more tokens each): lengths count "
            "the text's own tokens": lambda: _sentences(text, limit, extra=2),
            "a limit of max_tokens − 2, as if [CLS] and [SEP] counted (lengths count the text's "
            "own tokens)": lambda: _sentences(text, limit - 2) if limit > 2 else None,
            "chunks kept below max_tokens (< instead of <=: a chunk may hold exactly "
            "max_tokens tokens)": lambda: _sentences(text, limit, strict=True),
            "a sentence longer than max_tokens kept whole, over the limit": lambda: _sentences(
                text, limit, long="whole"
            ),
            "a sentence longer than max_tokens left out": lambda: _sentences(
                text, limit, long="drop"
            ),
            "the last window of a long sentence packed with the sentences after it (each "
            "window of a long sentence is a chunk of its own)": lambda: _sentences(
                text, limit, long="pack the tail"
            ),
            "the windows of a long sentence with offsets counted from the sentence's start, not "
            "the text's (fixed_size_chunks of text[a:b] counts from 0: add the sentence's start "
            "a to each window's start and end)": lambda: _sentences(text, limit, long="unshifted"),
        }

    return table


def _sentence_properties(source: str, limit: int, name: str) -> Callable[..., None]:
    def check(chunks: list[tuple[str, int, int]]) -> None:
        for i, (text, _start, _end) in enumerate(chunks):
            if text != text.strip():
                side = "starts" if text[:1].isspace() else "ends"
                fail(
                    f"{name}[{i}] {side} with whitespace ({text[:20]!r} … {text[-20:]!r}): a "
                    "chunk spans from its first sentence's start to its last sentence's end"
                )
        for i, (_text, start, end) in enumerate(chunks):
            for a, b in _sentence_spans(source):
                cut_inside = a < start < b or a < end < b
                if cut_inside and _token_count(source[a:b]) <= limit:
                    fail(
                        f"{name}[{i}] (characters {start}–{end}) cuts the sentence "
                        f"{_quote(source[a:b], 60)} ({_token_count(source[a:b])} tokens, within the "
                        f"limit of {limit}): a sentence that fits must stay whole in one chunk"
                    )
        _check_cover(source, chunks, name)

    return check


def _check_cover(source: str, chunks: list[tuple[str, int, int]], name: str) -> None:
    """Chunks in order, not overlapping, covering every token of the text."""
    for i in range(len(chunks) - 1):
        if chunks[i + 1][1] < chunks[i][2]:
            fail(
                f"{name}[{i + 1}] starts at {chunks[i + 1][1]}, before {name}[{i}] ends "
                f"({chunks[i][2]}): these chunks must not overlap, and come in text order"
            )
    tokens = _Tokens(source)
    held: set[int] = set()
    for _text, a, b in chunks:
        held.update(tokens.inside(a, b))
    missing = sorted(set(range(len(tokens.spans))) - held)
    if missing:
        a, b = tokens.spans[missing[0]]
        fail(
            f"{len(missing)} tokens of the text are in no chunk, the first {source[a:b]!r} at "
            f"{a}–{b} (in {_quote(source[max(0, a - 20) : b + 20], 50)}): the chunks must cover "
            "the whole text"
        )


def _check_sentences(learner: Any, text: str, limit: int) -> None:
    call = f"sentence_chunks(tokenizer, text, max_tokens={limit})"
    got = _call_with_cpu_budget(
        call,
        learner.sentence_chunks,
        _learner_tokenizer(),
        text,
        limit,
        given=f"{_describe_text(text)}, max_tokens {limit}",
    )
    _judge(
        text,
        got,
        _sentences(text, limit),
        call,
        limit=limit,
        mistakes=_sentence_mistakes(text, limit),
        properties=_sentence_properties(text, limit, call),
    )


@pytest.mark.task(3)
@pytest.mark.parametrize(("which", "limit"), [("prose", 20), ("page", 48), ("page", 24)])
def test_sentence_chunks(learner, which, limit):
    text = PROSE if which == "prose" else _page("datasets", "mtcars")
    _check_sentences(learner, text, limit)


@pytest.mark.task(3)
def test_sentence_chunks_exactly_full(learner):
    # The limit is the tokens of the first two sentences: they fill a chunk exactly.
    spans = _sentence_spans(SHORT_SENTENCES)
    limit = _token_count(SHORT_SENTENCES[spans[0][0] : spans[1][1]])
    _check_sentences(learner, SHORT_SENTENCES, limit)


@pytest.mark.task(3)
def test_sentence_longer_than_the_limit(learner):
    # PROSE's sixth sentence has 68 tokens: at 16 it becomes windows of 16, 16, 16, 16 and 4.
    _check_sentences(learner, PROSE, 16)


@pytest.mark.task(3)
@pytest.mark.parametrize("text", ["", " \n\n "])
def test_sentence_chunks_of_nothing(learner, text):
    _check_sentences(learner, text, 16)


# ----- task 4 -----------------------------------------------------------------------------------
def _recursive(
    text: str,
    limit: int,
    separators: Sequence[str] = SEPARATORS,
    *,
    length: str = "tokens",
    strict: bool = False,
    merge: str = "local",
    separators_kept: bool = True,
    cut_before: bool = False,
    fallback: str = "windows",
) -> list[tuple[int, int]]:
    """Reference recursive splitting as character spans; the keywords name known mistakes."""

    def size(a: int, b: int) -> int:
        if length == "chars":
            return b - a
        return _token_count(text[a:b]) + (2 if length == "tokens+2" else 0)

    def fits(a: int, b: int) -> bool:
        return size(a, b) < limit if strict else size(a, b) <= limit

    def windows(a: int, b: int) -> list[tuple[int, int]]:
        if fallback == "whole":
            return [(a, b)]
        shift = 0 if fallback == "unshifted" else a
        return [(shift + x, shift + y) for x, y in _fixed(text[a:b], limit, 0)]

    def pack(items: list[tuple[int, int]]) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for a, b in items:
            if out and fits(out[-1][0], b):
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
        return out

    def split(a: int, b: int, seps: Sequence[str]) -> list[tuple[int, int]]:
        piece = text[a:b]
        level = next((i for i, sep in enumerate(seps) if sep in piece), None)
        if level is None:
            return windows(a, b)
        sep, rest = seps[level], seps[level + 1 :]
        parts, cut = [], a
        if cut_before:  # each separator starts the piece after it
            while (found := text.find(sep, cut + 1, b)) >= 0:
                parts.append((cut, found))
                cut = found
            parts.append((cut, b))
        elif separators_kept:
            while (found := text.find(sep, cut, b)) >= 0:
                parts.append((cut, found + len(sep)))
                cut = found + len(sep)
            if cut < b:
                parts.append((cut, b))
        else:  # str.split(sep), and positions counted along the pieces without the separators
            for word in piece.split(sep):
                if word:
                    parts.append((cut, cut + len(word)))
                cut += len(word)
        if merge == "global":
            items: list[tuple[int, int]] = []
            for p, q in parts:
                items.extend([(p, q)] if fits(p, q) else split(p, q, rest))
            return pack(items)
        out: list[tuple[int, int]] = []
        group: list[tuple[int, int]] = []
        for p, q in parts:
            if fits(p, q):
                group.append((p, q))
            else:
                out.extend(pack(group))
                group = []
                out.extend(split(p, q, rest))
        return out + pack(group)

    spans = [(0, len(text))] if fits(0, len(text)) else split(0, len(text), tuple(separators))
    stripped = []
    for a, b in spans:
        piece = text[a:b]
        left, right = len(piece) - len(piece.lstrip()), len(piece.rstrip())
        if right > left:
            stripped.append((a + left, a + right))
    return stripped


def _recursive_mistakes(
    text: str, limit: int, separators: Sequence[str]
) -> Callable[[], dict[str, Any]]:
    def table() -> dict[str, Any]:
        return {
            "lengths counted in characters (len), not in tokens": lambda: _recursive(
                text, limit, separators, length="chars"
            ),
            "every length counted with [CLS] and [SEP] (2 more tokens): lengths count the "
            "text's own tokens": lambda: _recursive(text, limit, separators, length="tokens+2"),
            "pieces kept below max_tokens (< instead of <=: a piece of exactly max_tokens tokens "
            "fits)": lambda: _recursive(text, limit, separators, strict=True),
            "pieces made with str.split(sep), their positions counted without the separators, "
            "so every chunk after the first separator lies too far left in the source: keep "
            "each separator at the end of its piece": lambda: _recursive(
                text, limit, separators, separators_kept=False
            ),
            "the chunks of a piece that was too big packed together with the pieces around it "
            "(a piece split on its own keeps its chunks to itself)": lambda: _recursive(
                text, limit, separators, merge="global"
            ),
            "pieces cut BEFORE each separator, so the separator starts the next piece "
            '(keep_separator="start"): cut right AFTER each occurrence, the separator ending '
            "its piece": lambda: _recursive(text, limit, separators, cut_before=True),
            "a piece with none of the separators left kept whole, over the limit: cut it into "
            "fixed_size_chunks of max_tokens": lambda: _recursive(
                text, limit, separators, fallback="whole"
            ),
            "the token windows of a piece with no separator left, with offsets counted from "
            "that piece's start, not the text's: add the piece's start to each window's start "
            "and end": lambda: _recursive(text, limit, separators, fallback="unshifted"),
        }

    return table


def _recursive_properties(source: str, name: str) -> Callable[..., None]:
    def check(chunks: list[tuple[str, int, int]]) -> None:
        for i, (text, _start, _end) in enumerate(chunks):
            if text != text.strip():
                side = "starts" if text[:1].isspace() else "ends"
                fail(
                    f"{name}[{i}] {side} with whitespace ({_quote(text)}): strip each chunk at "
                    "both ends, moving start and end with it"
                )
        _check_cover(source, chunks, name)

    return check


def _check_recursive(
    learner: Any, text: str, limit: int, separators: Sequence[str] | None = None
) -> None:
    seps = SEPARATORS if separators is None else tuple(separators)
    extra = () if separators is None else (list(separators),)
    shown = "" if separators is None else f", separators={list(separators)!r}"
    call = f"recursive_chunks(tokenizer, text, max_tokens={limit}{shown})"
    got = _call_with_cpu_budget(
        call,
        learner.recursive_chunks,
        _learner_tokenizer(),
        text,
        limit,
        *extra,
        given=f"{_describe_text(text)}, max_tokens {limit}{shown}",
        advice="does each piece you split get smaller, and each level use the separators after "
        "its own?",
    )
    _judge(
        text,
        got,
        _recursive(text, limit, seps),
        call,
        limit=limit,
        mistakes=_recursive_mistakes(text, limit, seps),
        properties=_recursive_properties(text, call),
    )


@pytest.mark.task(4)
@pytest.mark.parametrize(
    ("which", "limit"),
    [("prose", 16), ("page", 48), ("page", 24), ("page2", 64), ("fits", 64)],
)
def test_recursive_chunks(learner, which, limit):
    text = {
        "prose": PROSE,
        "page": _page("AER", "CASchools"),
        "page2": _page("datasets", "airquality"),
        "fits": "\n\n  Speed and stopping distances of cars.\n\nRecorded in the 1920s.  \n",
    }[which]
    _check_recursive(learner, text, limit)


@pytest.mark.task(4)
def test_recursive_chunks_long_word(learner):
    # PROSE ends with a URL of 32 tokens and no space: at 12 tokens, token windows of 12.
    _check_recursive(learner, PROSE, 12)


@pytest.mark.task(4)
def test_recursive_chunks_other_separators(learner):
    _check_recursive(learner, _page("MASS", "geyser"), 20, separators=("\n", " "))


@pytest.mark.task(4)
@pytest.mark.parametrize("text", ["", "\n\n \n"])
def test_recursive_chunks_of_nothing(learner, text):
    _check_recursive(learner, text, 16)


# ----- task 5 -----------------------------------------------------------------------------------
class _Chunk(NamedTuple):
    text: str
    start: int
    end: int


def _chunker(kind: str, text: str) -> list[_Chunk]:
    spans = {
        "fixed": lambda: _fixed(text, CHUNK_TOKENS, 0),
        "fixed+overlap": lambda: _fixed(text, CHUNK_TOKENS, OVERLAP),
        "sentences": lambda: _sentences(text, CHUNK_TOKENS),
        "recursive": lambda: _recursive(text, CHUNK_TOKENS),
    }[kind]()
    return [_Chunk(text[a:b], a, b) for a, b in spans]


STRATEGIES = ("fixed", "fixed+overlap", "sentences", "recursive")

_DESCRIPTION = re.compile(r"### Description\s+(.+?)\s*(?=\n### |\Z)", re.DOTALL)


@precomputed
def _query_page_pairs() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The exercise's load_benchmark(): 30 (query, page) pairs drawn with seed 0."""
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
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(len(candidates), size=30, replace=False))
    return tuple(candidates[i][0] for i in chosen), tuple(candidates[i][1] for i in chosen)


@precomputed
def _vectors() -> dict[str, np.ndarray]:
    """The reference embedding of every query and every chunk of every strategy, each distinct
    text once (shortest first, so a batch holds little padding)."""
    queries, pages = _query_page_pairs()
    texts = set(queries)
    for kind in STRATEGIES:
        texts.update(chunk.text for body in pages for chunk in _chunker(kind, body))
    ordered = sorted(texts, key=lambda t: (len(t), t))
    tokenizer, model = minilm()
    parts = []
    with torch.inference_mode():
        for first in range(0, len(ordered), 32):
            batch = tokenizer(
                ordered[first : first + 32],
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            parts.append(F.normalize(mean, p=2, dim=1))
    vectors = torch.cat(parts).numpy().astype(np.float64)
    return dict(zip(ordered, vectors, strict=True))


def _table_embed(texts: Sequence[str]) -> np.ndarray:
    table = _vectors()
    return np.stack([table[t] for t in texts])


TIE = 1e-4  # float32 embeddings from other batchings differ by ~1e-7; identical chunks tie exactly


@cached
def _reference_recalls(kind: str) -> dict[str, Any]:
    """The recall of one strategy, recomputed here, and what known mistakes would report."""
    queries, pages = _query_page_pairs()
    owner, texts = [], []
    for page, body in enumerate(pages):
        for chunk in _chunker(kind, body):
            owner.append(page)
            texts.append(chunk.text)
    scores = _table_embed(queries) @ _table_embed(texts).T  # (Q, chunks)
    order = np.argsort(-scores, axis=1, kind="stable")
    ranked = np.sort(scores, axis=1)[:, ::-1]
    found = np.asarray(owner)[order]  # the page of each ranked chunk
    right = found == np.arange(len(queries))[:, None]
    sizes = np.bincount(owner, minlength=len(pages))
    row: dict[str, Any] = {"chunks": len(texts)}
    for k in (*KS, *(k + 1 for k in KS), *(k - 1 for k in KS if k > 1)):
        row[f"hits@{k}"] = right[:, :k].any(axis=1)
        # a query whose k-th and (k+1)-th scores (nearly) tie may count either way
        row[f"unsure@{k}"] = (
            np.abs(ranked[:, k - 1] - ranked[:, k]) < TIE
            if k < ranked.shape[1]
            else np.zeros(len(queries), dtype=bool)
        )
        row[f"chunk recall@{k}"] = float(np.mean(right[:, :k].sum(axis=1) / sizes))
        row[f"chunk index@{k}"] = float(
            np.mean((order[:, :k] == np.arange(len(queries))[:, None]).any(axis=1))
        )
        row[f"precision@{k}"] = float(np.mean(right[:, :k].sum(axis=1) / k))
        distinct = []
        for q in range(len(queries)):
            pages_seen = list(dict.fromkeys(found[q].tolist()))[:k]
            distinct.append(q in pages_seen)
        row[f"distinct@{k}"] = float(np.mean(distinct))
    return row


def _table(got: Any, name: str) -> dict[str, dict[str, Any]]:
    if got is None:
        fail(none_message(name, "the table"))
    if hasattr(got, "to_dict") and hasattr(got, "index"):  # a pandas DataFrame
        got = got.to_dict(orient="index")
    if not isinstance(got, dict):
        fail(
            f"{name} should be a dict {{strategy: {{column: value}}}} or a DataFrame; got "
            f"{type(got).__name__}"
        )
    missing = [s for s in STRATEGIES if s not in got]
    if missing:
        fail(
            f"{name} has the rows {sorted(map(str, got))}; expected one per strategy passed in: "
            f"{list(STRATEGIES)} (missing {missing})"
        )
    table = {}
    for strategy in STRATEGIES:
        row = got[strategy]
        if hasattr(row, "to_dict"):
            row = row.to_dict()
        if not isinstance(row, dict):
            fail(f"{name}[{strategy!r}] should be a dict of columns; got {type(row).__name__}")
        columns = ["chunks", *(f"recall@{k}" for k in KS)]
        absent = [c for c in columns if c not in row]
        if absent:
            fail(f"{name}[{strategy!r}] lacks the columns {absent}; it has {sorted(map(str, row))}")
        table[strategy] = row
    return table


@once_per_run
def _recall_outcome(learner: Any) -> dict[str, Any]:
    queries, pages = _query_page_pairs()
    tokenizer, model = learner_minilm()
    strategies = {kind: functools.partial(_chunker, kind) for kind in STRATEGIES}
    name = "recall_by_strategy(tokenizer, model, pages, queries, strategies, ks=(1, 5))"
    got = _call_with_cpu_budget(
        name,
        learner.recall_by_strategy,
        tokenizer,
        model,
        list(pages),
        list(queries),
        strategies,
        KS,
        given=f"{len(pages)} pages, {len(queries)} queries, the strategies {list(STRATEGIES)}",
        budget=120.0,
        advice="it should take a few seconds",
    )
    return _table(got, name)


def _learner_table(learner: Any) -> dict[str, Any]:
    table, error = _recall_outcome(learner)
    if error is not None:
        raise error
    assert table is not None
    return table


@pytest.mark.task(5)
def test_recall_table_counts_the_chunks(learner):
    table = _learner_table(learner)
    for strategy in STRATEGIES:
        want = _reference_recalls(strategy)["chunks"]
        got = table[strategy]["chunks"]
        try:
            value = float(got)
        except (TypeError, ValueError):
            fail(f"table[{strategy!r}]['chunks'] should be a number; got {got!r}")
        if value != want:
            clue = ""
            if value == len(_query_page_pairs()[1]):
                clue = ": that is the number of pages, not of chunks"
            fail(
                f"table[{strategy!r}]['chunks'] is {_fmt_number(value)}; the strategy makes "
                f"{want} chunks over the {len(_query_page_pairs()[1])} pages{clue}. Embed every chunk "
                "of every page, all kept in the corpus"
            )


@pytest.mark.task(5)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_recall_table_matches_a_recomputation(learner, strategy):
    table = _learner_table(learner)
    ref = _reference_recalls(strategy)
    q = len(_query_page_pairs()[0])
    for k in KS:
        key = f"recall@{k}"
        cell = f"table[{strategy!r}][{key!r}]"
        got = table[strategy][key]
        try:
            value = float(got)
        except (TypeError, ValueError):
            fail(f"{cell} should be a number; got {got!r}")
        if math.isnan(value):
            fail(f"{cell} is NaN; expected the share of the {q} queries with a hit")
        want = float(np.mean(ref[f"hits@{k}"]))
        slack = float(np.sum(ref[f"unsure@{k}"])) / q + 1e-6  # float32 means
        if abs(value - want) <= slack:
            continue
        wrong = {
            "a recall over chunks: the share of the page's chunks found in the top k, where a "
            "hit is ANY chunk of the right page among the k best": ref[f"chunk recall@{k}"],
            "a precision: the share of the k best chunks that come from the right page, where "
            "a hit is ANY chunk of the right page among them": ref[f"precision@{k}"],
            "the top k distinct pages (chunks merged by page): the task counts the k best "
            "chunks": ref[f"distinct@{k}"],
            "the positions of the ranked chunks compared with the query's number (order[:, :k] "
            "== q, true only when chunk number q is ranked high): compare the PAGE each ranked "
            "chunk comes from, owner[order], with q": ref[f"chunk index@{k}"],
            f"the hits among the {k + 1} best chunks (off by one)": float(
                np.mean(ref[f"hits@{k + 1}"])
            ),
        }
        if k > 1:
            wrong[f"the hits among the {k - 1} best chunks (off by one)"] = float(
                np.mean(ref[f"hits@{k - 1}"])
            )
        for label, bad in wrong.items():
            if abs(value - bad) <= slack and abs(bad - want) > slack:
                fail(f"{cell} is {value:.4f}, which looks like {label}; recomputed: {want:.4f}")
        fail(
            f"{cell} is {value:.4f}; recomputed from the same chunks with the same model: "
            f"{want:.4f} ({round((value - want) * q):+d} of the {q} queries). A hit at k: any of "
            "the k chunks with the highest cosine to the query comes from the query's own page"
        )
