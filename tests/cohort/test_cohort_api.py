"""The server's rules, through its real app on a real database: who sees what, what an upload
must be, and that nothing is lost when the broker is away.  The broker is real Redis on a
queue of the test's own; no worker runs here (tests/cohort/test_acceptance.py has one)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aipath.cohort import accounts, tasks, tokens
from aipath.cohort.models import SubmissionRow, UserRow
from aipath.cohort.server import create_app
from aipath.cohort.submissions import MAX_UPLOAD_BYTES

LAB = "p1-numpy-vectorize"
pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("cohort")]


@pytest.fixture
def cohort(engine: Engine) -> accounts.CreatedCohort:
    return accounts.create_cohort(
        engine,
        "autumn",
        labs=[LAB],
        start=date(2026, 1, 5),
        labs_per_week=2,
        learners=["ada", "bob"],
    )


@pytest.fixture
def client(engine: Engine, broker_url: str, queue: str) -> Iterator[TestClient]:
    import redis

    tasks.configure(broker_url, queue)
    with TestClient(create_app(engine)) as test_client:
        yield test_client
    redis.Redis.from_url(broker_url).delete(queue)


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _submit(client: TestClient, token: str, body: bytes, key: str, lab: str = LAB) -> Any:
    return client.post(
        "/api/submissions",
        headers=_auth(token),
        data={"lab": lab, "key": key},
        files={"file": ("exercise.py", body, "text/x-python")},
    )


def _stored(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(SubmissionRow)) or 0)


def test_bad_uploads_are_refused_and_store_nothing(
    client: TestClient, engine: Engine, cohort: accounts.CreatedCohort
) -> None:
    ada = cohort.learner_tokens["ada"]
    too_big = _submit(client, ada, b"x = 1\n" * (MAX_UPLOAD_BYTES // 6 + 1), "key-big-0001")
    assert too_big.status_code == 400 and "at most" in too_big.json()["detail"]
    latin1 = _submit(client, ada, "größe = 1\n".encode("latin-1"), "key-latin1-01")
    assert latin1.status_code == 400 and "UTF-8" in latin1.json()["detail"]
    nul = _submit(client, ada, b"x = 1\x00\n", "key-nul-00001")
    assert nul.status_code == 400 and "NUL" in nul.json()["detail"]
    other_lab = _submit(client, ada, b"x = 1\n", "key-lab-00001", lab="p2-metrics")
    assert other_lab.status_code == 400 and "not a lab of the cohort" in other_lab.json()["detail"]
    assert _stored(engine) == 0


def test_a_retried_upload_is_one_submission(
    client: TestClient, engine: Engine, cohort: accounts.CreatedCohort
) -> None:
    ada = cohort.learner_tokens["ada"]
    first = _submit(client, ada, b"def f(:\n", "retry-key-0001")
    again = _submit(client, ada, b"def f(:\n", "retry-key-0001")
    assert first.status_code == 201 and first.json()["queued"] is True
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.json()["new"] is False
    bob_reuses = _submit(client, cohort.learner_tokens["bob"], b"x = 1\n", "retry-key-0001")
    assert bob_reuses.status_code == 400
    assert _stored(engine) == 1


def test_learners_see_only_their_own(client: TestClient, cohort: accounts.CreatedCohort) -> None:
    ada, bob = cohort.learner_tokens["ada"], cohort.learner_tokens["bob"]
    sid = _submit(client, ada, b"x = 1\n", "own-key-00001").json()["id"]
    assert client.get(f"/api/submissions/{sid}", headers=_auth(ada)).json()["state"] == "queued"
    assert client.get(f"/api/submissions/{sid}", headers=_auth(bob)).status_code == 404
    assert client.get(f"/api/submissions/{sid}/events", headers=_auth(bob)).status_code == 404
    assert client.get("/api/submissions/nope", headers=_auth(ada)).status_code == 404
    assert client.get(f"/api/submissions/{sid}").status_code == 401
    teacher = _auth(cohort.instructor_token)
    assert client.get(f"/api/submissions/{sid}", headers=teacher).status_code == 200
    assert _submit(client, cohort.instructor_token, b"x = 1\n", "teach-key-001").status_code == 403


def test_instructors_see_their_cohort_only(
    client: TestClient, engine: Engine, cohort: accounts.CreatedCohort
) -> None:
    other = accounts.create_cohort(
        engine, "winter", labs=[LAB], start=date(2026, 1, 5), labs_per_week=1
    )
    mine = _auth(cohort.instructor_token)
    assert client.get(f"/api/cohorts/{cohort.cohort_id}/progress", headers=mine).status_code == 200
    assert client.get(f"/api/cohorts/{other.cohort_id}/progress", headers=mine).status_code == 404
    assert client.get(f"/api/cohorts/{other.cohort_id}/mistakes", headers=mine).status_code == 404
    assert client.get(f"/cohorts/{other.cohort_id}/grades.csv", headers=mine).status_code == 404
    # The sign-in page sets the cookie the dashboard reads.
    page = client.post("/login", data={"token": cohort.instructor_token}, follow_redirects=True)
    assert page.status_code == 200 and "Learners × labs" in page.text
    refused = client.post("/login", data={"token": cohort.learner_tokens["ada"]})
    assert refused.status_code == 401


def test_rotating_a_token_ends_the_old_one(
    client: TestClient, engine: Engine, cohort: accounts.CreatedCohort
) -> None:
    old = cohort.learner_tokens["ada"]
    with Session(engine) as session:  # only hashes are stored, never a token itself
        stored = {row.token_sha256 for row in session.scalars(select(UserRow))}
    assert tokens.token_hash(old) in stored and old not in stored
    new = accounts.rotate_token(engine, "autumn", "ada")
    assert client.get("/api/me", headers=_auth(old)).status_code == 401
    assert client.get("/api/me", headers=_auth(new)).json()["name"] == "ada"
    with pytest.raises(Exception, match="no user"):
        accounts.rotate_token(engine, "autumn", "nobody")


def test_a_broker_that_is_away_loses_nothing(
    engine: Engine, cohort: accounts.CreatedCohort, queue: str
) -> None:
    """Nothing listens on port 9 (discard): the upload is kept, queued later by the sweeper."""
    tasks.configure("redis://127.0.0.1:9/0", queue)
    with TestClient(create_app(engine)) as client:
        answer = _submit(client, cohort.learner_tokens["ada"], b"x = 1\n", "away-key-0001")
    assert answer.status_code == 201 and answer.json()["queued"] is False
    assert _stored(engine) == 1
    from aipath.cohort.submissions import waiting_since

    waiting = [sid for sid, _lab in waiting_since(engine, datetime.now(UTC))]
    assert waiting == [answer.json()["id"]]  # never queued: the sweeper's next round takes it
