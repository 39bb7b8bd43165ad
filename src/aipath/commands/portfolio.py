"""Portfolio commands: `aipath project new KIND DIR`, `aipath project kinds`, `aipath audit PATH`.

Thin on purpose: parse, call :mod:`aipath.portfolio`, render, and record the audit in the
progress store when a workspace exists (the audit itself knows nothing about workspaces).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from aipath.console import console
from aipath.errors import AipathError

if TYPE_CHECKING:
    from aipath.portfolio.audit.models import AuditReport, Evidence, MaturityReport

STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "skip": "dim"}
LABEL = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


def _kind_names() -> str:
    from aipath.portfolio.kinds import KINDS

    return ", ".join(KINDS)


def register(app: typer.Typer) -> None:
    project = typer.Typer(
        help="Scaffold the roadmap's portfolio projects as complete, tested repositories.",
        no_args_is_help=True,
    )

    @project.command("new")
    def new_command(
        kind: Annotated[str, typer.Argument(help=f"project kind: {_kind_names()}")],
        dest: Annotated[Path, typer.Argument(help="folder to create (must be new or empty)")],
        name: Annotated[
            Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
            typer.Option("--name", help="project and package name (default: the folder name)"),
        ] = None,
    ) -> None:
        """Generate a working project: code, tests, CI, Dockerfile, README with measured results."""
        from aipath.portfolio.kinds import KINDS
        from aipath.portfolio.scaffold import create_project

        if kind not in KINDS:
            raise AipathError(
                f"unknown project kind {kind!r}", hint=f"choose one of: {_kind_names()}"
            )
        with console.status(f"generating and measuring a {kind} project in {dest} …"):
            path = create_project(kind, dest, name=name)
        spec = KINDS[kind]
        console.print(f"[green]created[/] {escape(str(path))}: {escape(spec.title)}")
        console.print(f"  roadmap project {spec.project_id}; data: {escape(spec.dataset)}")
        console.print("  results are in README.md (measured just now); first commit made")
        console.print(
            f"  next: cd {escape(str(path))} && make install && make check, "
            f"then `aipath audit {escape(str(path))}`"
        )

    @project.command("kinds")
    def kinds_command() -> None:
        """List the project kinds and the roadmap project each one fulfils."""
        from aipath.portfolio.kinds import KINDS

        table = Table(show_header=True, header_style="bold", box=None)
        for column in ("kind", "roadmap project", "phase", "project", "data"):
            table.add_column(column)
        for spec in KINDS.values():
            table.add_row(spec.kind, spec.project_id, str(spec.phase), spec.title, spec.dataset)
        console.print(table)

    app.add_typer(project, name="project")

    @app.command("audit")
    def audit_command(
        path: Annotated[Path, typer.Argument(help="the repository folder to audit")],
        kind: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option("--kind", help=f"add the checks for one project kind: {_kind_names()}"),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
        markdown: Annotated[
            Optional[Path],  # noqa: UP045
            typer.Option("--markdown", help="also write the report as Markdown to this file"),
        ] = None,
        run_tests: Annotated[
            bool,
            typer.Option(
                "--run-tests",
                help="run the repository's tests in a sandboxed copy (executes its code)",
            ),
        ] = False,
        timeout: Annotated[
            float, typer.Option("--timeout", help="seconds allowed for --run-tests")
        ] = 300.0,
        fail_under: Annotated[
            Optional[int],  # noqa: UP045
            typer.Option("--fail-under", help="exit with status 1 if the score is lower"),
        ] = None,
        workspace: Annotated[
            Optional[Path],  # noqa: UP045
            typer.Option("--workspace", "-w", help="workspace whose progress records the audit"),
        ] = None,
        db: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option("--db", help="progress store URL", envvar="AIPATH_DATABASE_URL"),
        ] = None,
        record: Annotated[
            bool, typer.Option("--record/--no-record", help="record the audit as progress")
        ] = True,
    ) -> None:
        """Score a repository 0-100 the way a hiring reviewer would, with evidence and fixes."""
        from aipath.portfolio.audit import audit_repository

        if not path.exists():
            raise AipathError(f"{path} does not exist", hint="pass the folder of a repository")
        if as_json:
            report = audit_repository(path, kind, run_tests, test_timeout_s=timeout)
        else:
            with console.status(f"auditing {path} …"):
                report = audit_repository(path, kind, run_tests, test_timeout_s=timeout)
        if markdown is not None:
            try:
                markdown.write_text(report.to_markdown(), encoding="utf-8")
            except OSError as exc:
                raise AipathError(f"cannot write {markdown}: {exc.strerror}") from None
        note = _record(report, workspace, db) if record else None
        if as_json:
            console.print(report.model_dump_json(indent=2), markup=False, soft_wrap=True)
        else:
            _render(report)
            if markdown is not None:
                console.print(f"[dim]markdown report written to {escape(str(markdown))}[/]")
            if note:
                console.print(f"[dim]{escape(note)}[/]")
        if fail_under is not None and report.score < fail_under:
            raise typer.Exit(1)


def _render(report: AuditReport) -> None:
    kind = f" · kind {report.kind}" if report.kind else ""
    colour = "green" if report.score >= 85 else "yellow" if report.score >= 60 else "red"
    console.print(
        f"[bold]{escape(report.path)}[/]{kind}: [bold {colour}]{report.score}/100[/] "
        f"(grade {report.grade}) · {report.files_seen} files · {report.duration_s:.1f} s"
    )
    for note in report.notes:
        console.print(f"  [dim]note: {escape(note)}[/]")
    for group in report.groups:
        score = "n/a" if group.score is None else f"{group.score}/100"
        console.print(f"\n[bold]{escape(group.title)}[/] {score}")
        for check in group.checks:
            style = STYLE[check.status]
            console.print(
                f"  [{style}]{LABEL[check.status]}[/] {escape(check.title)}: "
                f"{escape(check.summary)}"
            )
            if check.status in ("pass", "skip"):
                continue
            _render_findings(check.evidence[:4], check.fix, indent=7)
    if report.maturity is not None:
        _render_maturity(report.maturity)


def _render_maturity(maturity: MaturityReport) -> None:
    """The level ladder: every criterion with its finding, evidence and fix for the unmet."""
    console.print(
        f"\n[bold]MLOps maturity[/] level {maturity.level} of {maturity.goal}: "
        f"{escape(maturity.title)}"
    )
    for c in maturity.criteria:
        mark = "[green]met[/]    " if c.met else "[yellow]not yet[/]"
        console.print(f"  {mark} level {c.level} · {escape(c.title)}: {escape(c.summary)}")
        if c.met:
            continue
        _render_findings(c.evidence[:3], c.fix, indent=11)


def _render_findings(evidence: list[Evidence], fix: str | None, *, indent: int) -> None:
    """Where a finding was seen (file:line) and how to fix it, under its check or criterion."""
    pad = " " * indent
    for item in evidence:
        where = item.where()
        prefix = f"{where} " if where else ""
        console.print(f"{pad}[dim]{escape(prefix)}{escape(item.detail)}[/]")
    if fix:
        console.print(f"{pad}[cyan]fix:[/] {escape(fix)}")


def _record(report: AuditReport, workspace: Path | None, db: str | None) -> str | None:
    """Store the audit as a progress event; a missing workspace only costs a note."""
    try:
        from aipath.progress import ProgressStore
        from aipath.workspace.locate import find_workspace
    except ImportError:
        return "progress store unavailable in this install: audit not recorded"
    try:
        url = db or find_workspace(workspace).db_url
    except AipathError:
        return "no aipath workspace found: audit not recorded (run `aipath init` to track it)"
    try:
        with ProgressStore.open(url) as store:
            store.record_audit(
                report.path, report.kind, report.score, report.model_dump(mode="json")
            )
    except AipathError as exc:
        return f"audit not recorded: {exc.message}"
    return "audit recorded in your progress"
