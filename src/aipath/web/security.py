"""Guards for a server with no login that listens on the learner's own machine.

- Only requests addressed to the loopback names are answered when serving on loopback, so a web
  page elsewhere cannot reach the dashboard through DNS rebinding.
- A write (POST, PUT, DELETE) coming from another site's page is refused (no cross-site forms).
- Every page carries a Content-Security-Policy that lets the browser load nothing from anywhere
  but this server: the dashboard works, and provably stays, offline.

Pure ASGI (not ``BaseHTTPMiddleware``) so the server-sent event stream passes untouched.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
CSP = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-eval'; "  # plotly.js compiles some functions at run time
    "style-src 'self' 'unsafe-inline'; "  # plotly.js positions its SVG with inline styles
    "img-src 'self' data: blob:; "
    "font-src 'self' data:; "
    "connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _hostname(value: str) -> str:
    """``127.0.0.1:8765`` → ``127.0.0.1``; ``[::1]:8765`` → ``::1``."""
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class GuardMiddleware:
    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] | None) -> None:
        self.app = app
        self.allowed = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    async def _refuse(self, send: Send, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.allowed is not None and _hostname(host).lower() not in self.allowed:
            await self._refuse(send, 421, f"this dashboard does not answer to host {host!r}")
            return
        if scope["method"] in UNSAFE_METHODS:
            origin = headers.get("origin")
            if headers.get("sec-fetch-site") == "cross-site" or (
                origin is not None and urlsplit(origin).netloc.lower() != host.lower()
            ):
                await self._refuse(send, 403, "writes from another site are refused")
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = MutableHeaders(scope=message)
                extra.setdefault("content-security-policy", CSP)
                extra.setdefault("x-content-type-options", "nosniff")
                extra.setdefault("referrer-policy", "no-referrer")
            await send(message)

        await self.app(scope, receive, send_with_headers)
