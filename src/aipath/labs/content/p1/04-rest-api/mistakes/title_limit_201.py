# expect: a title of 201 characters
# slip: title max_length=201: a 201-character title is accepted

from __future__ import annotations

from collections.abc import Iterator, Sequence

import httpx
from fastapi import FastAPI, HTTPException, Query, Response
from pydantic import BaseModel, Field


class DocumentIn(BaseModel):
    title: str = Field(min_length=1, max_length=201)
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
    app = FastAPI()
    store: dict[int, Document] = {}
    counter = [0]

    @app.post("/documents", status_code=201)
    def create(body: DocumentIn) -> Document:
        counter[0] += 1
        doc = Document(id=counter[0], **body.model_dump())
        store[doc.id] = doc
        return doc

    @app.get("/documents/{doc_id}")
    def read(doc_id: int) -> Document:
        if doc_id not in store:
            raise HTTPException(status_code=404, detail=f"document {doc_id} not found")
        return store[doc_id]

    @app.get("/documents")
    def listing(offset: int = Query(0, ge=0), limit: int = Query(10, ge=1, le=100)) -> Page:
        docs = [store[k] for k in sorted(store)]
        return Page(
            items=docs[offset : offset + limit], total=len(docs), offset=offset, limit=limit
        )

    @app.delete("/documents/{doc_id}", status_code=204)
    def remove(doc_id: int) -> Response:
        if doc_id not in store:
            raise HTTPException(status_code=404, detail=f"document {doc_id} not found")
        del store[doc_id]
        return Response(status_code=204)

    return app


class DocumentsClient:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def create(self, title: str, text: str, tags: Sequence[str] = ()) -> Document:
        response = self.http.post(
            "/documents", json={"title": title, "text": text, "tags": list(tags)}
        )
        response.raise_for_status()
        return Document.model_validate(response.json())

    def get(self, doc_id: int) -> Document | None:
        response = self.http.get(f"/documents/{doc_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return Document.model_validate(response.json())

    def list_page(self, offset: int = 0, limit: int = 10) -> Page:
        response = self.http.get("/documents", params={"offset": offset, "limit": limit})
        response.raise_for_status()
        return Page.model_validate(response.json())

    def delete(self, doc_id: int) -> bool:
        response = self.http.delete(f"/documents/{doc_id}")
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True

    def iter_all(self, page_size: int = 10) -> Iterator[Document]:
        offset = 0
        while True:
            page = self.list_page(offset, page_size)
            yield from page.items
            offset += page_size
            if offset >= page.total or not page.items:
                return
