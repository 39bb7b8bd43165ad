"""The audit gives a clear result in bounded time on anything, never a traceback, and never
runs the audited code unless asked to."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from portfolio_helpers import commit_all, git

from aipath.errors import AipathError
from aipath.portfolio import audit_repository
from aipath.portfolio.audit.walker import RepoFiles, walk
from aipath.portfolio.synthetic import make_large_tree


def test_a_folder_that_is_not_a_git_repository(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("def train(x: int) -> int:\n    return x\n", "utf-8")
    report = audit_repository(tmp_path)
    assert not report.is_git
    assert report.check("commit_history").summary == "not a git repository"
    assert any("not a git repository" in note for note in report.notes)
    assert report.check("type_hints").status == "pass"


def test_an_empty_folder(tmp_path: Path) -> None:
    report = audit_repository(tmp_path)
    assert report.files_seen == 0
    assert report.score <= 15
    assert any("no files" in note for note in report.notes)
    assert report.check("lint").status == "skip"


def test_missing_path_file_path_and_unknown_kind_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(AipathError, match="does not exist"):
        audit_repository(tmp_path / "nowhere")
    (tmp_path / "f.txt").write_text("x", "utf-8")
    with pytest.raises(AipathError, match="is not a folder"):
        audit_repository(tmp_path / "f.txt")
    with pytest.raises(AipathError, match="unknown project kind"):
        audit_repository(tmp_path, kind="vision")


def test_binary_and_huge_files_are_flagged_without_being_read(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(os.urandom(2_000_000))
    with (tmp_path / "huge.dat").open("wb") as handle:
        handle.truncate(5_000_000_000)  # sparse: 5 GB on paper, nothing on disk
    started = time.monotonic()
    report = audit_repository(tmp_path)
    assert time.monotonic() - started < 30
    large = report.check("large_files")
    assert large.status == "fail"
    details = {ev.file: ev.detail for ev in large.evidence}
    assert "5000.0 MB" in details["huge.dat"] or "5.0 GB" in details["huge.dat"]
    assert "binary" in details["weights.bin"]


def test_unreadable_special_and_undecodable_files(tmp_path: Path) -> None:
    locked = tmp_path / "locked.py"
    locked.write_text("SECRET = 1\n", "utf-8")
    locked.chmod(0)
    os.mkfifo(tmp_path / "pipe.py")  # reading a FIFO would block forever
    (tmp_path / "dangling.py").symlink_to(tmp_path / "missing.py")
    (tmp_path / "latin1.py").write_bytes("naïve = 'café'\n".encode("latin-1"))
    private = tmp_path / "private"
    private.mkdir()
    (private / "x.py").write_text("x = 1\n", "utf-8")
    private.chmod(0)
    try:
        report = audit_repository(tmp_path)
    finally:
        locked.chmod(0o644)
        private.chmod(0o755)
    assert any("special file" in note for note in report.notes)
    assert any("symlink" in note for note in report.notes)
    if os.geteuid() != 0:  # root reads mode-000 files, so only a normal user sees this note
        assert any("could not be read" in note for note in report.notes)


def test_a_file_removed_after_listing_reads_as_unreadable(tmp_path: Path) -> None:
    """The other way to be unreadable when tests run as root: gone between listing and reading."""
    (tmp_path / "a.py").write_text("a = 1\n", "utf-8")
    files: RepoFiles = walk(tmp_path)
    (tmp_path / "a.py").unlink()
    assert files.read_text("a.py") is None
    assert "a.py" in files.unreadable


def test_symlink_loops_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.py").write_text("x = 1\n", "utf-8")
    (tmp_path / "src" / "again").symlink_to(tmp_path)
    (tmp_path / "loop_a").symlink_to(tmp_path / "loop_b")
    (tmp_path / "loop_b").symlink_to(tmp_path / "loop_a")
    started = time.monotonic()
    report = audit_repository(tmp_path)
    assert time.monotonic() - started < 30
    assert report.files_seen == 1
    assert any("3 symlink(s) not followed" in note for note in report.notes)


def test_malformed_toml_yaml_and_notebook(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project\nname = "x"\n', "utf-8")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text("jobs:\n  test:\n    steps: [unclosed\n", "utf-8")
    (tmp_path / "eda.ipynb").write_text('{"cells": [', "utf-8")
    (tmp_path / "app.py").write_text("import os\n", "utf-8")
    commit_all(tmp_path, "Add a project with broken configuration files")
    report = audit_repository(tmp_path)
    env = report.check("reproducible_env")
    assert any("invalid TOML" in ev.detail and ev.line == 1 for ev in env.evidence)
    ci = report.check("ci")
    assert ci.status == "fail"
    assert any(
        "invalid YAML" in ev.detail and ev.file == ".github/workflows/ci.yml" for ev in ci.evidence
    )
    notebooks = report.check("notebooks")
    assert notebooks.status == "fail"
    assert any("not a valid notebook" in ev.detail for ev in notebooks.evidence)
    lint = report.check("lint")  # ruff cannot read the broken pyproject: linted with defaults
    assert lint.status == "warn"
    assert any("F401" in ev.detail for ev in lint.evidence)


def test_the_audit_never_runs_the_audited_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = f"open({str(marker)!r}, 'w').close()\n"
    for rel in ("setup.py", "conftest.py", "src/pkg/__init__.py", "tests/test_x.py"):
        path = tmp_path / "repo" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(payload + "\ndef test_x() -> None:\n    assert True\n", "utf-8")
    repo = tmp_path / "repo"
    commit_all(repo, "Add modules that write a marker when imported")
    git(repo, "config", "core.fsmonitor", f"touch {marker}")  # git must not run this either
    audit_repository(repo)
    assert not marker.exists()


def test_run_tests_works_on_a_copy_and_respects_the_time_limit(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "tests" / "test_slow.py").write_text(
        "import pathlib, time\n\n\ndef test_slow() -> None:\n"
        "    pathlib.Path('written-by-test').write_text('x')\n    time.sleep(60)\n",
        "utf-8",
    )
    commit_all(repo, "Add a slow test")
    started = time.monotonic()
    report = audit_repository(repo, run_tests=True, test_timeout_s=3)
    assert time.monotonic() - started < 30
    check = report.check("tests_pass")
    assert check.status == "fail"
    assert "did not finish within 3 s" in check.summary
    assert not (repo / "written-by-test").exists()


def test_run_tests_reports_failures(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_math.py").write_text(
        "def test_ok() -> None:\n    assert 1 + 1 == 2\n\n\n"
        "def test_wrong() -> None:\n    assert 1 + 1 == 3\n",
        "utf-8",
    )
    report = audit_repository(tmp_path, run_tests=True, test_timeout_s=60)
    check = report.check("tests_pass")
    assert check.status == "fail"
    assert "1 failed" in check.summary


@pytest.mark.slow
def test_fifty_thousand_files_in_bounded_time(tmp_path: Path) -> None:
    root = make_large_tree(tmp_path / "monorepo", 50_000)
    started = time.monotonic()
    report = audit_repository(root)
    elapsed = time.monotonic() - started
    print(f"audit of a 50,000-file repository: {elapsed:.1f} s")
    assert report.files_seen == 50_000
    assert elapsed < 60
    assert report.check("secrets").status in {"pass", "warn"}
    json.loads(report.model_dump_json())  # the report stays serialisable at this size
