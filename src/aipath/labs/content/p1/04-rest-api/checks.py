"""Checks for p1-rest-api.

Tasks 1-2 drive the learner's app in-process with FastAPI's TestClient. Task 3 runs the learner's
client against a fake service built here on httpx.MockTransport (so a bug in the app cannot hide
or fake a bug in the client), then serves the learner's app with `serve_app` (uvicorn on
127.0.0.1, a free port, in a thread) and drives it with the learner's client over a real socket.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pydantic
import pytest

from aipath.checks import assert_returned, fail
from aipath.checks.calls import call_learner
from aipath.checks.servers import TestClient, response_body, serve_app

# ----- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def api(learner) -> Iterator[TestClient]:
    app = assert_returned(learner.create_app(), "create_app()", what="app")
    with TestClient(app) as client:
        yield client


def _create(api: TestClient, title: str, text: str = "some text", **extra: Any) -> dict[str, Any]:
    response = api.post("/documents", json={"title": title, "text": text, **extra})
    if response.status_code == 200:
        fail(
            "POST /documents returned 200; expected 201 Created — FastAPI answers 200 unless the "
            "route says otherwise: @app.post(..., status_code=201)"
        )
    if response.status_code != 201:
        fail(
            f"POST /documents with a valid body returned {response.status_code} "
            f"{response_body(response)!r}; expected 201 and the stored document"
        )
    body = response_body(response)
    if not isinstance(body, dict):
        fail(f"POST /documents returned {body!r}; expected the stored document as a JSON object")
    return body


def _first_create(api: TestClient, title: str, text: str = "some text", **extra: Any) -> dict:
    """The first POST to a fresh app: its id must be 1, or the store outlives the app."""
    body = _create(api, title, text, **extra)
    if body.get("id") != 1:
        fail(
            f"the first POST /documents to a new create_app() got id {body.get('id')!r}; "
            "expected 1 — the store is shared between apps (a module-level global?): create "
            "it inside create_app()"
        )
    return body


def _ids(api: TestClient, query: str) -> tuple[list[Any], dict[str, Any]]:
    response = api.get(f"/documents{query}")
    if response.status_code != 200:
        fail(
            f"GET /documents{query} returned {response.status_code} {response_body(response)!r}; "
            "expected 200 and a Page"
        )
    page = response_body(response)
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        fail(
            f"GET /documents{query} returned {page!r}; expected a Page "
            '{"items": [...], "total": ..., "offset": ..., "limit": ...}'
        )
    return [item.get("id") if isinstance(item, dict) else item for item in page["items"]], page


def _page_clue(got: list[Any], ids: list[int], offset: int, limit: int) -> str:
    variants = {
        "one item too many (off-by-one at the end of the slice: a page holds `limit` items)": ids[
            offset : offset + limit + 1
        ],
        "one item too few (off-by-one at the end of the slice)": ids[offset : offset + limit - 1],
        "the page starts one item late (off-by-one: `offset` is how many items to skip, so the "
        "page starts at index offset)": ids[offset + 1 : offset + 1 + limit],
        "the page starts one item early (off-by-one: `offset` counts from 0)": ids[
            max(offset - 1, 0) : max(offset - 1, 0) + limit
        ]
        if offset
        else None,
        "offset was read as a page number (it is a number of items to skip)": ids[
            offset * limit : offset * limit + limit
        ]
        if offset > 1
        else None,
    }
    for clue, wrong in variants.items():
        if wrong is not None and got == wrong:
            return f" — {clue}"
    return ""


# ----- task 1 -----------------------------------------------------------------------------------


@pytest.mark.task(1)
def test_create_returns_201_and_the_document(api: TestClient) -> None:
    body = _first_create(api, "Retrieval", "Retrieve, then generate.", tags=["rag", "llm"])
    want = {
        "id": 1,
        "title": "Retrieval",
        "text": "Retrieve, then generate.",
        "tags": ["rag", "llm"],
    }
    if body != want:
        fail(f"POST /documents (the first document) returned {body!r}; expected {want!r}")
    second = _create(api, "Chunking", "Split long texts.")
    if second.get("id") != 2 or second.get("tags") != []:
        fail(
            f"the second POST /documents (no tags) returned {second!r}; expected id 2 and "
            "tags [] (ids go up by one; tags default to an empty list)"
        )


@pytest.mark.task(1)
def test_read_document_and_404(api: TestClient) -> None:
    created = _first_create(api, "Embeddings", "Vectors for text.")
    response = api.get("/documents/1")
    if response.status_code != 200 or response_body(response) != created:
        fail(
            f"GET /documents/1 returned {response.status_code} {response_body(response)!r}; expected "
            f"200 {created!r}"
        )
    missing = api.get("/documents/999")
    if missing.status_code == 200:
        fail(
            f"GET /documents/999 (no such document) returned 200 with body "
            f"{json.dumps(response_body(missing))}; expected 404 — a missing document must be a 404: "
            "raise HTTPException(status_code=404, detail=...)"
        )
    if missing.status_code != 404:
        fail(f"GET /documents/999 (no such document) returned {missing.status_code}; expected 404")
    body = response_body(missing)
    if not isinstance(body, dict) or not body.get("detail"):
        fail(
            f"GET /documents/999 returned 404 with body {body!r}; expected a JSON "
            '{"detail": "..."} saying what was not found'
        )
    bad = api.get("/documents/abc")
    if bad.status_code != 422:
        fail(
            f"GET /documents/abc returned {bad.status_code}; expected 422 (doc_id is an int "
            "path parameter: annotate it as `doc_id: int`)"
        )


INVALID = {
    "an empty title": {"title": "", "text": "x"},
    "a title of 201 characters": {"title": "t" * 201, "text": "x"},
    "an empty text": {"title": "t", "text": ""},
    "eleven tags": {"title": "t", "text": "x", "tags": [f"tag{i}" for i in range(11)]},
    "no text at all": {"title": "t"},
    "a text that is a number": {"title": "t", "text": 5},
}
# the bodies only Field(...) limits reject (the others fail on their types alone)
LIMIT_CASES = ("an empty title", "a title of 201 characters", "an empty text", "eleven tags")
VALID_EDGES = {
    "a title of exactly 200 characters": {"title": "t" * 200, "text": "x"},
    "exactly 10 tags": {"title": "t", "text": "x", "tags": [f"tag{i}" for i in range(10)]},
    "a one-character title and text": {"title": "t", "text": "x"},
}


@pytest.mark.task(1)
def test_invalid_bodies_get_422(api: TestClient) -> None:
    accepted = []
    for what, body in INVALID.items():
        response = api.post("/documents", json=body)
        if response.status_code != 422:
            accepted.append(f"{what} ({response.status_code})")
    if accepted:
        which = (
            "no validation"
            if all(any(a.startswith(case) for a in accepted) for case in LIMIT_CASES)
            else "a limit is missing or looser than the README's"
        )
        fail(
            "POST /documents accepted invalid bodies: " + "; ".join(accepted) + ". Expected 422 "
            f"for each — {which}: declare the limits on DocumentIn with "
            "Field(min_length=..., max_length=...) and FastAPI rejects bad bodies by itself"
        )
    listed = _ids(api, "")[0]
    if listed:
        fail(
            f"after only invalid POSTs, GET /documents lists ids {listed}; a rejected body must "
            "not be stored"
        )


@pytest.mark.task(1)
def test_valid_edge_bodies_are_accepted(api: TestClient) -> None:
    for what, body in VALID_EDGES.items():
        response = api.post("/documents", json=body)
        if response.status_code != 201:
            fail(
                f"POST /documents with {what} returned {response.status_code} "
                f"{response_body(response)!r}; expected 201: that body is valid (the limits are "
                "inclusive: title 1 to 200 characters, at most 10 tags)"
            )


@pytest.mark.task(1)
def test_each_app_has_its_own_store(learner) -> None:
    with TestClient(learner.create_app()) as first:
        _create(first, "one")
        _create(first, "two")
    with TestClient(learner.create_app()) as second:
        body = _create(second, "fresh")
        if body.get("id") != 1:
            fail(
                f"a new create_app() gave its first document id {body.get('id')!r}; expected 1 "
                "— the store is shared between apps (a module-level global?): create it inside "
                "create_app()"
            )


# ----- task 2 -----------------------------------------------------------------------------------


@pytest.fixture
def seven(api: TestClient) -> TestClient:
    _first_create(api, "doc 1")
    for i in range(2, 8):
        _create(api, f"doc {i}")
    return api


@pytest.mark.task(2)
def test_pagination(seven: TestClient) -> None:
    ids = list(range(1, 8))
    cases = [(0, 3), (2, 3), (3, 3), (6, 3), (5, 10), (0, 7), (10, 5), (7, 1)]
    for offset, limit in cases:
        query = f"?offset={offset}&limit={limit}"
        got, page = _ids(seven, query)
        want = ids[offset : offset + limit]
        if got != want:
            fail(
                f"GET /documents{query} with documents 1-7 returned ids {got}; expected "
                f"{want}{_page_clue(got, ids, offset, limit)}"
            )
        echo = {k: page.get(k) for k in ("total", "offset", "limit")}
        if echo != {"total": 7, "offset": offset, "limit": limit}:
            fail(
                f"GET /documents{query} returned total/offset/limit {echo}; expected "
                f"{{'total': 7, 'offset': {offset}, 'limit': {limit}}} (total counts every "
                "stored document, not the page)"
            )
    got, page = _ids(seven, "")
    if got != ids or page.get("offset") != 0 or page.get("limit") != 10:
        fail(
            f"GET /documents without parameters returned ids {got}, offset "
            f"{page.get('offset')!r}, limit {page.get('limit')!r}; expected ids {ids} with the "
            "defaults offset=0, limit=10"
        )


@pytest.mark.task(2)
def test_pagination_limits_get_422(api: TestClient) -> None:
    for query in ("?offset=-1", "?limit=0", "?limit=101", "?limit=abc"):
        response = api.get(f"/documents{query}")
        if response.status_code != 422:
            fail(
                f"GET /documents{query} returned {response.status_code}; expected 422 (offset "
                ">= 0, 1 <= limit <= 100: declare them with Query(ge=..., le=...))"
            )
    response = api.get("/documents?limit=100")
    if response.status_code != 200:
        fail(
            f"GET /documents?limit=100 returned {response.status_code}; expected 200 (the "
            "limits are inclusive)"
        )


@pytest.mark.task(2)
def test_delete(seven: TestClient) -> None:
    response = seven.delete("/documents/3")
    if response.status_code != 204:
        fail(
            f"DELETE /documents/3 returned {response.status_code} {response_body(response)!r}; "
            "expected 204 No Content (status_code=204 on the route)"
        )
    if response.content:
        fail(
            f"DELETE /documents/3 returned 204 with a body {response.content[:60]!r}; a 204 "
            "has no body"
        )
    after = seven.get("/documents/3")
    if after.status_code != 404:
        fail(
            f"after DELETE /documents/3, GET /documents/3 returned {after.status_code}; "
            "expected 404 (the document must be gone)"
        )
    again = seven.delete("/documents/3")
    if again.status_code != 404:
        fail(
            f"a second DELETE /documents/3 returned {again.status_code}; expected 404 (there "
            "is nothing left to delete)"
        )
    missing = seven.delete("/documents/99")
    if missing.status_code != 404:
        fail(
            f"DELETE /documents/99 (no such document) returned {missing.status_code}; expected 404"
        )
    got, page = _ids(seven, "?offset=0&limit=10")
    if got != [1, 2, 4, 5, 6, 7] or page.get("total") != 6:
        fail(
            f"after deleting document 3, GET /documents lists ids {got} with total "
            f"{page.get('total')!r}; expected [1, 2, 4, 5, 6, 7] and total 6"
        )
    got, _ = _ids(seven, "?offset=2&limit=2")
    if got != [4, 5]:
        fail(
            f"after deleting document 3, GET /documents?offset=2&limit=2 returned ids {got}; "
            "expected [4, 5] (offsets count the documents that exist now)"
        )
    new = _create(seven, "after delete")
    if new.get("id") != 8:
        fail(
            f"after 7 creates and a delete, the next document got id {new.get('id')!r}; "
            "expected 8 — ids are never reused (len(store) + 1 reuses them)"
        )


# ----- task 3: the client against a fake service ------------------------------------------------


class FakeService:
    """The API of the README, in memory, behind httpx.MockTransport; records every request."""

    def __init__(self, count: int = 0) -> None:
        self.docs: dict[int, dict[str, Any]] = {}
        self.next_id = 1
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        for i in range(count):
            self._store({"title": f"doc {i + 1}", "text": "x", "tags": []})

    def _store(self, body: dict[str, Any]) -> dict[str, Any]:
        doc = {"id": self.next_id, **body}
        self.docs[self.next_id] = doc
        self.next_id += 1
        return doc

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        params = dict(request.url.params)
        self.requests.append((request.method, path, params))
        parts = path.strip("/").split("/")
        if parts[0] != "documents" or len(parts) > 2:
            return httpx.Response(404, json={"detail": "not found"})
        if len(parts) == 1 and request.method == "POST":
            try:
                body = json.loads(request.content or b"null")
            except ValueError:
                return httpx.Response(422, json={"detail": "body is not JSON"})
            ok = (
                isinstance(body, dict)
                and isinstance(body.get("title"), str)
                and 1 <= len(body["title"]) <= 200
                and isinstance(body.get("text"), str)
                and body["text"]
                and isinstance(body.get("tags", []), list)
                and len(body.get("tags", [])) <= 10
            )
            if not ok:
                return httpx.Response(422, json={"detail": "invalid document"})
            return httpx.Response(
                201,
                json=self._store(
                    {"title": body["title"], "text": body["text"], "tags": body.get("tags", [])}
                ),
            )
        if len(parts) == 1 and request.method == "GET":
            try:
                offset = int(params.get("offset", 0))
                limit = int(params.get("limit", 10))
            except ValueError:
                return httpx.Response(422, json={"detail": "offset and limit are integers"})
            if offset < 0 or not 1 <= limit <= 100:
                return httpx.Response(422, json={"detail": "offset >= 0, 1 <= limit <= 100"})
            docs = list(self.docs.values())
            return httpx.Response(
                200,
                json={
                    "items": docs[offset : offset + limit],
                    "total": len(docs),
                    "offset": offset,
                    "limit": limit,
                },
            )
        if len(parts) == 2:
            if not parts[1].isdigit():
                return httpx.Response(422, json={"detail": "doc_id is an integer"})
            doc_id = int(parts[1])
            if doc_id not in self.docs:
                return httpx.Response(404, json={"detail": f"document {doc_id} not found"})
            if request.method == "GET":
                return httpx.Response(200, json=self.docs[doc_id])
            if request.method == "DELETE":
                del self.docs[doc_id]
                return httpx.Response(204)
        return httpx.Response(405, json={"detail": "method not allowed"})

    def client(self) -> httpx.Client:
        return httpx.Client(
            transport=httpx.MockTransport(self.handler), base_url="http://documents.test"
        )


def _first_error(exc: pydantic.ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ())) or "the body"
    return f"{where}: {error.get('msg')}, in {error.get('input')!r:.60}"


def _paging_clue(ids: list[Any], want: list[int], offsets: list[int], page_size: int) -> str:
    steps = {b - a for a, b in itertools.pairwise(offsets)}
    if offsets and (offsets[0] != 0 or steps - {page_size}):
        return (
            f" — each request must move the offset by page_size={page_size} from 0 "
            "(offset counts documents to skip, not pages)"
        )
    if ids == want[: len(ids)] and len(ids) < len(want):
        return (
            f" — it stopped after {len(ids)} of {len(want)} documents: an off-by-one in "
            "the paging loop leaves the last page out; keep requesting until offset >= total"
        )
    return ""


def _typed(learner, value: Any, model: str, call: str) -> None:
    cls = getattr(learner, model)
    assert_returned(value, call, what=f"a {model}")
    if not isinstance(value, cls):
        fail(
            f"{call} returned a {type(value).__name__} ({value!r:.80}); expected a {model} "
            f"object: build it with {model}.model_validate(response.json())"
        )


@pytest.mark.task(3)
def test_client_create_and_get(learner) -> None:
    service = FakeService()
    with service.client() as http:
        client = learner.DocumentsClient(http)
        doc = client.create("Retrieval", "Retrieve, then generate.", ["rag"])
        _typed(learner, doc, "Document", 'client.create("Retrieval", ..., ["rag"])')
        if (doc.id, doc.title, doc.text, list(doc.tags)) != (
            1,
            "Retrieval",
            "Retrieve, then generate.",
            ["rag"],
        ):
            fail(
                f"client.create(...) returned {doc!r}; expected id=1, title='Retrieval', "
                "text='Retrieve, then generate.', tags=['rag']"
            )
        plain = client.create("Chunking", "Split long texts.")
        if list(plain.tags) != [] or service.docs[2]["tags"] != []:
            fail(
                f"client.create('Chunking', 'Split long texts.') stored tags "
                f"{service.docs[2]['tags']!r}; expected [] (send `tags` as a JSON list)"
            )
        got = client.get(1)
        _typed(learner, got, "Document", "client.get(1)")
        if got.id != 1 or got.title != "Retrieval":
            fail(f"client.get(1) returned {got!r}; expected the document with id 1")
        try:
            missing = client.get(42)
        except httpx.HTTPStatusError as exc:
            fail(
                f"client.get(42) raised HTTPStatusError for the service's "
                f"{exc.response.status_code}; expected None — look for status 404 before "
                "response.raise_for_status(), which raises for every 4xx"
            )
        if missing is not None:
            fail(f"client.get(42) returned {missing!r} for a 404; expected None")


@pytest.mark.task(3)
def test_client_delete(learner) -> None:
    service = FakeService(count=2)
    with service.client() as http:
        client = learner.DocumentsClient(http)
        first = client.delete(1)
        if first is not True:
            fail(f"client.delete(1) returned {first!r}; expected True (the service answered 204)")
        if 1 in service.docs:
            fail("client.delete(1) did not send DELETE /documents/1: the document is still there")
        try:
            again = client.delete(1)
        except httpx.HTTPStatusError as exc:
            fail(
                f"client.delete(1) a second time raised HTTPStatusError for the service's "
                f"{exc.response.status_code}; expected False — look for status 404 before "
                "response.raise_for_status(), which raises for every 4xx"
            )
        if again is not False:
            fail(
                f"client.delete(1) a second time returned {again!r}; expected False (the "
                "service answered 404)"
            )


@pytest.mark.task(3)
def test_client_list_page(learner) -> None:
    service = FakeService(count=7)
    with service.client() as http:
        client = learner.DocumentsClient(http)
        page = client.list_page(offset=2, limit=3)
        _typed(learner, page, "Page", "client.list_page(offset=2, limit=3)")
        ids = [d.id for d in page.items]
        if ids != [3, 4, 5] or page.total != 7:
            sent = service.requests[-1][2] if service.requests else {}
            fail(
                f"client.list_page(offset=2, limit=3) returned ids {ids}, total {page.total}; "
                f"expected [3, 4, 5] and 7 (the request sent query {sent})"
            )
        for item in page.items:
            _typed(learner, item, "Document", "an item of client.list_page(...)")


@pytest.mark.task(3)
def test_client_raises_on_errors(learner) -> None:
    service = FakeService()
    with service.client() as http:
        client = learner.DocumentsClient(http)
        try:
            result = client.create("", "x")
        except pydantic.ValidationError as exc:
            if any(method == "POST" for method, _, _ in service.requests):
                fail(
                    "client.create('', 'x') sent the request, the service answered 422, and "
                    "the client then raised pydantic's ValidationError: it parsed the error body "
                    f"as a Document ({_first_error(exc)}); call response.raise_for_status() "
                    "before Document.model_validate(...), so a 422 raises httpx.HTTPStatusError"
                )
            # validated locally with DocumentIn before sending: fine too
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 422:
                fail(
                    f"client.create('', 'x') raised HTTPStatusError for status "
                    f"{exc.response.status_code}; expected the service's 422"
                )
        else:
            fail(
                f"client.create('', 'x') returned {result!r} though the service answered 422; "
                "expected httpx.HTTPStatusError (call response.raise_for_status())"
            )
        try:
            result = client.list_page(offset=0, limit=0)
        except httpx.HTTPStatusError:
            pass
        except pydantic.ValidationError as exc:
            if not service.requests or service.requests[-1][0] != "GET":
                raise
            fail(
                "client.list_page(limit=0): the service answered 422 and the client raised "
                f"pydantic's ValidationError, parsing the error body as a Page "
                f"({_first_error(exc)}); call response.raise_for_status() before "
                "Page.model_validate(...), so a 422 raises httpx.HTTPStatusError"
            )
        else:
            fail(
                f"client.list_page(limit=0) returned {result!r} though the service answered "
                "422; expected httpx.HTTPStatusError"
            )


@pytest.mark.task(3)
@pytest.mark.parametrize(("count", "page_size"), [(7, 3), (6, 3), (0, 4), (5, 10), (3, 1)])
def test_client_iter_all(learner, count: int, page_size: int) -> None:
    service = FakeService(count=count)
    with service.client() as http:
        client = learner.DocumentsClient(http)
        result = assert_returned(
            client.iter_all(page_size=page_size),
            f"client.iter_all(page_size={page_size})",
            what="an iterator of Document (yield them, or return a generator)",
        )
        docs = list(result)
    ids = [getattr(d, "id", d) for d in docs]
    want = list(range(1, count + 1))
    offsets = [int(p.get("offset", 0)) for m, path, p in service.requests if m == "GET"]
    if ids != want:
        fail(
            f"client.iter_all(page_size={page_size}) over {count} documents yielded ids {ids}; "
            f"expected {want} (it requested offsets {offsets})"
            f"{_paging_clue(ids, want, offsets, page_size)}"
        )
    for doc in docs:
        _typed(learner, doc, "Document", f"an item of client.iter_all(page_size={page_size})")
    limits = {p.get("limit") for m, path, p in service.requests if m == "GET"}
    if limits != {str(page_size)} and count:
        fail(
            f"client.iter_all(page_size={page_size}) requested pages with limit {sorted(limits)}; "
            f"expected limit={page_size} on every request"
        )
    pages = -(-count // page_size)
    if len(offsets) > pages + 1:
        fail(
            f"client.iter_all(page_size={page_size}) over {count} documents sent "
            f"{len(offsets)} requests (offsets {offsets}); {pages} pages are enough"
        )


# ----- task 3: the learner's client against the learner's app, over a real socket ---------------


@pytest.mark.task(3)
def test_end_to_end_over_a_real_socket(learner) -> None:
    app = assert_returned(learner.create_app(), "create_app()", what="app")
    with serve_app(app) as served, httpx.Client(base_url=served.base_url, timeout=5) as http:
        client = learner.DocumentsClient(http)
        created = [client.create(f"doc {i}", f"text {i}", [f"t{i}"]) for i in range(1, 6)]
        if [getattr(d, "id", None) for d in created] != [1, 2, 3, 4, 5]:
            fail(
                f"over a real socket, five client.create(...) calls returned ids "
                f"{[getattr(d, 'id', None) for d in created]}; expected [1, 2, 3, 4, 5]"
            )
        http_errors = (httpx.HTTPStatusError,)
        answer_404 = (
            "a 404 from the service is an answer, not an error: look at the status before "
            "response.raise_for_status()"
        )
        deleted = call_learner(
            "over a real socket, client.delete(2)", client.delete, 2, errors=http_errors
        )
        gone = call_learner(
            "over a real socket, client.get(2) after deleting id 2",
            client.get,
            2,
            hint=f"Expected None: {answer_404}",
            errors=http_errors,
        )
        if deleted is not True or gone is not None:
            fail(
                "over a real socket, client.delete(2) then client.get(2) did not give True, "
                "then None"
            )
        page = client.list_page(offset=1, limit=2)
        if [d.id for d in page.items] != [3, 4] or page.total != 4:
            fail(
                f"over a real socket, client.list_page(offset=1, limit=2) after deleting id 2 "
                f"returned ids {[d.id for d in page.items]}, total {page.total}; expected [3, 4] "
                "and 4"
            )
        everything = [d.id for d in client.iter_all(page_size=3)]
        if everything != [1, 3, 4, 5]:
            fail(
                f"over a real socket, client.iter_all(page_size=3) yielded ids {everything}; "
                "expected [1, 3, 4, 5]"
            )
        try:
            result = client.create("t" * 201, "too long a title")
        except (httpx.HTTPStatusError, pydantic.ValidationError):
            return
        fail(
            f"over a real socket, client.create() with a 201-character title returned "
            f"{result!r}; expected the app to answer 422 and the client to raise"
        )
