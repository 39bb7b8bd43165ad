"""`aipath roadmap` and `aipath resources` as a learner runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from aipath.cli import app
from aipath.roadmap import load_roadmap

runner = CliRunner()


def test_tree_shows_every_phase_with_topics_skills_and_resources() -> None:
    result = runner.invoke(app, ["roadmap"])
    assert result.exit_code == 0, result.output
    for phase in load_roadmap().phases:
        assert f"Phase {phase.number}: {phase.title}" in result.output
    assert "Python fluency" in result.output
    assert "p1.python.asyncio" in result.output
    assert "reading only:" in result.output
    assert "Fluent Python" in result.output  # a topic's resources
    assert "job-ready" in result.output
    assert "choose one track: nlp, vision, agents, rl" in result.output


def test_phase_option_narrows_the_tree() -> None:
    result = runner.invoke(app, ["roadmap", "--phase", "4"])
    assert result.exit_code == 0, result.output
    assert "Phase 4: MLOps and production systems" in result.output
    assert "Phase 3:" not in result.output
    assert "Phase 5:" not in result.output
    assert "Made With ML" in result.output
    assert "Fluent Python" not in result.output


def test_json_is_the_whole_validated_model() -> None:
    result = runner.invoke(app, ["roadmap", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [p["id"] for p in data["phases"]] == ["p1", "p2", "p3", "p4", "p5"]
    assert {"resources", "tools", "projects", "hiring", "job_ready", "pace"} <= set(data)
    topic = data["phases"][0]["topics"][0]
    assert topic["hours"] == sum(s["hours"] for s in topic["skills"])  # derived hours included
    skill = topic["skills"][0]
    assert set(skill) == {"id", "title", "description", "hours", "labs", "reading_only"}


def test_json_for_one_phase() -> None:
    result = runner.invoke(app, ["roadmap", "--phase", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["id"] == "p2"
    assert data["months"] == {"start": 3, "end": 6}


def test_resources_table() -> None:
    result = runner.invoke(app, ["resources"])
    assert result.exit_code == 0, result.output
    for header in ("Title", "Author", "Kind", "Hours", "Phases", "URL"):
        assert header in result.output
    assert "Goku Mohandas" in result.output
    assert "Al Sweigart" in result.output


def test_resources_for_one_phase_and_as_json() -> None:
    table = runner.invoke(app, ["resources", "--phase", "1"])
    assert table.exit_code == 0, table.output
    assert "phase 1: Foundations" in table.output
    assert "Made With ML" not in table.output

    result = runner.invoke(app, ["resources", "--phase", "4", "--json"])
    assert result.exit_code == 0, result.output
    ids = [r["id"] for r in json.loads(result.output)]
    assert ids == ["res.made-with-ml", "res.ml-ops-org"]


def test_bad_phase_is_a_learner_error() -> None:
    for command in ("roadmap", "resources"):
        result = runner.invoke(app, [command, "--phase", "7"])
        assert result.exit_code != 0
        assert "there is no phase 7: the roadmap has phases 1–5" in result.output
        assert "Traceback" not in result.output


def test_bad_phase_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "aipath", "roadmap", "--phase", "7"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "there is no phase 7" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
