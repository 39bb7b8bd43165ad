"""The Celery side: one task grades one submission; Redis is the broker, PostgreSQL the truth.

Guarantees, and what gives each:

* nothing is lost when a worker dies mid-task: ``acks_late`` (the message is acknowledged only
  after the task ends) and ``reject_on_worker_lost`` (a pool process killed mid-task puts the
  message back at once); a whole worker killed leaves the message unacknowledged in Redis,
  which hands it out again after the visibility timeout;
* nothing is graded or recorded twice: the task starts with :func:`begin_attempt` (no work for
  a submission that has its verdict) and ends with :func:`record_verdict` (an insert that does
  nothing if the verdict row already exists);
* a database that is briefly away costs a retry, not the submission (``autoretry_for``);
* every task has a hard time limit from the lab's ``timeout_s`` (:func:`time_limit_s`), above
  the grader's own deadline, which normally ends a stuck check first and reports it.

Worker processes preload the lab libraries once, in the worker's main process before the pool
forks (:func:`_warm_up`), so each pool process forks its confined checks from a warm heap.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
from typing import Any, Final

from celery import Celery, Task
from celery.signals import worker_init
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from aipath.cohort import settings
from aipath.cohort.submissions import begin_attempt, record_verdict
from aipath.grader.child import WALL_CLOCK_FACTOR
from aipath.grader.results import CheckResult, ErrorInfo, ErrorKind, Status
from aipath.grader.supervisor import COLD_IMPORT_ALLOWANCE_S, GRACE_S, Mode

TASK_NAME: Final = "aipath.cohort.grade"
ENV_PRELOAD_LABS: Final = "AIPATH_COHORT_PRELOAD_LABS"
# Setting up the lab folder and the database round trips, on top of the grader's own deadline.
TASK_OVERHEAD_S: Final = 30.0

app = Celery("aipath.cohort")
_state: dict[str, Any] = {"warm": False, "engine": None, "engine_pid": None}


def configure(broker_url: str, queue: str) -> Celery:
    """Point the app at the broker and the queue (the server and the workers call this).

    Connections opened under an earlier configuration are closed: a process that is pointed
    elsewhere (a test, a server restarted in-process) must not keep publishing to the old broker.
    """
    app.close()  # drops the connection pool
    app.amqp.__dict__.pop("_producer_pool", None)  # Celery caches producers on the old pool
    app.conf.update(
        broker_url=broker_url,
        result_backend=None,
        task_ignore_result=True,
        task_default_queue=queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_s()},
        # A submit that cannot reach Redis answers quickly; the server's sweeper re-queues it.
        broker_connection_timeout=3,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        worker_send_task_events=False,
    )
    return app


def time_limit_s(timeout_s: float, *, cold: bool = False) -> float:
    """The task's hard limit: the grader's backstop deadline plus setup, for this lab."""
    allowance = COLD_IMPORT_ALLOWANCE_S if cold else 0.0
    return timeout_s * WALL_CLOCK_FACTOR + GRACE_S + allowance + TASK_OVERHEAD_S


def enqueue(submission_id: str, timeout_s: float) -> None:
    """Put one submission on the queue (raises if the broker cannot be reached)."""
    grade.apply_async(
        args=(submission_id,),
        time_limit=math.ceil(time_limit_s(timeout_s, cold=True)),
        retry=True,
    )


def _engine() -> Engine:
    """This process's engine (a forked pool process must not reuse its parent's sockets)."""
    if _state["engine"] is None or _state["engine_pid"] != os.getpid():
        from aipath.cohort.db import open_engine

        _state["engine"] = open_engine(settings.database_url(None))
        _state["engine_pid"] = os.getpid()
    engine: Engine = _state["engine"]
    return engine


def _mode() -> Mode:
    return "fork" if _state["warm"] else "cold"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@worker_init.connect
def _warm_up(**_kwargs: Any) -> None:
    """Import the labs' libraries in the worker's main process, before the pool forks."""
    warm_up(os.environ.get(ENV_PRELOAD_LABS, "all"))


def warm_up(which: str) -> None:
    """Preload ``which`` labs: ``all``, ``none`` or a comma-separated list of lab ids."""
    if which.strip() == "none":
        return
    from aipath.grader.preload import preload
    from aipath.labs import load_catalogue

    catalogue = load_catalogue()
    if which.strip() in ("", "all"):
        dirs = [lab.source_dir for lab in catalogue]
    else:
        dirs = [catalogue.get(lab_id.strip()).source_dir for lab_id in which.split(",")]
    preload(dirs)
    import gc

    gc.collect()
    gc.freeze()  # forked checks then do not copy the warm heap during their collections
    _state["warm"] = True


def _internal_verdict(lab_id: str, message: str) -> CheckResult:
    result = CheckResult(
        lab=lab_id,
        status=Status.ERROR,
        duration_s=0.0,
        error=ErrorInfo(kind=ErrorKind.INTERNAL, message=message),
        mode="server",
    )
    result.summary = message
    return result


@app.task(
    bind=True,
    name=TASK_NAME,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(OperationalError, DBAPIError),
    retry_backoff=1,
    retry_backoff_max=20,
    retry_jitter=False,
    max_retries=200,
)
def grade(self: Task[Any, Any], submission_id: str) -> str:
    """Grade one submission and record its verdict; what happened, for the worker's log."""
    engine = _engine()
    me = worker_name()
    todo = begin_attempt(engine, submission_id, me)
    if todo is None:
        return "already graded (or unknown)"
    from aipath.cohort.grading import grade_source
    from aipath.errors import AipathError
    from aipath.labs import load_catalogue

    try:
        lab = load_catalogue().get(todo.lab_id)
    except AipathError:
        result = _internal_verdict(todo.lab_id, f"this grader does not know the lab {todo.lab_id}")
    else:
        try:
            result = grade_source(lab, todo.source, mode=_mode())
        except Exception as exc:  # a grader fault still ends the submission with a verdict
            result = _internal_verdict(lab.id, f"the grader failed: {type(exc).__name__}: {exc}")
    stored = record_verdict(engine, submission_id, result, me)
    return f"{result.status.value} (attempt {todo.attempt}{'' if stored else ', already stored'})"


def run_worker(*, concurrency: int, pool: str, queue: str, loglevel: str = "INFO") -> None:
    """Start a Celery worker in this process (blocks until it is stopped)."""
    argv = [
        "worker",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        f"--queues={queue}",
        f"--loglevel={loglevel}",
        f"--hostname=aipath-cohort-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    with contextlib.suppress(KeyboardInterrupt):
        app.worker_main(argv=argv)
