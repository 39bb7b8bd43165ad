"""`aipath log`, `note`, `mark`, `export` and `import`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aipath.cli import app
from aipath.errors import AipathError
from aipath.progress import ProgressStore

runner = CliRunner()


@pytest.fixture(autouse=True)
def _stable_labs(fixture_labs: Path) -> None:
    """Use the small fixture catalogue, so lab ids are stable (p1-tiny)."""


def aipath(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def aipath_fails(*args: str) -> str:
    """Run a command that must fail with a learner-facing error; return the error text."""
    result = runner.invoke(app, list(args), catch_exceptions=True)
    assert result.exit_code != 0, result.output
    if isinstance(result.exception, AipathError):
        return str(result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    return " ".join(result.output.split())  # undo Rich's wrapping (paths vary in length)


def events(db_url: str, kind: str) -> list[dict[str, object]]:
    with ProgressStore.open(db_url) as store:
        return [e.__dict__ for e in store.events() if e.kind == kind]


def test_log_accepts_the_usual_forms(db_url: str) -> None:
    assert "logged 1h30m on p1.python" in aipath(
        "log", "90m", "--topic", "p1.python", "--db", db_url
    )
    aipath("log", "1.5h", "--topic", "p1.python.asyncio", "--db", db_url)
    aipath("log", "2h30m", "--resource", "res.fluent-python", "--note", "ch 19", "--db", db_url)
    rows = events(db_url, "study")
    assert [(r["minutes"], r["topic_id"], r["resource_id"], r["text"]) for r in rows] == [
        (90.0, "p1.python", None, None),
        (90.0, "p1.python.asyncio", None, None),
        (150.0, None, "res.fluent-python", "ch 19"),
    ]


def test_log_on_a_past_day(db_url: str) -> None:
    day = date.today() - timedelta(days=3)
    aipath("log", "45m", "--on", day.isoformat(), "--db", db_url)
    (row,) = events(db_url, "study")
    assert isinstance(row["at"], object)
    with ProgressStore.open(db_url) as store:
        assert store.daily_minutes() == {day: 45.0}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["2"], "has no unit"),
        (["lots"], "cannot read 'lots'"),
        (["0m"], "less than a minute"),
        (
            ["1h", "--topic", "p1.pyton"],
            "unknown topic or skill id 'p1.pyton' (did you mean p1.python",
        ),
        (["1h", "--resource", "res.nope"], "unknown resource id 'res.nope'"),
        (["1h", "--topic", "p1.python", "--resource", "res.fluent-python"], "not both"),
        (["1h", "--on", "yesterday"], "--on 'yesterday' is not a date"),
        (["1h", "--on", "2999-01-01"], "in the future"),
    ],
)
def test_log_rejects_nonsense(db_url: str, args: list[str], message: str) -> None:
    assert message in aipath_fails("log", *args, "--db", db_url)
    assert events(db_url, "study") == []


def test_note_with_text_and_with_editor(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aipath("note", "p1.math", "first thoughts", "--db", db_url)
    editor = tmp_path / "editor.py"
    editor.write_text(
        textwrap.dedent(
            """
            import sys
            path = sys.argv[1]
            old = open(path, encoding="utf-8").read()
            open(path, "w", encoding="utf-8").write(old + "added in the editor\\n")
            """
        )
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.delenv("VISUAL", raising=False)
    assert "note saved on p1.math" in aipath("note", "p1.math", "--db", db_url)
    with ProgressStore.open(db_url) as store:
        assert store.notes() == {"p1.math": "first thoughts\nadded in the editor"}


def test_note_left_unchanged_in_the_editor_saves_nothing(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = tmp_path / "noop.py"
    editor.write_text(
        "import sys, os, time\nt = os.path.getmtime(sys.argv[1])\nos.utime(sys.argv[1], (t + 5, t + 5))\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.delenv("VISUAL", raising=False)
    assert "note unchanged" in aipath("note", "p1.git", "--db", db_url)
    assert events(db_url, "note") == []


def test_mark_states(db_url: str) -> None:
    aipath("mark", "p1.git", "done", "--db", db_url)
    aipath("mark", "p1.math.calculus", "skipped", "--db", db_url)
    aipath("mark", "proj.tabular", "done", "--db", db_url)
    aipath("mark", "p1-tiny", "skipped", "--db", db_url)
    aipath("mark", "p1.git", "pending", "--db", db_url)
    with ProgressStore.open(db_url) as store:
        assert store.marks() == {
            "p1.math.calculus": "skipped",
            "proj.tabular": "done",
            "p1-tiny": "skipped",
        }
    assert "unknown mark 'finished'" in aipath_fails("mark", "p1.git", "finished", "--db", db_url)
    assert "unknown" in aipath_fails("mark", "p9.nothing", "done", "--db", db_url)


def test_export_import_round_trip_through_files(db_url: str, tmp_path: Path) -> None:
    aipath("plan", "--start", "2027-01-04", "--background", "developer", "--db", db_url, "--json")
    aipath("log", "1h", "--topic", "p1.python", "--note", "naïve ✓", "--db", db_url)
    aipath("note", "p1.math", "line one\nline two", "--db", db_url)
    aipath("mark", "p1.git", "skipped", "--db", db_url)
    with ProgressStore.open(db_url) as store:
        store.record_check("p1-numpy-vectorize", "passed", 0.8, "4/4", 4, 4)
        store.record_audit("/tmp/x", "tabular", 91, {"items": [{"ok": True}]})

    exported = tmp_path / "progress.json"
    assert "exported 5 events" in aipath("export", str(exported), "--db", db_url)
    copy_url = f"sqlite:///{tmp_path / 'copy.db'}"
    assert "imported 5 new events (0 were already there)" in aipath(
        "import", str(exported), "--db", copy_url
    )
    assert "imported 0 new events (5 were already there)" in aipath(
        "import", str(exported), "--db", copy_url
    )
    again = json.loads(aipath("export", "--db", copy_url))
    original = json.loads(exported.read_text(encoding="utf-8"))
    for doc in (again, original):
        doc.pop("exported_at")
    assert again == original


def test_import_explains_broken_files(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "aipath-progress",')
    assert "is not valid JSON (line 1" in aipath_fails("import", str(bad), "--db", db_url)
    bad.write_text('{"format": "aipath-progress", "version": 1, "events": [{"uid": 3}]}')
    assert "events.0" in aipath_fails("import", str(bad), "--db", db_url)
    assert "cannot read" in aipath_fails("import", str(tmp_path / "missing.json"), "--db", db_url)


def test_real_entry_point_prints_one_line_errors(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aipath", "log", "lots", "--db", f"sqlite:///{tmp_path / 'p.db'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "cannot read 'lots' as a duration" in done.stderr
    assert "Traceback" not in done.stderr


def test_database_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("AIPATH_DATABASE_URL", url)
    aipath("log", "20m")
    with ProgressStore.open(url) as store:
        assert [e.minutes for e in store.events()] == [20.0]


def test_workspace_option_finds_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIPATH_DATABASE_URL", raising=False)
    (tmp_path / "aipath.toml").write_text("")
    aipath("log", "25m", "--workspace", str(tmp_path))
    with ProgressStore.open(f"sqlite:///{tmp_path / '.aipath' / 'progress.db'}") as store:
        assert [e.minutes for e in store.events()] == [25.0]


def test_mark_accepts_resource_ids_like_the_dashboard(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    result = CliRunner().invoke(app, ["mark", "res.fluent-python", "done", "--db", url])
    assert result.exit_code == 0, result.output
    store = ProgressStore.open(url)
    try:
        assert store.marks()["res.fluent-python"] == "done"
    finally:
        store.close()


def test_import_keeps_the_learners_profile_unless_asked(tmp_path: Path) -> None:
    from aipath.progress import Profile

    source, target = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    with ProgressStore.open(source) as store:
        store.set_profile(Profile(start=date(2026, 1, 5), hours_per_week=5))
    with ProgressStore.open(target) as store:
        store.set_profile(Profile(start=date(2026, 2, 2), hours_per_week=25))
    export = tmp_path / "export.json"
    aipath("export", str(export), "--db", source)
    out = aipath("import", str(export), "--db", target)
    assert "kept your profile" in out
    with ProgressStore.open(target) as store:
        profile = store.get_profile()
        assert profile is not None and profile.hours_per_week == 25
    aipath("import", str(export), "--db", target, "--replace-profile")
    with ProgressStore.open(target) as store:
        profile = store.get_profile()
        assert profile is not None and profile.hours_per_week == 5
