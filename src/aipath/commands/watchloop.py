"""`aipath watch`: the save → verdict loop, in the spirit of rustlings' watch mode.

It starts (or joins) a warm worker so a verdict arrives a fraction of a second after a save,
re-checks only the lab whose file changed, and reacts to single keys.
"""

from __future__ import annotations

import signal
from types import FrameType

from rich.markdown import Markdown
from rich.progress import BarColumn, Progress, TextColumn
from rich.rule import Rule

from aipath.commands.render import verdict_panel
from aipath.console import console
from aipath.grader.results import CheckResult
from aipath.grader.service import check_lab, load_result
from aipath.grader.worker import BackgroundWorker
from aipath.labs import Catalogue, Lab
from aipath.workspace.autocheck import AutoCheckLease, result_mtime, wait_for_new_result
from aipath.workspace.learner import lab_rows, next_lab, reveal_hint
from aipath.workspace.model import Workspace
from aipath.workspace.watch import EventSource, Key, Saved, WatcherFailed

KEYS = (
    "[bold]n[/] next · [bold]h[/] hint · [bold]l[/] list · [bold]c[/] check now · [bold]q[/] quit"
)


def _footer(ws: Workspace, catalogue: Catalogue, lab: Lab) -> None:
    rows = lab_rows(ws, catalogue)
    done = sum(r.done for r in rows)
    progress = Progress(
        TextColumn("Progress"), BarColumn(), TextColumn(f"{done}/{len(rows)} labs"), console=console
    )
    progress.add_task("labs", total=len(rows), completed=done)
    console.print(progress.get_renderable())
    console.print(f"Editing [bold]{ws.lab_file(lab)}[/]\n{KEYS}")


def _check(ws: Workspace, catalogue: Catalogue, lab: Lab) -> CheckResult:
    result = check_lab(ws, lab)
    console.print(Rule(lab.id))
    console.print(verdict_panel(result, title=f"{lab.id}: {lab.manifest.title}"))
    if result.passed:
        console.print("[green]Passed![/] Press [bold]n[/] for the next lab.")
    _footer(ws, catalogue, lab)
    return result


def _follow(ws: Workspace, catalogue: Catalogue, lab: Lab, seen: dict[str, int]) -> None:
    """Show the verdict the lease holder writes for ``lab`` (it checks; this process does not)."""
    if result_mtime(ws, lab.id) == seen.get(lab.id, 0):
        wait_for_new_result(ws, lab.id, seen.get(lab.id, 0), lab.manifest.timeout_s * 3 + 10)
    seen[lab.id] = result_mtime(ws, lab.id)
    result = load_result(ws, lab.id)
    if result is None:
        console.print(f"[yellow]no verdict for {lab.id} yet[/]")
        return
    console.print(Rule(lab.id))
    console.print(verdict_panel(result, title=f"{lab.id}: {lab.manifest.title}"))
    if result.passed:
        console.print("[green]Passed![/] Press [bold]n[/] for the next lab.")
    _footer(ws, catalogue, lab)


def _interrupt_on_sigterm() -> None:
    """Let `kill` stop the loop like Ctrl-C does, so the worker is shut down cleanly."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def run_watch(ws: Workspace, catalogue: Catalogue, lab: Lab, *, manual: bool = False) -> None:
    _interrupt_on_sigterm()
    console.print("Starting the warm grader…", style="dim")
    worker = BackgroundWorker(ws.socket_path)
    if not worker.start():
        console.print("[yellow]The warm worker did not start; checks run cold (slower).[/]")
    lease = AutoCheckLease(ws, "aipath watch")
    leading = lease.acquire()
    if not leading:
        console.print(
            f"[dim]{lease.holder()} already checks each save in this workspace: this window "
            "shows its verdicts instead of checking twice (press c to check here anyway).[/]"
        )
    seen = {row.lab.id: result_mtime(ws, row.lab.id) for row in lab_rows(ws, catalogue)}
    source = EventSource(ws.labs_dir, manual=manual)
    source.start()
    if manual:
        console.print("Polling for changes every second (--manual).")
    current = lab

    def on_save(saved: Lab) -> None:
        if leading:
            _check(ws, catalogue, saved)
        else:
            _follow(ws, catalogue, saved, seen)

    try:
        _check(ws, catalogue, current)
        for event in source:
            if isinstance(event, WatcherFailed):
                console.print(
                    f"[yellow]The file watcher stopped ({event.reason}); falling back to polling "
                    "every second. Use --manual to start this way.[/]"
                )
                source.fall_back_to_polling()
            elif isinstance(event, Saved):
                labs = list(catalogue)
                changed: dict[str, Lab] = {}
                for path in event.paths:
                    saved = ws.lab_for_path(path, labs)
                    if saved is not None:
                        changed[saved.id] = saved
                if current.id in changed:
                    on_save(current)
                elif changed:
                    current = changed[sorted(changed)[0]]
                    on_save(current)
            elif isinstance(event, Key):
                if event.char == "q":
                    break
                if event.char == "c":
                    _check(ws, catalogue, current)
                elif event.char == "h":
                    shown = reveal_hint(ws, current)
                    console.print(f"[bold]Hint {shown.tier}/{shown.total}[/]")
                    console.print(Markdown(shown.text))
                elif event.char == "l":
                    for row in lab_rows(ws, catalogue):
                        mark = "✔" if row.done else "·"
                        console.print(f" {mark} {row.lab.id:28} {row.status}")
                elif event.char == "n":
                    upcoming = next_lab(lab_rows(ws, catalogue))
                    if upcoming is None:
                        console.print("[green]Every lab is passed![/]")
                    else:
                        current = upcoming.lab
                        console.print(Markdown(current.readme.read_text(encoding="utf-8")))
                        _footer(ws, catalogue, current)
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
        lease.release()
        worker.stop()
