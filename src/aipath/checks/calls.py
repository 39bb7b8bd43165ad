"""Calling the learner's code from a check: an exception it raises becomes a readable verdict.

A ``ValueError`` deep inside scikit-learn, raised because the learner's pipeline handed it NaN,
would otherwise be reported as an error with a long traceback; :func:`call_learner` turns it
into a failure that says which call raised what.  ``NotImplementedError`` always passes through
untouched: it is how the grader tells a task that is not attempted yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aipath.checks.failure import fail

__all__ = ["LEARNER_ERRORS", "call_learner", "raised"]

LEARNER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    RuntimeError,
)
"""What a broken learner function usually raises (bugs, not a check's own problems)."""


def call_learner(
    what: str,
    func: Callable[..., Any],
    *args: Any,
    hint: str = "",
    errors: tuple[type[BaseException], ...] = LEARNER_ERRORS,
    **kwargs: Any,
) -> Any:
    """``func(*args, **kwargs)``; one of ``errors`` fails the check as "{what} raised …".

    ``hint`` is added after the error (a question that points at the usual cause)::

        model = call_learner("make_pipeline().fit(X, y)", pipe.fit, X, y,
                             hint="Do the missing ages reach a step that cannot take NaN?")
    """
    try:
        return func(*args, **kwargs)
    except NotImplementedError:
        raise
    except errors as exc:
        text = f"{what} raised {type(exc).__name__}: {str(exc)[:300]}"
        fail(f"{text}. {hint}" if hint else text)


def raised(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Exception | None:
    """The exception ``func(*args, **kwargs)`` raised, or None when it returned normally.

    For checks that demand an error (``ValueError`` for a bad label): the check then says what
    was raised instead, or that nothing was.  ``NotImplementedError`` passes through.
    """
    try:
        func(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as exc:  # learner code may raise anything: the caller judges it
        return exc
    return None
