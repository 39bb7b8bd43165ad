"""The grader: runs a lab's checks against a learner's file in an isolated, limited child.

Names are imported on first use (PEP 562): the quick `aipath check` path talks to the worker
through :mod:`aipath.grader.wire` without importing the pydantic models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aipath.lazy import lazy_exports

if TYPE_CHECKING:
    from aipath.grader.request import CheckRequest
    from aipath.grader.results import CheckResult, ErrorInfo, ErrorKind, Status, TestOutcome

_EXPORTS = {
    "CheckRequest": "aipath.grader.request",
    "CheckResult": "aipath.grader.results",
    "ErrorInfo": "aipath.grader.results",
    "ErrorKind": "aipath.grader.results",
    "Status": "aipath.grader.results",
    "TestOutcome": "aipath.grader.results",
}

__all__ = ["CheckRequest", "CheckResult", "ErrorInfo", "ErrorKind", "Status", "TestOutcome"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
