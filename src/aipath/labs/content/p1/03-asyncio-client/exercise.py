"""A concurrent HTTP client with asyncio: bounded concurrency, timeouts, retries, input order.

Read README.md first. Every function is a coroutine (`async def`): call it with `await`, or from
plain code with `asyncio.run(...)`. Never block the event loop inside one (no `time.sleep`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Fetched:
    """The outcome of fetching one URL, retries included (given: do not change it).

    url:      the URL that was fetched
    status:   the final HTTP status code, or 0 when the last attempt timed out
    body:     the text of the final response, or "" when the last attempt timed out
    attempts: how many requests were sent for this URL (1 when the first answer was final)
    """

    url: str
    status: int
    body: str
    attempts: int


async def fetch_once(client: httpx.AsyncClient, url: str, timeout: float) -> tuple[int, str]:
    """Send one GET request and return ``(status_code, response_text)``.

    Every status is returned, never raised: 200, 404 and 503 alike. If no complete response has
    arrived after ``timeout`` seconds, raise the built-in ``TimeoutError``.

    Example (``base`` is the test server's address, e.g. "http://127.0.0.1:8123")::

        async with httpx.AsyncClient() as client:
            await fetch_once(client, f"{base}/item/3", timeout=1.0)  # (200, "item 3")
            await fetch_once(client, f"{base}/nope", timeout=1.0)  # (404, "not found")
            await fetch_once(client, f"{base}/item/3?delay_ms=1000", timeout=0.15)
            # raises TimeoutError after about 0.15 s
    """
    # TODO: task 1
    raise NotImplementedError


async def fetch_with_retry(
    client: httpx.AsyncClient,
    url: str,
    *,
    timeout: float,
    retries: int,
    backoff: float,
) -> Fetched:
    """Fetch ``url`` with ``fetch_once``, retrying a 503 or a timeout up to ``retries`` times.

    Any other status is final at once. Before retry n (n = 1, 2, ...) wait
    ``backoff * 2 ** (n - 1)`` seconds with ``await asyncio.sleep`` (a little extra jitter is
    allowed, never less). When every attempt failed, return the last outcome: status 503 with its
    body, or status 0 with body "" after a timeout.

    Examples::

        # a URL answering 503, 503, then 200 "item 5" (waits 0.04 s, then 0.08 s):
        await fetch_with_retry(client, url, timeout=1.0, retries=3, backoff=0.04)
        # Fetched(url=url, status=200, body="item 5", attempts=3)

        # a URL that always answers 503, retries=2:  Fetched(url, 503, <its body>, attempts=3)
        # a URL slower than the timeout, retries=1:  Fetched(url, 0, "", attempts=2)
        # a URL answering 404:                       Fetched(url, 404, <its body>, attempts=1)
    """
    # TODO: task 2
    raise NotImplementedError


async def fetch_all(
    urls: Sequence[str],
    *,
    limit: int,
    timeout: float = 2.0,
    retries: int = 3,
    backoff: float = 0.05,
) -> list[Fetched]:
    """Fetch every URL with ``fetch_with_retry``, at most ``limit`` requests in flight at once.

    Uses one shared ``httpx.AsyncClient``. Returns one ``Fetched`` per URL in the order of
    ``urls`` (result i is for urls[i]), whatever order the answers arrive in. A finished request
    frees its slot for the next URL at once (no batches). ``urls`` are distinct; [] gives [].

    Example::

        results = await fetch_all([u0, u1, u2], limit=2)
        [r.url for r in results]  # [u0, u1, u2], even if u2 answered first
    """
    # TODO: task 3
    raise NotImplementedError
