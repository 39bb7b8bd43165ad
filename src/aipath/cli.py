"""The `aipath` command line: parse, call a service, render.

Each area of the tool registers its commands from its own module under ``aipath.commands`` so
the CLI file stays a table of contents, not logic.  Every command is wrapped once here so that a
learner-fixable :class:`AipathError` prints one line and exits 2, however the app is invoked.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.markup import escape

from aipath.console import err_console
from aipath.errors import AipathError

app = typer.Typer(
    name="aipath",
    help="The AI-engineer roadmap you can run: labs checked as you save, a plan, your progress.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One module per area; each exposes ``register(app: typer.Typer) -> None``.
COMMAND_MODULES: tuple[str, ...] = (
    "aipath.commands.roadmap",
    "aipath.commands.learner",
    "aipath.commands.dev",
    "aipath.commands.progress",
    "aipath.commands.plan",
    "aipath.commands.portfolio",
    "aipath.commands.web",
    "aipath.commands.cohort",
)


def _friendly(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except AipathError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from exc

    return wrapper


def _wrap_all(typer_app: typer.Typer) -> None:
    for command in typer_app.registered_commands:
        if command.callback is not None and not hasattr(command.callback, "__wrapped__"):
            command.callback = _friendly(command.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _wrap_all(group.typer_instance)


for _name in COMMAND_MODULES:
    # No guard: a renamed or broken command module must fail loudly, not drop its commands.
    importlib.import_module(_name).register(app)
_wrap_all(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
