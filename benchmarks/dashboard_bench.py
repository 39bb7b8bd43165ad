"""Dashboard latency under load: `aipath serve` on loopback, 50 concurrent clients.

The server is the real command (uvicorn, one process, with its file watcher and warm grader)
on a fresh workspace with a few weeks of recorded history, started on a free port.  Once the
grader is warm, 50 asyncio tasks, each with its own keep-alive connection (like 50 open browser
tabs), fetch the home page, then a lab page, a fixed number of times in all; every request's
latency is kept.  Client and server share the machine's cores.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

CLIENTS = 50
REQUESTS = 2000  # per page


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _workspace(root: Path) -> str:
    """A new workspace with some history: checks over past days, hints, logged reading."""
    from aipath.labs import load_catalogue
    from aipath.workspace.create import init_workspace
    from aipath.workspace.learner import lab_rows, next_lab
    from aipath.workspace.store import open_store

    catalogue = load_catalogue()
    ws = init_workspace(root, catalogue).workspace
    labs = list(catalogue)
    now = datetime.now(UTC)
    with open_store(ws) as store:
        for day, lab in enumerate(labs[:3]):
            at = now - timedelta(days=10 - 2 * day)
            for minute, status in enumerate(["failed", "failed", "passed"]):
                store.record_check(lab.id, status, 0.4, at=at + timedelta(minutes=12 * minute))
            store.record_hint(lab.id, 1, at=at)
        store.log_study(90, topic_id=labs[0].manifest.topic, at=now - timedelta(days=3))
    row = next_lab(lab_rows(ws, catalogue))
    return row.lab.id if row else labs[0].id


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class _Connection:
    """One keep-alive HTTP/1.1 connection, as a browser tab holds.

    A few lines of asyncio instead of a full HTTP client: httpx costs several milliseconds of
    CPU per request, which on a two-core machine would be measured instead of the server.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAccept: text/html\r\n\r\n"
        )
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def _load(port: int, path: str, total: int) -> dict[str, float]:
    """``total`` GETs of ``path`` shared by ``CLIENTS`` clients, each with its own connection."""
    latencies: list[float] = []
    errors = 0
    remaining = total

    async def one_client(conn: _Connection) -> None:
        nonlocal errors, remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            status = await conn.get(path)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors += 1

    conns = [_Connection("127.0.0.1", port) for _ in range(CLIENTS)]
    try:
        for conn in conns:  # open every connection (and warm the server) before timing
            await conn.get(path)
        began = time.perf_counter()
        await asyncio.gather(*(one_client(conn) for conn in conns))
        elapsed = time.perf_counter() - began
    finally:
        for conn in conns:
            await conn.close()
    return {
        "requests": total,
        "errors": errors,
        "median_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "requests_per_s": round(total / elapsed, 1),
    }


def _wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    worker = "?"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("`aipath serve` exited before it answered")
        try:
            worker = str(httpx.get(base + "/api/status", timeout=2).json()["worker"])
            if worker in ("ready", "cold"):
                return worker
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.25)
    return worker


def run_dashboard_bench(requests: int = REQUESTS) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="aipath-dash-bench-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        lab_id = _workspace(folder / "ws")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if k != "AIPATH_WORKSPACE"}
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aipath",
                "serve",
                "-w",
                str(folder / "ws"),
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        worker = _wait_ready(base, process)
        home = asyncio.run(_load(port, "/", requests))
        lab = asyncio.run(_load(port, f"/labs/{lab_id}", requests))
        return {
            "setup": f"aipath serve (uvicorn, 1 process, watcher on, grader {worker}) on "
            f"127.0.0.1; {CLIENTS} concurrent keep-alive clients (asyncio), {requests} "
            "requests per page",
            "cpus": os.cpu_count(),
            "home": home,
            "lab": {"page": f"/labs/{lab_id}", **lab},
        }
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    import json

    print(json.dumps(run_dashboard_bench(), indent=2))
