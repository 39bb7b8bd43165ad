"""Progress commands: export, import, log, note, mark.

Thin on purpose: parse, call :mod:`aipath.progress`, print.  The store is
found through the workspace (``--workspace``) unless ``--db URL`` names one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
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
        replace_profile: Annotated[
            bool,
            typer.Option(
                "--replace-profile", help="also take the export's profile (hours, background)"
            ),
        ] = False,
        workspace: WorkspaceOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Merge an export into the progress store (events already there are skipped).

        Your profile stays as it is unless you pass --replace-profile (or have none yet).
        """
        from aipath.progress.export_file import ExportFile

        document = ExportFile(file)  # a missing or broken file is reported before the store opens
        with open_progress(workspace, db) as store:
            kept = store.get_profile()
            done = store.import_file(document, replace_profile=replace_profile)
        if kept is not None and not replace_profile and done.profile_in_file:
            console.print("kept your profile (the export's is ignored; --replace-profile takes it)")
        console.print(
            f"imported {done.added} new events ({done.total - done.added} were already there)"
        )

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
        from aipath import learner_writes

        minutes = parse_duration(duration)
        day = parse_day(on, "--on") if on else None
        with open_progress(workspace, db) as store:
            learner_writes.log_study(
                store, minutes, resource_id=resource, topic_id=topic, note=note, on=day
            )
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
        from aipath import learner_writes

        learner_writes.check_id(topic, learner_writes.NOTE_KINDS)
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
            learner_writes.write_note(store, topic, text)
        console.print(f"note saved on {topic}")

    @app.command("mark")
    def mark_command(
        topic: Annotated[str, typer.Argument(help="a topic, skill, resource, project or lab id")],
        state: Annotated[str, typer.Argument(help=f"one of: {', '.join(MARK_STATES)}")],
        workspace: WorkspaceOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Mark a topic done or skipped (the planner counts it), or back to pending."""
        from aipath import learner_writes

        with open_progress(workspace, db) as store:
            learner_writes.mark(store, topic, state)
        console.print(f"{topic}: {state}")
