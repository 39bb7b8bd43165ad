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


def learner_output(result: Mapping[str, Any]) -> tuple[str, str] | None:
    """What the learner's own code printed, and where: the run's (import time) output, else the
    output captured during the first check that did not pass — the one the learner reads first.
    Only the learner's prints are captured there (pytest's own lines never are)."""
    output = str(result.get("output", "") or "")
    if output.strip():
        return "outside the checks", output
    for test in result.get("tests") or []:
        text = str(test.get("output", "") or "")
        if test.get("status") != "passed" and text.strip():
            return f"during {test.get('name', 'a check')}", text
    return None


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
    printed = learner_output(result)
    if printed is not None and status != "passed":
        where, output = printed
        parts.append(Text(f"\nyour program printed {where} (last lines):", style="dim"))
        parts.append(Text("\n".join(output.strip().splitlines()[-8:]), style="dim"))
    footer = f"{float(result.get('duration_s', 0.0)):.2f} s · {result.get('mode', '')}"
    return Panel(
        Group(*parts),
        title=f"{title or result.get('lab', '')} — {label}",
        subtitle=footer,
        border_style=colour,
    )
