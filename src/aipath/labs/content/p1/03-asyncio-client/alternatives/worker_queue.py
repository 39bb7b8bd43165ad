"""Alternative: httpx's own timeout, a while-loop retry and a fixed pool of worker tasks."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    body: str
    attempts: int


async def fetch_once(client: httpx.AsyncClient, url: str, timeout: float) -> tuple[int, str]:
    try:
        response = await client.get(url, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise TimeoutError(f"no answer from {url} within {timeout} s") from exc
    return response.status_code, response.text


async def fetch_with_retry(
    client: httpx.AsyncClient,
    url: str,
    *,
    timeout: float,
    retries: int,
    backoff: float,
) -> Fetched:
    attempts = 0
    while True:
        attempts += 1
        try:
            status, body = await fetch_once(client, url, timeout)
        except TimeoutError:
            status, body = 0, ""
        transient = status in (0, 503)
        if not transient or attempts > retries:
            return Fetched(url=url, status=status, body=body, attempts=attempts)
        # exponential backoff plus a little jitter on top, so clients do not retry in lockstep
        delay = backoff * 2 ** (attempts - 1)
        await asyncio.sleep(delay + random.uniform(0, delay / 10))


async def fetch_all(
    urls: Sequence[str],
    *,
    limit: int,
    timeout: float = 2.0,
    retries: int = 3,
    backoff: float = 0.05,
) -> list[Fetched]:
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for job in enumerate(urls):
        queue.put_nowait(job)
    results: list[Fetched | None] = [None] * len(urls)

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                index, url = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            results[index] = await fetch_with_retry(
                client, url, timeout=timeout, retries=retries, backoff=backoff
            )

    async with httpx.AsyncClient() as client, asyncio.TaskGroup() as group:
        for _ in range(min(limit, len(urls))):
            group.create_task(worker(client))
    return [r for r in results if r is not None]
