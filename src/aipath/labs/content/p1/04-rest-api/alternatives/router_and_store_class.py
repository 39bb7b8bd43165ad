"""Alternative: Annotated field types, a store class behind an APIRouter, islice pagination,
and a client that dispatches on the status code with `match`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Annotated

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

Title = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(min_length=1)]
Tags = Annotated[list[str], Field(max_length=10)]


class DocumentIn(BaseModel):
    title: Title
    text: Text
    tags: Tags = []


class Document(DocumentIn):
    id: int


class Page(BaseModel):
    items: list[Document]
    total: int
    offset: int
    limit: int


class Store:
    def __init__(self) -> None:
        self._docs: dict[int, Document] = {}
        self._last_id = 0

    def add(self, data: DocumentIn) -> Document:
        self._last_id += 1
        doc = Document(id=self._last_id, title=data.title, text=data.text, tags=data.tags)
        self._docs[doc.id] = doc
        return doc

    def get(self, doc_id: int) -> Document:
        try:
            return self._docs[doc_id]
        except KeyError:
            raise HTTPException(404, detail=f"no document with id {doc_id}") from None

    def remove(self, doc_id: int) -> None:
        self.get(doc_id)
        del self._docs[doc_id]

    def page(self, offset: int, limit: int) -> Page:
        ordered = (self._docs[k] for k in sorted(self._docs))
        items = list(islice(ordered, offset, offset + limit))
        return Page(items=items, total=len(self._docs), offset=offset, limit=limit)


def create_app() -> FastAPI:
    store = Store()
    router = APIRouter(prefix="/documents")

    @router.post("", status_code=201, response_model=Document)
    async def create(data: DocumentIn) -> Document:
        return store.add(data)

    @router.get("", response_model=Page)
    async def listing(offset: int = Query(0, ge=0), limit: int = Query(10, ge=1, le=100)) -> Page:
        return store.page(offset, limit)

    @router.get("/{doc_id}", response_model=Document)
    async def read(doc_id: int) -> Document:
        return store.get(doc_id)

    @router.delete("/{doc_id}", status_code=204)
    async def delete(doc_id: int) -> None:
        store.remove(doc_id)

    app = FastAPI()
    app.include_router(router)
    return app


class DocumentsClient:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def create(self, title: str, text: str, tags: Sequence[str] = ()) -> Document:
        payload = DocumentIn.model_construct(title=title, text=text, tags=list(tags))
        response = self.http.post("/documents", json=payload.model_dump())
        response.raise_for_status()
        return Document.model_validate_json(response.content)

    def get(self, doc_id: int) -> Document | None:
        response = self.http.get(f"/documents/{doc_id}")
        match response.status_code:
            case 404:
                return None
            case 200:
                return Document.model_validate_json(response.content)
            case _:
                response.raise_for_status()
                raise RuntimeError(f"unexpected status {response.status_code}")

    def list_page(self, offset: int = 0, limit: int = 10) -> Page:
        response = self.http.get("/documents", params={"offset": offset, "limit": limit})
        response.raise_for_status()
        return Page.model_validate_json(response.content)

    def delete(self, doc_id: int) -> bool:
        response = self.http.delete(f"/documents/{doc_id}")
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True

    def iter_all(self, page_size: int = 10) -> Iterator[Document]:
        offset, total = 0, None
        while total is None or offset < total:
            page = self.list_page(offset, page_size)
            total = page.total
            if not page.items:
                break
            yield from page.items
            offset += page_size
