"""The one exception type front ends know how to show.

Every service raises :class:`AipathError` (or a subclass) for problems the learner can fix: a
corrupt file, a missing workspace, an unknown lab id.  The CLI prints its message as one line
instead of a traceback (see ``aipath.cli``), and the web app turns it into a JSON error, so the
message must name the problem *and* the way out.
"""

from __future__ import annotations


class AipathError(Exception):
    """A problem with a message meant for the learner, not a bug."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  → {self.hint}"
        return self.message
