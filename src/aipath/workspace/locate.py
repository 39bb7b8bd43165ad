"""Which workspace a command acts on: explicit flag, then environment, then the current folder."""

from __future__ import annotations

import os
from pathlib import Path

from aipath.errors import AipathError
from aipath.workspace.model import CONFIG_FILE, ENV_WORKSPACE, Workspace


def default_workspace_path() -> Path:
    """Where `make run` puts a learner's first workspace: ``$AIPATH_WORKSPACE`` or ``~/aipath``.

    One name for one idea: the same variable tells `make run` where to create the workspace and
    every later command where to find it, in any shell.
    """
    return Path(os.environ.get(ENV_WORKSPACE) or Path.home() / "aipath").expanduser()


def _containing(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    return None


def find_workspace(explicit: Path | None = None, *, required: bool = True) -> Workspace:
    """Resolve the workspace: ``--workspace``, ``$AIPATH_WORKSPACE``, the current folder's, the default."""
    if explicit is not None:
        root = explicit.expanduser().resolve()
        if not (root / CONFIG_FILE).is_file():
            raise AipathError(
                f"{root} is not an aipath workspace (no {CONFIG_FILE})",
                hint=f"create one with `aipath init {explicit}`",
            )
        return Workspace(root)
    env = os.environ.get(ENV_WORKSPACE)
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / CONFIG_FILE).is_file():
            raise AipathError(
                f"${ENV_WORKSPACE} points to {root}, which is not an aipath workspace",
                hint=f"run `aipath init {root}` or unset {ENV_WORKSPACE}",
            )
        return Workspace(root)
    found = _containing(Path.cwd().resolve())
    if found is not None:
        return Workspace(found)
    default = default_workspace_path()
    if (default / CONFIG_FILE).is_file():
        return Workspace(default.resolve())
    if required:
        raise AipathError(
            "no aipath workspace here",
            hint="run `aipath init [DIR]` (or `make run`), or pass --workspace DIR",
        )
    return Workspace(default)
