"""`aipath dev check` in a real subprocess: both directions of every lab, and its JSON contract."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).parents[1] / "fixtures" / "labs"


def dev_check(labs_dir: Path) -> tuple[int, dict[str, object]]:
    env = {**os.environ, "AIPATH_LABS_DIR": str(labs_dir)}
    done = subprocess.run(
        # --all: a green run of the same fixture on this machine (the user's cache) must not
        # turn this into a check of nothing.
        [sys.executable, "-m", "aipath", "dev", "check", "--json", "--all"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return done.returncode, json.loads(done.stdout)


def _copy_fixture(tmp_path: Path) -> Path:
    labs = tmp_path / "labs"
    shutil.copytree(FIXTURE, labs, ignore=shutil.ignore_patterns("__pycache__"))
    return labs


def test_fixture_catalogue_passes_with_the_contract_shape(tmp_path: Path) -> None:
    # a copy: dev check writes mistakes/caught-by.json beside the mistakes it checks
    code, data = dev_check(_copy_fixture(tmp_path))
    assert code == 0, data
    assert data["ok"] is True
    labs = data["labs"]
    assert isinstance(labs, list) and labs[0]["id"] == "p1-tiny"
    lab = labs[0]
    assert lab["solution"] == "passed"
    assert lab["starter"] == "not-attempted"
    assert {m["file"] for m in lab["mistakes"]} == {
        "plus.py",
        "floor.py",
        "none.py",
        "square.py",
        "minus_one.py",
        "plus_one.py",
    }
    for mistake in lab["mistakes"]:
        assert {"file", "caught", "expected", "message"} <= mistake.keys()
        assert mistake["caught"] is True
        assert mistake["expected"].lower() in mistake["message"].lower()
    assert [a["status"] for a in lab["alternatives"]] == ["passed", "passed"]


def test_an_uncaught_mistake_and_a_broken_solution_fail_the_check(tmp_path: Path) -> None:
    labs = _copy_fixture(tmp_path)
    lab_dir = labs / "p1" / "01-tiny"
    # A "mistake" that is actually correct cannot be caught.
    (lab_dir / "mistakes" / "not_a_mistake.py").write_text(
        "# expect: looks like something\n"
        "def double(x):\n    return x * 2\n\n\ndef half(x):\n    return x / 2\n"
    )
    # A reference solution with a bug.
    solution = lab_dir / "solution.py"
    solution.write_text(solution.read_text().replace("return x / 2", "return x / 3"))
    code, data = dev_check(labs)
    assert code == 1
    assert data["ok"] is False
    lab = data["labs"][0]
    assert lab["solution"] == "failed"
    uncaught = [m for m in lab["mistakes"] if not m["caught"]]
    assert [m["file"] for m in uncaught] == ["not_a_mistake.py"]
    assert any("not_a_mistake.py is not caught" in p for p in lab["problems"])
    assert any("solution.py does not pass" in p for p in lab["problems"])


def test_the_check_that_named_each_mistake_is_kept_and_a_stale_entry_changes_no_verdict(
    tmp_path: Path,
) -> None:
    labs = _copy_fixture(tmp_path)
    mistakes = labs / "p1" / "01-tiny" / "mistakes"
    code, first = dev_check(labs)
    assert code == 0, first
    catches = json.loads((mistakes / "caught-by.json").read_text())
    # double's slips are named by test_double, half's by test_half
    assert catches == {
        "floor.py": "test_half",
        "minus_one.py": "test_half",
        "none.py": "test_double",
        "plus.py": "test_double",
        "plus_one.py": "test_half",
        "square.py": "test_double",
    }
    assert first["labs"][0]["mistakes_rerun_in_full"] == 0

    # Every entry wrong, one for a mistake that no longer exists: the run starts with the wrong
    # check, runs on in full where it did not name the slip, and judges on what it saw.
    swapped = {
        name: "test_half" if test == "test_double" else "test_double"
        for name, test in catches.items()
    }
    (mistakes / "caught-by.json").write_text(json.dumps({**swapped, "gone.py": "test_half"}))
    code, second = dev_check(labs)
    assert code == 0, second
    lab = second["labs"][0]
    assert all(m["caught"] for m in lab["mistakes"])
    messages = {m["file"]: m["message"] for m in lab["mistakes"]}
    assert messages == {m["file"]: m["message"] for m in first["labs"][0]["mistakes"]}
    assert json.loads((mistakes / "caught-by.json").read_text()) == catches  # repaired


def test_dev_new_scaffolds_every_file_of_the_contract(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from aipath.cli import app
    from aipath.labs import load_manifest

    result = CliRunner().invoke(
        app, ["dev", "new", "p3-attention", "--title", "Attention", "--content-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "p3" / "01-attention"
    for name in ("lab.toml", "README.md", "exercise.py", "solution.py", "checks.py"):
        assert (folder / name).is_file(), name
    assert list((folder / "mistakes").glob("*.py")) and list((folder / "alternatives").glob("*.py"))
    manifest = load_manifest(folder)
    assert manifest.id == "p3-attention" and manifest.phase == 3 and len(manifest.hints) == 3
    again = CliRunner().invoke(app, ["dev", "new", "p3-attention", "--content-dir", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_unchanged_green_labs_are_skipped_until_a_file_changes(tmp_path: Path) -> None:
    labs = tmp_path / "labs"
    shutil.copytree(FIXTURE, labs)
    env = {**os.environ, "AIPATH_LABS_DIR": str(labs), "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "aipath", "dev", "check", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return " ".join(done.stdout.split())

    assert "p1-tiny ok" in run()
    assert "nothing changed" in run()
    assert "p1-tiny ok" in run("--all")  # CI ignores the cache
    readme = labs / "p1" / "01-tiny" / "README.md"
    readme.write_text(readme.read_text() + "\nOne more line.\n", encoding="utf-8")
    assert "p1-tiny ok" in run()


def test_dev_try_reports_each_file_verdict(tmp_path: Path) -> None:
    lab = next(FIXTURE.glob("*/*tiny*"))
    wrong = tmp_path / "off_by_one.py"
    wrong.write_text((lab / "mistakes" / "plus.py").read_text(encoding="utf-8"), encoding="utf-8")
    env = {**os.environ, "AIPATH_LABS_DIR": str(FIXTURE)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aipath",
            "dev",
            "try",
            "p1-tiny",
            str(lab / "solution.py"),
            str(wrong),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [row["status"] for row in rows] == ["passed", "failed"]
    assert rows[1]["file"] == str(wrong) and rows[1]["message"]
    missing = subprocess.run(
        [sys.executable, "-m", "aipath", "dev", "try", "p1-tiny", str(tmp_path / "nope.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert missing.returncode != 0 and "no such file" in (missing.stdout + missing.stderr)
