"""`aipath project` and `aipath audit` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aipath.cli import app
from aipath.errors import AipathError
from aipath.progress import ProgressStore

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, BaseException | None]:
    result = runner.invoke(app, list(args), catch_exceptions=True)
    return result.exit_code, result.output, result.exception


def invoke_error(*args: str) -> str:
    """A learner-fixable error: exit status 2 and one clear message, however the app shows it."""
    code, out, exc = invoke(*args)
    assert code != 0
    if isinstance(exc, AipathError):
        return str(exc)
    assert code == 2, out
    assert "Traceback" not in out
    return out


@pytest.fixture()
def small_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "main.py").write_text("def run(x: int) -> int:\n    return x\n", encoding="utf-8")
    return repo


def test_kinds_lists_every_roadmap_project() -> None:
    code, out, _ = invoke("project", "kinds")
    assert code == 0
    for project_id in ("proj.tabular", "proj.timeseries", "proj.nlp", "proj.rag", "proj.pipeline"):
        assert project_id in out


def test_new_with_an_unknown_kind_is_a_clear_error(tmp_path: Path) -> None:
    message = invoke_error("project", "new", "vision", str(tmp_path / "x"))
    assert "unknown project kind 'vision'" in message
    assert "tabular" in message


def test_new_into_a_non_empty_folder_is_refused(small_repo: Path) -> None:
    assert "not empty" in invoke_error("project", "new", "tabular", str(small_repo))


def test_audit_of_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    assert "does not exist" in invoke_error("audit", str(tmp_path / "missing"), "--no-record")


def test_audit_prints_one_line_per_check_with_fixes(small_repo: Path) -> None:
    code, out, _ = invoke("audit", str(small_repo), "--no-record")
    assert code == 0
    assert "/100" in out
    assert "FAIL" in out and "fix:" in out
    assert "not a git repository" in out


def test_audit_json_and_markdown(small_repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    code, out, _ = invoke(
        "audit", str(small_repo), "--json", "--markdown", str(target), "--no-record"
    )
    assert code == 0
    data = json.loads(out)
    assert 0 <= data["score"] <= 100
    assert {g["id"] for g in data["groups"]} >= {"ownership", "discipline", "hygiene", "business"}
    assert target.read_text(encoding="utf-8").startswith("# Portfolio audit:")


def test_fail_under_sets_the_exit_status(small_repo: Path) -> None:
    code, _, _ = invoke("audit", str(small_repo), "--fail-under", "101", "--no-record")
    assert code == 1


def test_audit_is_recorded_as_a_progress_event(small_repo: Path, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'progress.db'}"
    code, out, _ = invoke("audit", str(small_repo), "--kind", "tabular", "--db", db_url)
    assert code == 0, out
    assert "recorded" in out
    with ProgressStore.open(db_url) as store:
        audits = store.audits()
    assert len(audits) == 1
    assert audits[0].path == str(small_repo.resolve())
    assert audits[0].kind == "tabular"
    assert audits[0].report["score"] == audits[0].score


def test_without_a_workspace_the_audit_is_not_recorded(
    small_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIPATH_DATABASE_URL", raising=False)
    monkeypatch.setenv("AIPATH_WORKSPACE", str(tmp_path / "no-workspace-here"))
    code, out, _ = invoke("audit", str(small_repo))
    assert code == 0
    assert "not recorded" in out
