"""Fixtures for the dashboard: a fixture workspace, its app, and a test client over ASGI."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():  # starlette nudges towards httpx2; httpx is what is installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from aipath.web.app import create_app
from aipath.workspace.model import Workspace

SOLUTION = Path(__file__).parents[1] / "fixtures" / "labs" / "p1" / "01-tiny" / "solution.py"


@pytest.fixture
def ws(fixture_workspace: Path) -> Workspace:
    return Workspace(fixture_workspace)


@pytest.fixture
def app(ws: Workspace) -> FastAPI:
    """The app without its file watcher and warm worker (the live tests start those)."""
    return create_app(ws, watch=False, worker=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1:8765") as test_client:
        yield test_client


@pytest.fixture
def solve(ws: Workspace) -> Callable[[], Path]:
    """Save the reference solution as the learner's file, as an editor would."""

    def save() -> Path:
        target = ws.root / "labs" / "p1" / "01-tiny" / "exercise.py"
        target.write_text(SOLUTION.read_text(encoding="utf-8"), encoding="utf-8")
        return target

    return save
