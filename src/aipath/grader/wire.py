"""The worker's socket protocol, in the standard library only: one JSON line each way.

Kept free of pydantic so the quick `aipath check` path (see :mod:`aipath.quick`) can talk to a
warm worker without importing the models; :mod:`aipath.grader.client` validates on top of it.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any


class WorkerUnavailable(Exception):
    """No worker answered, or it died mid-check: the caller falls back to a cold run."""


def exchange(socket_path: Path, message: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send one message to the worker and return its reply (``ok`` true), or raise."""
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
