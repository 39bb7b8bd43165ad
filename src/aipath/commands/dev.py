"""Author commands: `aipath dev check`, `try`, `diff`, `new`, `bench`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aipath.console import console
from aipath.errors import AipathError

dev_app = typer.Typer(help="Tools for lab authors.", no_args_is_help=True)


@dev_app.command("check")
def dev_check(
    labs: Annotated[list[str] | None, typer.Argument(help="only these labs")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    parallel: Annotated[int | None, typer.Option(help="checks at once (default: CPUs)")] = None,
    check_all: Annotated[
        bool, typer.Option("--all", help="every lab, also those unchanged since a green run")
    ] = False,
) -> None:
    """Every lab: solution and alternatives pass, starter is not-attempted, mistakes are caught.

    Without lab ids and without --all, labs unchanged since their last green run (same files,
    same check library and engine) are skipped.
    """
    from aipath.dev.check import LabReport, run_dev_check
    from aipath.dev.greencache import GreenCache
    from aipath.labs import load_catalogue

    started = time.perf_counter()
    catalogue = load_catalogue()
    cache = GreenCache()
    if not labs and not check_all:
        todo = [lab.id for lab in catalogue if not cache.is_green(lab)]
        skipped = len(catalogue) - len(todo)
        if skipped and not as_json:
            console.print(
                f"{skipped} labs unchanged since their last green run are skipped (--all checks them)"
            )
        if not todo:
            if not as_json:
                console.print("[green]all labs ok[/] (nothing changed)")
            else:
                print(json.dumps({"ok": True, "seconds": 0.0, "problems": [], "labs": []}))
            raise typer.Exit(0)
        labs = todo
    if as_json:
        ok, reports, problems = run_dev_check(catalogue, lab_ids=labs, parallel=parallel)
    elif console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            runs = bar.add_task("checking labs", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(runs, completed=done, total=total)

            def lab_done(report: LabReport, done: int, total: int) -> None:
                mark = "[green]ok[/]" if report.ok else "[red]FAIL[/]"
                bar.console.print(f"{done}/{total} {report.lab.id} {mark}")

            ok, reports, problems = run_dev_check(
                catalogue,
                lab_ids=labs,
                parallel=parallel,
                on_progress=progress,
                on_lab_done=lab_done,
            )
    else:  # CI and pipes: one line per finished lab, so a long run visibly moves

        def lab_line(report: LabReport, done: int, total: int) -> None:
            print(
                f"dev check: {done}/{total} labs, {report.lab.id} {'ok' if report.ok else 'FAIL'}",
                flush=True,
            )

        ok, reports, problems = run_dev_check(
            catalogue, lab_ids=labs, parallel=parallel, on_lab_done=lab_line
        )
    elapsed = time.perf_counter() - started
    if not problems:
        for report in reports:
            cache.record(report.lab, report.ok)
        cache.save()
    if as_json:
        print(
            json.dumps(
                {
                    "ok": ok,
                    "seconds": round(elapsed, 2),
                    "problems": problems,
                    "labs": [r.to_json() for r in reports],
                },
                indent=2,
            )
        )
    else:
        table = Table(title=f"dev check — {len(reports)} labs in {elapsed:.1f} s")
        for column in ("lab", "solution", "starter", "mistakes caught", "alternatives", "ok"):
            table.add_column(column)
        for report in reports:
            caught = sum(m["caught"] for m in report.mistakes)
            alts = sum(a["status"] == "passed" for a in report.alternatives)
            table.add_row(
                report.lab.id,
                report.solution.status.value if report.solution else "-",
                report.starter.status.value if report.starter else "-",
                f"{caught}/{len(report.mistakes)}",
                f"{alts}/{len(report.alternatives)}",
                "[green]ok[/]" if report.ok else "[red]FAIL[/]",
            )
        console.print(table)
        for problem in problems:
            console.print(f"[red]✘[/] {problem}")
        for report in reports:
            for problem in report.problems:
                console.print(f"[red]✘ {report.lab.id}[/]: {problem}")
        console.print("[green]all labs ok[/]" if ok else "[red]dev check failed[/]")
    raise typer.Exit(0 if ok else 1)


@dev_app.command("diff")
def dev_diff(
    lab: Annotated[str, typer.Argument(help="the lab id")],
    only: Annotated[str | None, typer.Argument(help="one mistake or alternative file name")] = None,
) -> None:
    """What each mistake and alternative changes relative to solution.py (unified diffs)."""
    from aipath.dev.check import mistake_diff
    from aipath.labs import load_catalogue

    entry = load_catalogue().get(lab)
    files = [*entry.mistakes(), *entry.alternatives()]
    if only:
        files = [f for f in files if f.name == only or f.stem == only]
        if not files:
            raise AipathError(f"{lab} has no mistake or alternative called {only!r}")
    for path in files:
        sys.stdout.write(mistake_diff(entry.solution, path) or f"(no change: {path.name})\n")
        sys.stdout.write("\n")


@dev_app.command("try")
def dev_try(
    lab: Annotated[str, typer.Argument(help="the lab id")],
    files: Annotated[list[Path], typer.Argument(help="files to check as the learner's exercise")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the lab's checks on any files (e.g. a blind reviewer's answers) and show each verdict."""
    from aipath.dev.check import try_files
    from aipath.labs import load_catalogue

    reports = try_files(load_catalogue().get(lab), files)
    if as_json:
        sys.stdout.write(json.dumps([r.to_json() for r in reports], indent=2) + "\n")
        return
    for report in reports:
        row = report.to_json()
        console.print(f"[bold]{report.path.name}[/]: {row['status']}", highlight=False)
        console.print(f"  {row['message']}", highlight=False, markup=False)


@dev_app.command("new")
def dev_new(
    lab_id: Annotated[str, typer.Argument(metavar="ID", help="e.g. p3-attention")],
    title: Annotated[str, typer.Option(help="the lab's title")] = "TODO: title",
    content_dir: Annotated[Path | None, typer.Option(help="lab content folder")] = None,
) -> None:
    """Scaffold a new lab folder with every file of the contract."""
    from aipath.dev.scaffold import new_lab

    path = new_lab(lab_id, title=title, content_dir=content_dir)
    console.print(f"Created {path}")
    console.print(
        "Fill in README.md, exercise.py, solution.py, checks.py, mistakes/ and alternatives/, then `aipath dev check "
        + lab_id
        + "`."
    )


@dev_app.command("bench")
def dev_bench(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    runs: Annotated[int, typer.Option(help="repetitions per measurement")] = 10,
) -> None:
    """Measure warm, worker and cold check times (see README for the table)."""
    try:
        from aipath.dev.bench import run_check_bench
    except ImportError as exc:  # pragma: no cover
        raise AipathError("the benchmark module is missing") from exc
    data = run_check_bench(runs=runs)
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        table = Table(title="check latency (median seconds)")
        for column in ("lab", "warm in-process", "aipath check + worker", "cold pytest", "ratio"):
            table.add_column(column)
        for row in data["labs"]:
            table.add_row(
                row["lab"],
                f"{row['warm_median_s']:.3f}",
                f"{row['cli_worker_median_s']:.3f}",
                f"{row['cold_pytest_median_s']:.3f}",
                f"{row['cli_worker_median_s'] / row['cold_pytest_median_s']:.2f}",
            )
        console.print(table)


@dev_app.command("lab-times")
def dev_lab_times(
    labs: Annotated[list[str] | None, typer.Argument(help="lab ids (default: every lab)")] = None,
    runs: Annotated[int, typer.Option(help="checks per lab; the median is reported")] = 3,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Time each lab's check with its reference solution, one check at a time (README table)."""
    from aipath.dev.bench import run_lab_times

    data = run_lab_times(runs=runs, only=labs or None)
    if labs and len(data["labs"]) != len(set(labs)):
        found = {row["lab"] for row in data["labs"]}
        raise AipathError(f"no such lab: {', '.join(sorted(set(labs) - found))}")
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = Table(title=f"check time with the reference solution (median of {runs})")
    for column in ("lab", "tier", "status", "check time", "time limit"):
        table.add_column(column)
    for row in data["labs"]:
        table.add_row(
            row["lab"],
            row["tier"],
            row["status"],
            f"{row['median_s']:.2f} s",
            f"{row['timeout_s']:g} s",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(dev_app, name="dev")
