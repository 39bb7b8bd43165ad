"""A concurrent HTTP client: httpx's own timeout converted, as_completed with a url -> result map."""

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
    try:
        response = await client.get(url, timeout=httpx.Timeout(timeout))
    except httpx.TimeoutException as exc:
        raise TimeoutError(f"{url} took longer than {timeout} s") from exc
    return response.status_code, response.text


TRANSIENT = {503}


async def fetch_with_retry(
    client: httpx.AsyncClient, url: str, *, timeout: float, retries: int, backoff: float
) -> Fetched:
    last = Fetched(url, 0, "", 0)
    for n in range(retries + 1):
        if n:
            await asyncio.sleep(backoff * (1 << (n - 1)))
        try:
            status, body = await fetch_once(client, url, timeout)
        except TimeoutError:
            last = Fetched(url, 0, "", n + 1)
            continue
        last = Fetched(url, status, body, n + 1)
        if status not in TRANSIENT:
            break
    return last


async def fetch_all(
    urls: Sequence[str],
    *,
    limit: int,
    timeout: float = 2.0,
    retries: int = 3,
    backoff: float = 0.05,
) -> list[Fetched]:
    if not urls:
        return []
    sem = asyncio.Semaphore(limit)
    done: dict[str, Fetched] = {}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=limit)) as client:

        async def guarded(url: str) -> Fetched:
            async with sem:
                return await fetch_with_retry(
                    client, url, timeout=timeout, retries=retries, backoff=backoff
                )

        for finished in asyncio.as_completed([guarded(u) for u in urls]):
            result = await finished
            done[result.url] = result
    return [done[u] for u in urls]
