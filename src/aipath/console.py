"""Shared Rich consoles so every command prints the same way (and tests can capture it)."""

from __future__ import annotations

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
