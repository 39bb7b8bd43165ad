"""``aipath serve``: the local web dashboard, with the file watcher and the warm grader."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        port: Annotated[int, typer.Option("--port", "-p", help="port to listen on")] = 8765,
        host: Annotated[
            Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
            typer.Option(
                "--host",
                help="address to listen on (default 127.0.0.1). Any other address makes the "
                "dashboard, which has no login, reachable from other machines",
            ),
        ] = None,
        workspace: Annotated[
            Optional[Path],  # noqa: UP045
            typer.Option(
                "--workspace",
                "-w",
                help="workspace folder (default: $AIPATH_WORKSPACE, the workspace containing "
                "the current folder, or ~/aipath)",
            ),
        ] = None,
        open_browser: Annotated[
            bool, typer.Option("--open/--no-open", help="open the page in your browser")
        ] = False,
    ) -> None:
        """The dashboard at http://127.0.0.1:8765: progress, roadmap, labs with live verdicts, plan."""
        from aipath.errors import AipathError
        from aipath.web.server import DEFAULT_HOST, serve_dashboard
        from aipath.workspace.locate import find_workspace

        if not 0 < port < 65536:
            raise AipathError(f"--port {port} is not a port number", hint="use 1024–65535")
        ws = find_workspace(workspace)
        serve_dashboard(
            ws,
            host=host or DEFAULT_HOST,
            port=port,
            open_browser=open_browser,
            explicit_host=host is not None,
        )
