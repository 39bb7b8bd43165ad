"""Check-latency benchmark: warm fork, `aipath check` with a worker, and cold pytest.

Each figure is the median of ``runs`` repetitions measured in one run of this script, with the
reference solution in place, so the three numbers are comparable on the same (noisy) machine.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aipath.grader.preload import preload
from aipath.grader.request import CheckRequest
from aipath.grader.service import build_request
from aipath.grader.supervisor import Mode, run_many
from aipath.grader.worker import BackgroundWorker
from aipath.labs import Lab, load_catalogue
from aipath.workspace.create import init_workspace
from aipath.workspace.model import Workspace

NUMPY_LAB = "p1-numpy-vectorize"
SKLEARN_LABS = ("p2-metrics", "p2-sklearn-pipeline")


def _median(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def _aipath_exe() -> str:
    candidate = Path(sys.executable).with_name("aipath")
    return str(candidate) if candidate.exists() else "aipath"


def bench_lab(ws: Workspace, lab: Lab, runs: int) -> dict[str, Any]:
    target = ws.lab_file(lab)
    shutil.copy2(lab.solution, target)
    request = build_request(lab, target, ws.lab_dir(lab))

    def warm() -> None:
        result = run_many([request], mode="fork")[0]
        if not result.passed:
            raise RuntimeError(f"{lab.id} reference does not pass: {result.summary}")

    # The same check without OS confinement (no namespaces, no read-only mounts): its cost.
    # Confined and unconfined runs alternate, so a machine that slows down mid-run slows both.
    unconfined = request.model_copy(update={"isolate_network": False})

    def warm_unconfined() -> None:
        result = run_many([unconfined], mode="fork")[0]
        if not result.passed:
            raise RuntimeError(f"{lab.id} reference does not pass unconfined: {result.summary}")

    warm()  # first runs pay one-off costs (file cache, lazy imports in the checks)
    warm_unconfined()
    confined_times: list[float] = []
    unconfined_times: list[float] = []
    for _ in range(runs):
        confined_times.append(_median(warm, 1)[0])
        unconfined_times.append(_median(warm_unconfined, 1)[0])
    warm_median = statistics.median(confined_times)
    unconfined_median = statistics.median(unconfined_times)

    exe = _aipath_exe()

    def cli() -> None:
        subprocess.run(
            [exe, "check", lab.id, "--json", "-w", str(ws.root)],
            check=False,
            capture_output=True,
            timeout=600,
        )

    cli()  # the full CLI makes it the current lab; later calls take the quick path
    cli_median, _ = _median(cli, runs)

    def cli_cold() -> None:
        subprocess.run(
            [exe, "check", lab.id, "--json", "--cold", "-w", str(ws.root)],
            check=False,
            capture_output=True,
            timeout=600,
        )

    cli_cold_median, _ = _median(cli_cold, max(3, runs // 3))

    env = {
        **os.environ,
        "AIPATH_LEARNER_FILE": str(target),
        "AIPATH_WORKDIR": str(ws.lab_dir(lab)),
        "AIPATH_MODULE_NAME": target.stem,
    }

    def cold() -> None:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                str(lab.checks),
                "-q",
                "-p",
                "aipath.grader.standalone",
                "-p",
                "no:cacheprovider",
                "--rootdir",
                str(ws.lab_dir(lab)),
                "-c",
                os.devnull,
            ],
            check=False,
            capture_output=True,
            cwd=ws.lab_dir(lab),
            env=env,
            timeout=600,
        )

    cold_median, _ = _median(cold, runs)
    split = _split_figures(lab, request, runs)
    return {
        "lab": lab.id,
        "runs": runs,
        "warm_median_s": round(warm_median, 4),
        "warm_unconfined_median_s": round(unconfined_median, 4),
        "confinement_cost_s": round(warm_median - unconfined_median, 4),
        "confined_over_unconfined": round(warm_median / unconfined_median, 3),
        "cli_worker_median_s": round(cli_median, 4),
        "cli_worker_over_warm": round(cli_median / warm_median, 2),
        "cli_cold_median_s": round(cli_cold_median, 4),
        "cold_pytest_median_s": round(cold_median, 4),
        "cli_over_cold": round(cli_median / cold_median, 3),
        **split,
    }


def _split_figures(lab: Lab, request: CheckRequest, runs: int) -> dict[str, Any]:
    """The same check with the verdict in a trusted process and in the learner's (shared).

    Only for a lab that runs in the trusted mode: its warm (forked) and cold checks in both
    modes, alternating so that a machine slowing down mid-run slows both alike.
    """
    if request.verdict_process != "trusted":
        return {}
    shared = request.model_copy(update={"verdict_process": "shared"})

    def once(req: CheckRequest, mode: Mode) -> Callable[[], None]:
        def run() -> None:
            result = run_many([req], mode=mode)[0]
            if not result.passed:
                raise RuntimeError(f"{lab.id} ({req.verdict_process}) fails: {result.summary}")

        return run

    times: dict[tuple[str, str], list[float]] = {}
    plan: list[tuple[str, Mode, int]] = [
        ("warm", "fork", runs),
        ("cold", "cold", max(3, runs // 3)),
    ]
    for label, mode, count in plan:
        once(request, mode)()
        once(shared, mode)()
        for _ in range(count):
            for name, req in (("trusted", request), ("shared", shared)):
                times.setdefault((label, name), []).append(_median(once(req, mode), 1)[0])
    medians = {key: statistics.median(values) for key, values in times.items()}
    return {
        "warm_trusted_median_s": round(medians["warm", "trusted"], 4),
        "warm_shared_median_s": round(medians["warm", "shared"], 4),
        "warm_trusted_cost_s": round(medians["warm", "trusted"] - medians["warm", "shared"], 4),
        "cold_trusted_median_s": round(medians["cold", "trusted"], 4),
        "cold_shared_median_s": round(medians["cold", "shared"], 4),
        "cold_trusted_cost_s": round(medians["cold", "trusted"] - medians["cold", "shared"], 4),
    }


def run_check_bench(runs: int = 10) -> dict[str, Any]:
    catalogue = load_catalogue()
    chosen: list[Lab] = []
    ids = catalogue.ids()
    if NUMPY_LAB in ids:
        chosen.append(catalogue.get(NUMPY_LAB))
    for candidate in SKLEARN_LABS:
        if candidate in ids:
            chosen.append(catalogue.get(candidate))
            break
    root = Path(tempfile.mkdtemp(prefix="aipath-bench-")) / "ws"
    try:
        ws = init_workspace(root, catalogue).workspace
        preload([lab.source_dir for lab in chosen])
        with BackgroundWorker(ws.socket_path):
            labs = [bench_lab(ws, lab, runs) for lab in chosen]
        startup = _startup(runs)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
    return {"labs": labs, "startup": startup, "cpu_count": os.cpu_count()}


def _startup(runs: int) -> dict[str, float]:
    """`aipath --help` (the cached help) and `aipath list --help` (the full CLI starting)."""
    exe = _aipath_exe()

    def run(*args: str) -> Callable[[], object]:
        return lambda: subprocess.run([exe, *args], check=False, capture_output=True, timeout=120)

    run("--help")()  # fills the help cache
    help_median, _ = _median(run("--help"), runs)
    full_median, _ = _median(run("list", "--help"), runs)
    return {"help_median_s": round(help_median, 4), "full_cli_median_s": round(full_median, 4)}


def run_lab_times(runs: int = 3, only: list[str] | None = None) -> dict[str, Any]:
    """Each lab's check time with its reference solution, forked from a warm process.

    Sequential (one check at a time), so the figure is what a learner waits for after a save.
    ``only`` measures those lab ids alone (a new lab, or one phase, on a quiet machine).
    """
    catalogue = load_catalogue()
    labs = [lab for lab in catalogue if only is None or lab.id in only]
    root = Path(tempfile.mkdtemp(prefix="aipath-labtimes-"))
    rows = []
    try:
        preload([lab.source_dir for lab in labs])
        for lab in labs:
            workdir = root / lab.id
            from aipath.workspace.create import place_lab

            place_lab(lab, workdir, exercise_from=lab.solution)
            request = build_request(lab, workdir / lab.manifest.exercise, workdir)
            if lab.manifest.dev_apply:
                request = request.model_copy(update={"dev_apply": lab.manifest.dev_apply})
            times = []
            status = ""
            for _ in range(runs):
                if lab.manifest.dev_apply:  # the candidate acts on the folder: start it afresh
                    shutil.rmtree(workdir)
                    place_lab(lab, workdir, exercise_from=lab.solution)
                result = run_many([request], mode="fork")[0]
                times.append(result.duration_s)
                status = result.status.value
            rows.append(
                {
                    "lab": lab.id,
                    "tier": lab.manifest.tier,
                    "status": status,
                    "median_s": round(statistics.median(times), 3),
                    "timeout_s": lab.manifest.timeout_s,
                }
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"runs": runs, "labs": rows}
