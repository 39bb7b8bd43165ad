"""A concurrent HTTP client: wait_for, a while loop with a delay variable, TaskGroup + index slots."""

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
    response = await asyncio.wait_for(client.get(url), timeout)
    return response.status_code, response.text


async def fetch_with_retry(
    client: httpx.AsyncClient, url: str, *, timeout: float, retries: int, backoff: float
) -> Fetched:
    attempts = 0
    delay = backoff
    while True:
        attempts += 1
        try:
            status, body = await fetch_once(client, url, timeout)
        except TimeoutError:
            status, body = 0, ""
        if status not in (0, 503) or attempts > retries:
            return Fetched(url=url, status=status, body=body, attempts=attempts)
        await asyncio.sleep(delay + random.uniform(0, delay * 0.1))
        delay *= 2


async def fetch_all(
    urls: Sequence[str],
    *,
    limit: int,
    timeout: float = 2.0,
    retries: int = 3,
    backoff: float = 0.05,
) -> list[Fetched]:
    results: list[Fetched | None] = [None] * len(urls)
    gate = asyncio.BoundedSemaphore(limit)
    async with httpx.AsyncClient() as client:

        async def run(i: int, url: str) -> None:
            async with gate:
                results[i] = await fetch_with_retry(
                    client, url, timeout=timeout, retries=retries, backoff=backoff
                )

        async with asyncio.TaskGroup() as group:
            for i, url in enumerate(urls):
                group.create_task(run(i, url))
    return [r for r in results if r is not None]
