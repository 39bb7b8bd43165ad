"""Alternative: wait_for for the timeout, a TaskGroup, and a semaphore held per request only."""

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
    response = await asyncio.wait_for(client.get(url), timeout)
    return response.status_code, response.text


class _Bounded:
    """Looks like the client to fetch_with_retry, but holds a slot only while a request runs,
    so a URL sleeping through its backoff leaves its slot to the others."""

    def __init__(self, client: httpx.AsyncClient, slots: asyncio.Semaphore) -> None:
        self._client = client
        self._slots = slots

    async def get(self, url: str) -> httpx.Response:
        async with self._slots:
            return await self._client.get(url)


async def fetch_with_retry(
    client: httpx.AsyncClient,
    url: str,
    *,
    timeout: float,
    retries: int,
    backoff: float,
) -> Fetched:
    last = (0, "")
    for attempt in range(retries + 1):
        if attempt:
            await asyncio.sleep(backoff * 2 ** (attempt - 1))
        try:
            last = await fetch_once(client, url, timeout)
        except TimeoutError:
            last = (0, "")
            continue
        if last[0] != 503:
            return Fetched(url, last[0], last[1], attempt + 1)
    return Fetched(url, last[0], last[1], retries + 1)


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
        bounded = _Bounded(client, slots)
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(
                    fetch_with_retry(
                        bounded,  # type: ignore[arg-type]
                        url,
                        timeout=timeout,
                        retries=retries,
                        backoff=backoff,
                    )
                )
                for url in urls
            ]
    return [task.result() for task in tasks]
