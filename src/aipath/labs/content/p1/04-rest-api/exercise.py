"""A document store: a FastAPI service with pydantic models, and a typed httpx client for it.

Read README.md first: it has the table of routes, status codes and limits the checks expect.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import httpx
from fastapi import FastAPI
from pydantic import BaseModel


class DocumentIn(BaseModel):
    """The body of ``POST /documents``.

    title: 1 to 200 characters; text: at least 1 character; tags: at most 10 strings, default [].
    Invalid bodies must be rejected with 422 by the model itself.
    """

    # TODO: task 1 — add the limits above with Field(...) (min_length / max_length).
    title: str
    text: str
    tags: list[str] = []


class Document(DocumentIn):
    """A stored document: the fields of ``DocumentIn`` plus the id the service gave it."""

    id: int


class Page(BaseModel):
    """One page of ``GET /documents``: ``items`` in id order, ``total`` documents stored in all."""

    items: list[Document]
    total: int
    offset: int
    limit: int


def create_app() -> FastAPI:
    """A new app with its own empty store (ids start at 1 and are never reused).

    POST   /documents            -> 201 Document | 422
    GET    /documents/{doc_id}   -> 200 Document | 404 {"detail": ...}
    GET    /documents?offset=&limit=   (offset >= 0, default 0; 1 <= limit <= 100, default 10)
                                 -> 200 Page     | 422
    DELETE /documents/{doc_id}   -> 204 no body  | 404

    Example, with fastapi.testclient.TestClient(create_app()) as ``client``::

        client.post("/documents", json={"title": "RAG", "text": "Retrieve, then generate."})
        # 201 {"title": "RAG", "text": "Retrieve, then generate.", "tags": [], "id": 1}
        client.get("/documents/1").status_code   # 200
        client.get("/documents/9").status_code   # 404
        client.get("/documents?offset=0&limit=2").json()
        # {"items": [{..., "id": 1}], "total": 1, "offset": 0, "limit": 2}
    """
    # TODO: tasks 1 and 2
    raise NotImplementedError


class DocumentsClient:
    """A typed client: methods return ``Document`` / ``Page`` objects, never raw dicts.

    ``http`` is an ``httpx.Client`` whose ``base_url`` points at the service. Error statuses other
    than the 404s described below raise ``httpx.HTTPStatusError`` (``raise_for_status()``).
    """

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def create(self, title: str, text: str, tags: Sequence[str] = ()) -> Document:
        """POST /documents; returns the created document (with its id).

        Example::

            client.create("RAG", "Retrieve, then generate.", ["llm"])
            # Document(title="RAG", text="Retrieve, then generate.", tags=["llm"], id=1)
        """
        # TODO: task 3
        raise NotImplementedError

    def get(self, doc_id: int) -> Document | None:
        """GET /documents/{doc_id}; None when the service answers 404."""
        # TODO: task 3
        raise NotImplementedError

    def list_page(self, offset: int = 0, limit: int = 10) -> Page:
        """GET /documents?offset=...&limit=...; returns the Page."""
        # TODO: task 3
        raise NotImplementedError

    def delete(self, doc_id: int) -> bool:
        """DELETE /documents/{doc_id}; True when deleted, False when the service answers 404."""
        # TODO: task 3
        raise NotImplementedError

    def iter_all(self, page_size: int = 10) -> Iterator[Document]:
        """Every stored document in id order, fetched page by page with limit=page_size.

        With 7 documents and page_size=3 it requests offsets 0, 3 and 6 and yields 7 documents.
        """
        # TODO: task 3
        raise NotImplementedError
