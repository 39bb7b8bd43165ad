"""The dashboard and the CLI accept and refuse the same ids for marks, notes and study logs:
both call :mod:`aipath.learner_writes`, and this test drives both with the same ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aipath.cli import app as cli_app
from aipath.learner_writes import MARK_KINDS, NOTE_KINDS, known_ids

runner = CliRunner()

# (id, accepted for marks, accepted for notes, accepted as a study topic)
CASES = [
    ("p1.python", True, True, True),  # a topic
    ("p1.python.numpy", True, True, True),  # a skill
    ("res.fluent-python", True, False, False),  # a resource
    ("p1-tiny", True, False, False),  # a lab (the fixture catalogue's)
    ("p1.pyhton", False, False, False),  # a typo
    ("res.nope", False, False, False),
]


def _cli(ws: Path, *args: str) -> bool:
    result = runner.invoke(cli_app, [*args, "--workspace", str(ws)], catch_exceptions=True)
    return result.exit_code == 0


def test_project_ids_are_known_for_marks() -> None:
    projects = [i for i in known_ids(("project",))]
    assert projects and set(projects) <= known_ids(MARK_KINDS)
    assert not set(projects) & known_ids(NOTE_KINDS)


@pytest.mark.parametrize(("item", "markable", "notable", "studyable"), CASES)
def test_marks_notes_and_study_logs_agree(
    client: TestClient,
    fixture_workspace: Path,
    item: str,
    markable: bool,
    notable: bool,
    studyable: bool,
) -> None:
    web_mark = client.put(f"/api/marks/{item}", json={"state": "done"})
    assert (web_mark.status_code == 200) is markable, web_mark.text
    assert _cli(fixture_workspace, "mark", item, "done") is markable
    if not markable:
        assert web_mark.status_code == 404

    web_note = client.put(f"/api/notes/{item}", json={"text": "a note"})
    assert (web_note.status_code == 200) is notable, web_note.text
    assert _cli(fixture_workspace, "note", item, "a note") is notable

    web_study = client.post("/api/study", json={"duration": "30m", "topic_id": item})
    assert (web_study.status_code == 200) is studyable, web_study.text
    assert _cli(fixture_workspace, "log", "30m", "--topic", item) is studyable
    is_resource = item.startswith("res.") and markable
    web_res = client.post("/api/study", json={"duration": "30m", "resource_id": item})
    assert (web_res.status_code == 200) is is_resource, web_res.text
    assert _cli(fixture_workspace, "log", "30m", "--resource", item) is is_resource


def test_both_refuse_a_resource_and_a_topic_at_once(
    client: TestClient, fixture_workspace: Path
) -> None:
    body = {"duration": "30m", "topic_id": "p1.python", "resource_id": "res.fluent-python"}
    assert client.post("/api/study", json=body).status_code == 400
    assert not _cli(
        fixture_workspace, "log", "30m", "--topic", "p1.python", "--resource", "res.fluent-python"
    )
