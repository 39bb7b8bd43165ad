"""Run ruff on the audited repository as a subprocess and return its findings as data.

Ruff only reads files (it never imports them), so linting does not execute the audited code.
``--no-cache`` keeps the audit from writing a ``.ruff_cache`` into someone else's repository.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

RUFF_TIMEOUT_S = 30.0


@dataclass
class Finding:
    file: str
    line: int | None
    code: str
    message: str


@dataclass
class RuffRun:
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    isolated: bool = False


def ruff_command() -> list[str] | None:
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    found = shutil.which("ruff")
    return [found] if found else None


def run_ruff(root: Path, skip: list[str], timeout: float = RUFF_TIMEOUT_S) -> RuffRun:
    """Lint ``root``; ``skip`` names FIFOs and other special files ruff would block on."""
    command = ruff_command()
    if command is None:
        return RuffRun(error="ruff is not installed (pip install ruff)")
    if len(skip) > 200:
        return RuffRun(error=f"{len(skip)} special files (FIFOs, sockets): lint skipped")
    extra = ["--extend-exclude", ",".join(glob.escape(rel) for rel in skip)] if skip else []
    first = _run(command, extra, root, timeout, isolated=False)
    if first.error and "timed out" not in first.error:
        # A broken [tool.ruff] table must not hide the code's own problems: lint with defaults.
        second = _run(command, extra, root, timeout, isolated=True)
        if second.error is None:
            second.isolated = True
            return second
    return first


def _run(
    command: list[str], extra: list[str], root: Path, timeout: float, *, isolated: bool
) -> RuffRun:
    args = [*command, "check", "--output-format=json", "--no-cache", "--exit-zero", "--no-fix"]
    args += extra
    if isolated:
        args.append("--isolated")
    try:
        proc = subprocess.run(
            [*args, "."],
            cwd=root,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return RuffRun(error=f"ruff timed out after {timeout:.0f} s")
    except OSError as exc:
        return RuffRun(error=f"could not run ruff: {exc}")
    stderr = proc.stderr.decode("utf-8", errors="replace").strip()
    if proc.returncode != 0:
        first_line = stderr.splitlines()[0] if stderr else f"exit status {proc.returncode}"
        return RuffRun(error=f"ruff could not lint: {first_line}")
    try:
        raw = json.loads(proc.stdout.decode("utf-8", errors="replace") or "[]")
    except json.JSONDecodeError:
        return RuffRun(error="ruff printed something that is not JSON")
    findings = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        filename = str(item.get("filename", ""))
        try:
            rel = Path(filename).resolve().relative_to(root.resolve()).as_posix()
        except (ValueError, OSError):
            rel = filename
        location = item.get("location") or {}
        line = location.get("row") if isinstance(location, dict) else None
        findings.append(
            Finding(
                file=rel,
                line=line if isinstance(line, int) else None,
                code=str(item.get("code") or "syntax"),
                message=str(item.get("message", "")),
            )
        )
    return RuffRun(findings=findings)
