# expect: a semaphore bounds only the tasks that share it
# slip: the Semaphore is created inside each task, so nothing is bounded

from __future__ import annotations

import asyncio
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
    async with asyncio.timeout(timeout):
        response = await client.get(url)
    return response.status_code, response.text


async def fetch_with_retry(
    client: httpx.AsyncClient, url: str, *, timeout: float, retries: int, backoff: float
) -> Fetched:
    status, body = 0, ""
    for attempt in range(1, retries + 2):
        if attempt > 1:
            await asyncio.sleep(backoff * 2 ** (attempt - 2))
        try:
            status, body = await fetch_once(client, url, timeout)
        except TimeoutError:
            status, body = 0, ""
            continue
        if status != 503:
            return Fetched(url, status, body, attempt)
    return Fetched(url, status, body, retries + 1)


async def fetch_all(
    urls: Sequence[str],
    *,
    limit: int,
    timeout: float = 2.0,
    retries: int = 3,
    backoff: float = 0.05,
) -> list[Fetched]:
    async with httpx.AsyncClient() as client:

        async def one(url: str) -> Fetched:
            async with asyncio.Semaphore(limit):
                return await fetch_with_retry(
                    client, url, timeout=timeout, retries=retries, backoff=backoff
                )

        return list(await asyncio.gather(*(one(u) for u in urls)))
