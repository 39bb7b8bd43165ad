"""The grader: runs a lab's checks against a learner's file in an isolated, limited child."""

from aipath.grader.request import CheckRequest
from aipath.grader.results import CheckResult, ErrorInfo, ErrorKind, Status, TestOutcome

__all__ = ["CheckRequest", "CheckResult", "ErrorInfo", "ErrorKind", "Status", "TestOutcome"]
