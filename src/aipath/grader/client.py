"""Talk to a running warm worker; say clearly when there is none so callers can run cold."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from aipath.grader.request import CheckRequest
from aipath.grader.results import CheckResult


class WorkerUnavailable(Exception):
    """No worker answered, or it died mid-check: the caller falls back to a cold run."""


def _exchange(socket_path: Path, message: dict[str, Any], timeout: float) -> dict[str, Any]:
    if not socket_path.exists():
        raise WorkerUnavailable("no worker socket")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(socket_path))
            conn.sendall(json.dumps(message).encode("utf-8") + b"\n")
            chunks: list[bytes] = []
            while True:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
                if chunk.endswith(b"\n"):
                    break
    except OSError as exc:
        raise WorkerUnavailable(str(exc)) from exc
    data = b"".join(chunks)
    if not data.strip():
        raise WorkerUnavailable("the worker closed the connection (it may have been killed)")
    try:
        reply = json.loads(data)
    except json.JSONDecodeError as exc:
        raise WorkerUnavailable(f"garbled reply: {exc}") from exc
    if not isinstance(reply, dict) or not reply.get("ok"):
        raise WorkerUnavailable(str(reply.get("error") if isinstance(reply, dict) else reply))
    return reply


def ping(socket_path: Path, timeout: float = 0.5) -> bool:
    try:
        _exchange(socket_path, {"op": "ping"}, timeout)
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
    reply = _exchange(socket_path, message, timeout=request.timeout_s + 30.0)
    return CheckResult.model_validate(reply["result"]), bool(reply.get("recorded"))
