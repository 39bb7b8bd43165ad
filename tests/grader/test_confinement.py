"""Confinement by the kernel: the check's own network, filesystem view and processes, and limits
code cannot lift.

Each test runs learner code that tries something a careless or curious learner might, in the
tiny fixture lab, and reads the outcome from what the learner's ``double`` returns (``x * 2``
when the attempt was refused, ``-1`` when it got through) or from what it left behind.  Where
the system allows no namespaces those tests are skipped.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from aipath.grader import sandbox
from aipath.grader.request import CheckRequest
from aipath.grader.results import CheckResult, ErrorKind, Status
from aipath.grader.supervisor import run_one

LAB = Path(__file__).parents[1] / "fixtures" / "labs" / "p1" / "01-tiny"
HALF = "\n\ndef half(x):\n    return x / 2\n"


def _namespaces_work() -> bool:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only reports
        os._exit(0 if sandbox.isolate_network() else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


NAMESPACES = _namespaces_work()
needs_namespaces = pytest.mark.skipif(
    not NAMESPACES, reason="this system allows no network namespace"
)


def _confinement_works() -> bool:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only reports
        try:
            notice = sandbox.confine([], [], [])
        except OSError:
            os._exit(1)
        os._exit(0 if notice == "" else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


CONFINED = _confinement_works()
needs_confinement = pytest.mark.skipif(
    not CONFINED, reason="this system allows no user, mount and PID namespaces"
)


def check(tmp_path: Path, source: str, *, mode: str = "fork", timeout: float = 5.0) -> CheckResult:
    learner = tmp_path / "exercise.py"
    learner.write_text(source, encoding="utf-8")
    request = CheckRequest(
        lab_id="p1-tiny",
        lab_dir=str(LAB),
        learner_file=str(learner),
        workdir=str(tmp_path),
        timeout_s=timeout,
        memory_mb=256,
    )
    return run_one(request, mode=mode)  # type: ignore[arg-type]


@needs_namespaces
@pytest.mark.parametrize("mode", ["fork", "cold"])
def test_services_on_this_machine_are_out_of_reach(tmp_path: Path, mode: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:  # a service, like Redis, on loopback
        port = server.getsockname()[1]
        source = (
            "import socket\n\n\ndef double(x):\n"
            "    try:\n"
            f"        socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
            "    except OSError:\n"
            "        return x * 2  # refused: the check's network is its own\n"
            "    return -1\n" + HALF
        )
        result = check(tmp_path, source, mode=mode)
    assert result.status is Status.PASSED, result.tests[0].message


@needs_namespaces
def test_a_server_of_the_check_itself_still_works_on_loopback(tmp_path: Path) -> None:
    source = (
        "import socket\n\n\ndef double(x):\n"
        "    with socket.create_server(('127.0.0.1', 0)) as server:\n"
        "        port = server.getsockname()[1]\n"
        "        with socket.create_connection(('127.0.0.1', port), timeout=2) as client:\n"
        "            conn, _ = server.accept()\n"
        "            client.sendall(b'ok')\n"
        "            got = conn.recv(2)\n"
        "            conn.close()\n"
        "    return x * 2 if got == b'ok' else -1\n" + HALF
    )
    assert check(tmp_path, source).status is Status.PASSED


@needs_namespaces
def test_the_cpu_limit_cannot_be_lifted(tmp_path: Path) -> None:
    source = (
        "import resource\n\n\ndef double(x):\n"
        "    try:\n"
        "        resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY,) * 2)\n"
        "    except (ValueError, OSError):\n"
        "        return x * 2  # refused, even for root: no capability outside the namespace\n"
        "    return -1\n" + HALF
    )
    result = check(tmp_path, source)
    assert result.status is Status.PASSED, result.tests[0].message


@pytest.mark.parametrize("mode", ["fork", "cold"])
def test_one_long_c_call_is_stopped_as_a_timeout(tmp_path: Path, mode: str) -> None:
    # The kernel's CPU limit ends it with SIGKILL inside the PID namespace; the process outside
    # must pass that on (SIGKILL takes no handler) rather than fail as an engine error.
    source = "def double(x):\n    return sum(range(10**12))\n" + HALF
    result = check(tmp_path, source, mode=mode, timeout=1.0)
    assert result.status is Status.ERROR
    error = result.error or result.tests[0].error
    assert error is not None and error.kind is ErrorKind.TIMEOUT, error
    assert "checker failed" not in error.message


@needs_confinement
@pytest.mark.parametrize("mode", ["fork", "cold"])
def test_a_check_killed_by_sigkill_reads_as_killed_not_as_an_engine_failure(
    tmp_path: Path, mode: str
) -> None:
    # The kernel's SIGKILL at a hard CPU limit, which the code lowers to one second here (a
    # process may lower its own limits); process 1 of the namespace ignores a plain kill().
    source = (
        "import math\nimport resource\n\n\ndef double(x):\n"
        "    used = resource.getrusage(resource.RUSAGE_SELF)\n"
        "    limit = math.ceil(used.ru_utime + used.ru_stime) + 1\n"
        "    resource.setrlimit(resource.RLIMIT_CPU, (limit, limit))\n"
        "    return sum(range(10**12))\n" + HALF
    )
    result = check(tmp_path, source, mode=mode, timeout=30.0)
    assert result.status is Status.ERROR
    error = result.error or result.tests[0].error
    assert error is not None and "checker failed" not in error.message, error
    assert "killed by the system" in error.message, error


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _processes_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                comm = Path(f"/proc/{entry}/comm").read_text(encoding="ascii").strip()
            except OSError:
                continue
            if comm == name and _alive(int(entry)):
                found.append(int(entry))
    return found


ORPHAN = (
    "import ctypes\n\n\ndef double(x):\n"
    "    libc = ctypes.CDLL(None)\n"
    "    pid = libc.fork()\n"
    "    if pid == 0:\n"
    "        libc.setsid()\n"
    "        libc.prctl(15, b'{name}', 0, 0, 0)  # PR_SET_NAME: findable in /proc\n"
    "        while True:\n"
    "            pass\n"
    "    return x * 2\n" + HALF
)


@needs_confinement
@pytest.mark.parametrize("mode", ["fork", "cold"])
def test_a_process_left_behind_ends_with_the_check(tmp_path: Path, mode: str) -> None:
    """ctypes fork + setsid escapes the audit hook and the process group, not the PID namespace:
    when the check's process 1 ends, the kernel ends every process in it, before the verdict."""
    name = f"orphan{os.getpid() % 10**6}{mode[0]}"
    result = check(tmp_path, ORPHAN.replace("{name}", name), mode=mode, timeout=5.0)
    assert result.status is Status.PASSED, result.summary
    left = _processes_named(name)
    for pid in left:
        os.kill(pid, 9)
    assert not left, "the process the learner's code left behind was still running"


def test_a_process_left_behind_is_stopped_by_the_cpu_limit(tmp_path: Path) -> None:
    """Without a PID namespace (the fallback), the CPU limit a process inherits still ends it."""
    name = f"orphan{os.getpid() % 10**6}u"
    learner = tmp_path / "exercise.py"
    learner.write_text(ORPHAN.replace("{name}", name), encoding="utf-8")
    request = CheckRequest(
        lab_id="p1-tiny",
        lab_dir=str(LAB),
        learner_file=str(learner),
        workdir=str(tmp_path),
        timeout_s=1.0,
        memory_mb=256,
        isolate_network=False,
    )
    result = run_one(request, mode="fork")
    assert result.confinement  # the result says it was not confined
    deadline = time.monotonic() + 120  # CPU seconds on a busy machine take longer on the clock
    while _processes_named(name) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _processes_named(name)
    for pid in left:
        os.kill(pid, 9)
    assert not left, "the process the learner's code left behind was still running"


def refused(attempt: str, *, imports: str = "") -> str:
    """A learner file whose double() returns x * 2 when ``attempt`` raises OSError, else -1."""
    body = "\n".join("        " + line for line in attempt.strip().splitlines())
    return (
        f"{imports}\n\ndef double(x):\n    try:\n{body}\n"
        "    except OSError:\n        return x * 2\n    return -1\n" + HALF
    )


def lab_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "workspace" / "labs" / "p1-tiny"
    folder.mkdir(parents=True)
    return folder


def check_in(folder: Path, source: str, *, mode: str = "fork") -> CheckResult:
    learner = folder / "exercise.py"
    learner.write_text(source, encoding="utf-8")
    request = CheckRequest(
        lab_id="p1-tiny",
        lab_dir=str(LAB),
        learner_file=str(learner),
        workdir=str(folder),
        timeout_s=5.0,
        memory_mb=256,
    )
    return run_one(request, mode=mode)  # type: ignore[arg-type]


@needs_confinement
@pytest.mark.parametrize("mode", ["fork", "cold"])
def test_nothing_outside_the_lab_folder_can_be_written(tmp_path: Path, mode: str) -> None:
    folder = lab_folder(tmp_path)
    outside = tmp_path / "workspace" / "notes.txt"  # e.g. ~/.bashrc: any file beside the lab
    outside.write_text("mine\n", encoding="utf-8")
    source = refused(f"open({str(outside)!r}, 'a').write('echo pwned\\n')")
    result = check_in(folder, source, mode=mode)
    assert result.status is Status.PASSED, result.summary
    assert result.confinement == ""
    assert outside.read_text(encoding="utf-8") == "mine\n"


@needs_confinement
def test_a_shell_run_through_ctypes_is_confined_too(tmp_path: Path) -> None:
    # libc.system raises no audit event: the kernel's rules are what stop it.
    folder = lab_folder(tmp_path)
    outside = tmp_path / "workspace" / "notes.txt"
    outside.write_text("mine\n", encoding="utf-8")
    source = (
        "import ctypes\n\n\ndef double(x):\n"
        f"    status = ctypes.CDLL(None).system(b'echo pwned >> {outside}')\n"
        "    return x * 2 if status != 0 else -1\n" + HALF
    )
    result = check_in(folder, source)
    assert result.status is Status.PASSED, result.summary
    assert outside.read_text(encoding="utf-8") == "mine\n"


@needs_confinement
def test_the_lab_folder_and_a_private_temporary_folder_stay_writable(tmp_path: Path) -> None:
    folder = lab_folder(tmp_path)
    source = (
        "import tempfile\nfrom pathlib import Path\n\n\ndef double(x):\n"
        "    Path('notes.txt').write_text('kept')\n"
        "    with tempfile.NamedTemporaryFile('w') as handle:\n"
        "        handle.write('scratch')\n"
        "    return x * 2\n" + HALF
    )
    assert check_in(folder, source).status is Status.PASSED
    assert (folder / "notes.txt").read_text() == "kept"


@needs_confinement
def test_the_progress_store_cannot_be_written(tmp_path: Path) -> None:
    import sqlite3

    folder = lab_folder(tmp_path)
    store = tmp_path / "workspace" / "progress.db"
    with sqlite3.connect(store) as db:
        db.execute("create table attempts (lab text, status text)")
    source = refused(
        f"db = sqlite3.connect({str(store)!r})\n"
        "db.execute(\"insert into attempts values ('p1-tiny', 'passed')\")\n"
        "db.commit()",
        imports="import sqlite3",
    ).replace("except OSError:", "except (OSError, sqlite3.Error):")
    assert check_in(folder, source).status is Status.PASSED
    with sqlite3.connect(store) as db:
        assert db.execute("select count(*) from attempts").fetchone() == (0,)


@needs_confinement
def test_the_lab_package_cannot_be_changed(tmp_path: Path) -> None:
    checks = LAB / "checks.py"
    before = checks.read_bytes()
    source = refused(f"open({str(checks)!r}, 'a').write('\\ndef test_x(): pass\\n')")
    assert check_in(lab_folder(tmp_path), source).status is Status.PASSED
    assert checks.read_bytes() == before


@needs_confinement
def test_reference_solutions_and_known_answers_are_hidden(tmp_path: Path) -> None:
    solution, mistakes = LAB / "solution.py", LAB / "mistakes"
    assert solution.read_text() and any(mistakes.iterdir())
    source = (
        "import os\n\n\ndef double(x):\n"
        f"    seen = open({str(solution)!r}).read() + ''.join(os.listdir({str(mistakes)!r}))\n"
        "    return x * 2 if seen == '' else -1\n" + HALF
    )
    assert check_in(lab_folder(tmp_path), source).status is Status.PASSED


@needs_confinement
def test_processes_outside_the_check_are_invisible(tmp_path: Path) -> None:
    """Not even the parent's pid: nothing to pidfd_open, signal or ptrace."""
    me = os.getpid()
    source = (
        "import os\n\n\ndef double(x):\n"
        "    pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
        f"    visible = os.path.exists('/proc/{me}') and {me} not in (1,)\n"
        "    return x * 2 if pids == [1] and not visible and os.getppid() == 0 else -1\n" + HALF
    )
    result = check_in(lab_folder(tmp_path), source)
    assert result.status is Status.PASSED, result.summary


@needs_confinement
def test_the_memory_limit_cannot_be_lifted(tmp_path: Path) -> None:
    source = refused(
        "resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2)",
        imports="import resource",
    ).replace("except OSError:", "except (OSError, ValueError):")
    assert check_in(lab_folder(tmp_path), source).status is Status.PASSED


@needs_confinement
def test_descriptors_of_the_parent_are_not_inherited(tmp_path: Path) -> None:
    """A worker's listening socket or the CLI's connection, forked into the check: closed."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        number = server.fileno()
        source = refused(f"os.fstat({number})", imports="import os")
        result = check_in(lab_folder(tmp_path), source, mode="fork")
    assert result.status is Status.PASSED, result.summary


def test_the_probe_says_what_checks_here_lack() -> None:
    notice = sandbox.confinement_notice()
    assert (notice == "") is CONFINED, notice


def test_a_check_that_was_not_confined_says_so_in_its_verdict(tmp_path: Path) -> None:
    from rich.console import Console

    from aipath.commands.render import verdict_panel

    learner = tmp_path / "exercise.py"
    learner.write_text("def double(x):\n    return x * 2\n" + HALF, encoding="utf-8")
    request = CheckRequest(
        lab_id="p1-tiny",
        lab_dir=str(LAB),
        learner_file=str(learner),
        workdir=str(tmp_path),
        timeout_s=5.0,
        memory_mb=256,
        isolate_network=False,  # what a system without namespaces gives
    )
    result = run_one(request, mode="fork")
    assert result.status is Status.PASSED and result.confinement
    console = Console(record=True, width=200)
    console.print(verdict_panel(result))
    assert f"not confined: {result.confinement}" in console.export_text()
