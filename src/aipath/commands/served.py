"""Learner commands answered by the warm worker: `status`, `list`, `next`, `hint` without a cold start.

Starting the full CLI costs about half a second before a command does any work (typer, pydantic,
SQLAlchemy, the roadmap and catalogue models); `status` itself then takes milliseconds.  The
worker a watcher or dashboard keeps running has all of that imported already, so the quick
entry point (:mod:`aipath.quick`) sends it the command line instead.  The worker forks a child
that runs the *same* typer command, in the client's folder, with the client's ``AIPATH_*``
settings and its terminal's width and colours, and sends back what it printed and its exit code.
Nothing here decides anything: the child runs the ordinary command, so both paths print the same.

These commands run only trusted aipath code (no learner code), so the child needs no sandbox;
it is a fork so that a failure or a leak in one command never reaches the worker.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from typing import Any, Final

SERVED: Final = ("status", "list", "next", "hint")
"""Commands the worker answers: none asks a question on the terminal (``next`` sets the current
lab, ``hint`` records the hint it reveals, as in the full CLI)."""

PASSED_ENV_PREFIX: Final = "AIPATH_"
"""The client's settings that shape a command (workspace, database, lab folder): passed over."""

MAX_OUTPUT: Final = 8 << 20


def served(argv: list[str]) -> bool:
    """Whether the worker may answer this command line (else the full CLI runs it)."""
    if not argv or argv[0] not in SERVED:
        return False
    return not any(arg in ("--help", "-h") for arg in argv[1:])


def warm_up() -> None:
    """Import what the served commands use, so that the forked child only runs them."""
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
        from aipath.labs import load_catalogue
        from aipath.roadmap.loader import load_roadmap

        load_roadmap()
        load_catalogue()  # cached per folder and manifest times: a changed lab is read again


def run_in_child(message: dict[str, Any]) -> dict[str, Any]:
    """Fork, run the command line of ``message`` there, and return what it printed."""
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
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 70
        try:
            import signal

            for number in (signal.SIGTERM, signal.SIGINT):
                signal.signal(number, signal.SIG_DFL)  # never the worker's own stop handler
            os.close(read_end)
            reply = _run(argv, cwd, env, render)
            data = json.dumps(reply).encode()
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as source:
        data = source.read(MAX_OUTPUT + 1)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not data or len(data) > MAX_OUTPUT:
        return {"ok": False, "error": "the command's process ended without an answer"}
    try:
        reply = json.loads(data)
    except json.JSONDecodeError:
        return {"ok": False, "error": "the command's process sent no JSON"}
    return reply if isinstance(reply, dict) else {"ok": False, "error": "bad command reply"}


def _run(argv: list[str], cwd: str, env: dict[str, Any], render: dict[str, Any]) -> dict[str, Any]:
    """In the child: the client's folder and settings, consoles drawn for its terminal, the command."""
    os.chdir(cwd)
    for name in [n for n in os.environ if n.startswith(PASSED_ENV_PREFIX)]:
        del os.environ[name]
    for name, value in env.items():
        if isinstance(name, str) and isinstance(value, str):
            os.environ[name] = value
    out, err = io.StringIO(), io.StringIO()
    _redraw_consoles(out, err, render)
    from aipath.cli import app

    code = 0
    sys.stdout, sys.stderr = out, err
    try:
        app(args=argv, prog_name="aipath")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
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
