"""The quick `aipath check` path: straight to the worker, without the heavy libraries.

It must give the same verdict and record the same event as the full CLI, and it must not import
what makes the CLI slow to start (the roadmap's pydantic models, SQLAlchemy, pandas, numpy).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aipath.grader.worker import BackgroundWorker
from aipath.workspace.model import Workspace
from aipath.workspace.store import open_store

SOLUTION = Path(__file__).parents[1] / "fixtures" / "labs" / "p1" / "01-tiny" / "solution.py"
HEAVY = ("pydantic", "sqlalchemy", "pandas", "numpy", "typer", "aipath.roadmap", "aipath.labs")

PROBE = """
import json, sys
from aipath.quick import quick_check
code = quick_check(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _quick(ws: Path, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args, "-w", str(ws)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_quick_check_answers_without_the_heavy_libraries(fixture_workspace: Path) -> None:
    ws = Workspace(fixture_workspace)
    target = ws.labs_dir / "p1" / "01-tiny" / "exercise.py"
    shutil.copy(SOLUTION, target)
    config = ws.config_path.read_text(encoding="utf-8")
    if "current_lab" not in config:  # a top-level key, before any [table]
        ws.config_path.write_text('current_lab = "p1-tiny"\n' + config, encoding="utf-8")
    with BackgroundWorker(ws.socket_path):
        probe = _quick(fixture_workspace, "--json")
        assert probe["code"] == 0
        loaded = set(probe["modules"])  # type: ignore[arg-type]
        heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY)
        assert not heavy, f"the quick path imported {heavy[:8]}"
        saved = json.loads((ws.results_dir / "p1-tiny.json").read_text(encoding="utf-8"))
        assert saved["status"] == "passed" and saved["mode"] == "warm"
        target.write_text("def double(x):\n    return x + 2\n\n\ndef half(x):\n    return x / 2\n")
        assert _quick(fixture_workspace)["code"] == 1
    with open_store(ws) as store:
        state = store.lab_states()["p1-tiny"]
    assert state.attempts == 2 and state.ever_passed  # the worker recorded both runs


def test_the_worker_draws_the_panel_as_this_terminal_would(fixture_workspace: Path) -> None:
    """Without --json the worker renders the verdict at the client's width and colours, so the
    client imports no Rich; what it prints is what the full CLI's renderer prints."""
    import io

    from rich.console import Console

    from aipath.commands.render import verdict_panel_from_json

    ws = Workspace(fixture_workspace)
    shutil.copy(SOLUTION, ws.labs_dir / "p1" / "01-tiny" / "exercise.py")
    config = ws.config_path.read_text(encoding="utf-8")
    if "current_lab" not in config:
        ws.config_path.write_text('current_lab = "p1-tiny"\n' + config, encoding="utf-8")
    env = {**os.environ, "COLUMNS": "97"}
    env.pop("NO_COLOR", None)
    with BackgroundWorker(ws.socket_path):
        done = subprocess.run(
            [sys.executable, "-c", PROBE, "-w", str(fixture_workspace)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    *panel, last = done.stdout.splitlines(keepends=True)
    probe = json.loads(last)
    assert probe["code"] == 0
    assert not [m for m in probe["modules"] if m.split(".")[0] == "rich"]
    result = json.loads((ws.results_dir / "p1-tiny.json").read_text(encoding="utf-8"))
    title = panel[0]
    assert "p1-tiny" in title and "\x1b[" not in "".join(panel)  # piped: no colour codes
    out = io.StringIO()
    Console(file=out, width=97, highlight=False).print(
        verdict_panel_from_json(result, title="p1-tiny: Tiny fixture lab")
    )
    assert "".join(panel) == out.getvalue()
    assert max(len(line.rstrip("\n")) for line in panel) == 97


def test_anything_else_goes_to_the_full_cli(fixture_workspace: Path) -> None:
    for args in (["--cold"], ["p1-ti"], ["--help"]):
        assert _quick(fixture_workspace, *args)["code"] is None
    # no worker running: the full CLI (which runs cold) takes the call
    assert _quick(fixture_workspace)["code"] is None


def test_help_is_rendered_once_then_read_from_the_cache(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "COLUMNS": "100"}

    def help_text() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "aipath", "--help"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = help_text()
    assert "Usage: aipath" in first and "check" in first
    cached = list((tmp_path / "aipath").glob("help-*.txt"))
    assert len(cached) == 1
    assert help_text() == first


SERVED_PROBE = """
import json, sys
from aipath.quick import quick_served
code = quick_served(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""
FULL = "import sys; sys.argv = ['aipath', *sys.argv[1:]]; from aipath.cli import main; main()"


def _run(
    code: str, args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_status_list_and_next_are_answered_by_the_worker_as_the_full_cli_prints_them(
    fixture_workspace: Path, tmp_path: Path
) -> None:
    """The worker runs the ordinary command: same text, same exit code, this shell's settings
    (its folder and AIPATH_* variables, its width), and the client imports none of the CLI."""
    ws = Workspace(fixture_workspace)
    env = {**os.environ, "COLUMNS": "91"}
    env.pop("AIPATH_WORKSPACE", None)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cases: list[tuple[list[str], Path]] = [
        (["status"], fixture_workspace),
        (["list"], fixture_workspace),
        (["list", "--json"], fixture_workspace),
        (["status", "-w", str(fixture_workspace)], elsewhere),
        (["list", "--phase", "9", "-w", str(fixture_workspace)], elsewhere),  # an error: exit 2
        (["next"], fixture_workspace),
        (["hint", "--all"], fixture_workspace),
    ]
    with BackgroundWorker(ws.socket_path):
        for args, cwd in cases:
            quick = _run(SERVED_PROBE, args, env, cwd)
            assert quick.returncode == 0, quick.stderr
            *printed, last = quick.stdout.splitlines(keepends=True)
            probe = json.loads(last)
            assert isinstance(probe["code"], int), (args, quick.stderr)
            heavy = sorted(m for m in probe["modules"] if m.split(".")[0] in HEAVY or m in HEAVY)
            assert not heavy, f"{args}: the quick path imported {heavy[:8]}"
            full = _run(FULL, args, env, cwd)
            assert probe["code"] == full.returncode, (args, full.stderr)
            assert "".join(printed) == full.stdout, args
            assert quick.stderr == full.stderr, args
        # A hint revealed through the worker is recorded: the full CLI shows it again.
        quick = _run(SERVED_PROBE, ["hint", "p1-tiny"], env, fixture_workspace)
        assert json.loads(quick.stdout.splitlines()[-1])["code"] == 0
        assert "Hint 1/" in quick.stdout
        again = _run(FULL, ["hint", "p1-tiny", "--all"], env, fixture_workspace)
        assert "Hint 1/" in again.stdout and "Hint 2/" not in again.stdout
        # The client's AIPATH_* settings reach the command: another (empty) workspace's lab
        # folder makes the worker's child read that catalogue, as the full CLI would.
        other = {**env, "AIPATH_LABS_DIR": str(tmp_path / "no-labs")}
        (tmp_path / "no-labs").mkdir()
        quick = _run(SERVED_PROBE, ["list", "--json"], other, fixture_workspace)
        full = _run(FULL, ["list", "--json"], other, fixture_workspace)
        *printed, last = quick.stdout.splitlines(keepends=True)
        assert json.loads(last)["code"] == full.returncode
        assert "".join(printed) == full.stdout
    # no worker: the full CLI takes the call
    assert json.loads(_run(SERVED_PROBE, ["status"], env, fixture_workspace).stdout)["code"] is None


def test_a_served_command_leaves_the_worker_as_it_was(
    fixture_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker runs commands in its own process: folder, AIPATH_* and consoles come back."""
    from aipath import console as consoles
    from aipath.commands.served import answer

    monkeypatch.setenv("AIPATH_SOMETHING", "worker's")
    monkeypatch.chdir(tmp_path)
    before_env = {k: v for k, v in os.environ.items() if k.startswith("AIPATH_")}
    console_file = consoles.console.file
    render = {"width": 70, "terminal": False, "err_terminal": False, "env": {}}
    reply = answer(
        {
            "argv": ["status", "-w", str(fixture_workspace)],
            "cwd": str(fixture_workspace),
            "env": {"AIPATH_OTHER": "client's"},
            "render": render,
        }
    )
    assert reply["ok"] and reply["exit_code"] == 0, reply
    assert "Labs passed" in reply["stdout"]
    assert max(len(line) for line in reply["stdout"].splitlines()) <= 70
    failed = answer(
        {"argv": ["list", "--phase", "9"], "cwd": str(tmp_path), "env": {}, "render": render}
    )
    assert failed["ok"] and failed["exit_code"] != 0 and "error" in failed["stderr"]
    assert answer({"argv": ["check"], "cwd": "/", "env": {}, "render": render})["ok"] is False
    assert Path.cwd() == tmp_path
    assert {k: v for k, v in os.environ.items() if k.startswith("AIPATH_")} == before_env
    assert consoles.console.file is console_file


def test_a_command_whose_client_gave_up_is_not_run(fixture_workspace: Path) -> None:
    """Behind a long check the client runs the command itself; the worker must not run it
    again later (a second `hint` nobody reads)."""
    import socket

    from aipath.grader.worker import _client_gone, _handle

    ours, theirs = socket.socketpair()
    assert not _client_gone(ours)
    theirs.close()
    assert _client_gone(ours)
    ours.close()
    request = {
        "op": "command",
        "argv": ["hint", "p1-tiny", "-w", str(fixture_workspace)],
        "cwd": str(fixture_workspace),
        "env": {},
        "render": {"width": 80, "terminal": False, "env": {}},
    }
    reply = _handle(json.dumps(request).encode(), lambda: True)
    assert reply == {"ok": False, "error": "the client is gone"}
    with open_store(Workspace(fixture_workspace)) as store:
        assert not store.events()  # no hint was revealed
