# expect: the 503 was not retried
"""Mistake: returns the first answer, so a 503 is never retried."""

from __future__ import annotations

import asyncio
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
    try:
        status, body = await fetch_once(client, url, timeout)
    except TimeoutError:
        return Fetched(url, 0, "", 1)
    return Fetched(url, status, body, 1)


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
