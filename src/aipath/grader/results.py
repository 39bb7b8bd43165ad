"""The result of checking a lab: one shape for the CLI, the dashboard, the store and tools.

Modelled on Exercism's ``results.json``: a top-level status, then each test in file order with
its task number, status and message.  ``not-attempted`` is kept apart from ``failed`` (learntools'
lesson): an untouched TODO is not a wrong answer and must not be reported as one.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

RESULTS_VERSION = 1
OUTPUT_CAP = 2000


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_ATTEMPTED = "not-attempted"
    ERROR = "error"


class ErrorKind(StrEnum):
    """Why a check could not produce a verdict; each gets its own message."""

    SYNTAX = "syntax"
    IMPORT = "import"
    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    EXIT = "exit"
    SANDBOX = "sandbox"
    CRASH = "crash"
    MISSING_FILE = "missing-file"
    INTERNAL = "internal"


class ErrorInfo(BaseModel):
    kind: ErrorKind
    message: str
    line: int | None = None
    source: str | None = None
    traceback: str | None = None


class TestOutcome(BaseModel):
    name: str
    task: int | None = None
    status: Status
    message: str = ""
    output: str = ""
    duration_s: float = 0.0
    error: ErrorInfo | None = None


class CheckResult(BaseModel):
    version: int = RESULTS_VERSION
    lab: str
    status: Status
    duration_s: float
    summary: str = ""
    file: str = ""
    tests: list[TestOutcome] = Field(default_factory=list)
    error: ErrorInfo | None = None
    output: str = ""
    mode: str = Field(default="cold", description="warm (forked by a worker) or cold (new process)")
    confinement: str = Field(
        default="",
        description="what OS confinement the check lacked, in one line; empty when fully confined",
    )

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    def tasks(self) -> dict[int, Status]:
        """Status per task: a task passes only when all of its tests pass."""
        tasks: dict[int, list[Status]] = {}
        for test in self.tests:
            if test.task is not None:
                tasks.setdefault(test.task, []).append(test.status)
        return {task: overall_status(statuses) for task, statuses in sorted(tasks.items())}

    def first_problem(self) -> TestOutcome | None:
        for test in self.tests:
            if test.status in (Status.FAILED, Status.ERROR):
                return test
        return None


def overall_status(statuses: list[Status]) -> Status:
    """Combine test statuses: errors win, then failures; untouched only when nothing passed."""
    if not statuses:
        return Status.ERROR
    if Status.ERROR in statuses:
        return Status.ERROR
    if Status.FAILED in statuses:
        return Status.FAILED
    if all(s is Status.PASSED for s in statuses):
        return Status.PASSED
    if all(s is Status.NOT_ATTEMPTED for s in statuses):
        return Status.NOT_ATTEMPTED
    return Status.FAILED  # some tasks done, others still TODO: not finished yet


def summarize(result: CheckResult) -> str:
    """One line a learner reads first."""
    if result.error is not None:
        return result.error.message.splitlines()[0]
    total = len(result.tests)
    passed = sum(t.status is Status.PASSED for t in result.tests)
    todo = sum(t.status is Status.NOT_ATTEMPTED for t in result.tests)
    if result.status is Status.PASSED:
        return f"all {total} checks pass"
    if result.status is Status.NOT_ATTEMPTED:
        return "not attempted yet: replace the NotImplementedError bodies in the TODOs"
    problem = result.first_problem()
    head = f"{passed}/{total} checks pass"
    if todo:
        head += f", {todo} not attempted"
    if problem is not None:
        task = f"task {problem.task}: " if problem.task is not None else ""
        first_line = problem.message.splitlines()[0] if problem.message else problem.status.value
        return f"{head} — {task}{first_line}"
    return head
