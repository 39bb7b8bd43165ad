"""The dashboard's pages and JSON API through the ASGI test client, on a real fixture workspace."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aipath.grader.results import Status
from aipath.grader.service import load_result
from aipath.workspace.learner import lab_rows
from aipath.workspace.model import Workspace
from aipath.workspace.store import open_store

Solve = Callable[[], Path]


LAB = "p1-tiny"
PAGES = ["/", "/roadmap", "/labs", f"/labs/{LAB}", "/plan", "/portfolio"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_answers_and_loads_nothing_from_elsewhere(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    # Scripts, styles, images and fonts all come from this server.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", _without_resource_links(html))
    assert "default-src 'self'" in response.headers["content-security-policy"]
    for asset in re.findall(r"""(?:src|href)="(/static/[^"?]+)""", html):
        assert client.get(asset).status_code == 200, asset


def _without_resource_links(html: str) -> str:
    """Links to a book or course the learner may click are fine; nothing else may point out."""
    return re.sub(r'<a href="https://[^"]+" target="_blank" rel="noopener noreferrer">', "", html)


def test_plotly_is_served_from_the_python_package(client: TestClient) -> None:
    response = client.get("/static/plotly.min.js")
    assert response.status_code == 200
    assert len(response.content) > 1_000_000
    assert "plotly" in response.text[:2000].lower()
    # a browser asks for gzip: the bundle travels compressed, about a third of its size
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < len(response.content) / 2
    plain = client.get("/static/plotly.min.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == response.content
    for path in (
        "/static/plotly.min.js",
        "/static/pygments.css",
        "/static/app.css",
        "/favicon.svg",
    ):
        head = client.head(path)
        assert head.status_code == 200, path
        assert head.content == b""


def test_home_shows_where_the_learner_stands(client: TestClient) -> None:
    summary = client.get("/api/summary").json()
    assert summary["next_lab"]["id"] == LAB
    assert summary["labs_total"] == 1 and summary["labs_passed"] == 0
    assert len(summary["phases"]) == 5
    assert summary["days_to_job_ready"] > 0
    assert {"pace", "streak_days", "this_week", "job_ready"} <= summary.keys()
    page = client.get("/").text
    assert "Tiny fixture lab" in page
    assert f'href="/labs/{LAB}"' in page
    assert "Progress by phase" in page


def test_labs_api_matches_the_cli_contract(client: TestClient, ws: Workspace) -> None:
    from aipath.labs import load_catalogue

    rows = client.get("/api/labs").json()
    expected = [row.to_json() for row in lab_rows(ws, load_catalogue())]
    assert [{k: r[k] for k in expected[0]} for r in rows] == expected
    assert rows[0]["url"] == f"/labs/{LAB}"


def test_check_now_turns_the_verdict_to_passed(
    client: TestClient, ws: Workspace, solve: Solve
) -> None:
    assert client.get(f"/api/labs/{LAB}/result").json() is None
    assert "Not checked yet." in client.get(f"/labs/{LAB}").text
    solve()
    result = client.post(f"/api/labs/{LAB}/check").json()
    assert result["status"] == "passed", result
    assert all(test["status"] == "passed" for test in result["tests"])
    saved = load_result(ws, LAB)
    assert saved is not None and saved.status is Status.PASSED
    assert client.get(f"/api/labs/{LAB}/result").json()["status"] == "passed"
    detail = client.get(f"/api/labs/{LAB}").json()
    assert detail["lab"]["done"] is True
    page = client.get(f"/labs/{LAB}").text
    assert 'data-status="passed"' in page
    assert client.get("/api/summary").json()["labs_passed"] == 1


def test_an_untouched_starter_is_not_attempted(client: TestClient) -> None:
    result = client.post(f"/api/labs/{LAB}/check").json()
    assert result["status"] == "not-attempted"
    assert 'data-status="not-attempted"' in client.get(f"/labs/{LAB}").text


def test_quick_double_check_keeps_home_working(client: TestClient, ws: Workspace) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    with open_store(ws) as store:  # two saves a second apart, as an eager learner makes them
        store.record_check(LAB, "failed", 0.3, at=now - timedelta(seconds=1))
        store.record_check(LAB, "passed", 0.3, at=now)
    assert client.get("/").status_code == 200
    assert client.get("/plan").status_code == 200


def test_a_failing_check_shows_each_message(
    client: TestClient, ws: Workspace, solve: Solve
) -> None:
    target = solve()
    target.write_text(target.read_text().replace("return x * 2", "return x + 2"))
    result = client.post(f"/api/labs/{LAB}/check").json()
    assert result["status"] == "failed"
    failing = [t for t in result["tests"] if t["status"] == "failed"]
    assert failing and failing[0]["message"]
    page = client.get(f"/labs/{LAB}").text
    assert 'data-status="failed"' in page
    assert failing[0]["name"] in page


def test_hints_come_one_tier_at_a_time_and_are_recorded(client: TestClient, ws: Workspace) -> None:
    page = client.get(f"/labs/{LAB}").text
    assert "Think of multiplication." not in page
    tiers = [client.post(f"/api/labs/{LAB}/hints").json() for _ in range(4)]
    assert [h["tier"] for h in tiers] == [1, 2, 3, 3]
    assert tiers[0]["text"] == "Think of multiplication."
    assert tiers[3]["new"] is False
    with open_store(ws) as store:
        assert store.hints_shown(LAB) == 3
    page = client.get(f"/labs/{LAB}").text
    assert "Think of multiplication." in page and "That is every hint." in page


def test_solution_only_after_a_pass_unless_confirmed(
    client: TestClient, ws: Workspace, solve: Solve
) -> None:
    refused = client.post(f"/api/labs/{LAB}/solution")
    assert refused.status_code == 400
    assert "not passed yet" in refused.json()["error"]
    early = client.post(f"/api/labs/{LAB}/solution", json={"confirm": True}).json()
    assert "return x * 2" in early["text"] and early["passed"] is False
    solve()
    assert client.post(f"/api/labs/{LAB}/check").json()["status"] == "passed"
    after = client.post(f"/api/labs/{LAB}/solution").json()
    assert after["passed"] is True
    assert '<span class="k">return</span>' in after["html"]
    assert "Show the solution" in client.get(f"/labs/{LAB}").text


def test_notes_marks_and_hours_go_to_the_progress_store(client: TestClient, ws: Workspace) -> None:
    assert client.put("/api/notes/p1.python", json={"text": "broadcasting <b>rules</b>"}).json()[
        "ok"
    ]
    assert client.put("/api/marks/p1.python", json={"state": "skipped"}).status_code == 200
    assert client.put("/api/marks/res.fluent-python", json={"state": "done"}).status_code == 200
    logged = client.post(
        "/api/study", json={"duration": "1h30m", "resource_id": "res.fluent-python"}
    )
    assert logged.json()["message"] == "logged 1h30m on “Fluent Python”"
    with open_store(ws) as store:
        assert store.notes()["p1.python"] == "broadcasting <b>rules</b>"
        assert store.marks() == {"p1.python": "skipped", "res.fluent-python": "done"}
        assert sum(store.daily_minutes().values()) == 90
    roadmap = client.get("/api/roadmap").json()
    topic = next(t for p in roadmap["phases"] for t in p["topics"] if t["id"] == "p1.python")
    assert topic["mark"] == "skipped" and topic["note"] == "broadcasting <b>rules</b>"
    resource = next(r for r in topic["resources"] if r["id"] == "res.fluent-python")
    assert resource["done"] is True and resource["logged_minutes"] == 90
    page = client.get("/roadmap").text
    assert "broadcasting &lt;b&gt;rules&lt;/b&gt;" in page  # escaped, never HTML
    weeks = client.get("/api/plan").json()["weeks"]
    this_week = [w for w in weeks if w["logged_hours"] is not None][-1]
    assert this_week["logged_hours"] == 1.5
    assert weeks[-1]["logged_hours"] is None  # the weeks to come are planned only


def test_roadmap_tree_has_skills_with_labs(client: TestClient) -> None:
    roadmap = client.get("/api/roadmap").json()
    assert [p["number"] for p in roadmap["phases"]] == [1, 2, 3, 4, 5]
    skills = {s["id"]: s for p in roadmap["phases"] for t in p["topics"] for s in t["skills"]}
    assert [lab["id"] for lab in skills["p1.python.numpy"]["labs"]] == [LAB]
    assert skills["p1.python.numpy"]["labs"][0]["url"] == f"/labs/{LAB}"


def test_plan_api_is_the_cli_plan_with_chart_figures(client: TestClient, ws: Workspace) -> None:
    from aipath.planner.render import plan_to_json
    from aipath.planner.service import status_for

    view = client.get("/api/plan").json()
    with open_store(ws) as store:
        expected = plan_to_json(status_for(store).plan)
    assert view["plan"] == expected
    timeline = view["timeline_figure"]
    assert timeline["data"][0]["type"] == "bar"
    assert {t["name"] for t in timeline["data"]} >= {"original plan", "job-ready", "finish"}
    assert view["hours_figure"]["data"][0]["name"] == "planned"
    page = client.get("/plan").text
    assert '<script src="/static/plotly.min.js"' in page
    assert 'id="fig-timeline"' in page


def test_portfolio_explains_how_to_add_a_project_then_shows_audits(
    client: TestClient, ws: Workspace, tmp_path: Path
) -> None:
    page = client.get("/portfolio").text
    assert "aipath project new" in page and "aipath audit" in page
    from aipath.portfolio.audit import audit_repository

    repo = tmp_path / "project"
    repo.mkdir()
    (repo / "README.md").write_text("# A project\n\nIt predicts things.\n")
    (repo / "model.py").write_text("def predict(x: float) -> float:\n    return 2 * x\n")
    report = audit_repository(repo)
    with open_store(ws) as store:
        store.record_audit(str(repo), report.kind, report.score, report.model_dump(mode="json"))
    audits = client.get("/api/portfolio").json()["audits"]
    assert audits[0]["score"] == report.score
    assert audits[0]["report"]["groups"]
    page = client.get("/portfolio").text
    assert str(repo) in page and f"{report.score}<small>/100</small>" in page
    assert "MLOps maturity" not in page
    # A pipeline project's audit carries its maturity ladder onto the page.
    (repo / "model.py").write_text(
        "def train(frame):\n    return Ridge().fit(frame[['x']], frame['y'])\n"
    )
    pipeline = audit_repository(repo, kind="pipeline")
    with open_store(ws) as store:
        store.record_audit(str(repo), "pipeline", pipeline.score, pipeline.model_dump(mode="json"))
    page = client.get("/portfolio").text
    assert "MLOps maturity: level 1 of 3" in page
    assert "Starts without a person: a schedule or new data" in page


def test_errors_are_json_under_api_and_pages_elsewhere(client: TestClient) -> None:
    missing = client.get("/api/labs/p1-nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no lab called 'p1-nope'", "hint": missing.json()["hint"]}
    assert client.get("/labs/p1-nope").status_code == 404
    assert "no lab called" in client.get("/labs/p1-nope").text
    assert client.put("/api/notes/p9.nothing", json={"text": "x"}).status_code == 404
    bad = client.post("/api/study", json={"duration": "2"})
    assert bad.status_code == 400 and "no unit" in bad.json()["error"]
    invalid = client.put("/api/marks/p1.python", json={"state": "finished"})
    assert invalid.status_code == 422 and "state" in invalid.json()["error"]
    assert client.get("/no/such/page").status_code == 404


def test_other_hosts_and_cross_site_writes_are_refused(client: TestClient) -> None:
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 421
    assert client.get("/", headers={"host": "localhost:8765"}).status_code == 200
    cross = client.post(f"/api/labs/{LAB}/hints", headers={"origin": "https://attacker.example"})
    assert cross.status_code == 403
    same = client.post(f"/api/labs/{LAB}/hints", headers={"origin": "http://127.0.0.1:8765"})
    assert same.status_code == 200


def test_the_api_is_described_by_openapi(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/summary",
        "/api/labs",
        "/api/labs/{lab_id}",
        "/api/labs/{lab_id}/check",
        "/api/labs/{lab_id}/hints",
        "/api/labs/{lab_id}/solution",
        "/api/roadmap",
        "/api/notes/{topic_id}",
        "/api/marks/{item_id}",
        "/api/study",
        "/api/plan",
        "/api/portfolio",
        "/api/events",
    ):
        assert path in paths, path
    assert all(p.startswith("/api/") for p in paths)
    schemas = spec["components"]["schemas"]
    assert {"Summary", "LabDetail", "TestOutcome", "PlanView", "RoadmapView"} <= schemas.keys()
