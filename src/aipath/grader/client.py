"""Talk to a running warm worker; say clearly when there is none so callers can run cold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aipath.grader.request import CheckRequest
from aipath.grader.results import CheckResult
from aipath.grader.wire import WorkerUnavailable, exchange

__all__ = ["WorkerUnavailable", "check_with_worker", "ping"]


def ping(socket_path: Path, timeout: float = 0.5) -> bool:
    try:
        exchange(socket_path, {"op": "ping"}, timeout)
    except WorkerUnavailable:
        return False
    return True


def check_with_worker(
    socket_path: Path, request: CheckRequest, *, record_url: str | None = None
) -> tuple[CheckResult, bool]:
    """The verdict, and whether the worker recorded it in the store at ``record_url``."""
    message: dict[str, Any] = {"op": "check", "request": request.model_dump(mode="json")}
    if record_url is not None:
        message["record_url"] = record_url
    reply = exchange(socket_path, message, timeout=request.timeout_s + 30.0)
    return CheckResult.model_validate(reply["result"]), bool(reply.get("recorded"))
