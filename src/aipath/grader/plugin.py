"""The pytest plugin that connects a lab's ``checks.py`` to the learner's module.

It provides the fixtures checks are written against (``learner``, ``learner_file``, ``workdir``,
``rng``), reseeds every generator before each test so results never depend on test order, and
classifies each outcome the way a learner needs it: an untouched TODO is *not attempted*, an
assertion is a *failure* with the check's own message, anything else is an *error* pointing at the
learner's line.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aipath.grader.events import CollectErrorEvent, EventWriter, StartEvent, TestEvent
from aipath.grader.learnerframes import describe_exception, exception_frames
from aipath.grader.results import OUTPUT_CAP, ErrorInfo, Status, TestOutcome


def reseed(seed: int) -> None:
    """Seed every generator a check or a learner might use."""
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def task_of(item: pytest.Item) -> int | None:
    marker = item.get_closest_marker("task")
    if marker is None or not marker.args:
        return None
    value = marker.args[0]
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def _cap(text: str) -> str:
    if len(text) <= OUTPUT_CAP:
        return text
    return text[:OUTPUT_CAP] + f"\n… output cut: {len(text) - OUTPUT_CAP} more characters"


class LabPlugin:
    """The fixtures and hooks of a check session.

    ``module`` is the learner's module, or (verdict_process = "trusted") a proxy of it in the
    confined learner process; ``on_reseed`` then reseeds that process's generators too.
    ``current`` is the check running now (the trusted side names it when the learner process
    dies mid-call).
    """

    def __init__(
        self,
        module: ModuleType | Any,
        learner_path: str,
        workdir: Path,
        seed: int,
        writer: EventWriter,
        *,
        on_reseed: Callable[[int], None] | None = None,
        order: Sequence[str] = (),
    ) -> None:
        self._module = module
        self._order = {name: rank for rank, name in enumerate(order)}
        self.learner_path = learner_path
        self._workdir = workdir
        self._seed = seed
        self.writer = writer
        self._on_reseed = on_reseed
        self._started: dict[str, float] = {}
        self.current: str | None = None

    # ----- fixtures the checks use -------------------------------------------------------
    @pytest.fixture(scope="session")
    def learner(self) -> ModuleType | Any:
        return self._module

    @pytest.fixture(scope="session")
    def learner_file(self) -> Path:
        return Path(self.learner_path)

    @pytest.fixture(scope="session")
    def workdir(self) -> Path:
        return self._workdir

    @pytest.fixture
    def rng(self) -> Any:
        import numpy as np

        return np.random.default_rng(self._seed)

    @pytest.fixture(autouse=True)
    def _aipath_reseed(self) -> None:
        reseed(self._seed)
        if self._on_reseed is not None:
            self._on_reseed(self._seed)

    # ----- hooks ---------------------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "task(n): the lab task a check belongs to")
        # The verdict is built from the exception itself (below); pytest's long traceback
        # re-parsed the whole checks.py for each frame of each failure (0.4 s of a 0.7 s check
        # of a 1,300-line checks file). Python's own traceback is enough for the rare message
        # that needs one. (``--tb`` belongs to the terminal plugin, which checks turn off.)
        config.option.tbstyle = "native"

    @pytest.hookimpl(trylast=True)  # after pytest groups the items by their fixtures
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Run the checks named in the request's ``test_order`` first, in that order.

        ``dev check`` runs a mistake until its first failure, starting with the check that named
        it last time: a slip named by a 0.01 s check no longer waits for the 4 s checks before
        it. Each check is
        reseeded before it runs, so the order changes no verdict; the learner's own checks keep
        the file's order.
        """
        if not self._order:
            return
        last = len(self._order)
        items.sort(key=lambda item: self._order.get(item.name, last))

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self._started[nodeid] = time.perf_counter()
        self.current = location[2]
        self.writer.write(StartEvent(name=location[2]))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.writer.write(
                CollectErrorEvent(
                    message=f"the lab's checks.py could not be loaded: {report.longreprtext[-1500:]}"
                )
            )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when == "call" or (call.when == "setup" and report.failed):
            self._record(item, call, report)
        return report

    def _record(
        self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
    ) -> None:
        name = item.name
        self.current = None
        output = _cap("".join(text for _section, text in report.sections if text))
        duration = time.perf_counter() - self._started.get(item.nodeid, time.perf_counter())
        task = task_of(item)
        seconds = round(duration, 4)

        def outcome(status: Status, message: str, error: ErrorInfo | None = None) -> None:
            self.writer.write(
                TestEvent(
                    outcome=TestOutcome(
                        name=name,
                        task=task,
                        status=status,
                        message=message,
                        output=output,
                        duration_s=seconds,
                        error=error,
                    )
                )
            )

        excinfo = call.excinfo
        if excinfo is None:
            outcome(Status.PASSED, "")
            return
        exc = excinfo.value
        if isinstance(exc, NotImplementedError):
            where = ""
            frames = exception_frames(exc, self.learner_path)
            if frames:
                where = f" (`{frames[-1].name}` still raises NotImplementedError)"
            message = f"not attempted yet{where}"
            outcome(Status.NOT_ATTEMPTED, message)
            return
        if isinstance(exc, AssertionError) and not exception_frames(exc, self.learner_path):
            text = str(exc).strip() or report.longreprtext.strip().splitlines()[-1]
            outcome(Status.FAILED, text)
            return
        if isinstance(exc, pytest.skip.Exception):
            outcome(Status.PASSED, f"skipped: {exc}")
            return
        info = describe_exception(exc, self.learner_path, context=f"while checking {name}")
        outcome(Status.ERROR, info.message, info)
