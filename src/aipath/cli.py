"""The `aipath` command line: parse, call a service, render.

Each area of the tool registers its commands from its own module under
``aipath.commands`` so the CLI file stays a table of contents, not logic.
"""

from __future__ import annotations

import importlib
import sys

import typer

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
)

for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # an area not written yet must not break the others
        if exc.name != _name:
            raise
        continue
    _module.register(app)


def main() -> None:
    """Console-script entry: run the app, turning learner-fixable problems into one clear line."""
    try:
        app(standalone_mode=False)
    except AipathError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
