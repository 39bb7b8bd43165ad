"""The shapes of the arrays on the learner's failing line, when a shape error stopped it.

NumPy's ``matmul: Input operand 1 has a mismatch in its core dimension 0 …`` names gufunc
signatures, not the learner's variables.  This module reads the learner's deepest frame at the
moment of the error and lists the arrays, tensors and frames named on that line with their
shapes — ``x (4, 3), w (4, 2)`` — so the message says which shapes met.  Only objects of NumPy,
torch and pandas types are looked at (their ``shape`` runs no learner code); nothing heavy is
imported here, so the grader's error path stays cheap.
"""

from __future__ import annotations

import io
import keyword
import linecache
import re
import tokenize
from types import FrameType, TracebackType

__all__ = ["is_shape_error", "shapes_on_line"]

_SHAPE_WORDS = re.compile(
    r"shape|broadcast|matmul|dimension|size mismatch|cannot be multiplied|not aligned"
    r"|must match the size|sizes of tensors",
    re.IGNORECASE,
)
_ARRAY_MODULES = frozenset({"numpy", "torch", "pandas"})


def is_shape_error(exc: BaseException) -> bool:
    """Whether ``exc`` is NumPy's, torch's or pandas' complaint about shapes that do not fit."""
    return isinstance(exc, ValueError | RuntimeError | IndexError) and bool(
        _SHAPE_WORDS.search(str(exc))
    )


def _deepest(tb: TracebackType | None, path: str) -> tuple[FrameType, int] | None:
    found: tuple[FrameType, int] | None = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            found = (tb.tb_frame, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _names(source: str) -> list[str]:
    names: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            name = token.string
            if token.type == tokenize.NAME and not keyword.iskeyword(name) and name not in names:
                names.append(name)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return names


def _shape(value: object) -> tuple[int, ...] | None:
    if type(value).__module__.split(".")[0] not in _ARRAY_MODULES:
        return None
    try:
        shape = value.shape  # type: ignore[attr-defined]
        return tuple(int(n) for n in shape)
    except Exception:
        return None


def shapes_on_line(tb: TracebackType | None, path: str) -> str:
    """``"x (4, 3), w (4, 2)"``: the arrays named on the learner's deepest line; "" if none."""
    found = _deepest(tb, path)
    if found is None:
        return ""
    frame, lineno = found
    source = linecache.getline(path, lineno)
    parts = []
    for name in _names(source):
        if name in frame.f_locals:
            value = frame.f_locals[name]
        elif name in frame.f_globals:
            value = frame.f_globals[name]
        else:
            continue
        shape = _shape(value)
        if shape is not None:
            parts.append(f"{name} {shape}")
    return ", ".join(parts[:6])
