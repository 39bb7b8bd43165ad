"""`aipath roadmap` and `aipath resources`: show the roadmap data."""

from __future__ import annotations

from typing import Annotated

import typer

from aipath.console import console

PhaseOption = Annotated[
    int | None,
    typer.Option("--phase", "-p", help="Show only this phase (1–5).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a view.")]


def _print_json(text: str) -> None:
    console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)


def roadmap_command(phase: PhaseOption = None, as_json: JsonOption = False) -> None:
    """The roadmap: phases, topics and skills with hours, labs and resources.

    With --json, the whole validated roadmap (or the one phase asked for), labs attached.
    """
    from aipath.curriculum import roadmap_with_labs
    from aipath.roadmap.render import roadmap_tree

    roadmap = roadmap_with_labs()
    chosen = None if phase is None else roadmap.phase(phase)
    if as_json:
        if chosen is None:
            _print_json(roadmap.model_dump_json(indent=2))
        else:
            _print_json(chosen.model_dump_json(indent=2))
        return
    console.print(roadmap_tree(roadmap, None if chosen is None else [chosen]))


def resources_command(phase: PhaseOption = None, as_json: JsonOption = False) -> None:
    """The recommended books, courses and videos, optionally for one phase."""
    from pydantic import TypeAdapter

    from aipath.curriculum import roadmap_with_labs
    from aipath.roadmap import Resource
    from aipath.roadmap.render import resources_table

    roadmap = roadmap_with_labs()
    if phase is None:
        resources, title = roadmap.resources, "Resources"
    else:
        chosen = roadmap.phase(phase)
        resources = roadmap.resources_for_phase(chosen.number)
        title = f"Resources for phase {chosen.number}: {chosen.title}"
    if as_json:
        adapter = TypeAdapter(list[Resource])
        _print_json(adapter.dump_json(resources, indent=2).decode())
        return
    console.print(resources_table(resources, title=title))


def register(app: typer.Typer) -> None:
    app.command("roadmap")(roadmap_command)
    app.command("resources")(resources_command)
