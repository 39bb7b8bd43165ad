"""Run a lab's checks with plain ``pytest`` (no sandbox, no worker): for authors and benchmarks.

    AIPATH_LEARNER_FILE=path/to/exercise.py python -m pytest LAB/checks.py -p aipath.grader.standalone

It provides the same fixtures as the grader's plugin, so a check behaves the same way here.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aipath.grader.plugin import reseed


def _learner_path() -> Path:
    value = os.environ.get("AIPATH_LEARNER_FILE")
    if not value:
        raise pytest.UsageError("set AIPATH_LEARNER_FILE to the file under test")
    return Path(value).resolve()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "task(n): the lab task a check belongs to")


@pytest.fixture(scope="session")
def learner_file() -> Path:
    return _learner_path()


@pytest.fixture(scope="session")
def learner(learner_file: Path) -> ModuleType:
    name = os.environ.get("AIPATH_MODULE_NAME", "exercise")
    spec = importlib.util.spec_from_file_location(name, learner_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def workdir(learner_file: Path) -> Path:
    return Path(os.environ.get("AIPATH_WORKDIR", str(learner_file.parent)))


@pytest.fixture
def rng() -> Any:
    import numpy as np

    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _aipath_reseed() -> None:
    reseed(0)
