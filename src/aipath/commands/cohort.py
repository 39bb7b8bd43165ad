"""Cohort commands: the server side (create, serve, worker, tokens) and the learner side (join,
status, and the top-level `submit`).

Server-side commands talk to PostgreSQL directly (they run where the server runs); learner-side
commands talk to the server over HTTP with the token stored by `aipath cohort join`.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from aipath.console import console
from aipath.errors import AipathError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

DbOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
    typer.Option("--db", help="cohort database URL (default: $AIPATH_COHORT_DATABASE_URL)"),
]
BrokerOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--broker", help="Redis URL (default: $AIPATH_COHORT_BROKER_URL or local Redis)"),
]
QueueOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--queue", help="queue name (default: $AIPATH_COHORT_QUEUE or aipath-cohort)"),
]
UrlOpt = Annotated[
    str, typer.Option("--url", help="the server's address as learners reach it (for join lines)")
]
WorkspaceOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--workspace", "-w", help="workspace folder (default: as for every command)"),
]
DEFAULT_URL = "http://127.0.0.1:8780"


def _engine(db: str | None) -> Engine:
    from aipath.cohort.db import open_engine
    from aipath.cohort.settings import database_url

    return open_engine(database_url(db))


def _join_line(url: str, token: str) -> str:
    return f"aipath cohort join {url} --token {token}"


def register(app: typer.Typer) -> None:
    cohort = typer.Typer(help="Run a cohort server, or join one and submit labs to it.")
    app.add_typer(cohort, name="cohort")

    @cohort.command()
    def create(
        name: Annotated[str, typer.Argument(help="the cohort's name")],
        learner: Annotated[
            list[str], typer.Option("--learner", "-l", help="a learner's name (repeat)")
        ] = [],  # noqa: B006 - typer needs a literal default
        instructor: Annotated[str, typer.Option(help="the instructor's name")] = "instructor",
        labs: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option(help="comma-separated lab ids in plan order (default: every lab)"),
        ] = None,
        start: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option(help="first day, YYYY-MM-DD (default: today)"),
        ] = None,
        labs_per_week: Annotated[float, typer.Option(help="the plan's pace")] = 2.0,
        behind_margin: Annotated[
            int, typer.Option(help="labs a learner may lag the plan before counting as behind")
        ] = 1,
        url: UrlOpt = DEFAULT_URL,
        db: DbOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the tokens as JSON")] = False,
    ) -> None:
        """Create a cohort; prints the instructor's token and one join command per learner."""
        from aipath.cohort.accounts import create_cohort
        from aipath.labs import load_catalogue

        catalogue = load_catalogue()
        plan = [catalogue.get(x.strip()).id for x in labs.split(",")] if labs else catalogue.ids()
        try:
            first_day = date.fromisoformat(start) if start else date.today()
        except ValueError as exc:
            raise AipathError(f"--start {start!r} is not a date", hint="use YYYY-MM-DD") from exc
        created = create_cohort(
            _engine(db),
            name,
            labs=plan,
            start=first_day,
            labs_per_week=labs_per_week,
            behind_margin=behind_margin,
            instructor=instructor,
            learners=learner,
        )
        if as_json:
            print(
                json.dumps(
                    {
                        "cohort_id": created.cohort_id,
                        "name": created.name,
                        "instructor_token": created.instructor_token,
                        "learner_tokens": created.learner_tokens,
                    },
                    indent=2,
                )
            )
            return
        console.print(f"cohort [bold]{escape(created.name)}[/] (id {created.cohort_id}) created")
        console.print(f"instructor token (shown once): {created.instructor_token}")
        console.print(f"dashboard: {url}/login, then {url}/cohorts/{created.cohort_id}")
        for person, token in created.learner_tokens.items():
            console.print(f"{escape(person)}: {_join_line(url, token)}", soft_wrap=True)

    @cohort.command("add-learner")
    def add_learner_command(
        cohort_name: Annotated[str, typer.Argument(metavar="COHORT")],
        name: Annotated[str, typer.Argument(help="the learner's name")],
        url: UrlOpt = DEFAULT_URL,
        db: DbOpt = None,
    ) -> None:
        """Add a learner to a cohort; prints their join command (the token is shown once)."""
        from aipath.cohort.accounts import add_learner

        token = add_learner(_engine(db), cohort_name, name)
        print(_join_line(url, token))

    @cohort.command("rotate-token")
    def rotate_token_command(
        cohort_name: Annotated[str, typer.Argument(metavar="COHORT")],
        name: Annotated[str, typer.Argument(help="the user's name")],
        db: DbOpt = None,
    ) -> None:
        """Give a user a new token; the old one stops working at once."""
        from aipath.cohort.accounts import rotate_token

        print(rotate_token(_engine(db), cohort_name, name))

    @cohort.command("list")
    def list_command(db: DbOpt = None) -> None:
        """The cohorts on this server."""
        from aipath.cohort.accounts import list_cohorts

        for cohort_id, name, learners in list_cohorts(_engine(db)):
            print(f"{cohort_id}\t{name}\t{learners} learners")

    @cohort.command()
    def serve(
        db: DbOpt = None,
        broker: BrokerOpt = None,
        queue: QueueOpt = None,
        host: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option(help="address to listen on (default 127.0.0.1: this machine only)"),
        ] = None,
        port: Annotated[int, typer.Option("--port", "-p")] = 8780,
        sweep_after: Annotated[
            float,
            typer.Option(help="queue again a submission still without verdict after this many s"),
        ] = 120.0,
        sweep_every: Annotated[
            float, typer.Option(help="how often the sweeper looks for such submissions (s)")
        ] = 15.0,
    ) -> None:
        """The cohort server (FastAPI on PostgreSQL, grading queued on Redis)."""
        from aipath.cohort import server, settings, tasks

        if not 0 < port < 65536:
            raise AipathError(f"--port {port} is not a port number")
        engine = _engine(db)
        tasks.configure(settings.broker_url(broker), settings.queue_name(queue))
        server.serve(
            engine,
            host=host or settings.DEFAULT_HOST,
            port=port,
            sweep_after_s=sweep_after,
            sweep_every_s=sweep_every,
        )

    @cohort.command()
    def worker(
        db: DbOpt = None,
        broker: BrokerOpt = None,
        queue: QueueOpt = None,
        concurrency: Annotated[int, typer.Option("--concurrency", "-c")] = 2,
        pool: Annotated[str, typer.Option(help="prefork (default) or solo")] = "prefork",
        preload_labs: Annotated[
            str, typer.Option(help="labs to warm up: all, none, or comma-separated ids")
        ] = "all",
    ) -> None:
        """A Celery worker that grades submissions with the laptop's confined grader."""
        from aipath.cohort import settings, tasks

        if pool not in ("prefork", "solo"):
            raise AipathError(f"--pool {pool!r} is not prefork or solo")
        if concurrency < 1:
            raise AipathError("--concurrency must be 1 or more")
        from aipath.grader.sandbox import confinement_notice

        notice = confinement_notice()
        if notice:
            # A server must never grade with a weaker sandbox than a laptop that is confined.
            raise AipathError(
                f"checks would not be fully confined on this machine: {notice}",
                hint="the worker needs user and network namespaces (compose.yaml gives its "
                "container seccomp:unconfined); see docs/cohort-operations.md",
            )
        # The pool's processes (forked) and the task code read these.
        os.environ[settings.ENV_DATABASE_URL] = settings.database_url(db)
        os.environ[tasks.ENV_PRELOAD_LABS] = preload_labs
        _engine(db).dispose()  # migrate (and fail clearly) before the worker starts
        tasks.configure(settings.broker_url(broker), settings.queue_name(queue))
        tasks.run_worker(concurrency=concurrency, pool=pool, queue=settings.queue_name(queue))

    @cohort.command()
    def join(
        url: Annotated[str, typer.Argument(help="the cohort server, e.g. http://host:8780")],
        token: Annotated[str, typer.Option("--token", help="your token from the instructor")],
        workspace: WorkspaceOpt = None,
    ) -> None:
        """Link this workspace to a cohort server (the token is checked, then kept in .aipath/)."""
        from aipath.cohort.client import join as join_server
        from aipath.workspace.locate import find_workspace

        me = join_server(find_workspace(workspace), url, token)
        console.print(
            f"joined [bold]{escape(str(me.get('cohort')))}[/] as {escape(str(me.get('name')))}"
            f" ({me.get('role')}); `aipath submit` sends your current lab"
        )

    @cohort.command()
    def status(
        workspace: WorkspaceOpt = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Your submissions on the cohort server and their verdicts."""
        from aipath.cohort.client import load_link
        from aipath.cohort.client import status as server_status
        from aipath.workspace.locate import find_workspace

        me, items = server_status(load_link(find_workspace(workspace)))
        if as_json:
            print(json.dumps({"me": me, "submissions": items}, indent=2))
            return
        console.print(f"{escape(str(me.get('name')))} in {escape(str(me.get('cohort')))}")
        best: dict[str, str] = {}
        for item in reversed(items):
            verdict = item.get("verdict") or {}
            if best.get(item["lab"]) != "passed":
                best[item["lab"]] = verdict.get("status", "queued")
        for lab in me.get("labs", []):
            console.print(f"  {lab:32} {best.get(lab, '—')}")

    @app.command()
    def submit(
        lab_id: Annotated[
            Optional[str],  # noqa: UP045
            typer.Argument(metavar="[LAB]", help="lab id (default: the current lab)"),
        ] = None,
        wait: Annotated[bool, typer.Option(help="wait for the server's verdict")] = True,
        as_json: Annotated[bool, typer.Option("--json", help="print the verdict as JSON")] = False,
        workspace: WorkspaceOpt = None,
    ) -> None:
        """Send your lab file to the cohort server; prints its verdict when it arrives."""
        from aipath.cohort.client import load_link, upload, wait_verdict
        from aipath.commands.learner import _pick_lab
        from aipath.commands.render import verdict_panel
        from aipath.grader.results import CheckResult
        from aipath.labs import load_catalogue
        from aipath.workspace.locate import find_workspace

        ws = find_workspace(workspace)
        link = load_link(ws)
        lab = _pick_lab(ws, load_catalogue(), lab_id)
        sent = upload(link, lab.id, ws.lab_file(lab))
        if not as_json:
            console.print(f"submitted {lab.id} (submission {sent['id']})")
        if not wait:
            return
        view = wait_verdict(
            link,
            sent["id"],
            on_queued=None if as_json else lambda: console.print("waiting for a grader…"),
        )
        if as_json:
            print(json.dumps(view, indent=2))
        else:
            result = CheckResult.model_validate(view["verdict"]["result"])
            console.print(verdict_panel(result, title=f"{lab.id} (graded by the cohort server)"))
        raise typer.Exit(0 if view["verdict"]["status"] == "passed" else 1)
