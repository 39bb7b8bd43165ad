"""Shared Rich consoles so every command prints the same way (and tests can capture it)."""

from __future__ import annotations

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def restore() -> None:
    """Put both consoles back as created above, after a caller pointed them elsewhere.

    Command modules hold these objects themselves (``from aipath.console import console``), so
    redirecting them (the worker answering a command, :mod:`aipath.commands.served`) means
    re-initialising them in place, and this undoes it.
    """
    console.__init__(highlight=False)  # type: ignore[misc]
    err_console.__init__(stderr=True, highlight=False)  # type: ignore[misc]
