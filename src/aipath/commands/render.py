"""Rich renderings shared by the learner commands (verdict panel, lab table).

The verdict is rendered from its JSON form (``CheckResult.model_dump(mode="json")``), so the
quick `aipath check` path shows a verdict without importing the result models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from aipath.grader.results import CheckResult

STYLE = {
    "passed": ("green", "✔ passed"),
    "failed": ("red", "✘ failed"),
    "not-attempted": ("yellow", "… not attempted"),
    "error": ("magenta", "⚠ error"),
}


def status_text(status: str) -> Text:
    if status not in STYLE:
        return Text(status)
    colour, label = STYLE[status]
    return Text(label, style=colour)


def verdict_panel(result: CheckResult, title: str | None = None) -> Panel:
    return verdict_panel_from_json(result.model_dump(mode="json"), title)


def verdict_panel_from_json(result: Mapping[str, Any], title: str | None = None) -> Panel:
    """The verdict panel of a result in its JSON form (what the worker sends and results/ keeps)."""
    status = str(result.get("status", "error"))
    colour, label = STYLE.get(status, ("magenta", status))
    parts: list[RenderableType] = [
        Text(str(result.get("summary", "")), style="bold", overflow="fold")
    ]
    notice = result.get("confinement")
    if notice:
        parts.append(Text(f"not confined: {notice}", style="yellow", overflow="fold"))
    error = result.get("error")
    if error:
        parts.append(
            Text(f"\n[{error.get('kind')}] {error.get('message')}", style=colour, overflow="fold")
        )
    tests = result.get("tests") or []
    if tests:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("task", justify="right")
        table.add_column("check", overflow="fold")
        table.add_column("status")
        table.add_column("feedback", overflow="fold")
        for test in tests:
            task = test.get("task")
            table.add_row(
                str(task) if task is not None else "",
                str(test.get("name", "")),
                status_text(str(test.get("status", ""))),
                str(test.get("message", "")),
            )
        parts.append(table)
    output = str(result.get("output", ""))
    if output.strip() and status != "passed":
        parts.append(Text("\nyour program printed (last lines):", style="dim"))
        parts.append(Text("\n".join(output.strip().splitlines()[-8:]), style="dim"))
    footer = f"{float(result.get('duration_s', 0.0)):.2f} s · {result.get('mode', '')}"
    return Panel(
        Group(*parts),
        title=f"{title or result.get('lab', '')} — {label}",
        subtitle=footer,
        border_style=colour,
    )
