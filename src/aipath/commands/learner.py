"""Learner commands: init, update, reset, list, next, check, watch, hint, solution, worker, up."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import RenderableType
from rich.markup import escape
from rich.table import Table

from aipath.commands.render import status_text, verdict_panel
from aipath.console import console
from aipath.errors import AipathError
from aipath.labs import Catalogue, Lab, load_catalogue
from aipath.workspace.model import Workspace

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="workspace folder (default: $AIPATH_WORKSPACE, the "
        "workspace containing the current folder, or ~/aipath)",
    ),
]


def _context(workspace: Path | None) -> tuple[Workspace, Catalogue]:
    from aipath.workspace.locate import find_workspace

    # Links into the roadmap are verified by `aipath dev check` and the test suite; a learner's
    # command skips re-validating them so a check answers sooner.
    return find_workspace(workspace), load_catalogue()


def _print_code(text: str) -> None:
    """Code the learner may copy: never cropped, never split by a fold they did not see.

    Piped, it is the file's exact text.  In a terminal it is highlighted with line numbers while
    every line fits; a wider line would be cut (Rich crops code), so then the numbers go and the
    terminal soft-wraps the long lines itself: copying gives back each line whole.
    """
    from rich.syntax import Syntax

    if not console.is_terminal:
        print(text, end="" if text.endswith("\n") else "\n")
        return
    widest = max((len(line.expandtabs(4)) for line in text.splitlines()), default=0)
    gutter = len(str(text.count("\n") + 1)) + 3
    if widest + gutter <= console.width:
        console.print(Syntax(text, "python", line_numbers=True))
    else:
        console.print(
            f"[dim]{widest}-character lines on a {console.width}-column terminal: shown without"
            " line numbers, long lines wrapped by the terminal (copying gives them whole)[/]"
        )
        console.print(Syntax(text, "python").highlight(text), soft_wrap=True, end="")


def _pick_lab(ws: Workspace, catalogue: Catalogue, lab_id: str | None) -> Lab:
    if lab_id:
        return catalogue.get(lab_id)
    from aipath.workspace.config import read_config
    from aipath.workspace.learner import lab_rows, next_lab

    current = read_config(ws.config_path).current_lab
    if current:
        try:
            return catalogue.get(current)
        except AipathError:
            pass
    row = next_lab(lab_rows(ws, catalogue))
    if row is None:
        raise AipathError(
            "every lab is passed — nothing left to check", hint="name a lab to re-check it"
        )
    return row.lab


def _set_current(ws: Workspace, lab: Lab) -> None:
    from aipath.workspace.config import read_config, write_config

    config = read_config(ws.config_path)
    if config.current_lab != lab.id:
        config.current_lab = lab.id
        write_config(ws.config_path, config)


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        directory: Annotated[
            Path | None, typer.Argument(help="where to create it (default ~/aipath)")
        ] = None,
        hours: Annotated[
            float | None, typer.Option(help="hours you can study per week (default 20)")
        ] = None,
        background: Annotated[
            str | None,
            typer.Option(help="beginner | developer | data-scientist (default beginner)"),
        ] = None,
        track: Annotated[str | None, typer.Option(help="nlp | vision | agents | rl")] = None,
        start: Annotated[
            str | None, typer.Option(help="start date, YYYY-MM-DD (default today)")
        ] = None,
    ) -> None:
        """Create a learner workspace: every lab's starter, your profile, the progress store, git."""
        from pydantic import ValidationError

        from aipath.workspace.config import ProfileConfig
        from aipath.workspace.create import init_workspace
        from aipath.workspace.locate import default_workspace_path

        target = directory or default_workspace_path()
        try:
            profile = ProfileConfig.model_validate(
                {
                    "hours_per_week": 20.0 if hours is None else hours,
                    "background": background or "beginner",
                    "track": track,
                    "start": start or date.today().isoformat(),
                }
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            raise AipathError(f"--{first['loc'][0]}: {first['msg']}".replace("_", "-")) from exc
        report = init_workspace(target, load_catalogue(), profile)
        verb = "created" if report.created else "updated"
        console.print(f"[green]Workspace {verb}[/] at {report.workspace.root}")
        given = any(v is not None for v in (hours, background, track, start))
        if not report.created and given:
            # An existing workspace keeps its progress; the options given change its profile.
            from aipath.commands.plan import describe_profile
            from aipath.planner.service import update_profile
            from aipath.progress.store import ProgressStore

            with ProgressStore.open(report.workspace.db_url) as store:
                changed = update_profile(
                    store,
                    hours=hours,
                    background=background,
                    track=track,
                    start=date.fromisoformat(start) if start else None,
                )
            console.print(f"  [green]profile saved:[/] {describe_profile(changed)}")
        console.print(f"  {len(report.labs_added)} labs placed under {report.workspace.labs_dir}")
        if report.git:
            console.print("  a git repository with a first commit: commit your work as you go")
        console.print(
            "Next: [bold]aipath next[/] shows your first lab; [bold]aipath watch[/] checks it as you save."
        )

    @app.command()
    def update(workspace: WorkspaceOpt = None) -> None:
        """Add labs that arrived with a newer aipath; your edited files are never touched."""
        from aipath.workspace.create import update_workspace

        ws, catalogue = _context(workspace)
        added = update_workspace(ws, catalogue)
        if added:
            console.print(f"Added {len(added)} new labs: {', '.join(added)}")
        else:
            console.print("Your workspace already has every lab.")

    @app.command()
    def reset(
        lab_id: Annotated[str, typer.Argument(metavar="LAB")],
        yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
        workspace: WorkspaceOpt = None,
    ) -> None:
        """Restore a lab's starter file (your version is kept as a backup)."""
        from aipath.workspace.create import reset_lab

        ws, catalogue = _context(workspace)
        lab = catalogue.get(lab_id)
        if not yes and not typer.confirm(f"Replace {ws.lab_file(lab)} with a fresh starter?"):
            raise typer.Abort()
        backup = reset_lab(ws, lab)
        console.print(f"Restored the starter of {lab.id}.")
        if backup:
            console.print(f"Your previous file is saved at {backup}")

    @app.command("list")
    def list_labs(
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
        phase: Annotated[int | None, typer.Option(help="only this phase")] = None,
        workspace: WorkspaceOpt = None,
    ) -> None:
        """Every lab with its status."""
        from aipath.workspace.learner import lab_rows

        ws, catalogue = _context(workspace)
        rows = [
            r for r in lab_rows(ws, catalogue) if phase is None or r.lab.manifest.phase == phase
        ]
        if as_json:
            print(json.dumps([row.to_json() for row in rows], indent=2))
            return
        # The id is what the learner types: it never wraps or gets cut; the title folds instead.
        # Under 110 columns the prerequisites move under the title, one id a line, so that no
        # id is ever split across lines (an 80-column terminal cut them into halves).
        narrow = console.width < 110
        table = Table(title="Labs", box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD)
        table.add_column("ph" if narrow else "phase", no_wrap=True)
        table.add_column(
            "id", no_wrap=True, min_width=max((len(r.lab.id) for r in rows), default=2)
        )
        table.add_column("title", overflow="fold", ratio=1)
        table.add_column("min", no_wrap=True, justify="right")
        table.add_column("status", no_wrap=True)
        if not narrow:
            table.add_column("requires", ratio=1)
        for row in rows:
            status = status_text("passed") if row.done else status_text(row.status)
            requires = "\n".join(row.lab.manifest.requires)
            title = escape(row.lab.manifest.title)
            if narrow and requires:
                title = f"{title}\n[dim]after {requires}[/]"
            cells: list[RenderableType] = [
                str(row.lab.manifest.phase),
                row.lab.id,
                title,
                str(row.lab.manifest.minutes),
                status,
            ]
            if not narrow:
                cells.append(requires)
            table.add_row(*cells)
        console.print(table)
        done = sum(r.done for r in rows)
        console.print(f"{done}/{len(rows)} labs passed")

    @app.command("next")
    def next_command(workspace: WorkspaceOpt = None) -> None:
        """The lab to do next, with its instructions."""
        from aipath.workspace.learner import lab_rows, next_lab

        ws, catalogue = _context(workspace)
        row = next_lab(lab_rows(ws, catalogue))
        if row is None:
            console.print(
                "[green]Every lab is passed.[/] Time for the portfolio: `aipath project new`."
            )
            return
        _set_current(ws, row.lab)
        from rich.markdown import Markdown

        console.print(Markdown(row.lab.readme.read_text(encoding="utf-8")))
        console.print(
            f"\nEdit [bold]{row.path}[/], then run [bold]aipath check[/] (or keep [bold]aipath watch[/] open)."
        )

    @app.command()
    def check(
        lab_id: Annotated[
            str | None, typer.Argument(metavar="[LAB]", help="lab id (default: the current lab)")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
        cold: Annotated[bool, typer.Option(help="do not use a running worker")] = False,
        workspace: WorkspaceOpt = None,
    ) -> None:
        """Check a lab now (uses a running worker when there is one)."""
        from aipath.grader.service import check_lab

        ws, catalogue = _context(workspace)
        lab = _pick_lab(ws, catalogue, lab_id)
        _set_current(ws, lab)
        result = check_lab(ws, lab, use_worker=not cold)
        if as_json:
            print(result.model_dump_json(indent=2))
        else:
            console.print(verdict_panel(result, title=f"{lab.id}: {lab.manifest.title}"))
        raise typer.Exit(0 if result.passed else 1)

    @app.command()
    def hint(
        lab_id: Annotated[str | None, typer.Argument(metavar="[LAB]")] = None,
        show_all: Annotated[
            bool, typer.Option("--all", help="show the hints revealed so far again")
        ] = False,
        workspace: WorkspaceOpt = None,
    ) -> None:
        """Reveal the next hint: a nudge, then the approach, then a near-solution."""
        from rich.markdown import Markdown

        from aipath.workspace.learner import reveal_hint, shown_hints

        ws, catalogue = _context(workspace)
        lab = _pick_lab(ws, catalogue, lab_id)
        total = len(lab.manifest.hints)
        if show_all:
            seen = shown_hints(ws, lab)
            if not seen:
                console.print(f"no hints revealed for {lab.id} yet: `aipath hint {lab.id}`")
            for tier, text in enumerate(seen, start=1):
                console.print(f"[bold]Hint {tier}/{total}[/] for {lab.id}")
                console.print(Markdown(text))
            return
        shown = reveal_hint(ws, lab)
        console.print(f"[bold]Hint {shown.tier}/{shown.total}[/] for {lab.id}")
        console.print(Markdown(shown.text))
        if shown.tier == shown.total:
            # Say it with the last tier itself, not one call later.
            console.print(
                "[dim](that is the last hint; `aipath hint --all` shows them again, "
                "`aipath solution` the reference after a pass)[/]"
            )

    @app.command()
    def solution(
        lab_id: Annotated[str | None, typer.Argument(metavar="[LAB]")] = None,
        yes: Annotated[
            bool, typer.Option("--yes", "-y", help="reveal before passing (recorded)")
        ] = False,
        workspace: WorkspaceOpt = None,
    ) -> None:
        """Show the reference solution (after a pass; before only on request, recorded)."""
        from aipath.workspace.learner import solution_text

        ws, catalogue = _context(workspace)
        lab = _pick_lab(ws, catalogue, lab_id)
        try:
            text, _passed = solution_text(ws, lab, confirmed=yes)
        except AipathError:
            if yes or not typer.confirm(
                f"{lab.id} is not passed yet. Reveal the solution anyway? (recorded)", default=False
            ):
                raise
            text, _passed = solution_text(ws, lab, confirmed=True)
        _print_code(text)

    @app.command()
    def worker(workspace: WorkspaceOpt = None) -> None:
        """Run a warm grader worker in the foreground (the watcher and dashboard start their own)."""
        from aipath.grader.worker import WorkerRunning, serve

        ws, _catalogue = _context(workspace)
        try:
            serve(ws.socket_path)
        except WorkerRunning as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None

    @app.command()
    def watch(
        lab_id: Annotated[str | None, typer.Argument(metavar="[LAB]")] = None,
        manual: Annotated[
            bool, typer.Option("--manual", help="poll for changes instead of file events")
        ] = False,
        workspace: WorkspaceOpt = None,
    ) -> None:
        """Re-check the lab you are editing every time you save. Keys: n next, h hint, l list, q quit."""
        from aipath.commands.watchloop import run_watch

        ws, catalogue = _context(workspace)
        run_watch(ws, catalogue, _pick_lab(ws, catalogue, lab_id), manual=manual)

    @app.command()
    def up(
        directory: Annotated[
            Path | None, typer.Option("--workspace", "-w", help="workspace to open")
        ] = None,
        serve_web: Annotated[
            bool, typer.Option("--serve/--no-serve", help="start the dashboard")
        ] = True,
    ) -> None:
        """`make run`: create the default workspace if needed, then open the dashboard."""
        from aipath.workspace.create import init_workspace
        from aipath.workspace.learner import lab_rows, next_lab
        from aipath.workspace.locate import default_workspace_path

        root = directory or default_workspace_path()
        report = init_workspace(root, load_catalogue())
        ws = report.workspace
        console.print(f"Workspace: {ws.root} ({'new' if report.created else 'existing'})")
        row = next_lab(lab_rows(ws, load_catalogue()))
        if row is not None:
            console.print(f"Next lab: [bold]{row.lab.id}[/] — {row.lab.manifest.title}")
            console.print(f"  edit {row.path}")
        try:
            from aipath.web.server import serve_dashboard
        except ImportError:
            serve_web = False
        if serve_web:
            serve_dashboard(ws, host="127.0.0.1", port=8765, open_browser=False)
        else:
            console.print(
                "Then: [bold].venv/bin/aipath watch -w "
                + str(ws.root)
                + "[/] checks it each time you save."
            )
