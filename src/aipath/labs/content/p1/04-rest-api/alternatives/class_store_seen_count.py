"""Document store: a store class, validators by hand-free Field, a client counting what it yielded."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import httpx
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field


class DocumentIn(BaseModel):
    title: str = Field(..., min_length=1, max_length=200)
    text: str = Field(..., min_length=1)
    tags: list[str] = Field([], max_length=10)


class Document(DocumentIn):
    id: int


class Page(BaseModel):
    items: list[Document]
    total: int
    offset: int
    limit: int


class Store:
    def __init__(self) -> None:
        self.next_id = 1
        self.rows: dict[int, Document] = {}

    def add(self, body: DocumentIn) -> Document:
        doc = Document(id=self.next_id, title=body.title, text=body.text, tags=list(body.tags))
        self.next_id += 1
        self.rows[doc.id] = doc
        return doc

    def take(self, doc_id: int) -> Document:
        try:
            return self.rows[doc_id]
        except KeyError:
            raise HTTPException(404, f"document {doc_id} does not exist") from None


def create_app() -> FastAPI:
    app = FastAPI()
    app.state.store = store = Store()

    @app.post("/documents", status_code=201)
    async def create(body: DocumentIn) -> Document:
        return store.add(body)

    @app.get("/documents/{doc_id}")
    async def read(doc_id: int) -> Document:
        return store.take(doc_id)

    @app.get("/documents")
    async def listing(
        offset: int = Query(default=0, ge=0), limit: int = Query(default=10, ge=1, le=100)
    ) -> Page:
        ordered = sorted(store.rows.values(), key=lambda d: d.id)
        items = []
        for i, doc in enumerate(ordered):
            if offset <= i < offset + limit:
                items.append(doc)
        return Page(items=items, total=len(ordered), offset=offset, limit=limit)

    @app.delete("/documents/{doc_id}")
    async def delete(doc_id: int) -> Response:
        store.take(doc_id)
        del store.rows[doc_id]
        return Response(status_code=204)

    return app


class DocumentsClient:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def create(self, title: str, text: str, tags: Sequence[str] = ()) -> Document:
        r = self.http.post("/documents", json=dict(title=title, text=text, tags=[*tags]))
        if r.status_code != 201:
            r.raise_for_status()
        return Document(**r.json())

    def get(self, doc_id: int) -> Document | None:
        r = self.http.get("/documents/" + str(doc_id))
        if r.status_code == httpx.codes.NOT_FOUND:
            return None
        return Document(**r.raise_for_status().json())

    def list_page(self, offset: int = 0, limit: int = 10) -> Page:
        return Page.model_validate(
            self.http.get("/documents", params=[("offset", offset), ("limit", limit)])
            .raise_for_status()
            .json()
        )

    def delete(self, doc_id: int) -> bool:
        r = self.http.delete(f"/documents/{doc_id}")
        if r.status_code == httpx.codes.NOT_FOUND:
            return False
        r.raise_for_status()
        return True

    def iter_all(self, page_size: int = 10) -> Iterator[Document]:
        seen, total = 0, None
        while total is None or seen < total:
            page = self.list_page(seen, page_size)
            total = page.total
            if not page.items:
                break
            for doc in page.items:
                seen += 1
                yield doc
