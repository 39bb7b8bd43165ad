"""The real validators run from a check, also under the sandbox's address-space cap."""

from __future__ import annotations

import subprocess
import sys

import pytest

from aipath.checks import CheckFailure
from aipath.checks.tools import installed_tool, run_tool

PROBE = """
import resource
from aipath.grader.sandbox import apply_limits
from aipath.checks.tools import run_tool
apply_limits(64, tools=True)  # the learner's budget: far less than a Go runtime reserves
result = run_tool("actionlint", "-version")
print(result.returncode, result.stdout.splitlines()[0] if result.stdout else result.stderr[:200])
"""


def test_a_go_binary_runs_under_the_learners_memory_cap() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    code, _, first = out.stdout.strip().partition(" ")
    assert code == "0", out.stdout + out.stderr
    assert first  # the version line


def test_a_missing_tool_fails_with_the_fix() -> None:
    with pytest.raises(CheckFailure, match="make install"):
        installed_tool("no-such-linter")
    assert installed_tool("hadolint").name == "hadolint"
    result = run_tool("hadolint", "-", input="FROM python:latest\n")
    assert result.returncode == 1 and "DL3007" in result.stdout
