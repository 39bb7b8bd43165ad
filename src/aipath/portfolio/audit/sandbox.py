"""Run a repository's tests, only when asked (``--run-tests``), in a throwaway copy.

This is the one place the audit executes audited code, so it is fenced: a copy of the
repository's files in a temporary folder (the original is never written), an environment with
none of the caller's variables but PATH and locale, HOME pointed into the copy, CPU-time, file
size and core-dump limits, its own process group killed on timeout.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aipath.portfolio.audit.walker import RepoFiles

MAX_COPY_BYTES = 500_000_000
MAX_FILE_BYTES = 50_000_000
FILE_SIZE_LIMIT = 1 << 30
# Thread-count and time-zone settings change speed, not behaviour; nothing else is inherited.
PASS_THROUGH = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TZ")
_SUMMARY = re.compile(
    r"^(?:=+ )?(\d[^\n]*?\b(?:passed|failed|errors?|skipped)\b[^\n]*?) in [\d.]+s", re.M
)


@dataclass
class TestRun:
    ok: bool
    summary: str
    tail: str
    seconds: float
    timed_out: bool = False


def _limit_child(cpu_seconds: int) -> None:
    from aipath.grader.sandbox import set_limits

    set_limits(
        (
            (resource.RLIMIT_CPU, cpu_seconds),
            (resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT),
            (resource.RLIMIT_CORE, 0),
        )
    )


def _interpreter(root: Path) -> str:
    local = root / ".venv" / "bin" / "python"
    return str(local) if local.is_file() and os.access(local, os.X_OK) else sys.executable


def _copy(files: RepoFiles, dest: Path) -> int:
    copied = 0
    for entry in files.entries:
        if entry.size > MAX_FILE_BYTES or copied + entry.size > MAX_COPY_BYTES:
            continue
        target = dest / entry.rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(files.root / entry.rel, target, follow_symlinks=False)
        except OSError:
            continue
        copied += entry.size
    return copied


def run_tests(files: RepoFiles, timeout_s: float) -> TestRun:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="aipath-audit-tests-") as tmp:
        work = Path(tmp) / "repo"
        home = Path(tmp) / "home"
        work.mkdir()
        home.mkdir()
        _copy(files, work)
        pythonpath = [str(work / "src"), str(work)] if (work / "src").is_dir() else [str(work)]
        env = {
            **{k: os.environ[k] for k in PASS_THROUGH if k in os.environ},
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(home),
            "TMPDIR": str(home),
            "PYTHONPATH": os.pathsep.join(pythonpath),
            "PYTHONDONTWRITEBYTECODE": "1",
            "MPLBACKEND": "Agg",
        }
        cmd = [_interpreter(files.root), "-m", "pytest", "-p", "no:cacheprovider"]
        cmd += ["--color=no", "-x"]
        proc = subprocess.Popen(
            cmd,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: _limit_child(int(timeout_s) + 5),
        )
        try:
            out, _ = proc.communicate(timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            out, _ = proc.communicate()
            timed_out = True
    text = out.decode("utf-8", errors="replace")
    tail = "\n".join(text.strip().splitlines()[-15:])
    seconds = time.monotonic() - started
    if timed_out:
        return TestRun(False, f"tests did not finish within {timeout_s:.0f} s", tail, seconds, True)
    matches = list(_SUMMARY.finditer(text))
    summary = matches[-1].group(1) if matches else f"pytest exited with status {proc.returncode}"
    if proc.returncode == 5:
        summary = "pytest collected no tests"
    return TestRun(proc.returncode == 0, summary, tail, seconds)
