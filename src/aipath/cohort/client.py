"""The learner's side of a cohort: the link to the server, uploads, and waiting for verdicts.

The link (server URL and the learner's token) lives in ``.aipath/cohort.toml`` with mode 0600,
inside the workspace's own state folder: ``aipath.toml`` itself is committed to the workspace's
git repository, and a token must never be.  Waiting for a verdict is one server-sent-events
stream that the server answers the moment the verdict is stored — no polling.
"""

from __future__ import annotations

import os
import time
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import tomli_w
from httpx_sse import SSEError, connect_sse

from aipath.errors import AipathError
from aipath.workspace.model import Workspace

LINK_FILE: Final = "cohort.toml"
CONNECT_RETRIES: Final = 3
STREAM_RECONNECTS: Final = 20
RETRY_PAUSE_S: Final = 1.0  # between two tries of a client after a dropped stream


@dataclass(frozen=True)
class CohortLink:
    url: str
    token: str


def link_path(ws: Workspace) -> Path:
    return ws.state_dir / LINK_FILE


def save_link(ws: Workspace, link: CohortLink) -> Path:
    """Write the link atomically, readable by the learner only."""
    path = link_path(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(tomli_w.dumps({"url": link.url, "token": link.token}))
    tmp.replace(path)
    return path


def load_link(ws: Workspace) -> CohortLink:
    path = link_path(ws)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AipathError(
            "this workspace has not joined a cohort",
            hint="run `aipath cohort join URL --token TOKEN` with what your instructor gave you",
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise AipathError(f"{path} is not valid TOML: {exc}", hint="join again") from exc
    url, token = data.get("url"), data.get("token")
    if not isinstance(url, str) or not isinstance(token, str):
        raise AipathError(f"{path} lacks url or token", hint="join again")
    return CohortLink(url, token)


def _client(link: CohortLink, timeout: float = 30.0) -> httpx.Client:
    return httpx.Client(
        base_url=link.url.rstrip("/"),
        headers={"authorization": f"Bearer {link.token}"},
        timeout=httpx.Timeout(timeout, read=None),
        transport=httpx.HTTPTransport(retries=CONNECT_RETRIES),
    )


def _check(response: httpx.Response) -> dict[str, Any]:
    if response.status_code == 401:
        raise AipathError(
            "the cohort server does not accept this token",
            hint="ask your instructor for a new one (tokens can be rotated)",
        )
    if response.status_code >= 400:
        try:
            body = response.json()
            detail, hint = body.get("detail"), body.get("hint")
        except ValueError:
            detail, hint = response.text[:200], None
        raise AipathError(f"the cohort server said: {detail}", hint=hint)
    data = response.json()
    return data if isinstance(data, dict) else {"items": data}


def _unreachable(link: CohortLink, exc: httpx.HTTPError) -> AipathError:
    return AipathError(
        f"cannot reach the cohort server at {link.url}: {exc}",
        hint="is the server running and the URL right? nothing was lost",
    )


def join(ws: Workspace, url: str, token: str) -> dict[str, Any]:
    """Check the token against the server, then remember the link; who the server says we are."""
    if not url.startswith(("http://", "https://")):
        raise AipathError(f"{url!r} is not a server URL", hint="e.g. http://127.0.0.1:8780")
    link = CohortLink(url.rstrip("/"), token.strip())
    try:
        with _client(link) as client:
            me = _check(client.get("/api/me"))
    except httpx.HTTPError as exc:
        raise _unreachable(link, exc) from exc
    save_link(ws, link)
    return me


def upload(link: CohortLink, lab_id: str, path: Path, key: str | None = None) -> dict[str, Any]:
    """Send the file; the server's answer (its submission id).  Retrying with the same key
    after a lost answer gives back the first submission, never a second one."""
    key = key or uuid.uuid4().hex
    data = path.read_bytes()
    try:
        with _client(link) as client:
            return _check(
                client.post(
                    "/api/submissions",
                    data={"lab": lab_id, "key": key},
                    files={"file": (path.name, data, "text/x-python")},
                )
            )
    except httpx.HTTPError as exc:
        raise _unreachable(link, exc) from exc


def wait_verdict(
    link: CohortLink, submission_id: str, on_queued: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Block until the server streams the verdict; the submission with it."""
    announced = False
    last_error: Exception | None = None
    for _ in range(STREAM_RECONNECTS):
        try:
            with (
                _client(link) as client,
                connect_sse(client, "GET", f"/api/submissions/{submission_id}/events") as source,
            ):
                if source.response.status_code == 503:  # the database restarts: ask again
                    source.response.read()
                    last_error = AipathError(str(source.response.json().get("detail")))
                    time.sleep(RETRY_PAUSE_S)
                    continue
                if source.response.status_code != 200:
                    source.response.read()
                    _check(source.response)
                for event in source.iter_sse():
                    if event.event == "queued" and not announced:
                        announced = True
                        if on_queued is not None:
                            on_queued()
                    elif event.event == "verdict":
                        verdict: dict[str, Any] = event.json()
                        return verdict
        except (httpx.HTTPError, SSEError) as exc:  # the server restarted: the upload is safe
            last_error = exc
            time.sleep(RETRY_PAUSE_S)
    raise AipathError(
        f"the verdict of submission {submission_id} did not arrive ({last_error})",
        hint="`aipath cohort status` shows it once it is graded",
    )


def status(link: CohortLink) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Who we are on the server, and our submissions (newest first)."""
    try:
        with _client(link) as client:
            me = _check(client.get("/api/me"))
            items = _check(client.get("/api/submissions")).get("items", [])
    except httpx.HTTPError as exc:
        raise _unreachable(link, exc) from exc
    return me, list(items)
