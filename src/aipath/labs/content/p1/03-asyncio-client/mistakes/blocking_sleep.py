# expect: called time.sleep inside the event loop
"""Mistake: waits for the backoff with time.sleep, which freezes the whole event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

TRANSIENT_STATUS = 503


@dataclass(frozen=True)
class Fetched:
    """The outcome of fetching one URL, retries included."""

    url: str
    status: int
    body: str
    attempts: int


async def fetch_once(client: httpx.AsyncClient, url: str, timeout: float) -> tuple[int, str]:
    async with asyncio.timeout(timeout):
        response = await client.get(url)
    return response.status_code, response.text


async def fetch_with_retry(
    client: httpx.AsyncClient,
    url: str,
    *,
    timeout: float,
    retries: int,
    backoff: float,
) -> Fetched:
    status, body = 0, ""
    for attempt in range(1, retries + 2):
        if attempt > 1:
            time.sleep(backoff * 2 ** (attempt - 2))  # the mistake
        try:
            status, body = await fetch_once(client, url, timeout)
        except TimeoutError:
            status, body = 0, ""
            continue
        if status != TRANSIENT_STATUS:
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
    slots = asyncio.Semaphore(limit)

    async with httpx.AsyncClient() as client:

        async def bounded(url: str) -> Fetched:
            async with slots:
                return await fetch_with_retry(
                    client, url, timeout=timeout, retries=retries, backoff=backoff
                )

        # gather returns results in the order of its arguments, whatever order they finish in.
        return list(await asyncio.gather(*(bounded(url) for url in urls)))
