"""Learner commands answered by the warm worker: `status`, `list`, `next`, `hint` without a cold start.

Starting the full CLI costs about half a second before a command does any work (typer, pydantic,
SQLAlchemy, the roadmap and catalogue models); `status` itself then takes milliseconds.  The
worker a watcher or dashboard keeps running has all of that imported already, so the quick
entry point (:mod:`aipath.quick`) sends it the command line instead.  The worker runs the
*same* typer command, in the client's folder, with the client's ``AIPATH_*`` settings and its
terminal's width and colours, and sends back what it printed and its exit code.
Nothing here decides anything: the worker runs the ordinary command, so both paths print the same.

These commands run only aipath's own code (no learner code): the worker runs them in its own
process (see :func:`answer`).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import Any, Final

SERVED: Final = ("status", "list", "next", "hint")
"""Commands the worker answers: none asks a question on the terminal (``next`` sets the current
lab, ``hint`` records the hint it reveals, as in the full CLI)."""

PASSED_ENV_PREFIX: Final = "AIPATH_"
"""The client's settings that shape a command (workspace, database, lab folder): passed over."""


def served(argv: list[str]) -> bool:
    """Whether the worker may answer this command line (else the full CLI runs it)."""
    if not argv or argv[0] not in SERVED:
        return False
    return not any(arg in ("--help", "-h") for arg in argv[1:])


def warm_up() -> None:
    """Import what the served commands use and build the CLI once, at the worker's warm-up."""
    import importlib

    for module in (
        "aipath.cli",
        "aipath.planner.service",
        "aipath.workspace.learner",
        "aipath.workspace.store",
        "aipath.workspace.config",
        "aipath.progress.store",
        "rich.markdown",
    ):
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    with contextlib.suppress(Exception):
        _command()
    with contextlib.suppress(Exception):
        from aipath.labs import load_catalogue
        from aipath.roadmap.loader import load_roadmap

        load_roadmap()
        load_catalogue()  # cached per folder and manifest times: a changed lab is read again


def answer(message: dict[str, Any]) -> dict[str, Any]:
    """Run the command line of ``message`` here, in the worker, and return what it printed.

    In the worker's own process, not a fork: forking a worker that holds the labs' libraries
    costs more than the command (about 80 ms against 25 ms at 200,000 events), and the command
    is aipath's own code, never the learner's.  Everything it changes for the call (folder,
    ``AIPATH_*`` variables, standard streams, the shared consoles) is put back afterwards; an
    exception is answered as a failure, and the client then runs the command itself.
    """
    argv = message.get("argv")
    cwd = message.get("cwd")
    env = message.get("env")
    render = message.get("render")
    if (
        not isinstance(argv, list)
        or not all(isinstance(a, str) for a in argv)
        or not served(argv)
        or not isinstance(cwd, str)
        or not isinstance(env, dict)
        or not isinstance(render, dict)
    ):
        return {"ok": False, "error": "bad command request"}
    from aipath import console as consoles

    saved_cwd = os.getcwd()
    saved_env = {n: v for n, v in os.environ.items() if n.startswith(PASSED_ENV_PREFIX)}
    saved_streams = sys.stdout, sys.stderr
    try:
        return _run(argv, cwd, env, render)
    except Exception as exc:  # the client runs the command itself and shows what went wrong
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        _set_env(saved_env)
        consoles.restore()


def _set_env(values: dict[str, Any]) -> None:
    """Make the ``AIPATH_*`` variables exactly ``values``."""
    for name in [n for n in os.environ if n.startswith(PASSED_ENV_PREFIX)]:
        del os.environ[name]
    for name, value in values.items():
        if isinstance(name, str) and name.startswith(PASSED_ENV_PREFIX) and isinstance(value, str):
            os.environ[name] = value


_COMMAND: Any = None
"""The click command of the CLI, built once (typer builds it from signatures on every call)."""


def _command() -> Any:
    global _COMMAND
    if _COMMAND is None:
        import typer.main

        from aipath.cli import app

        _COMMAND = typer.main.get_command(app)
    return _COMMAND


def _run(argv: list[str], cwd: str, env: dict[str, Any], render: dict[str, Any]) -> dict[str, Any]:
    """The client's folder and settings, consoles drawn for its terminal, then the command."""
    os.chdir(cwd)
    _set_env(env)
    out, err = io.StringIO(), io.StringIO()
    _redraw_consoles(out, err, render)
    command = _command()
    code = 0
    sys.stdout, sys.stderr = out, err
    try:
        command.main(args=argv, prog_name="aipath")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return {"ok": True, "exit_code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def _redraw_consoles(out: io.StringIO, err: io.StringIO, render: dict[str, Any]) -> None:
    """Point the shared consoles at the buffers, sized and coloured as the client's terminal.

    Command modules hold ``aipath.console.console`` itself (``from … import console``), so the
    objects are re-initialised in place rather than replaced.
    """
    from aipath import console as consoles

    width = render.get("width")
    width = width if isinstance(width, int) and 20 <= width <= 1000 else 80
    raw_env = render.get("env")
    environ = {str(k): str(v) for k, v in raw_env.items()} if isinstance(raw_env, dict) else {}
    for target, file, terminal in (
        (consoles.console, out, render.get("terminal")),
        (consoles.err_console, err, render.get("err_terminal")),
    ):
        target.__init__(  # type: ignore[misc]
            file=file,
            width=width,
            force_terminal=bool(terminal),
            highlight=False,
            _environ=environ,
        )
