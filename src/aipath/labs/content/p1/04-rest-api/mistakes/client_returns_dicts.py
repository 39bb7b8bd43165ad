# expect: expected a Document object
"""Mistake: the client hands back the raw JSON dicts instead of typed models."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Annotated

import httpx
from fastapi import FastAPI, HTTPException, Query, Response, status
from pydantic import BaseModel, Field


class DocumentIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list, max_length=10)


class Document(DocumentIn):
    id: int


class Page(BaseModel):
    items: list[Document]
    total: int
    offset: int
    limit: int


def create_app() -> FastAPI:
    app = FastAPI(title="Document store")
    store: dict[int, Document] = {}  # dicts keep insertion order, which is id order here
    next_id = itertools.count(1)

    def find(doc_id: int) -> Document:
        if doc_id not in store:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"document {doc_id} not found")
        return store[doc_id]

    @app.post("/documents", status_code=status.HTTP_201_CREATED)
    def create_document(body: DocumentIn) -> Document:
        document = Document(id=next(next_id), **body.model_dump())
        store[document.id] = document
        return document

    @app.get("/documents/{doc_id}")
    def read_document(doc_id: int) -> Document:
        return find(doc_id)

    @app.get("/documents")
    def list_documents(
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> Page:
        documents = list(store.values())
        return Page(
            items=documents[offset : offset + limit],
            total=len(documents),
            offset=offset,
            limit=limit,
        )

    @app.delete("/documents/{doc_id}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_document(doc_id: int) -> Response:
        del store[find(doc_id).id]
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return app


class DocumentsClient:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def create(self, title: str, text: str, tags: Sequence[str] = ()) -> Document:
        response = self.http.post(
            "/documents", json={"title": title, "text": text, "tags": list(tags)}
        )
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def get(self, doc_id: int) -> Document | None:
        response = self.http.get(f"/documents/{doc_id}")
        if response.status_code == status.HTTP_404_NOT_FOUND:
            return None
        response.raise_for_status()
        return Document.model_validate(response.json())

    def list_page(self, offset: int = 0, limit: int = 10) -> Page:
        response = self.http.get("/documents", params={"offset": offset, "limit": limit})
        response.raise_for_status()
        return Page.model_validate(response.json())

    def delete(self, doc_id: int) -> bool:
        response = self.http.delete(f"/documents/{doc_id}")
        if response.status_code == status.HTTP_404_NOT_FOUND:
            return False
        response.raise_for_status()
        return True

    def iter_all(self, page_size: int = 10) -> Iterator[Document]:
        offset = 0
        while True:
            page = self.list_page(offset=offset, limit=page_size)
            yield from page.items
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return
