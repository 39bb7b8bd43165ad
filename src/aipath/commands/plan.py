"""Planner commands: ``aipath plan`` (store the profile, print the schedule) and ``aipath status``."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from aipath.commands.progress import DbOpt, WorkspaceOpt, open_progress, parse_day
from aipath.console import console
from aipath.errors import AipathError
from aipath.planner.model import Plan, WorkItem
from aipath.planner.render import (
    BACKGROUND_LABELS,
    describe_pace,
    plan_to_ics,
    plan_to_json,
    plan_to_markdown,
)
from aipath.progress.types import BACKGROUNDS, TRACKS, Profile

TodayOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
    typer.Option(
        "--today", hidden=True, help="pretend today is this date (for reproducible plans)"
    ),
]
MAX_BLOCKERS_SHOWN = 8


def _fmt(day: date | None) -> str:
    return day.isoformat() if day is not None else "—"


def _item_line(item: WorkItem) -> str:
    hours = f", {item.hours:g} h" if item.hours else ""
    late = " [red](overdue)[/]" if item.overdue else ""
    projected = f" → projected {item.projected_due}" if item.projected_due else ""
    return f"{item.kind} [bold]{item.id}[/] {item.title} (due {item.due}{projected}{hours}){late}"


def _print_plan(plan: Plan) -> None:
    p = plan.profile
    track = f" · track: {p.track}" if p.track else ""
    console.print(
        f"[bold]Plan[/] from {plan.start} · {p.hours_per_week:g} h/week · "
        f"{BACKGROUND_LABELS[p.background]}{track}"
    )
    projected = ""
    if plan.projected_finish is not None:
        projected = f" → projected [bold]{plan.projected_finish}[/]"
    console.print(
        f"Finish: [bold]{plan.finish}[/] ({plan.weeks} weeks, {plan.total_hours:g} h){projected}"
    )
    console.print(f"Pace: {describe_pace(plan)}")

    table = Table(title="Phases", title_justify="left", header_style="bold")
    for column in ("#", "phase", "start", "end", "hours", "projected end", "done"):
        table.add_column(column, justify="right" if column in ("#", "hours", "done") else "left")
    for ph in plan.phases:
        hours = f"{ph.hours:g}" if ph.hours == ph.base_hours else f"{ph.hours:g}/{ph.base_hours:g}"
        table.add_row(
            str(ph.number),
            ph.title,
            str(ph.start),
            str(ph.end),
            hours,
            _fmt(ph.projected_end),
            f"{ph.done_fraction:.0%}",
        )
    console.print(table)

    if plan.discounts:
        console.print(
            f"[bold]Taken off the plan[/] ({plan.base_hours:g} h → {plan.total_hours:g} h):"
        )
        for d in plan.discounts:
            console.print(f"  − {d.hours_saved:g} h  {d.label} (kept {d.keep:.0%}): {d.reason}")
    else:
        console.print("Nothing discounted: the plan follows the full career-changer path.")

    projected_job = ""
    if plan.projected_job_ready is not None:
        projected_job = f" → projected [bold]{plan.projected_job_ready}[/]"
    console.print(
        f"[bold]Job-ready[/]: {plan.job_ready}{projected_job} (about halfway through phase "
        f"{plan.job_ready_phase}, assuming solid engineering fundamentals)"
    )
    if plan.blockers:
        labs = sum(1 for b in plan.blockers if b.kind == "lab")
        projects = len(plan.blockers) - labs
        console.print(f"  between you and it: {labs} labs and {projects} portfolio projects")
        for item in plan.blockers[:MAX_BLOCKERS_SHOWN]:
            console.print(f"    {_item_line(item)}")
        if len(plan.blockers) > MAX_BLOCKERS_SHOWN:
            console.print(f"    … and {len(plan.blockers) - MAX_BLOCKERS_SHOWN} more (see --json)")
    else:
        console.print("  every lab and project before it is done")

    if plan.labs:
        labs_table = Table(title="Labs by target week", title_justify="left", header_style="bold")
        for column in ("week", "due", "lab", "projected", "done"):
            labs_table.add_column(column)
        for lab in plan.labs:
            labs_table.add_row(
                str(lab.week),
                str(lab.due),
                f"{lab.id} {lab.title}",
                _fmt(lab.projected_due),
                "✓" if lab.done else "",
            )
        console.print(labs_table)
    if plan.projects:
        console.print("[bold]Portfolio projects[/]:")
        for pr in plan.projects:
            done = " ✓" if pr.done else ""
            console.print(f"  week {pr.week} ({pr.due}): {pr.id} {pr.title}{done}")

    console.print("[bold]This week[/]:")
    for item in plan.this_week or ():
        console.print(f"  {_item_line(item)}")
    if not plan.this_week:
        console.print("  nothing scheduled")
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}")


def describe_profile(profile: Profile) -> str:
    """``15 h/week, developer, track nlp, from 2026-12-03``: the profile in one line."""
    track = f", track {profile.track}" if profile.track else ", no track yet"
    return (
        f"{profile.hours_per_week:g} h/week, {profile.background}{track}, "
        f"from {profile.start.isoformat()}"
    )


def register(app: typer.Typer) -> None:
    @app.command("profile")
    def profile_command(
        hours: Annotated[
            Optional[float],  # noqa: UP045
            typer.Option("--hours", help="hours of study per week"),
        ] = None,
        background: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option("--background", help=" | ".join(BACKGROUNDS)),
        ] = None,
        track: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option("--track", help=f"{' | '.join(TRACKS)} | none"),
        ] = None,
        start: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option("--start", help="first day of study (YYYY-MM-DD)"),
        ] = None,
        workspace: WorkspaceOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Show your profile, or change it (hours per week, background, track, start)."""
        from aipath.planner.service import update_profile

        start_day = parse_day(start, "--start") if start else None
        with open_progress(workspace, db) as store:
            before = store.get_profile()
            profile = update_profile(
                store, start=start_day, hours=hours, background=background, track=track
            )
        changed = before is None or profile != before
        console.print(
            f"{'[green]profile saved:[/]' if changed else 'profile:'} {describe_profile(profile)}"
        )

    @app.command("plan")
    def plan_command(
        start: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option("--start", help="first day of study (YYYY-MM-DD)"),
        ] = None,
        hours: Annotated[
            Optional[float],  # noqa: UP045
            typer.Option("--hours", help="hours of study per week"),
        ] = None,
        background: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option("--background", help=" | ".join(BACKGROUNDS)),
        ] = None,
        track: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option("--track", help=f"phase-5 specialization: {' | '.join(TRACKS)}"),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the plan as JSON")] = False,
        ics: Annotated[
            Optional[Path],  # noqa: UP045
            typer.Option(
                "--ics", help="also write a calendar (.ics) with a weekly block and milestones"
            ),
        ] = None,
        markdown: Annotated[
            Optional[Path],  # noqa: UP045
            typer.Option("--markdown", help="also write the plan as a Markdown page"),
        ] = None,
        today: TodayOpt = None,
        workspace: WorkspaceOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Store your profile and print your schedule: phases, labs, job-ready and finish dates."""
        now = parse_day(today, "--today") if today else date.today()
        start_day = parse_day(start, "--start") if start else None
        with open_progress(workspace, db) as store:
            from aipath.planner.service import plan_for, update_profile

            before = store.get_profile()
            profile = update_profile(
                store, start=start_day, hours=hours, background=background, track=track, today=now
            )
            plan = plan_for(store, profile=profile, today=now)
        if before is not None and profile != before and not as_json:
            # The options are kept for the next plan: say so, so nothing sticks silently.
            console.print(f"[green]profile saved:[/] {describe_profile(profile)}")
        for path, content in (
            (ics, plan_to_ics(plan) if ics else b""),
            (markdown, plan_to_markdown(plan).encode() if markdown else b""),
        ):
            if path is None:
                continue
            try:
                path.write_bytes(content)
            except OSError as exc:
                raise AipathError(f"cannot write {path}: {exc.strerror}") from None
        if as_json:
            sys.stdout.write(json.dumps(plan_to_json(plan), indent=2, ensure_ascii=False) + "\n")
            return
        _print_plan(plan)
        for path, what in ((ics, "calendar"), (markdown, "Markdown plan")):
            if path is not None:
                console.print(f"wrote the {what} to {path}")

    @app.command("status")
    def status_command(
        today: TodayOpt = None,
        workspace: WorkspaceOpt = None,
        db: DbOpt = None,
    ) -> None:
        """Where you stand: phase progress, pace, streak, job-ready date and the next three things."""
        now = parse_day(today, "--today") if today else date.today()
        with open_progress(workspace, db) as store:
            from aipath.planner.service import status_for

            report = status_for(store, today=now)
        plan = report.plan
        if not report.has_profile:
            console.print(
                "[yellow]no plan yet[/]: showing a default 20 h/week plan — run "
                "`aipath plan --start YYYY-MM-DD --hours N --background …` to make it yours"
            )
        bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=30),
            TaskProgressColumn(),
            TextColumn("{task.fields[dates]}"),
        )
        for ph in plan.phases:
            bars.add_task(
                f"{ph.number}. {ph.title}",
                total=100,
                completed=round(ph.done_fraction * 100),
                dates=f"{ph.start} → {ph.end}",
            )
        console.print(bars.make_tasks_table(bars.tasks))
        console.print(f"Labs passed: {report.labs_passed}/{report.labs_total}")
        console.print(f"Pace: {describe_pace(plan)}")
        streak = f"{report.streak_days}-day streak" if report.streak_days else "no streak yet"
        if report.streak_days and not report.active_today:
            streak += " (nothing yet today)"
        console.print(f"Streak: {streak}")
        projected = f" → projected {plan.projected_job_ready}" if plan.projected_job_ready else ""
        console.print(
            f"Job-ready: [bold]{plan.job_ready}[/]{projected} · finish {plan.finish}"
            + (f" → projected {plan.projected_finish}" if plan.projected_finish else "")
        )
        console.print("[bold]Next[/]:")
        for item in plan.next_up:
            console.print(f"  {_item_line(item)}")
        if not plan.next_up:
            console.print("  nothing left — the roadmap is done")
