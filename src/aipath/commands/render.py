"""Rich renderings shared by the learner commands (verdict panel, lab table)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from aipath.grader.results import CheckResult, Status

STYLE = {
    Status.PASSED: ("green", "✔ passed"),
    Status.FAILED: ("red", "✘ failed"),
    Status.NOT_ATTEMPTED: ("yellow", "… not attempted"),
    Status.ERROR: ("magenta", "⚠ error"),
}


def status_text(status: str) -> Text:
    try:
        colour, label = STYLE[Status(status)]
    except ValueError:
        return Text(status)
    return Text(label, style=colour)


def verdict_panel(result: CheckResult, title: str | None = None) -> Panel:
    colour, label = STYLE[result.status]
    parts: list[RenderableType] = [Text(result.summary, style="bold", overflow="fold")]
    if result.error is not None:
        parts.append(
            Text(
                f"\n[{result.error.kind.value}] {result.error.message}",
                style=colour,
                overflow="fold",
            )
        )
    if result.tests:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("task", justify="right")
        table.add_column("check")
        table.add_column("status")
        table.add_column("feedback", overflow="fold")
        for test in result.tests:
            table.add_row(
                str(test.task) if test.task is not None else "",
                test.name,
                status_text(test.status.value),
                test.message,
            )
        parts.append(table)
    if result.output.strip() and result.status is not Status.PASSED:
        parts.append(Text("\nyour program printed (last lines):", style="dim"))
        parts.append(Text("\n".join(result.output.strip().splitlines()[-8:]), style="dim"))
    footer = f"{result.duration_s:.2f} s · {result.mode}"
    return Panel(
        Group(*parts),
        title=f"{title or result.lab} — {label}",
        subtitle=footer,
        border_style=colour,
    )
