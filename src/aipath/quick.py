"""The quick path of `aipath check`: straight to a warm worker, standard library and Rich only.

A learner runs `aipath check` all day; importing the whole CLI (typer, pydantic models of the
roadmap and catalogue, SQLAlchemy) cost three times the check itself.  When a worker is running
and the call is the common one — the current lab, or the lab named by its exact id when it is
already the current one — this module reads the few facts it needs (the lab's ``lab.toml``,
the workspace's ``aipath.toml``), sends the request, lets the worker record the run, writes
``results/<lab>.json`` and renders the verdict.  Anything else (no worker, ``--cold``, a lab id
fragment, a lab that is not the current one, a broken manifest) returns ``None`` and the full
CLI handles the call exactly as before.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from aipath.grader.wire import WorkerUnavailable, exchange
from aipath.workspace.model import CONFIG_FILE, Workspace

__all__ = ["main", "quick_check", "quick_served"]

CONTENT_DIR = Path(__file__).parent / "labs" / "content"
ENV_LABS_DIR = "AIPATH_LABS_DIR"
SERVED_WAIT_S = 2.0
"""How long `status`, `list`, `next` and `hint` wait for the worker before running here."""


def _parse(args: list[str]) -> tuple[str | None, bool, Path | None] | None:
    """``check [LAB] [--json] [-w DIR]``; None for anything the quick path does not take."""
    lab: str | None = None
    as_json = False
    workspace: Path | None = None
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--json":
            as_json = True
        elif arg in ("-w", "--workspace") and rest:
            workspace = Path(rest.pop(0))
        elif arg.startswith("--workspace="):
            workspace = Path(arg.split("=", 1)[1])
        elif arg.startswith("-") or lab is not None:
            return None  # --cold, --help, anything new: the full CLI knows
        else:
            lab = arg
    return lab, as_json, workspace


def _workspace(explicit: Path | None) -> Workspace | None:
    from aipath.errors import AipathError
    from aipath.workspace.locate import find_workspace

    try:
        return find_workspace(explicit)
    except AipathError:
        return None


def _current_lab(ws: Workspace) -> str | None:
    try:
        data = tomllib.loads((ws.root / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    current = data.get("current_lab")
    return current if isinstance(current, str) else None


def _manifest(lab_id: str) -> tuple[Path, dict[str, Any]] | None:
    """The folder and raw manifest of the lab with exactly this id (no validation here)."""
    root = Path(os.environ.get(ENV_LABS_DIR) or CONTENT_DIR)
    phase = lab_id.split("-", 1)[0]
    for path in sorted(root.glob(f"{phase}/*/lab.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            return None
        if data.get("id") == lab_id:
            return path.parent, data
    return None


def quick_check(args: list[str]) -> int | None:
    """The exit code of a quick `aipath check`, or None to hand the call to the full CLI."""
    parsed = _parse(args)
    if parsed is None:
        return None
    lab_id, as_json, explicit = parsed
    ws = _workspace(explicit)
    if ws is None or not ws.socket_path.exists():
        return None
    current = _current_lab(ws)
    if lab_id is None:
        lab_id = current
    if lab_id is None or lab_id != current:
        return None  # the full CLI also makes it the current lab
    found = _manifest(lab_id)
    if found is None:
        return None
    source, manifest = found
    exercise = str(manifest.get("exercise", "exercise.py"))
    lab_dir = ws.labs_dir / source.parent.name / source.name
    learner_file = lab_dir / exercise
    from aipath.workspace.starters import file_hash, read_starters

    try:
        if file_hash(learner_file) == read_starters(ws).get(lab_id) == file_hash(source / exercise):
            return None  # an untouched starter: the full path answers without running
    except OSError:
        return None
    timeout_s = float(manifest.get("timeout_s", 10.0))
    request: dict[str, Any] = {
        "lab_id": lab_id,
        "lab_dir": str(source),
        "learner_file": str(learner_file),
        "module_name": Path(exercise).stem,
        "workdir": str(lab_dir),
        "timeout_s": timeout_s,
        "memory_mb": int(manifest.get("memory_mb", 1024)),
    }
    title = f"{lab_id}: {manifest.get('title', '')}".rstrip(": ")
    message: dict[str, Any] = {"op": "check", "request": request, "record_url": ws.db_url}
    if not as_json:
        message["render"] = _render_request(title)
    try:
        reply = exchange(ws.socket_path, message, timeout=timeout_s + 30.0)
    except WorkerUnavailable:
        return None
    result = reply.get("result")
    if not isinstance(result, dict) or not reply.get("recorded"):
        return None  # the worker could not record it: the full path records it itself
    text = json.dumps(result, indent=2, ensure_ascii=False)
    ws.write_result(lab_id, text)
    if as_json:
        sys.stdout.write(text + "\n")
    elif isinstance(reply.get("rendered"), str):
        sys.stdout.write(reply["rendered"])
        sys.stdout.flush()
    else:
        from aipath.commands.render import verdict_panel_from_json
        from aipath.console import console

        console.print(verdict_panel_from_json(result, title=title))
    return 0 if result.get("status") == "passed" else 1


def quick_served(args: list[str]) -> int | None:
    """`status`, `list`, `next` or `hint` answered by a running worker; None for the full CLI.

    The worker runs the ordinary command (:mod:`aipath.commands.served`) in this folder with
    this shell's ``AIPATH_*`` settings, so what prints is what the full CLI would print.
    """
    from aipath.commands.served import PASSED_ENV_PREFIX, served

    if not served(args):
        return None
    explicit: Path | None = None
    for index, arg in enumerate(args):
        if arg in ("-w", "--workspace") and index + 1 < len(args):
            explicit = Path(args[index + 1])
        elif arg.startswith("--workspace="):
            explicit = Path(arg.split("=", 1)[1])
    ws = _workspace(explicit)
    if ws is None or not ws.socket_path.exists():
        return None
    render = _render_request("")
    try:
        render["err_terminal"] = os.isatty(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        render["err_terminal"] = False
    message = {
        "op": "command",
        "argv": args,
        "cwd": os.getcwd(),
        "env": {k: v for k, v in os.environ.items() if k.startswith(PASSED_ENV_PREFIX)},
        "render": render,
    }
    try:
        # The worker answers one request at a time: behind a long check (a `train` lab can take
        # a minute) this shell does not wait; it runs the command itself, and the worker skips
        # the request once it sees this end closed.
        reply = exchange(ws.socket_path, message, timeout=SERVED_WAIT_S)
    except WorkerUnavailable:
        return None
    code = reply.get("exit_code")
    if not reply.get("ok") or not isinstance(code, int):
        return None  # an older worker, or the command's process failed: run it here
    sys.stdout.write(str(reply.get("stdout", "")))
    sys.stdout.flush()
    sys.stderr.write(str(reply.get("stderr", "")))
    sys.stderr.flush()
    return code


# What Rich reads from the environment to choose colours and width.
_RENDER_ENV = ("TERM", "COLORTERM", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def _render_request(title: str) -> dict[str, Any]:
    """How the worker should draw the verdict: this terminal's width, colours and title."""
    try:
        terminal = os.isatty(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        terminal = False
    env = {name: os.environ[name] for name in _RENDER_ENV if name in os.environ}
    return {"title": title, "width": _terminal_width(), "terminal": terminal, "env": env}


def _help_cache() -> Path:
    """Where `aipath --help` is kept, keyed by everything that shapes it.

    The key covers the version, every command module's size and modification time and the
    terminal width, so the cached text is always what the full CLI would print now.
    """
    import hashlib

    import aipath

    root = Path(__file__).parent
    parts = [aipath.__version__, str(_terminal_width())]
    for path in sorted([root / "cli.py", *(root / "commands").glob("*.py")]):
        stat = path.stat()
        parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    key = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "aipath" / f"help-{key}.txt"


def quick_help() -> bool:
    """Print `aipath --help` from the cache, rendering it once with the full CLI on a miss."""
    cache = _help_cache()
    try:
        sys.stdout.write(cache.read_text(encoding="utf-8"))
        return True
    except OSError:
        pass
    from typer.testing import CliRunner

    from aipath.cli import app

    result = CliRunner().invoke(app, ["--help"], terminal_width=_terminal_width())
    if result.exit_code != 0 or not result.output.strip():
        return False
    sys.stdout.write(result.output)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(result.output, encoding="utf-8")
    except OSError:
        pass  # no cache folder: the next --help renders again
    return True


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size().columns


def main() -> None:
    """Console-script entry point: the quick path when it applies, else the full CLI."""
    args = sys.argv[1:]
    if args[:1] == ["check"]:
        code = quick_check(args[1:])
        if code is not None:
            sys.exit(code)
    elif args in (["--help"], ["-h"]) and quick_help():
        sys.exit(0)
    elif args[:1]:
        code = quick_served(args)  # None unless a worker answers this command
        if code is not None:
            sys.exit(code)
    from aipath.cli import main as full_main

    full_main()
