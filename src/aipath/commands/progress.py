"""Progress commands: export, import, log, note, mark.

Thin on purpose: parse, call :mod:`aipath.progress`, print.  The store is
found through the workspace (``--workspace``) unless ``--db URL`` names one.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import click
import typer

from aipath.console import console
from aipath.errors import AipathError
from aipath.progress.durations import format_minutes, parse_duration
from aipath.progress.types import MARK_STATES

if TYPE_CHECKING:
    from aipath.progress.store import ProgressStore

WorkspaceOpt = Annotated[
    Optional[Path],  # noqa: UP045 - typer reads the annotation at runtime
    typer.Option(
        "--workspace",
        "-w",
        help="workspace folder (default: $AIPATH_WORKSPACE, the current folder's, or ~/aipath)",
    ),
]
DbOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--db",
        help="SQLAlchemy URL of the progress store (default: $AIPATH_DATABASE_URL or the "
        "workspace's .aipath/progress.db)",
        envvar="AIPATH_DATABASE_URL",
    ),
]


def resolve_db_url(workspace: Path | None, db: str | None) -> str:
    """``--db`` (or ``$AIPATH_DATABASE_URL``) wins; otherwise the workspace's store."""
    if db:
        return db
    from aipath.workspace.locate import find_workspace

    return find_workspace(workspace).db_url


@contextmanager
def open_progress(workspace: Path | None, db: str | None) -> Iterator[ProgressStore]:
    """The store for one command, closed afterwards."""
    from aipath.progress.store import ProgressStore

    store = ProgressStore.open(resolve_db_url(workspace, db))
    try:
        yield store
    finally:
        store.close()


def parse_day(value: str, option: str) -> date:
    """An ISO date from an option, with a message that names the option."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise AipathError(
            f"{option} {value!r} is not a date", hint="write it as YYYY-MM-DD, e.g. 2027-01-04"
        ) from None


def _suggest(wanted: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(wanted, list(known), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def check_roadmap_id(value: str, kinds: tuple[str, ...]) -> str:
    """Refuse ids the roadmap does not have, so a typo does not silently log against nothing.

    ``kinds`` picks what is accepted: ``topic``, ``skill``, ``resource``, ``project``, ``lab``.
    """
    from aipath.roadmap import load_roadmap

    roadmap = load_roadmap()
    known: set[str] = set()
    if "topic" in kinds:
        known |= {t.id for t in roadmap.all_topics()}
    if "skill" in kinds:
        known |= {s.id for s in roadmap.all_skills()}
    if "resource" in kinds:
        known |= {r.id for r in roadmap.resources}
    if "project" in kinds:
        known |= {p.id for p in roadmap.projects}
    if value not in known and "lab" in kinds:
        from aipath.labs import load_catalogue

        # a broken catalogue must not stop marking roadmap ids; the id then stays unknown
        with suppress(AipathError):
            known |= set(load_catalogue().ids())
    if value not in known:
        raise AipathError(
            f"unknown {' or '.join(kinds)} id {value!r}{_suggest(value, known)}",
            hint="`aipath roadmap` lists topic and skill ids (like p1.python or "
            "p1.python.asyncio); `aipath roadmap --json` lists resources and projects",
        )
    return value


def _read_import(path: Path) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AipathError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AipathError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            hint="pass a file written by `aipath export`",
        ) from None
    if not isinstance(data, dict):
        raise AipathError(f"{path} is not an aipath export (expected a JSON object)")
    return data


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        file: Annotated[
            Optional[Path],  # noqa: UP045
            typer.Argument(help="where to write the JSON (default: print it)"),
        ] = None,
        workspace: WorkspaceOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Write everything in the progress store as one versioned JSON file."""
        with open_progress(workspace, db) as store:
            data = store.export_json()
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        if file is None:
            sys.stdout.write(text)
            return
        try:
            file.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise AipathError(f"cannot write {file}: {exc.strerror}") from None
        events = data["events"]
        count = len(events) if isinstance(events, list) else 0
        console.print(f"exported {count} events to {file}")

    @app.command("import")
    def import_command(
        file: Annotated[Path, typer.Argument(help="a JSON file written by `aipath export`")],
        workspace: WorkspaceOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Merge an export into the progress store (events already there are skipped)."""
        data = _read_import(file)
        with open_progress(workspace, db) as store:
            added = store.import_json(data)
        events = data.get("events")
        total = len(events) if isinstance(events, list) else 0
        console.print(f"imported {added} new events ({total - added} were already there)")

    @app.command("log")
    def log_command(
        duration: Annotated[str, typer.Argument(help="time spent: 90m, 1.5h, 2h30m")],
        resource: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option("--resource", "-r", help="the roadmap resource studied (res.…)"),
        ] = None,
        topic: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option("--topic", "-t", help="the roadmap topic or skill studied"),
        ] = None,
        note: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option("--note", "-n", help="a line about what you did"),
        ] = None,
        on: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option("--on", help="the day it happened (YYYY-MM-DD, default: now)"),
        ] = None,
        workspace: WorkspaceOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Log study time outside the labs (reading, videos, courses) for the planner's pace."""
        minutes = parse_duration(duration)
        if resource and topic:
            raise AipathError(
                "give --resource or --topic, not both",
                hint="a resource already belongs to its topics",
            )
        if resource:
            check_roadmap_id(resource, ("resource",))
        if topic:
            check_roadmap_id(topic, ("topic", "skill"))
        at: datetime | None = None
        if on:
            day = parse_day(on, "--on")
            if day > date.today():
                raise AipathError(f"--on {on} is in the future", hint="log time you have spent")
            at = datetime.combine(day, time(12, 0)).astimezone()
        with open_progress(workspace, db) as store:
            store.log_study(minutes, resource_id=resource, topic_id=topic, note=note, at=at)
        against = f" on {resource or topic}" if resource or topic else ""
        console.print(f"logged {format_minutes(minutes)}{against}")

    @app.command("note")
    def note_command(
        topic: Annotated[str, typer.Argument(help="the topic or skill id")],
        text: Annotated[
            Optional[str],  # noqa: UP045
            typer.Argument(help="the note (omit it to write it in $EDITOR)"),
        ] = None,
        workspace: WorkspaceOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Write your note on a topic; without TEXT, $EDITOR opens with the current note."""
        check_roadmap_id(topic, ("topic", "skill"))
        with open_progress(workspace, db) as store:
            current = store.notes().get(topic, "")
            if text is None:
                try:
                    edited = click.edit(current, extension=".md", require_save=True)
                except click.UsageError as exc:
                    raise AipathError(
                        f"cannot open an editor: {exc.message}",
                        hint="set $EDITOR, or pass the note as an argument",
                    ) from None
                if edited is None or edited.strip() == current.strip():
                    console.print("note unchanged")
                    return
                text = edited.rstrip("\n")
            store.write_note(topic, text)
        console.print(f"note saved on {topic}")

    @app.command("mark")
    def mark_command(
        topic: Annotated[str, typer.Argument(help="a topic, skill, resource, project or lab id")],
        state: Annotated[str, typer.Argument(help=f"one of: {', '.join(MARK_STATES)}")],
        workspace: WorkspaceOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Mark a topic done or skipped (the planner counts it), or back to pending."""
        if state not in MARK_STATES:
            raise AipathError(
                f"unknown mark {state!r}", hint=f"use one of: {', '.join(MARK_STATES)}"
            )
        check_roadmap_id(topic, ("topic", "skill", "resource", "project", "lab"))
        with open_progress(workspace, db) as store:
            store.mark(topic, state)
        console.print(f"{topic}: {state}")
