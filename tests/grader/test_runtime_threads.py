"""A check's process sizes native thread pools at one thread, whatever the machine's cores."""

from __future__ import annotations

import os
import subprocess
import sys

from aipath.grader.sandbox import SINGLE_THREAD_ENV

PROBE = """
import os
from aipath.grader import sandbox
sandbox.apply_limits(256)
print(",".join(f"{k}={os.environ[k]}" for k in sorted(sandbox.SINGLE_THREAD_ENV)))
"""


def test_limits_come_with_single_threaded_pools_and_few_arenas() -> None:
    env = {k: v for k, v in os.environ.items() if k not in SINGLE_THREAD_ENV}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == ",".join(f"{k}={SINGLE_THREAD_ENV[k]}" for k in sorted(SINGLE_THREAD_ENV))


def test_a_learners_own_setting_is_kept() -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "3"}
    code = "import os; from aipath.grader import sandbox; sandbox.single_threaded_runtime(); print(os.environ['OMP_NUM_THREADS'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "3"
