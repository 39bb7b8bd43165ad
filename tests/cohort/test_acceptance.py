"""The whole loop, as a cohort lives it: an instructor creates a cohort, two learners join from
their own workspaces with the real CLI, submit right and wrong files, a real Celery worker
grades them with the confined grader, each learner sees only their own results, and the
instructor's API shows both with the mistakes named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from aipath.labs import load_catalogue

LAB = "p1-numpy-vectorize"
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.xdist_group("cohort")]


def _aipath(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aipath", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def _workspace(tmp_path: Path, name: str) -> Path:
    from aipath.workspace.create import init_workspace

    root = tmp_path / name
    init_workspace(root, load_catalogue())
    return root


def test_two_learners_whole_loop(tmp_path: Path, db_url: str, server: str, worker: object) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AIPATH_WORKSPACE", "AIPATH_LABS_DIR")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src")
    created = _aipath(
        "cohort",
        "create",
        "spring",
        "--db",
        db_url,
        "--labs",
        f"{LAB},p1-pandas-wrangling",
        "--learner",
        "ada",
        "--learner",
        "bob",
        "--url",
        server,
        "--json",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    tokens = json.loads(created.stdout)
    cohort_id = tokens["cohort_id"]
    lab = load_catalogue().get(LAB)

    results = {}
    for name, source in (("ada", lab.solution), ("bob", lab.mistakes()[0])):
        ws = _workspace(tmp_path, name)
        joined = _aipath(
            "cohort",
            "join",
            server,
            "--token",
            tokens["learner_tokens"][name],
            "-w",
            str(ws),
            env=env,
        )
        assert joined.returncode == 0, joined.stderr + joined.stdout
        assert "token" not in (ws / "aipath.toml").read_text()  # the secret stays out of git
        (ws / "labs" / lab.relative_dir / lab.manifest.exercise).write_text(source.read_text())
        submitted = _aipath("submit", LAB, "--json", "-w", str(ws), env=env)
        results[name] = json.loads(submitted.stdout)
        assert submitted.returncode == (0 if name == "ada" else 1), submitted.stderr
        status = _aipath("cohort", "status", "--json", "-w", str(ws), env=env)
        mine = json.loads(status.stdout)
        assert mine["me"]["name"] == name
        assert [s["id"] for s in mine["submissions"]] == [results[name]["id"]]

    assert results["ada"]["verdict"]["status"] == "passed"
    assert results["bob"]["verdict"]["status"] == "failed"
    assert results["bob"]["verdict"]["result"]["confinement"] == ""  # fully confined, as a laptop
    assert results["bob"]["verdict"]["result"]["mode"] == "warm"  # forked from the preloaded pool

    def get(token: str, path: str) -> httpx.Response:
        return httpx.get(server + path, headers={"authorization": f"Bearer {token}"})

    ada, bob = tokens["learner_tokens"]["ada"], tokens["learner_tokens"]["bob"]
    assert get(ada, f"/api/submissions/{results['ada']['id']}").status_code == 200
    assert get(ada, f"/api/submissions/{results['bob']['id']}").status_code == 404
    assert get(bob, f"/api/submissions/{results['ada']['id']}").status_code == 404
    assert [s["learner"] for s in get(bob, "/api/submissions").json()] == ["bob"]
    assert get(ada, f"/api/cohorts/{cohort_id}/progress").status_code == 404  # learners: no
    assert get("aip_not-a-token", "/api/submissions").status_code == 401

    teacher = tokens["instructor_token"]
    progress = get(teacher, f"/api/cohorts/{cohort_id}/progress").json()
    rows = {row["learner"]: row for row in progress["learners"]}
    assert rows["ada"]["labs"][LAB]["attempts_to_pass"] == 1
    assert rows["bob"]["labs"][LAB]["status"] == "failed"
    mistakes = get(teacher, f"/api/cohorts/{cohort_id}/mistakes").json()
    lab_mistakes = next(m for m in mistakes["labs"] if m["lab"] == LAB)
    assert lab_mistakes["median_attempts_to_pass"] == 1
    failed_check = next(
        t for t in results["bob"]["verdict"]["result"]["tests"] if t["status"] == "failed"
    )
    assert {(m["check"], m["message"]) for m in lab_mistakes["mistakes"]} >= {
        (failed_check["name"], failed_check["message"].splitlines()[0])
    }
    page = get(teacher, f"/cohorts/{cohort_id}")
    assert page.status_code == 200 and "ada" in page.text and failed_check["name"] in page.text
    csv_text = get(teacher, f"/cohorts/{cohort_id}/grades.csv").text
    assert f"spring,ada,{LAB},passed,1,1," in csv_text
