"""Document store: Annotated constraints, itertools.count ids, a client with match on status."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Annotated

import httpx
from fastapi import FastAPI, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, Field, StringConstraints

Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(min_length=1)]


class DocumentIn(BaseModel):
    title: Title
    text: Text
    tags: Annotated[list[str], Field(max_length=10)] = []


class Document(DocumentIn):
    id: int


class Page(BaseModel):
    items: list[Document]
    total: int
    offset: int
    limit: int


def create_app() -> FastAPI:
    app = FastAPI(title="documents")
    docs: list[Document] = []
    ids = itertools.count(1)

    def find(doc_id: int) -> int:
        for i, doc in enumerate(docs):
            if doc.id == doc_id:
                return i
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no document with id {doc_id}")

    @app.post("/documents", status_code=status.HTTP_201_CREATED, response_model=Document)
    def create(body: DocumentIn):
        doc = Document(**body.model_dump(), id=next(ids))
        docs.append(doc)
        return doc

    @app.get("/documents/{doc_id}", response_model=Document)
    def read(doc_id: Annotated[int, Path()]):
        return docs[find(doc_id)]

    @app.get("/documents", response_model=Page)
    def page(
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ):
        chosen = list(itertools.islice(docs, offset, offset + limit))
        return {"items": chosen, "total": len(docs), "offset": offset, "limit": limit}

    @app.delete("/documents/{doc_id}", status_code=status.HTTP_204_NO_CONTENT)
    def delete(doc_id: int) -> Response:
        docs.pop(find(doc_id))
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return app


class DocumentsClient:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _send(self, method: str, url: str, **kwargs) -> httpx.Response | None:
        response = self.http.request(method, url, **kwargs)
        match response.status_code:
            case 404:
                return None
            case _:
                response.raise_for_status()
                return response

    def create(self, title: str, text: str, tags: Sequence[str] = ()) -> Document:
        body = DocumentIn(title=title, text=text, tags=list(tags))
        response = self.http.post(
            "/documents",
            content=body.model_dump_json(),
            headers={"content-type": "application/json"},
        )
        response.raise_for_status()
        return Document.model_validate_json(response.content)

    def get(self, doc_id: int) -> Document | None:
        response = self._send("GET", f"/documents/{doc_id}")
        return None if response is None else Document.model_validate_json(response.content)

    def list_page(self, offset: int = 0, limit: int = 10) -> Page:
        response = self.http.get(f"/documents?offset={offset}&limit={limit}")
        response.raise_for_status()
        return Page(**response.json())

    def delete(self, doc_id: int) -> bool:
        return self._send("DELETE", f"/documents/{doc_id}") is not None

    def iter_all(self, page_size: int = 10) -> Iterator[Document]:
        first = self.list_page(0, page_size)
        yield from first.items
        for offset in range(page_size, first.total, page_size):
            yield from self.list_page(offset, page_size).items
