"""Bad input: each learner disaster gives a named error with a usable message, in both modes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aipath.grader.request import CheckRequest
from aipath.grader.results import CheckResult, ErrorKind, Status
from aipath.grader.supervisor import run_one

LAB = Path(__file__).parents[1] / "fixtures" / "labs" / "p1" / "01-tiny"

GOOD = "def double(x):\n    return x * 2\n\n\ndef half(x):\n    return x / 2\n"


def check(
    tmp_path: Path,
    source: str | None,
    *,
    mode: str = "fork",
    timeout: float = 2.0,
    memory_mb: int = 256,
) -> CheckResult:
    learner = tmp_path / "exercise.py"
    if source is not None:
        learner.write_text(source, encoding="utf-8")
    request = CheckRequest(
        lab_id="p1-tiny",
        lab_dir=str(LAB),
        learner_file=str(learner),
        workdir=str(tmp_path),
        timeout_s=timeout,
        memory_mb=memory_mb,
    )
    return run_one(request, mode=mode)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["fork", "cold"])
def test_reference_passes_in_both_modes(tmp_path: Path, mode: str) -> None:
    result = check(tmp_path, GOOD, mode=mode, timeout=5)
    assert result.status is Status.PASSED
    assert [t.name for t in result.tests] == ["test_double", "test_half"]  # file order
    assert [t.task for t in result.tests] == [1, 2]


def test_starter_is_not_attempted_not_failed(tmp_path: Path) -> None:
    result = check(tmp_path, (LAB / "exercise.py").read_text())
    assert result.status is Status.NOT_ATTEMPTED
    assert all(t.status is Status.NOT_ATTEMPTED for t in result.tests)
    assert "`double` still raises NotImplementedError" in result.tests[0].message


def test_partial_work_is_failed_with_the_todo_named(tmp_path: Path) -> None:
    source = "def double(x):\n    return x * 2\n\n\ndef half(x):\n    raise NotImplementedError\n"
    result = check(tmp_path, source)
    assert result.status is Status.FAILED
    assert [t.status for t in result.tests] == [Status.PASSED, Status.NOT_ATTEMPTED]
    assert "1 not attempted" in result.summary


def test_wrong_answer_says_how_far_and_which_mistake(tmp_path: Path) -> None:
    source = GOOD.replace("return x * 2", "return x + 2")
    result = check(tmp_path, source)
    assert result.status is Status.FAILED
    message = result.tests[0].message
    assert "looks like x + 2 instead of x * 2" in message
    assert "max abs error 2" in message
    assert "is 2; expected 0" in message


def test_infinite_loop_times_out_naming_the_line(tmp_path: Path) -> None:
    source = GOOD.replace("    return x * 2", "    while True:\n        pass")
    result = check(tmp_path, source, timeout=1.0)
    assert result.status is Status.ERROR
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    assert "timeout after 1 s" in result.error.message
    assert result.error.line in (2, 3)
    assert "double" in result.error.message


def test_memory_bomb_is_stopped(tmp_path: Path) -> None:
    result = check(tmp_path, "x = [0] * 10**12\n" + GOOD)
    assert result.error is not None and result.error.kind is ErrorKind.MEMORY
    assert "line 1" in result.error.message


def test_gradual_memory_growth_is_stopped(tmp_path: Path) -> None:
    source = GOOD.replace(
        "    return x * 2",
        "    chunks = []\n    while True:\n        chunks.append(bytearray(50 * 2**20))",
    )
    result = check(tmp_path, source, timeout=10, memory_mb=300)
    assert result.status is Status.ERROR
    error = result.tests[0].error
    assert error is not None and error.kind is ErrorKind.MEMORY
    assert "line 4" in result.tests[0].message


def test_fork_loop_is_refused(tmp_path: Path) -> None:
    source = "import os\n" + GOOD.replace("    return x * 2", "    while True:\n        os.fork()")
    result = check(tmp_path, source)
    assert result.status is Status.ERROR
    assert result.tests[0].error is not None
    assert result.tests[0].error.kind is ErrorKind.SANDBOX
    assert "os.fork" in result.tests[0].message
    assert result.tests[1].status is Status.PASSED  # the other task still gets its verdict


def test_subprocess_and_kill_from_learner_code_are_refused(tmp_path: Path) -> None:
    source = "import os, signal, subprocess\n" + GOOD.replace(
        "    return x * 2", "    subprocess.run(['true'])\n    return x * 2"
    ).replace("    return x / 2", "    os.kill(os.getppid(), signal.SIGKILL)\n    return x / 2")
    result = check(tmp_path, source)
    assert "subprocess" in result.tests[0].message
    assert "os.kill" in result.tests[1].message


@pytest.mark.parametrize(
    ("call", "shown"), [("sys.exit(3)", "sys.exit(3)"), ("os._exit(4)", "os._exit(4)")]
)
def test_exit_calls_are_reported(tmp_path: Path, call: str, shown: str) -> None:
    source = "import os, sys\n" + GOOD.replace("    return x * 2", f"    {call}")
    result = check(tmp_path, source)
    assert result.tests[0].error is not None
    assert result.tests[0].error.kind is ErrorKind.EXIT
    assert shown in result.tests[0].message
    assert result.tests[1].status is Status.PASSED


def test_exit_at_import_time(tmp_path: Path) -> None:
    result = check(tmp_path, "import sys\nsys.exit(1)\n")
    assert result.error is not None and result.error.kind is ErrorKind.EXIT


def test_syntax_error_shows_the_line(tmp_path: Path) -> None:
    result = check(tmp_path, "def double(x):\n    return x *\n")
    assert result.error is not None and result.error.kind is ErrorKind.SYNTAX
    assert result.error.line == 2
    assert "syntax error at line 2" in result.error.message
    assert "return x *" in result.error.message
    assert result.tests == []


def test_import_error_names_the_missing_module(tmp_path: Path) -> None:
    result = check(tmp_path, "import numpyy\n" + GOOD)
    assert result.error is not None and result.error.kind is ErrorKind.IMPORT
    assert "numpyy" in result.error.message


def test_exception_shows_only_learner_frames(tmp_path: Path) -> None:
    source = GOOD.replace(
        "    return x * 2", "    return helper(x)\n\n\ndef helper(x):\n    return x['key']"
    )
    result = check(tmp_path, source)
    message = result.tests[0].message
    assert result.tests[0].status is Status.ERROR
    assert "in helper" in message and "in double" in message
    assert "_pytest" not in message and "pluggy" not in message and "aipath" not in message


def test_deleted_file_is_named_with_the_way_back(tmp_path: Path) -> None:
    result = check(tmp_path, None)
    assert result.error is not None and result.error.kind is ErrorKind.MISSING_FILE
    assert "aipath reset p1-tiny" in result.error.message


def test_megabytes_of_output_are_capped(tmp_path: Path) -> None:
    source = GOOD.replace(
        "    return x * 2",
        "    for _ in range(100_000):\n        print('spam' * 20)\n    return x * 2",
    )
    result = check(tmp_path, source, timeout=10)
    assert result.status is Status.PASSED
    assert len(result.tests[0].output) < 3000
    assert "output cut" in result.tests[0].output


def test_learner_cannot_swallow_the_sandbox(tmp_path: Path) -> None:
    source = "import os\n" + GOOD.replace(
        "    return x * 2",
        "    try:\n        os.fork()\n    except Exception:\n        pass\n    return x * 2",
    )
    result = check(tmp_path, source)
    assert result.tests[0].status is Status.ERROR


def test_no_stray_processes_after_a_timeout(tmp_path: Path) -> None:
    # Named, not numbered: inside the check's PID namespace its pid reads as 1.
    name = f"spin{os.getpid() % 10**6}"
    source = "import ctypes\n" + GOOD.replace(
        "    return x * 2",
        f"    ctypes.CDLL(None).prctl(15, b'{name}', 0, 0, 0)\n    while True:\n        pass",
    )
    result = check(tmp_path, source, timeout=0.5)
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    left = []
    for entry in Path("/proc").iterdir():
        try:
            named = entry.name.isdigit() and (entry / "comm").read_text().strip() == name
            if named and "State:\tZ" not in (entry / "status").read_text():
                left.append(entry.name)
        except OSError:
            continue
    assert not left, f"the timed-out child {left} is still running"


def test_threads_started_by_learner_code_are_guarded_too(tmp_path: Path) -> None:
    marker = tmp_path / "escaped"
    source = "import subprocess, threading\n" + GOOD.replace(
        "    return x * 2",
        f"    t = threading.Thread(target=subprocess.run, args=(['touch', {str(marker)!r}],))\n"
        "    t.start()\n"
        "    t.join()\n"
        "    return x * 2",
    )
    result = check(tmp_path, source)
    assert not marker.exists()
    assert "a thread your code started tried to start a new process" in result.tests[0].output
