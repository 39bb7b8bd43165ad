"""The one way a check says "wrong": :class:`CheckFailure`, and how values are quoted in it.

Every helper in :mod:`aipath.checks` raises :class:`CheckFailure` (an ``AssertionError``) so the
grader can tell a check's verdict (shown verbatim) from a crash in the learner's code.
"""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np

__all__ = ["CheckFailure", "fail", "fmt", "none_message"]


class CheckFailure(AssertionError):
    """A check's verdict with the message the learner reads."""


def fail(message: str) -> NoReturn:
    """Stop the check with ``message`` as the learner's feedback."""
    raise CheckFailure(message)


def fmt(value: Any) -> str:
    """A short, readable rendering of a value for a message (6 significant digits for floats)."""
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    if isinstance(value, np.ndarray) and value.size > 8:
        return np.array2string(value, precision=4, threshold=8, edgeitems=2)
    if isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], int):
        return repr(value[0])
    return repr(value) if not isinstance(value, np.generic) else repr(value.item())


def none_message(name: str, what: str = "it") -> str:
    """The message for a function that returned ``None``: almost always a missing ``return``.

    ``what`` names the thing to return: ``none_message("fit()", "the fitted model")`` →
    ``fit() is None: did you forget to `return` the fitted model?``
    """
    return f"{name} is None: did you forget to `return` {what}?"
