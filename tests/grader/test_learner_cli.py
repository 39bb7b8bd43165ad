"""The learner's commands end to end on a fixture workspace, through the real CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aipath.cli import app

runner = CliRunner()
SOLUTION = Path(__file__).parents[1] / "fixtures" / "labs" / "p1" / "01-tiny" / "solution.py"


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def flat(text: str) -> str:
    """Undo Rich's line wrapping so assertions read whole sentences."""
    return " ".join(text.split())


def test_init_creates_a_git_workspace_with_every_starter(
    fixture_labs: Path, tmp_path: Path
) -> None:
    code, out = run("init", str(tmp_path / "ws"), "--hours", "10")
    assert code == 0, out
    ws = tmp_path / "ws"
    assert (ws / "aipath.toml").is_file()
    assert (ws / "labs" / "p1" / "01-tiny" / "exercise.py").is_file()
    assert (ws / "labs" / "p1" / "01-tiny" / "README.md").is_file()
    log = subprocess.run(["git", "log", "--oneline"], cwd=ws, capture_output=True, text=True)
    assert "Start the aipath roadmap" in log.stdout
    assert "hours_per_week = 10.0" in (ws / "aipath.toml").read_text()


def test_init_refuses_a_non_empty_folder(fixture_labs: Path, tmp_path: Path) -> None:
    (tmp_path / "stuff.txt").write_text("mine")
    code, out = run("init", str(tmp_path))
    assert code != 0
    assert "not empty" in flat(out)


def test_list_json_contract(fixture_workspace: Path) -> None:
    code, out = run("list", "--json", "-w", str(fixture_workspace))
    assert code == 0
    rows = json.loads(out)
    assert rows[0]["id"] == "p1-tiny"
    assert {"id", "phase", "title", "status", "path"} <= rows[0].keys()
    assert rows[0]["status"] == "not-attempted"
    assert rows[0]["path"].endswith("labs/p1/01-tiny/exercise.py")


def test_check_json_contract_and_status_flow(fixture_workspace: Path) -> None:
    code, out = run("check", "p1-tiny", "--json", "-w", str(fixture_workspace), "--cold")
    assert code == 1
    data = json.loads(out)
    assert data["status"] == "not-attempted"  # untouched starter: answered without running
    target = fixture_workspace / "labs" / "p1" / "01-tiny" / "exercise.py"
    shutil.copy(SOLUTION, target)
    code, out = run("check", "p1-tiny", "--json", "-w", str(fixture_workspace), "--cold")
    assert code == 0, out
    data = json.loads(out)
    assert {"lab", "status", "duration_s", "tests"} <= data.keys()
    assert data["status"] == "passed"
    assert {"name", "task", "status", "message"} <= data["tests"][0].keys()
    saved = json.loads((fixture_workspace / ".aipath" / "results" / "p1-tiny.json").read_text())
    assert saved["status"] == "passed"
    code, out = run("list", "--json", "-w", str(fixture_workspace))
    assert json.loads(out)[0]["status"] == "passed"


def test_hints_are_tiered_and_recorded(fixture_workspace: Path) -> None:
    outputs = [run("hint", "p1-tiny", "-w", str(fixture_workspace))[1] for _ in range(4)]
    assert "Hint 1/3" in outputs[0] and "multiplication" in outputs[0]
    assert "Hint 2/3" in outputs[1]
    assert "Hint 3/3" in outputs[2] and "return x * 2" in outputs[2]
    assert "last hint" in outputs[2] and "last hint" not in outputs[1]
    assert "last hint" in outputs[3]
    again = run("hint", "p1-tiny", "--all", "-w", str(fixture_workspace))[1]
    assert "Hint 1/3" in again and "Hint 2/3" in again and "Hint 3/3" in again
    _code, out = run("list", "--json", "-w", str(fixture_workspace))
    assert json.loads(out)[0]["hints_shown"] == 3


def test_solution_is_hidden_until_pass_or_confirmed(fixture_workspace: Path) -> None:
    code, out = run("solution", "p1-tiny", "-w", str(fixture_workspace))
    assert code != 0
    assert "not passed yet" in flat(out)
    code, out = run("solution", "p1-tiny", "--yes", "-w", str(fixture_workspace))
    assert code == 0
    assert "return x * 2" in out


def test_reset_keeps_a_backup_and_update_keeps_edits(fixture_workspace: Path) -> None:
    target = fixture_workspace / "labs" / "p1" / "01-tiny" / "exercise.py"
    target.write_text("# my work\n")
    code, _out = run("update", "-w", str(fixture_workspace))
    assert code == 0
    assert target.read_text() == "# my work\n"
    code, _out = run("reset", "p1-tiny", "--yes", "-w", str(fixture_workspace))
    assert code == 0
    assert "NotImplementedError" in target.read_text()
    backups = list((fixture_workspace / ".aipath" / "backups" / "p1-tiny").iterdir())
    assert [b.read_text() for b in backups] == ["# my work\n"]


def test_deleted_exercise_gets_a_clear_message(fixture_workspace: Path) -> None:
    target = fixture_workspace / "labs" / "p1" / "01-tiny" / "exercise.py"
    target.rename(target.with_name("renamed.py"))
    code, out = run("check", "p1-tiny", "-w", str(fixture_workspace), "--cold", "--json")
    assert code == 1
    error = json.loads(out)["error"]
    assert error["kind"] == "missing-file"
    assert "missing" in error["message"] and "aipath reset p1-tiny" in error["message"]


def test_unknown_lab_and_missing_workspace_are_one_line_errors(
    fixture_workspace: Path, tmp_path: Path
) -> None:
    code, out = run("check", "nope", "-w", str(fixture_workspace))
    assert code != 0 and "no lab called 'nope'" in flat(out)
    code, out = run("list", "-w", str(tmp_path / "elsewhere"))
    assert code != 0 and "not an aipath workspace" in flat(out)
    assert "Traceback" not in out


def test_next_shows_the_readme(fixture_workspace: Path) -> None:
    code, out = run("next", "-w", str(fixture_workspace))
    assert code == 0
    assert "Tiny fixture lab" in out


def test_init_on_an_existing_workspace_changes_its_profile(
    fixture_labs: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    assert run("init", str(ws))[0] == 0
    code, out = run("init", str(ws), "--hours", "15", "--background", "developer")
    assert code == 0, out
    assert "profile saved: 15 h/week, developer" in flat(out)
    code, out = run("profile", "-w", str(ws))
    assert "15 h/week, developer" in flat(out)


def test_code_is_never_cropped_on_a_narrow_terminal() -> None:
    from rich.console import Console

    from aipath.commands import learner

    code = "def f(x):\n    return x * 2 + 1000000000000 + 2000000000000000 + 300000000000000\n"
    mp = pytest.MonkeyPatch()
    try:
        for width, numbered in ((40, False), (120, True)):
            narrow = Console(width=width, force_terminal=True, record=True, color_system=None)
            mp.setattr(learner, "console", narrow)
            learner._print_code(code)
            shown = narrow.export_text()
            if numbered:
                assert "1 def f(x):" in shown
            else:
                assert "+ 300000000000000" in shown.replace(
                    "\n", ""
                )  # whole, wrapped by the terminal
                assert (
                    "    return x * 2 + 1000000000000 + 2000000000000000 + 300000000000000" in shown
                )
                assert "without line numbers" in " ".join(shown.split())
    finally:
        mp.undo()


def test_list_on_80_columns_never_splits_an_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aipath.labs import load_catalogue

    monkeypatch.delenv("AIPATH_LABS_DIR", raising=False)
    monkeypatch.delenv("AIPATH_DATABASE_URL", raising=False)
    ws = tmp_path / "ws"
    assert run("init", str(ws))[0] == 0
    result = CliRunner().invoke(app, ["list", "-w", str(ws)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines)
    words = {w.strip("│,") for line in lines for w in line.split()}
    for lab in load_catalogue():
        assert lab.id in words, f"{lab.id} is not shown whole"
        for required in lab.manifest.requires:
            assert required in words, f"{required} (required by {lab.id}) is split"


def test_your_program_printed_shows_the_learners_prints_not_pytests(
    fixture_workspace: Path,
) -> None:
    target = fixture_workspace / "labs" / "p1" / "01-tiny" / "exercise.py"
    target.write_text(
        "def double(x):\n    print('debugging double', x)\n    return x * 3\n\n\n"
        "def half(x):\n    raise NotImplementedError\n"
    )
    code, out = run("check", "p1-tiny", "-w", str(fixture_workspace))
    assert code != 0
    text = flat(out)
    assert "your program printed during test_double" in text and "debugging double" in text
    for noise in ("FAILED", "NotImplemente", "warnings summary", "docs.pytest.org", " failed, "):
        assert noise not in out.split("your program printed", 1)[1], noise
