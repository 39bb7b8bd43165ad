"""Running git from aipath (engine and lab checks alike) in a predictable environment.

A ``GIT_*`` variable inherited from the caller changes what every git command does:
``GIT_DIR``/``GIT_WORK_TREE`` (set inside a git hook) point it at another repository,
``GIT_INDEX_FILE`` at another index, ``GIT_AUTHOR_DATE`` rewrites dates.  Every git call aipath
makes starts from :func:`git_env`, which drops them, and reads git's output in the C locale.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["git_env", "run_git"]


def git_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """``os.environ`` without any ``GIT_*`` variable, with ``LC_ALL=C`` and ``extra`` on top.

    With ``home``, git reads no global or system configuration (``HOME``/``XDG_CONFIG_HOME``
    point at ``home``, ``GIT_CONFIG_NOSYSTEM=1``): only a repository's own files count.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["LC_ALL"] = "C"
    if home is not None:
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home), GIT_CONFIG_NOSYSTEM="1")
    env.update(extra)
    return env


def run_git(
    cwd: Path,
    *args: str,
    config: Iterable[str] = (),
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = 30.0,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``git -c core.quotepath=off [-c config]... args`` in ``cwd``, text output captured.

    ``config`` holds ``name=value`` settings passed as ``-c``; ``env`` adds variables to
    :func:`git_env` (``GIT_AUTHOR_DATE`` for a reproducible commit).  ``check=True`` raises
    ``subprocess.CalledProcessError`` on a non-zero exit status.
    """
    settings = ["-c", "core.quotepath=off"]
    for item in config:
        settings += ["-c", item]
    return subprocess.run(
        ["git", *settings, *args],
        cwd=cwd,
        env=git_env(home, **(env or {})),
        input=input,
        check=check,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
