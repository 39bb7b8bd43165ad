"""Rich views of the roadmap for the terminal.

Kept apart from the CLI module so other commands (and tests) can reuse the same tree and table
without going through Typer.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from aipath.roadmap.model import Phase, Resource, Roadmap, Skill, Topic


def _hours(value: float) -> str:
    return f"{value:,.0f} h"


def _skill_label(skill: Skill) -> Text:
    label = Text()
    label.append(skill.title, style="bold")
    label.append(f"  {skill.id} · {_hours(skill.hours)}", style="dim")
    if skill.labs:
        label.append("\n  labs: ", style="green")
        label.append(", ".join(skill.labs), style="green")
    elif skill.reading_only:
        label.append("\n  reading only: ", style="yellow")
        label.append(skill.reading_only, style="yellow")
    return label


def _topic_node(parent: Tree, roadmap: Roadmap, topic: Topic) -> None:
    label = Text()
    if topic.track:
        label.append(f"[track {topic.track}] ", style="magenta")
    label.append(topic.title, style="bold cyan")
    label.append(f"  {topic.id} · {_hours(topic.hours)}", style="dim")
    node = parent.add(label)
    for skill in topic.skills:
        node.add(_skill_label(skill))
    resources = roadmap.resources_for_topic(topic.id)
    if resources:
        res_node = node.add(Text("Resources", style="bold blue"))
        for res in resources:
            line = Text()
            line.append(res.title, style="blue")
            line.append(f" — {res.author} ({res.kind}, ~{_hours(res.hours)})", style="dim")
            res_node.add(line)


def _phase_label(roadmap: Roadmap, phase: Phase) -> Text:
    label = Text()
    label.append(f"Phase {phase.number}: {phase.title}", style="bold")
    label.append(
        f"  months {phase.months.start}–{phase.months.end} · {_hours(phase.hours)}",
        style="dim",
    )
    if phase.tracks:
        label.append(f"\n  choose one track: {', '.join(phase.tracks)}", style="magenta")
    if phase.number == roadmap.job_ready.phase:
        label.append(
            f"\n  job-ready: about {roadmap.job_ready.fraction:.0%} through this phase "
            f"(~{_hours(roadmap.job_ready_hours())} from the start)",
            style="green",
        )
    return label


def roadmap_tree(roadmap: Roadmap, phases: Sequence[Phase] | None = None) -> Tree:
    """Phases → topics → skills, with hours, labs or the reading-only reason, and resources."""
    chosen = list(phases) if phases is not None else roadmap.phases
    pace = roadmap.pace
    root = Tree(
        Text(
            f"AI engineer roadmap — {pace.total_months} months, ~{_hours(roadmap.total_hours)} "
            f"at {pace.hours_per_week:g} h/week",
            style="bold",
        )
    )
    for phase in chosen:
        node = root.add(_phase_label(roadmap, phase))
        for topic in phase.topics:
            _topic_node(node, roadmap, topic)
    return root


def resources_table(resources: Sequence[Resource], title: str = "Resources") -> Table:
    table = Table(title=title, show_lines=False)
    table.add_column("Title", style="bold", overflow="fold")
    table.add_column("Author", overflow="fold")
    table.add_column("Kind")
    table.add_column("Hours", justify="right")
    table.add_column("Phases")
    table.add_column("URL", style="blue", overflow="fold")
    for res in resources:
        table.add_row(
            Text(res.title),
            Text(res.author),
            res.kind,
            f"{res.hours:g}",
            ", ".join(str(n) for n in res.phases),
            Text(res.url),
        )
    return table
