"""aipath.gitutil (re-exported as aipath.checks.git): git without the caller's GIT_* variables."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from aipath import gitutil
from aipath.checks import git as checks_git
from aipath.checks.git import git_env, run_git

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

IDENTITY = ("user.name=Ada", "user.email=ada@example.com", "commit.gpgsign=false")


def test_one_implementation() -> None:
    assert checks_git.run_git is gitutil.run_git
    assert checks_git.git_env is gitutil.git_env


def test_git_env_drops_git_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GIT_DIR", "/somewhere/else")
    monkeypatch.setenv("GIT_INDEX_FILE", "/tmp/index")
    monkeypatch.setenv("KEEP_ME", "1")
    env = git_env()
    assert not any(name.startswith("GIT_") for name in env)
    assert env["KEEP_ME"] == "1" and env["LC_ALL"] == "C"
    isolated = git_env(tmp_path, GIT_AUTHOR_DATE="1767261600 +0000")
    assert isolated["HOME"] == str(tmp_path) == isolated["XDG_CONFIG_HOME"]
    assert isolated["GIT_CONFIG_NOSYSTEM"] == "1"
    assert isolated["GIT_AUTHOR_DATE"] == "1767261600 +0000"


def test_run_git_ignores_an_inherited_git_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    repo = tmp_path / "repo"
    other.mkdir()
    repo.mkdir()
    run_git(other, "init", "-q", check=True)
    # Inside a git hook, GIT_DIR points at the hook's repository: it must not leak in.
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    run_git(repo, "init", "-q", "-b", "main", check=True)
    (repo / "ä.txt").write_text("hello\n", encoding="utf-8")
    run_git(repo, "add", "ä.txt", check=True)
    stamp = "1767261600 +0000"
    run_git(
        repo,
        "commit",
        "-q",
        "-m",
        "first",
        config=IDENTITY,
        env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
        home=tmp_path,
        check=True,
    )
    log = run_git(repo, "log", "--format=%an %at %s")
    assert log.returncode == 0 and log.stdout.strip() == "Ada 1767261600 first"
    files = run_git(repo, "ls-files")
    assert files.stdout.strip() == "ä.txt"  # core.quotepath=off: not "\303\244.txt"
    assert run_git(other, "log").returncode != 0  # nothing was committed to the other repository


def test_run_git_input_and_failures(tmp_path: Path) -> None:
    run_git(tmp_path, "init", "-q", check=True)
    hashed = run_git(tmp_path, "hash-object", "--stdin", input="blob\n")
    assert hashed.returncode == 0 and len(hashed.stdout.strip()) == 40
    failed = run_git(tmp_path, "rev-parse", "--verify", "no-such-branch")
    assert failed.returncode != 0
    with pytest.raises(subprocess.CalledProcessError):
        run_git(tmp_path, "rev-parse", "--verify", "no-such-branch", check=True)
