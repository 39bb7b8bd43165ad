"""Check a lab in a workspace: the one entry point the CLI, the watcher and the dashboard share.

It picks the fastest safe way to run (an untouched starter needs no run at all; a warm worker
if one answers; a cold child otherwise), writes ``results/<lab>.json`` atomically and records the
run in the progress store.  A store that cannot be written never costs the learner the verdict.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from aipath.grader.client import WorkerUnavailable, check_with_worker
from aipath.grader.request import CheckRequest
from aipath.grader.results import CheckResult, Status
from aipath.grader.supervisor import run_one
from aipath.labs import Lab
from aipath.workspace.create import is_untouched
from aipath.workspace.model import Workspace


def build_request(lab: Lab, learner_file: Path, workdir: Path) -> CheckRequest:
    return CheckRequest(
        lab_id=lab.id,
        lab_dir=str(lab.source_dir),
        learner_file=str(learner_file),
        module_name=Path(lab.manifest.exercise).stem,
        workdir=str(workdir),
        timeout_s=lab.manifest.timeout_s,
        memory_mb=lab.manifest.memory_mb,
        models=list(lab.manifest.models),
        verdict_process=lab.manifest.verdict_process,
    )


def untouched_result(lab: Lab, learner_file: Path) -> CheckResult:
    return CheckResult(
        lab=lab.id,
        status=Status.NOT_ATTEMPTED,
        duration_s=0.0,
        file=str(learner_file),
        summary=f"not attempted yet: open {learner_file} and replace the TODOs",
        mode="skipped",
    )


def run_check(
    ws: Workspace, lab: Lab, *, use_worker: bool = True, record_url: str | None = None
) -> tuple[CheckResult, bool]:
    """Run the check; the flag says whether the worker already recorded it in ``record_url``.

    Letting the warm worker (which has the database libraries loaded) write the event spares
    every `aipath check` the cost of importing them.
    """
    learner_file = ws.lab_file(lab)
    if is_untouched(ws, lab):
        return untouched_result(lab, learner_file), False
    request = build_request(lab, learner_file, ws.lab_dir(lab))
    if use_worker:
        try:
            return check_with_worker(ws.socket_path, request, record_url=record_url)
        except WorkerUnavailable:
            pass
    return run_one(request, mode="cold"), False


def save_result(ws: Workspace, result: CheckResult) -> Path:
    return ws.write_result(result.lab, result.model_dump_json(indent=2))


def load_result(ws: Workspace, lab_id: str) -> CheckResult | None:
    path = ws.results_dir / f"{lab_id}.json"
    try:
        return CheckResult.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def record_result(ws: Workspace, result: CheckResult) -> str | None:
    """Append the run to the workspace's store (see :func:`record_to_store`)."""
    return record_to_store(ws.db_url, result)


def record_to_store(db_url: str, result: CheckResult) -> str | None:
    """Append the run to the store; return a warning instead of raising if the store fails."""
    from aipath.progress import ProgressStore

    try:
        store = ProgressStore.open(db_url)
    except Exception as exc:
        return f"progress not recorded: {exc}"
    try:
        store.record_check(
            result.lab,
            result.status.value,
            result.duration_s,
            summary=result.summary,
            tests_passed=sum(t.status is Status.PASSED for t in result.tests),
            tests_total=len(result.tests),
        )
    except Exception as exc:
        return f"progress not recorded: {exc}"
    finally:
        with contextlib.suppress(Exception):
            store.close()
    return None


def check_lab(
    ws: Workspace, lab: Lab, *, use_worker: bool = True, record: bool = True
) -> CheckResult:
    result, recorded = run_check(
        ws, lab, use_worker=use_worker, record_url=ws.db_url if record else None
    )
    save_result(ws, result)
    if record and not recorded:
        record_result(ws, result)
    return result
