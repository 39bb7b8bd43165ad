"""Issue #18's dashboard additions: the profile form, search, skill notes, resource ids, 🔒 labs."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aipath.labs import load_catalogue
from aipath.roadmap import load_roadmap
from aipath.search import search
from aipath.workspace.learner import lab_rows
from aipath.workspace.model import Workspace
from aipath.workspace.store import open_store


def test_profile_starts_as_defaults_and_put_changes_only_the_fields_given(
    client: TestClient, ws: Workspace
) -> None:
    first = client.get("/api/profile").json()
    assert first["hours_per_week"] == 20.0 and first["background"] == "beginner"
    assert "developer" in first["backgrounds"] and first["tracks"]
    changed = client.put("/api/profile", json={"hours_per_week": 12.5, "background": "developer"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["hours_per_week"], body["background"], body["saved"]) == (12.5, "developer", True)
    track = body["tracks"][0]
    assert client.put("/api/profile", json={"track": track}).json()["track"] == track
    kept = client.put("/api/profile", json={"track": "none"}).json()
    assert kept["track"] is None and kept["hours_per_week"] == 12.5  # the others stay
    with open_store(ws) as store:
        profile = store.get_profile()
    assert profile is not None and profile.background == "developer" and profile.track is None
    # the plan follows the profile
    assert client.get("/api/plan").json()["plan"]["hours_per_week"] == 12.5


@pytest.mark.parametrize(
    "body",
    [{"hours_per_week": 0}, {"hours_per_week": 500}, {"background": "wizard"}, {"track": "chess"}],
)
def test_a_bad_profile_is_a_clear_error_and_changes_nothing(
    client: TestClient, ws: Workspace, body: dict[str, object]
) -> None:
    with open_store(ws) as store:
        before = store.get_profile()
    answer = client.put("/api/profile", json=body)
    assert answer.status_code in (400, 422)
    message = answer.json()["error"]
    assert any(word in message for word in ("hours", "background", "track")), message
    with open_store(ws) as store:
        assert store.get_profile() == before


def test_home_has_the_profile_form(client: TestClient) -> None:
    page = client.get("/").text
    assert "data-profile" in page and 'name="hours_per_week"' in page and 'name="track"' in page


def test_search_finds_labs_skills_and_resources_by_words(client: TestClient) -> None:
    hits = client.get("/api/search", params={"q": "fluent"}).json()
    assert any(h["id"] == "res.fluent-python" and h["kind"] == "resource" for h in hits)
    numpy = client.get("/api/search", params={"q": "numpy"}).json()
    lab = next(h for h in numpy if h["kind"] == "lab")
    assert lab["id"] == "p1-tiny" and lab["url"] == "/labs/p1-tiny"
    skill = next(h for h in numpy if h["id"] == "p1.python.numpy")
    assert skill["url"] == "/roadmap#topic-p1.python"
    assert client.get("/api/search", params={"q": "   "}).json() == []
    assert client.get("/api/search", params={"q": "zzqx nothing"}).json() == []


def test_search_page_lists_results_and_says_when_there_are_none(client: TestClient) -> None:
    page = client.get("/search", params={"q": "fluent"})
    assert page.status_code == 200 and "res.fluent-python" in page.text
    none = client.get("/search", params={"q": "zzqx"}).text
    assert "Nothing holds every one of those words" in none
    assert 'role="search"' in client.get("/labs").text  # the box is on every page


def test_search_words_must_start_a_word_in_the_text() -> None:
    roadmap = load_roadmap()
    catalogue = load_catalogue()
    lora = [h.id for h in search("lora", roadmap, catalogue)]
    assert "p3-lora" in lora
    assert all("exploratory" not in h.detail.lower() for h in search("lora", roadmap, catalogue))
    both = search("gradient boosting", roadmap, catalogue)
    assert [h.id for h in both[:2]] == ["p2-gradient-boosting", "p2.ml.gradient-boosting"]
    assert search("boosting zzqx", roadmap, catalogue) == []  # every word must occur
    assert len(search("a", roadmap, catalogue, limit=5)) <= 5


def test_skill_notes_and_resource_ids_show_on_the_roadmap(client: TestClient) -> None:
    assert client.put("/api/notes/p1.python.numpy", json={"text": "axis=0 is down"}).json()["ok"]
    roadmap = client.get("/api/roadmap").json()
    skills = {s["id"]: s for p in roadmap["phases"] for t in p["topics"] for s in t["skills"]}
    assert skills["p1.python.numpy"]["note"] == "axis=0 is down"
    page = client.get("/roadmap").text
    assert 'data-note="p1.python.numpy"' in page and "axis=0 is down" in page
    assert '<code title="the id for aipath log --resource">res.fluent-python</code>' in page


def test_study_toast_names_the_resource_by_title(client: TestClient) -> None:
    answer = client.put("/api/marks/res.fluent-python", json={"state": "done"}).json()
    assert "Fluent Python" in answer["message"], answer


def test_labs_waiting_on_prerequisites_name_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aipath.workspace.create import init_workspace

    monkeypatch.delenv("AIPATH_LABS_DIR", raising=False)
    monkeypatch.delenv("AIPATH_DATABASE_URL", raising=False)
    catalogue = load_catalogue()
    ws = Workspace(tmp_path / "ws")
    init_workspace(ws.root, catalogue)
    rows = {row.lab.id: row for row in lab_rows(ws, catalogue)}
    assert rows["p1-numpy-vectorize"].waiting_on == ()
    assert rows["p1-pandas-wrangling"].waiting_on == ("p1-numpy-vectorize",)
    with open_store(ws) as store:
        store.record_check("p1-numpy-vectorize", "passed", 0.2)
    rows = {row.lab.id: row for row in lab_rows(ws, catalogue)}
    assert rows["p1-pandas-wrangling"].waiting_on == ()
    assert rows["p1-pandas-wrangling"].to_json()["waiting_on"] == []


def test_every_page_writes_dates_one_way(client: TestClient) -> None:
    import re

    for url in ("/", "/plan"):
        page = client.get(url).text
        visible = re.sub(r"<script.*?</script>|<[^>]+>", " ", page, flags=re.S)
        assert not re.search(r"\b20\d\d-\d\d-\d\d\b", visible), url  # no ISO beside "13 Dec 2026"
        assert re.search(
            r"\b\d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) 20\d\d\b", visible
        )
