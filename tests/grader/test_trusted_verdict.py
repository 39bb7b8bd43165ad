"""The trusted verdict process (``verdict_process = "trusted"``): learner code cannot forge a pass.

Each attack is learner code a determined learner could write — writing the event file and
ending the process, patching the check library or the check functions through ``sys.modules``
and ``gc``, reading the reference solution, writing the lab's checks or the progress store,
writing to whatever descriptor it holds.  Run against p1-numpy-vectorize in the trusted mode,
every one ends failed, error or not attempted, and the verdict names no check that did not
run.  Where the same file forges a pass in the shared mode, a test shows that too: the attack
is real, the split is what stops it.

The rest shows that the split changes nothing else: the same verdicts, messages and output as
the shared mode for the solution, the starter, known mistakes and every kind of error, and the
golden ``aipath check --json`` files of the fixture lab byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aipath.cli import app
from aipath.grader import sandbox
from aipath.grader.codec import DecodeError, Decoder, Encoder, Handle
from aipath.grader.request import CheckRequest
from aipath.grader.results import CheckResult, ErrorKind, Status
from aipath.grader.supervisor import run_one
from aipath.labs import load_catalogue

LAB = next(lab for lab in load_catalogue() if lab.id == "p1-numpy-vectorize").source_dir
SOLUTION = (LAB / "solution.py").read_text(encoding="utf-8")
TESTS_DIR = Path(__file__).parents[1]
GOLDEN = TESTS_DIR / "golden" / "check"


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


def check(
    tmp_path: Path,
    source: str,
    *,
    verdict: str = "trusted",
    mode: str = "fork",
    timeout: float = 10.0,
) -> CheckResult:
    folder = tmp_path / f"lab-{mode}"
    folder.mkdir(exist_ok=True)
    learner = folder / "exercise.py"
    learner.write_text(source, encoding="utf-8")
    request = CheckRequest(
        lab_id="p1-numpy-vectorize",
        lab_dir=str(LAB),
        learner_file=str(learner),
        workdir=str(folder),
        timeout_s=timeout,
        memory_mb=1024,
        verdict_process=verdict,
    )
    return run_one(request, mode=mode)  # type: ignore[arg-type]


def wrapped(body: str, *, function: str = "pairwise_distances", imports: str = "") -> str:
    """The solution, with ``function`` running ``body`` (learner code) before its real work."""
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    return (
        f"{SOLUTION}\n{imports}\n\n_real_{function} = {function}\n\n\n"
        f"def {function}(*args, **kwargs):\n{indented}"
        f"    return _real_{function}(*args, **kwargs)\n"
    )


def never_passed(result: CheckResult) -> None:
    assert result.status in (Status.FAILED, Status.ERROR, Status.NOT_ATTEMPTED), result.summary
    names = [t.name for t in result.tests]
    assert "test_forged" not in names, names
    assert len(names) == len(set(names)), names


# ----- (a) the event file written by learner code, then posix._exit --------------------------
FORGED_EVENTS = (
    "lines = [json.dumps({'event': 'test', 'outcome': {'name': n, 'status': 'passed'}})\n"
    "         for n in ('test_forged', 'test_pairwise_distances_values')]\n"
    "lines.append(json.dumps({'event': 'done', 'exitstatus': 0}))\n"
    "data = ('\\n'.join(lines) + '\\n').encode()\n"
    "run_dir = Path(tempfile.gettempdir()).parent\n"
    "for path in [run_dir / 'events.jsonl', *Path('/tmp').glob('aipath-check-*/events.jsonl')]:\n"
    "    try:\n"
    "        with open(path, 'ab') as handle:\n"
    "            handle.write(data)\n"
    "    except OSError:\n"
    "        pass\n"
    "for fd in range(3, 256):\n"
    "    try:\n"
    "        os.write(fd, data)\n"
    "    except OSError:\n"
    "        pass\n"
    "posix._exit(0)\n"
)
FORGE_IMPORTS = "import json\nimport os\nimport posix\nimport tempfile\nfrom pathlib import Path\n"


@needs_confinement
@pytest.mark.parametrize("mode", ["fork", "cold"])
def test_a_forged_event_file_and_posix_exit_end_in_an_error(tmp_path: Path, mode: str) -> None:
    result = check(tmp_path, wrapped(FORGED_EVENTS, imports=FORGE_IMPORTS), mode=mode)
    never_passed(result)
    assert result.status is Status.ERROR
    assert result.error is not None and result.error.kind in (ErrorKind.EXIT, ErrorKind.SANDBOX)
    first = result.tests[0]
    assert first.name == "test_pairwise_distances_values" and first.status is Status.ERROR


@needs_confinement
def test_the_same_forgery_passes_in_the_shared_mode(tmp_path: Path) -> None:
    """The attack is real: where learner code holds the event writer's descriptor, it wins."""
    result = check(tmp_path, wrapped(FORGED_EVENTS, imports=FORGE_IMPORTS), verdict="shared")
    assert "test_forged" in [t.name for t in result.tests]


# ----- (b) the check library, pytest and the check functions patched -------------------------
PATCHES = """
import gc
import sys
import types

import numpy as np


def _nothing(*args, **kwargs):
    return None


def _patch():
    for name in ("aipath.checks", "aipath.checks.compare", "aipath.checks.failure"):
        module = sys.modules.get(name)
        if module is not None:
            for attr in ("assert_array", "assert_close", "assert_returned", "fail", "no_loops"):
                if hasattr(module, attr):
                    setattr(module, attr, _nothing)
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and obj.__name__.startswith("test_"):
            obj.__code__ = _nothing.__code__
            for attr in ("assert_array", "fail", "no_loops", "assert_returned"):
                if attr in obj.__globals__:
                    obj.__globals__[attr] = _nothing


_patch()  # at import, and again from inside a check, once the checks are loaded


def pairwise_distances(a, b):
    _patch()
    return np.zeros(1)


def standardize(X):
    return np.zeros(1)


def one_hot(labels, num_classes):
    return np.zeros(1)


def logsumexp(logits):
    return np.zeros(1)


def softmax(logits):
    return np.zeros(1)
"""


@needs_confinement
@pytest.mark.parametrize("mode", ["fork", "cold"])
def test_patching_checks_pytest_and_gc_changes_no_verdict(tmp_path: Path, mode: str) -> None:
    result = check(tmp_path, PATCHES, mode=mode)
    never_passed(result)
    assert result.status is Status.FAILED
    by_name = {t.name: t for t in result.tests}
    assert len(by_name) == 14
    assert by_name["test_pairwise_distances_values"].status is Status.FAILED
    assert by_name["test_softmax_values"].status is Status.FAILED


@needs_confinement
def test_the_same_patches_pass_in_the_shared_mode(tmp_path: Path) -> None:
    result = check(tmp_path, PATCHES, verdict="shared")
    assert result.status is Status.PASSED, result.summary


# ----- (c) the reference solution, the lab's checks, the progress store ----------------------
@needs_confinement
def test_the_reference_solution_reads_as_empty(tmp_path: Path) -> None:
    body = (
        "namespace = {}\n"
        f"exec(open({str(LAB / 'solution.py')!r}).read(), namespace)\n"
        "return namespace['pairwise_distances'](*args, **kwargs)\n"
    )
    result = check(tmp_path, wrapped(body))
    never_passed(result)
    assert result.tests[0].status is Status.ERROR
    assert "KeyError: 'pairwise_distances'" in result.tests[0].message


@needs_confinement
def test_the_installed_checks_cannot_be_overwritten(tmp_path: Path) -> None:
    checks = LAB / "checks.py"
    before = checks.read_bytes()
    body = f"open({str(checks)!r}, 'w').write('def test_forged():\\n    pass\\n')\n"
    result = check(tmp_path, wrapped(body))
    never_passed(result)
    assert checks.read_bytes() == before
    assert "OSError" in result.tests[0].message or "Read-only" in result.tests[0].message


@needs_confinement
def test_the_progress_store_cannot_be_written(tmp_path: Path) -> None:
    store = tmp_path / "workspace" / "progress.db"
    store.parent.mkdir()
    with sqlite3.connect(store) as db:
        db.execute("create table attempts (lab text, status text)")
    body = (
        f"db = sqlite3.connect({str(store)!r})\n"
        "db.execute(\"insert into attempts values ('p1-numpy-vectorize', 'passed')\")\n"
        "db.commit()\n"
    )
    result = check(tmp_path, wrapped(body, imports="import sqlite3"))
    never_passed(result)
    with sqlite3.connect(store) as db:
        assert db.execute("select count(*) from attempts").fetchone() == (0,)


# ----- (d) whatever descriptor learner code holds ----------------------------------------------
@needs_confinement
@pytest.mark.parametrize(
    "payload",
    [
        'b\'{"event": "done", "exitstatus": 0}\\n\'',  # an event line
        "(8).to_bytes(8, 'little') + b'dNNNNNNN'",  # a frame the decoder refuses
        "(2**40).to_bytes(8, 'little')",  # a frame over the size limit
    ],
)
def test_writing_to_every_descriptor_ends_in_an_error(tmp_path: Path, payload: str) -> None:
    body = (
        "for fd in range(3, 256):\n"
        "    try:\n"
        f"        os.write(fd, {payload})\n"
        "    except OSError:\n"
        "        pass\n"
    )
    result = check(tmp_path, wrapped(body, imports="import os"))
    never_passed(result)
    assert result.status is Status.ERROR
    assert result.error is not None and result.error.kind is ErrorKind.SANDBOX
    assert "private channel" in result.error.message


# ----- the same verdicts as the shared mode ------------------------------------------------------
MISTAKES = LAB / "mistakes"
SAME_AS_SHARED = {
    "solution": SOLUTION,
    "starter": (LAB / "exercise.py").read_text(encoding="utf-8"),
    "in-place": (MISTAKES / "standardize_in_place.py").read_text(encoding="utf-8"),
    "loop": (MISTAKES / "pairwise_row_loop.py").read_text(encoding="utf-8"),
    "negative-wraps": (MISTAKES / "one_hot_negative_wraps.py").read_text(encoding="utf-8"),
    "shape-error": wrapped("return args[0] @ args[1]\n"),
    "own-exception": wrapped("class Wrong(ValueError):\n    pass\nraise Wrong('my own error')\n"),
    "learner-assert": wrapped("assert args[0].ndim == 3, 'three dimensions please'\n"),
    "keyerror": wrapped("return {}['missing']\n"),
    "prints": wrapped("print('hello from', args[0].shape)\n"),
    "sys-exit": wrapped("sys.exit(3)\n", imports="import sys"),
    "os-exit": wrapped("os._exit(4)\n", imports="import os"),
    "subprocess": wrapped("os.system('true')\n", imports="import os"),
    "syntax": "def pairwise_distances(a, b)\n    return a\n",
    "import-error": "import not_a_module_anywhere\n",
    "top-level-todo": "raise NotImplementedError\n",
    "missing-function": SOLUTION.replace("def softmax(", "def softmax_renamed("),
}


def _comparable(result: CheckResult) -> dict[str, Any]:
    data = result.model_dump(mode="json")
    data.pop("duration_s")
    data.pop("mode")
    for test in data["tests"]:
        test.pop("duration_s")
    return data


@needs_confinement
@pytest.mark.parametrize("case", sorted(SAME_AS_SHARED))
def test_verdicts_and_messages_match_the_shared_mode(tmp_path: Path, case: str) -> None:
    source = SAME_AS_SHARED[case]
    shared = check(tmp_path, source, verdict="shared")
    trusted = check(tmp_path, source)
    assert _comparable(trusted) == _comparable(shared)


@needs_confinement
@pytest.mark.parametrize(
    "body", ["while True:\n    pass\n", "import time\ntime.sleep(60)\n"], ids=["cpu", "sleep"]
)
def test_a_timeout_names_the_learners_line_as_in_the_shared_mode(tmp_path: Path, body: str) -> None:
    source = wrapped(body)
    shared = check(tmp_path, source, verdict="shared", timeout=1.0)
    trusted = check(tmp_path, source, timeout=1.0)
    assert trusted.error is not None and trusted.error.kind is ErrorKind.TIMEOUT
    assert _comparable(trusted) == _comparable(shared)


@needs_confinement
def test_a_memory_bomb_is_reported_as_memory(tmp_path: Path) -> None:
    result = check(tmp_path, wrapped("x = [0] * (10**10)\n"))
    assert result.status is Status.ERROR
    first = result.tests[0]
    assert first.error is not None and first.error.kind is ErrorKind.MEMORY, first.message


@needs_confinement
def test_the_learner_process_killed_mid_call_is_an_error(tmp_path: Path) -> None:
    """SIGKILL of its own process (no signal call passes the guard; the kernel's CPU limit
    is the way a learner process dies in C code): the error names the check it was in."""
    body = "import ctypes\nctypes.string_at(0)\n"
    result = check(tmp_path, wrapped(body))
    assert result.status is Status.ERROR
    assert result.error is not None and result.error.kind is ErrorKind.CRASH
    assert "during the check test_pairwise_distances_values" in result.error.message


# ----- the golden `aipath check --json` files, byte for byte -----------------------------------
GOLDEN_CASES = {
    "passed": (TESTS_DIR / "fixtures/labs/p1/01-tiny/solution.py").read_text(encoding="utf-8"),
    "failed-known-mistake": (TESTS_DIR / "fixtures/labs/p1/01-tiny/mistakes/plus.py").read_text(
        encoding="utf-8"
    ),
    "not-attempted": (TESTS_DIR / "fixtures/labs/p1/01-tiny/exercise.py").read_text(
        encoding="utf-8"
    ),
    "syntax-error": "def double(x):\n    return x *\n\n\ndef half(x):\n    return x / 2\n",
    "exception": "def double(x):\n    return x.nope\n\n\ndef half(x):\n    return x / 2\n",
}


@needs_confinement
@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_the_golden_check_json_holds_in_the_trusted_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    from aipath.workspace.create import init_workspace

    labs = tmp_path / "labs"
    shutil.copytree(TESTS_DIR / "fixtures" / "labs", labs)
    manifest = labs / "p1" / "01-tiny" / "lab.toml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8") + 'verdict_process = "trusted"\n', encoding="utf-8"
    )
    monkeypatch.setenv("AIPATH_LABS_DIR", str(labs))
    monkeypatch.delenv("AIPATH_WORKSPACE", raising=False)
    monkeypatch.delenv("AIPATH_DATABASE_URL", raising=False)
    catalogue = load_catalogue()
    assert catalogue.get("p1-tiny").manifest.verdict_process == "trusted"
    workspace = tmp_path / "ws"
    init_workspace(workspace, catalogue)
    (workspace / "labs" / "p1" / "01-tiny" / "exercise.py").write_text(
        GOLDEN_CASES[case], encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["check", "p1-tiny", "--json", "--cold", "-w", str(workspace)])
    data = json.loads(result.output)
    data["duration_s"] = 0.0
    data["file"] = "<exercise>"
    data["mode"] = "<mode>"
    data["tests"] = [{**t, "duration_s": 0.0} for t in data["tests"]]
    text = json.dumps(data, indent=2, sort_keys=True).replace(str(workspace), "<ws>") + "\n"
    assert text == (GOLDEN / f"{case}.json").read_text(encoding="utf-8")


# ----- the decoder builds data, nothing else ---------------------------------------------------
def _no_handles(handle: Handle) -> Any:
    raise DecodeError(f"no handle expected: {handle}")


def test_values_cross_by_value() -> None:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(
        {
            "a": [1, 2],
            "b": ["x", None],
            "c": [0.5, np.nan],
            "when": pd.to_datetime(["2024-01-01"] * 2),
        }
    )
    rng = np.random.default_rng(3)
    value = {
        "n": [None, True, 3, -(2**70), 1.5, 2j, "é", b"\x00"],
        "rng": rng,
        "functions": [np.mean, np.exp],
        ("t", 1): np.arange(6, dtype=np.int32).reshape(2, 3).T,
        "s": np.float32(1.25),
        "o": np.array(["a", None], dtype=object),
        "f": frame,
        "series": frame["c"].rename("named"),
        "indexed": frame.set_index("b").iloc[::-1],
        "months": pd.Series([3.5, 1.0], index=pd.Index([12, 1], name="month")),
        "counts": Counter({("the", "cat"): 2, ("a",): 1}),
        "co2": pd.Series([1.0, 2.0, 3.0], index=pd.date_range("1990-01-01", periods=3, freq="MS")),
        "sets": [{1, "x"}, frozenset({(1, 2)}), {frozenset({3})}],
    }
    data = Encoder(lambda obj: pytest.fail(f"a handle for {obj!r}")).encode(value)
    back = Decoder(_no_handles).decode(data)
    assert back["n"] == value["n"]
    assert back["functions"] == [np.mean, np.exp]
    assert back["rng"] is not rng and back["rng"].random() == rng.random()
    assert np.array_equal(back[("t", 1)], value[("t", 1)]) and back[("t", 1)].dtype == np.int32
    assert back["s"] == value["s"] and type(back["s"]) is np.float32
    assert back["o"].tolist() == ["a", None]
    pd.testing.assert_frame_equal(back["f"], frame)
    pd.testing.assert_series_equal(back["series"], value["series"])
    pd.testing.assert_frame_equal(back["indexed"], value["indexed"])
    pd.testing.assert_series_equal(back["months"], value["months"])
    assert type(back["counts"]) is Counter and back["counts"] == value["counts"]
    pd.testing.assert_series_equal(back["co2"], value["co2"])
    assert back["co2"].index.freqstr == "MS"  # learner code may build the next dates from it
    assert back["sets"] == value["sets"]
    assert [type(x) for x in back["sets"]] == [set, frozenset, set]


def test_anything_else_becomes_a_handle_and_bad_bytes_are_refused() -> None:
    class Model:
        pass

    model = Model()
    seen: list[Any] = []

    def handle_of(obj: Any) -> Handle:
        seen.append(obj)
        return Handle(7, False, "Model", 0)

    data = Encoder(handle_of).encode([model, len])
    assert seen == [model, len]
    assert Decoder(lambda handle: ("proxy", handle.id)).decode(data) == [("proxy", 7)] * 2
    for bad in (
        data + b"N",  # trailing bytes
        data[:-1],  # cut short
        b"a" + (3).to_bytes(4, "little") + b"|O8",  # an object dtype by buffer
        b"a"
        + (3).to_bytes(4, "little")
        + b"<f8"
        + bytes([1])
        + (4).to_bytes(8, "little")
        + (8).to_bytes(8, "little")
        + bytes(8),  # a buffer shorter than its shape
        b"x",  # an unknown tag
        b"d" + (1).to_bytes(4, "little") + b"l" + bytes(4) + b"N",  # a list as a dict key
        b"l" * 100 + bytes(4),  # nested too deep
    ):
        with pytest.raises(DecodeError):
            Decoder(_no_handles).decode(bad)


# ----- the warm worker and the progress store --------------------------------------------------
def _trusted_fixture_labs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture lab catalogue with p1-tiny in the trusted mode; a workspace built from it."""
    from aipath.workspace.create import init_workspace

    labs = tmp_path / "labs"
    shutil.copytree(TESTS_DIR / "fixtures" / "labs", labs)
    manifest = labs / "p1" / "01-tiny" / "lab.toml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8") + 'verdict_process = "trusted"\n', encoding="utf-8"
    )
    monkeypatch.setenv("AIPATH_LABS_DIR", str(labs))
    monkeypatch.delenv("AIPATH_WORKSPACE", raising=False)
    monkeypatch.delenv("AIPATH_DATABASE_URL", raising=False)
    workspace = tmp_path / "ws"
    init_workspace(workspace, load_catalogue())
    return workspace


@needs_confinement
def test_the_worker_runs_trusted_checks_and_the_store_keeps_no_forged_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aipath.grader.service import check_lab
    from aipath.grader.worker import BackgroundWorker
    from aipath.workspace.model import Workspace
    from aipath.workspace.store import open_store

    ws = Workspace(_trusted_fixture_labs(tmp_path, monkeypatch))
    lab = load_catalogue().get("p1-tiny")
    solution = (lab.source_dir / "solution.py").read_text(encoding="utf-8")
    indented = "".join(f"    {line}\n" for line in FORGED_EVENTS.splitlines())
    forged = f"{FORGE_IMPORTS}\n{solution}\n\ndef double(x):\n{indented}    return x * 2\n"
    target = ws.lab_file(lab)
    with BackgroundWorker(ws.socket_path):
        target.write_text(forged, encoding="utf-8")
        result = check_lab(ws, lab)
        assert result.mode == "warm"
        never_passed(result)
        with open_store(ws) as store:
            assert not store.lab_states()["p1-tiny"].ever_passed
        target.write_text(solution, encoding="utf-8")
        result = check_lab(ws, lab)
        assert result.mode == "warm" and result.status is Status.PASSED, result.summary
    with open_store(ws) as store:
        state = store.lab_states()["p1-tiny"]
    assert state.attempts == 2 and state.ever_passed


def test_a_rebuilt_exception_keeps_the_learners_class_line_and_shapes() -> None:
    from aipath.checks.calls import _learner_line
    from aipath.grader.learnerframes import describe_exception
    from aipath.grader.remote import rebuild_exception

    path = "/somewhere/exercise.py"
    namespace: dict[str, Any] = {}
    exec(compile("def f(a, b):\n    return a @ b\n", path, "exec"), namespace)
    exc = rebuild_exception(
        {
            "type": "Mismatch",
            "bases": ["ValueError", "Exception", "BaseException"],
            "text": "matmul: mismatch in its core dimension 0",
            "frames": [[path, 2, "f", "return a @ b"]],
            "shape_error": True,
            "shapes": "a (2, 3), b (2, 3)",
        }
    )
    assert isinstance(exc, ValueError) and type(exc).__name__ == "Mismatch"
    assert _learner_line(namespace["f"], exc) == " — at line 2 of your file: `return a @ b`"
    info = describe_exception(exc, path, context="while checking test_f")
    assert info.line == 2 and "a (2, 3), b (2, 3)" in info.message
    assert info.message.startswith("Mismatch: matmul: mismatch")
    for name in ("KeyboardInterrupt", "GeneratorExit"):  # never a pytest session stopper
        stopper = rebuild_exception({"type": name, "bases": [name, "BaseException"], "text": ""})
        assert not isinstance(stopper, KeyboardInterrupt | GeneratorExit)


def test_arguments_changed_in_place_come_back_into_the_checks_objects() -> None:
    """What the learner process reports as changed replaces the check's argument's contents."""
    import numpy as np
    import pandas as pd

    from aipath.grader.remote import _changed, _copy_back

    frame = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]}, index=[5, 6, 7])
    theirs = frame.copy(deep=True)
    assert not _changed(theirs, frame.copy(deep=True))
    theirs.loc[5, "x"] = 9
    theirs["z"] = 1.5
    theirs = theirs.drop(index=6)
    array, rng = np.zeros(3), np.random.default_rng(0)
    their_rng = np.random.default_rng(0)
    their_rng.random(5)
    _copy_back({0: theirs, 1: np.ones(3), "rng": their_rng}, (frame, array), {"rng": rng})
    pd.testing.assert_frame_equal(frame, theirs)
    assert array.tolist() == [1.0, 1.0, 1.0]
    assert rng.random() == their_rng.random()


def test_lists_and_dicts_changed_in_place_come_back_too() -> None:
    """A learner function that appends to or overwrites a list or dict it was given: the check
    sees the change, as it would in the shared mode; lists holding objects are not watched."""
    from aipath.grader.remote import _changed, _copy_back, _Plain, _plain_bytes

    stats, counts = [1, 2, [3]], {"a": 1}
    snap_stats, snap_counts = _plain_bytes(stats), _plain_bytes(counts)
    assert snap_stats is not None and snap_counts is not None
    assert not _changed(stats, _Plain(snap_stats))
    theirs_stats, theirs_counts = [1, 2, [3, 4]], {"a": 1, "b": 2}
    assert _changed(theirs_stats, _Plain(snap_stats))
    assert _changed(theirs_counts, _Plain(snap_counts))
    _copy_back({0: theirs_stats, "counts": theirs_counts}, (stats,), {"counts": counts})
    assert stats == [1, 2, [3, 4]] and counts == {"a": 1, "b": 2}
    assert _plain_bytes([object()]) is None


# ----- a check that runs the learner's file itself -----------------------------------------------
RUNS_THE_FILE = """

def test_runs_the_learners_file(learner_file):
    import runpy

    namespace = runpy.run_path(str(learner_file))
    assert namespace["double"](2) == 4


def test_execs_the_learners_source(learner_file):
    source = learner_file.read_text(encoding="utf-8")
    exec(compile(source, str(learner_file), "exec"), {})
"""


@needs_confinement
def test_a_check_that_runs_the_learners_file_is_refused_in_the_trusted_process(
    tmp_path: Path,
) -> None:
    """Learner code never runs where the verdict is decided, even when a check asks it to."""
    lab = tmp_path / "tiny"
    shutil.copytree(TESTS_DIR / "fixtures" / "labs" / "p1" / "01-tiny", lab)
    (lab / "checks.py").write_text(
        (lab / "checks.py").read_text(encoding="utf-8") + RUNS_THE_FILE, encoding="utf-8"
    )
    folder = tmp_path / "work"
    folder.mkdir()
    learner = folder / "exercise.py"
    # A solution that would forge the verdict if it ever ran in the trusted process.
    learner.write_text(
        (lab / "solution.py").read_text(encoding="utf-8")
        + "\nimport os\nif os.getpid() != 1:\n    (__import__('pathlib').Path(__file__).parent"
        " / 'ran-in-trusted').write_text('x')\n",
        encoding="utf-8",
    )
    results = {}
    for verdict in ("trusted", "shared"):
        request = CheckRequest(
            lab_id="p1-tiny",
            lab_dir=str(lab),
            learner_file=str(learner),
            workdir=str(folder),
            timeout_s=20,
            memory_mb=1024,
            verdict_process=verdict,  # type: ignore[arg-type]
        )
        results[verdict] = run_one(request, mode="fork")
        if verdict == "trusted":
            assert not (folder / "ran-in-trusted").exists()
    trusted = {t.name: t for t in results["trusted"].tests}
    assert results["trusted"].status is Status.ERROR, results["trusted"].summary
    for name in ("test_runs_the_learners_file", "test_execs_the_learners_source"):
        assert trusted[name].status is not Status.PASSED
        assert "trusted verdict process" in trusted[name].message, trusted[name].message
    assert trusted["test_double"].status is Status.PASSED
    # The same checks pass in the shared mode, where the learner's code runs in one process anyway.
    assert results["shared"].status is Status.PASSED, results["shared"].summary


@needs_confinement
@pytest.mark.parametrize("verdict", ["trusted", "shared"])
def test_draws_from_the_learners_global_generator_are_seen_in_both_modes(
    tmp_path: Path, verdict: str
) -> None:
    """The check library reads the global generators where learner code runs: in the trusted
    mode that is the learner's process, asked over the check's connection."""
    lab = next(lab for lab in load_catalogue() if lab.id == "p1-probability")
    folder = tmp_path / "work"
    folder.mkdir()
    learner = folder / "exercise.py"
    shutil.copy(lab.source_dir / "mistakes" / "bootstrap_global_rng.py", learner)
    request = CheckRequest(
        lab_id=lab.id,
        lab_dir=str(lab.source_dir),
        learner_file=str(learner),
        workdir=str(folder),
        timeout_s=lab.manifest.timeout_s,
        memory_mb=lab.manifest.memory_mb,
        verdict_process=verdict,  # type: ignore[arg-type]
    )
    result = run_one(request, mode="fork")
    assert result.status is Status.FAILED, result.summary
    messages = " ".join(t.message for t in result.tests)
    assert "drew from (or reseeded) NumPy's global generator" in messages


WATCHES_A_FUNCTION = """

def test_a_watched_learner_function(learner, monkeypatch):
    calls = []
    original = learner.double

    def watched(x):
        calls.append(x)
        return original(x)

    monkeypatch.setattr(learner, "double", watched)
    # the learner's half calls its module's double: that call comes back into this check
    assert learner.half(4.0) == 2.0
    assert calls == [4.0]


def test_the_original_is_back(learner):
    assert learner.half(3.0) == 1.5
    assert "watched" not in repr(learner.double)
"""
HALF_CALLS_DOUBLE = "def double(x):\n    return x * 2\n\n\ndef half(x):\n    return double(x) / 4\n"


@needs_confinement
def test_a_check_can_replace_a_learner_function_with_a_watched_one(tmp_path: Path) -> None:
    lab = tmp_path / "tiny"
    shutil.copytree(TESTS_DIR / "fixtures" / "labs" / "p1" / "01-tiny", lab)
    (lab / "checks.py").write_text(
        (lab / "checks.py").read_text(encoding="utf-8") + WATCHES_A_FUNCTION, encoding="utf-8"
    )
    folder = tmp_path / "work"
    folder.mkdir()
    learner = folder / "exercise.py"
    learner.write_text(HALF_CALLS_DOUBLE, encoding="utf-8")
    request = CheckRequest(
        lab_id="p1-tiny",
        lab_dir=str(lab),
        learner_file=str(learner),
        workdir=str(folder),
        timeout_s=20,
        memory_mb=1024,
        verdict_process="trusted",
    )
    result = run_one(request, mode="fork")
    assert result.status is Status.PASSED, [(t.name, t.message) for t in result.tests]


RECOGNISES_LIBRARY_TYPES = """

def test_a_library_object_passes_isinstance(learner):
    import fractions
    import pathlib

    value = learner.make_fraction()
    assert isinstance(value, fractions.Fraction), type(value)
    assert type(value) is not fractions.Fraction  # still the learner's object, behind a proxy
    assert value.numerator == 3 and str(value) == "3/4"
    assert isinstance(learner.make_path(), pathlib.PurePath)


def test_the_learners_own_class_stays_opaque(learner):
    thing = learner.Thing()
    assert thing.__class__ is type(thing)  # no class claimed: the proxy's own
    assert type(thing).__name__ == "RemoteProxy"
    assert thing.answer() == 42
"""
MAKES_LIBRARY_OBJECTS = (
    "import fractions\nimport pathlib\n\n\ndef double(x):\n    return x * 2\n\n\n"
    "def half(x):\n    return x / 2\n\n\ndef make_fraction():\n    return fractions.Fraction(3, 4)\n\n\n"
    "def make_path():\n    return pathlib.PurePosixPath('a/b')\n\n\n"
    "class Thing:\n    def answer(self):\n        return 42\n"
)


@needs_confinement
def test_learner_objects_of_library_types_pass_isinstance_in_the_trusted_process(
    tmp_path: Path,
) -> None:
    """A learner's ``Pipeline`` (here a ``Fraction``) is recognised by ``isinstance`` in a check;
    its attributes still come from the learner's process; the learner's own classes resolve to
    nothing in the trusted process."""
    result = _tiny_trusted_check(tmp_path, RECOGNISES_LIBRARY_TYPES, MAKES_LIBRARY_OBJECTS)
    assert result.status is Status.PASSED, [(t.name, t.message) for t in result.tests]


def _tiny_trusted_check(tmp_path: Path, extra_checks: str, learner_source: str) -> CheckResult:
    """The tiny fixture lab with ``extra_checks`` appended, run on ``learner_source``, trusted."""
    lab = tmp_path / "tiny"
    shutil.copytree(TESTS_DIR / "fixtures" / "labs" / "p1" / "01-tiny", lab)
    (lab / "checks.py").write_text(
        (lab / "checks.py").read_text(encoding="utf-8") + extra_checks, encoding="utf-8"
    )
    folder = tmp_path / "work"
    folder.mkdir()
    learner = folder / "exercise.py"
    learner.write_text(learner_source, encoding="utf-8")
    request = CheckRequest(
        lab_id="p1-tiny",
        lab_dir=str(lab),
        learner_file=str(learner),
        workdir=str(folder),
        timeout_s=30,
        memory_mb=1024,
        verdict_process="trusted",
    )
    return run_one(request, mode="fork")


COPIES_LEARNER_OBJECTS = """

def test_clone_of_a_learners_estimator_is_built_in_the_check(learner):
    import copy

    import numpy as np
    from sklearn.base import clone
    from sklearn.feature_extraction.text import TfidfVectorizer

    reference = clone(learner.make_vectorizer())  # deep-copies its dtype parameter
    assert type(reference) is TfidfVectorizer  # the check's own object, not a proxy
    assert reference.dtype is np.float32 and reference.ngram_range == (1, 2)
    matrix = reference.fit_transform(["a cat sat", "a dog sat"])
    assert matrix.dtype == np.float32 and matrix.shape[0] == 2
    assert copy.deepcopy(np.dtype("float64")) == np.float64


def test_a_copy_of_a_learner_object_is_made_in_the_learners_process(learner):
    import copy

    box = learner.Box()
    deep, shallow = copy.deepcopy(box), copy.copy(box)
    learner.grow(box)
    assert box.items == [1, 2] and deep.items == [1]  # the deep copy kept its own list
    assert shallow.items == [1, 2]  # a shallow copy shares it, as it would in one process
    assert type(deep).__name__ == "RemoteProxy"  # still learner code's object
"""
MAKES_OBJECTS_TO_COPY = (
    MAKES_LIBRARY_OBJECTS
    + "\n\nimport numpy as np\nfrom sklearn.feature_extraction.text import TfidfVectorizer\n\n\n"
    "def make_vectorizer():\n    return TfidfVectorizer(ngram_range=(1, 2), dtype=np.float32)\n\n\n"
    "class Box:\n    def __init__(self):\n        self.items = [1]\n\n\n"
    "def grow(box):\n    box.items.append(2)\n"
)


@needs_confinement
def test_learner_objects_are_copied_in_the_learners_process(tmp_path: Path) -> None:
    """scikit-learn's ``clone`` of a learner's estimator (p2-text-classification's reference
    vectorizer) deep-copies parameters such as ``dtype=np.float32``: a proxy's copy is made
    where the object lives, and NumPy's dtypes and scalar types cross by value."""
    result = _tiny_trusted_check(tmp_path, COPIES_LEARNER_OBJECTS, MAKES_OBJECTS_TO_COPY)
    assert result.status is Status.PASSED, [(t.name, t.message) for t in result.tests]


def test_numpy_dtypes_and_scalar_types_cross_by_value() -> None:
    import numpy as np

    values = [np.float64, np.int8, np.bool_, np.str_, np.dtype("float32"), np.dtype("<U3")]

    def refuse(value: Any) -> Handle:
        raise AssertionError(f"{value!r} became a handle")

    back = Decoder(_no_handles).decode(Encoder(refuse).encode(values))
    assert back == values and all(b is v for b, v in zip(back[:4], values[:4], strict=True))
    abstract: list[Any] = []
    Encoder(lambda value: abstract.append(value) or Handle(1, False, "type", 0)).encode(
        [np.floating, np.generic, np.object_]
    )
    assert abstract == [np.floating, np.generic, np.object_]  # no dtype of their own: handles
    with pytest.raises(DecodeError):
        Decoder(_no_handles).decode(Encoder(refuse).encode(np.float64).replace(b"<f8", b"|O8"))


def test_only_classes_of_modules_already_loaded_outside_the_learners_folder_are_found(
    tmp_path: Path,
) -> None:
    import fractions
    import sys
    import types

    from aipath.grader.remote import library_class

    assert library_class("fractions:Fraction") is fractions.Fraction
    assert library_class("fractions:Fraction.__init__") is None  # not a class
    assert library_class("builtins:ValueError") is None  # exceptions are rebuilt, never claimed
    assert library_class("no_such_module_here:Thing") is None
    assert "no_such_module_here" not in sys.modules  # nothing is imported for a handle
    assert library_class("fractions:Fraction; import os") is None
    fake = types.ModuleType("learner_helpers")
    fake.__file__ = str(tmp_path / "learner_helpers.py")
    fake.Helper = type("Helper", (), {"__module__": "learner_helpers"})  # type: ignore[attr-defined]
    sys.modules["learner_helpers"] = fake
    try:
        assert library_class("learner_helpers:Helper") is fake.Helper  # type: ignore[attr-defined]
        assert library_class("learner_helpers:Helper", str(tmp_path)) is None
    finally:
        del sys.modules["learner_helpers"]


PASSES_ITS_OWN_OBJECTS = """

def test_a_checks_object_reaches_learner_code_as_a_copy(learner):
    import collections
    import fractions

    table = collections.OrderedDict(a=1)
    assert learner.grow(table) == 2  # learner code changed its copy ...
    assert table == {"a": 1}  # ... never the check's object
    third = fractions.Fraction(1, 3)
    assert str(learner.triple(third)) == "1"


def test_a_copy_keeps_learner_objects_and_check_functions_by_reference(learner):
    import types

    seen = []

    def scale(x):
        seen.append(x)
        return x * 10

    bundle = types.SimpleNamespace(fn=learner.double, scale=scale)
    assert learner.use(bundle, 2) == 40  # the learner's own double, the check's own scale
    assert seen == [2]


def test_a_module_is_never_copied(learner):
    import os

    learner.grow(os)


class Spy(dict):
    pass


def test_an_object_of_a_checks_class_is_refused(learner):
    learner.grow(Spy(a=1))


def test_the_learner_process_still_answers(learner):
    assert learner.triple(2) == 6
"""
GROWS_AND_TRIPLES = (
    "def double(x):\n    return x * 2\n\n\ndef half(x):\n    return x / 2\n\n\n"
    "def grow(table):\n    table['b'] = 2\n    return len(table)\n\n\n"
    "def triple(x):\n    return x * 3\n\n\n"
    "def use(bundle, x):\n    assert bundle.fn is double\n    return bundle.fn(bundle.scale(x))\n"
)


@needs_confinement
def test_a_checks_own_objects_cross_to_learner_code_as_copies(tmp_path: Path) -> None:
    lab = tmp_path / "tiny"
    shutil.copytree(TESTS_DIR / "fixtures" / "labs" / "p1" / "01-tiny", lab)
    (lab / "checks.py").write_text(
        (lab / "checks.py").read_text(encoding="utf-8") + PASSES_ITS_OWN_OBJECTS,
        encoding="utf-8",
    )
    folder = tmp_path / "work"
    folder.mkdir()
    learner = folder / "exercise.py"
    learner.write_text(GROWS_AND_TRIPLES, encoding="utf-8")
    request = CheckRequest(
        lab_id="p1-tiny",
        lab_dir=str(lab),
        learner_file=str(learner),
        workdir=str(folder),
        timeout_s=20,
        memory_mb=1024,
        verdict_process="trusted",
    )
    result = run_one(request, mode="fork")
    tests = {t.name: t for t in result.tests}
    for name in (
        "test_a_checks_object_reaches_learner_code_as_a_copy",
        "test_a_copy_keeps_learner_objects_and_check_functions_by_reference",
    ):
        assert tests[name].status is Status.PASSED, (name, tests[name].message)
    module = tests["test_a_module_is_never_copied"]
    assert module.status is not Status.PASSED and "module os" in module.message, module.message
    # The learner's process could not import the checks to unpickle a Spy: refused before it
    # crosses, with the reason, and the learner's process lives on for the next check.
    spy = tests["test_an_object_of_a_checks_class_is_refused"]
    assert spy.status is not Status.PASSED, spy.message
    assert "Spy is a class of the checks" in spy.message, spy.message
    assert tests["test_the_learner_process_still_answers"].status is Status.PASSED


def test_the_trusted_side_never_unpickles() -> None:
    import pickle

    from aipath.grader.codec import Copied

    data = Encoder(lambda value: Copied(pickle.dumps(value))).encode([b"x", Counter, 1])
    with pytest.raises(DecodeError, match="only the checks' side"):
        Decoder(lambda handle: handle).decode(data)
    assert Decoder(lambda handle: handle, accept_copies=True).decode(data) == [b"x", Counter, 1]


def test_a_category_column_keeps_its_categories_order_and_codes() -> None:
    """XGBoost splits on a category's codes: a column whose categories came back sorted would
    train another model in the learner's process than in the check's (a real failure of
    p2-gradient-boosting in the trusted mode)."""
    import pandas as pd

    column = pd.Categorical(["x", "y", "x", None], categories=["y", "x", "z"], ordered=True)
    frame = pd.DataFrame({"a": column, "b": [1.5, 2.0, 3.0, 4.0]}, index=[7, 3, 9, 1])

    def refuse(value: Any) -> Handle:
        raise AssertionError(f"{type(value)} became a handle")

    back = Decoder(lambda handle: handle).decode(Encoder(refuse).encode(frame))
    assert back.equals(frame)
    assert list(back["a"].cat.categories) == ["y", "x", "z"] and back["a"].cat.ordered
    assert back["a"].cat.codes.tolist() == [1, 0, 1, -1]


SHARES_ITS_SPIES = """

import warnings

import numpy as np
import pytest

from aipath.checks import by_reference, in_learner_process


@by_reference
class ScriptedEnv:
    n_actions = 3

    def __init__(self):
        self.log = []
        self._secret = "the verdict"

    def step(self, action):
        self.log.append(int(action))
        return len(self.log), 1.0, len(self.log) >= 4, {}


@by_reference
class CountingCoin(np.random.Generator):
    def __init__(self):
        super().__init__(np.random.PCG64(0))
        self.draws = 0

    def random(self, *args, **kwargs):
        self.draws += 1
        return 0.25


def test_learner_code_drives_a_checks_spy_in_the_checks_process(learner):
    env = ScriptedEnv()
    assert learner.run(env) == 4
    assert env.log == [0, 1, 2, 0]  # recorded here, where the check reads it
    coin = CountingCoin()
    assert learner.flip(coin) == (True, 0.25)  # isinstance(coin, np.random.Generator) there
    assert coin.draws == 1


def test_a_spy_keeps_its_private_names_and_its_methods_their_owner(learner):
    env = ScriptedEnv()
    assert learner.pry(env) == [
        "AttributeError", "AttributeError", "AttributeError", "PermissionError",
    ]
    assert env.log == [] and env._secret == "the verdict"


def test_an_instance_attribute_is_looked_up_each_time(learner):
    env = ScriptedEnv()
    env.step = lambda action: (0, 0.0, True, {})  # replaced on the object, not its class
    assert learner.run(env) == 1
    assert env.log == []


def test_a_held_array_is_changed_where_learner_code_keeps_it(learner):
    rates = in_learner_process(np.array([0.2, 0.4, 0.6]))
    viewer = learner.Viewer(rates)
    rates[:] = [1.0, 1.0, 1.0]
    rates[0:1] = [0.5]
    assert viewer.total() == 2.5  # the learner kept a view: it sees the check's change


def test_warnings_learner_code_raises_reach_the_check(learner):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        learner.divide_by_zero()
    assert [w.category for w in caught] == [RuntimeWarning], caught
    assert "divide by zero" in str(caught[0].message)
    with pytest.warns(UserWarning, match="mind the gap"):
        learner.custom_warning()


def test_both_processes_share_one_cpu(learner):
    import os

    mine = os.sched_getaffinity(0)
    assert set(learner.cpus()) == mine
    assert len(mine) == 1 or len(os.sched_getaffinity(os.getppid())) == 1
"""
DRIVES_SPIES = """
import os
import warnings

import numpy as np


def run(env):
    steps = 0
    done = False
    while not done:
        _obs, _reward, done, _info = env.step(steps % env.n_actions)
        steps += 1
    return steps


def flip(rng):
    return isinstance(rng, np.random.Generator), rng.random()


def pry(env):
    names = []
    for attempt in (
        lambda: env._secret,
        lambda: env.__dict__,
        lambda: setattr(env, "log", ["forged"]),
        lambda: env.step.func_globals,  # a method handle answers calls only
    ):
        try:
            attempt()
            names.append("allowed")
        except Exception as exc:
            names.append(type(exc).__name__)
    return names


class Viewer:
    def __init__(self, rates):
        self.rates = rates

    def total(self):
        return float(self.rates.sum())


def divide_by_zero():
    return np.array([1.0]) / np.array([0.0])


def custom_warning():
    class GapWarning(UserWarning):
        pass

    warnings.warn("mind the gap", GapWarning)


def cpus():
    return sorted(os.sched_getaffinity(0))
"""


@needs_confinement
def test_check_objects_shared_by_reference_held_values_and_warnings(tmp_path: Path) -> None:
    result = _tiny_trusted_check(tmp_path, SHARES_ITS_SPIES, DRIVES_SPIES)
    tests = {t.name: t for t in result.tests}
    for name in (
        "test_learner_code_drives_a_checks_spy_in_the_checks_process",
        "test_a_spy_keeps_its_private_names_and_its_methods_their_owner",
        "test_an_instance_attribute_is_looked_up_each_time",
        "test_a_held_array_is_changed_where_learner_code_keeps_it",
        "test_warnings_learner_code_raises_reach_the_check",
        "test_both_processes_share_one_cpu",
    ):
        assert tests[name].status is Status.PASSED, (name, tests[name].message)


def test_slices_cross_and_the_series_tag_is_still_a_series() -> None:
    import pandas as pd

    value = [slice(None, 2), slice(1, None, -1), pd.Series([1.0, 2.0], name="s")]
    back = Decoder(_no_handles).decode(Encoder(lambda obj: pytest.fail(repr(obj))).encode(value))
    assert back[:2] == value[:2]
    pd.testing.assert_series_equal(back[2], value[2])


# ----- a check's random generator is one generator on both sides ---------------------------------
MIRRORS_ITS_GENERATORS = """

import numpy as np


def test_a_learners_generator_function_draws_from_the_checks_rng(learner):
    rng = np.random.default_rng(0)
    first = list(learner.shuffled(6, rng))  # the draws happen while the check iterates
    second = list(learner.shuffled(6, rng))
    assert first != second  # as in one process: the second epoch is shuffled afresh
    again = np.random.default_rng(0)
    assert first == list(again.permutation(6)) and second == list(again.permutation(6))
    assert rng.random() == again.random()  # the check's rng moved on exactly as far


def test_a_kept_rng_stays_in_step_and_comes_back_as_itself(learner):
    rng = np.random.default_rng(1)
    agent = learner.Agent(rng)
    rng.random(3)  # the check draws between the learner's draws
    got = agent.act()
    ref = np.random.default_rng(1)
    ref.random(3)
    assert got == ref.integers(10)
    assert agent.rng() is rng  # crossing back, a mirror is the check's own generator
    assert learner.same(rng, rng) is True  # one object there too, each time it crosses
    seen = []
    learner.call_with_rng(lambda r: seen.append(r is rng), agent)
    assert seen == [True]


def test_a_learners_own_generator_still_crosses_as_a_copy(learner):
    theirs = learner.own_rng()
    assert isinstance(theirs, np.random.Generator)
    assert learner.own_draw() == theirs.random()  # a copy at the state it was sent
"""

USES_THE_CHECKS_GENERATORS = """
import numpy as np


def shuffled(n, rng):
    yield from rng.permutation(n).tolist()


class Agent:
    def __init__(self, rng):
        self._rng = rng

    def act(self):
        return int(self._rng.integers(10))

    def rng(self):
        return self._rng


def same(a, b):
    return a is b


def call_with_rng(callback, agent):
    callback(agent.rng())


_OWN = np.random.default_rng(7)


def own_rng():
    return _OWN


def own_draw():
    return float(np.random.default_rng(7).random())
"""


@needs_confinement
def test_a_checks_random_generators_are_mirrored_in_the_learners_process(tmp_path: Path) -> None:
    result = _tiny_trusted_check(tmp_path, MIRRORS_ITS_GENERATORS, USES_THE_CHECKS_GENERATORS)
    tests = {t.name: t for t in result.tests}
    for name in (
        "test_a_learners_generator_function_draws_from_the_checks_rng",
        "test_a_kept_rng_stays_in_step_and_comes_back_as_itself",
        "test_a_learners_own_generator_still_crosses_as_a_copy",
    ):
        assert tests[name].status is Status.PASSED, (name, tests[name].message)


def test_a_mirror_number_the_checks_never_sent_is_refused() -> None:
    import numpy as np

    from aipath.grader.mirrors import GeneratorMirrors

    checks, learners = GeneratorMirrors(creates=True), GeneratorMirrors(creates=False)
    rng = np.random.default_rng(0)
    number = checks.number_of(rng)
    assert number is not None and learners.number_of(np.random.default_rng(0)) is None
    state = rng.bit_generator.state
    mirror = learners.resolve(number, "PCG64", state)
    assert learners.resolve(number, "PCG64", state) is mirror  # one object per check generator
    mirror.random(2)
    moved = learners.moved()
    assert list(moved) == [number]
    learners.sent(moved)
    checks.apply(moved)
    assert rng.random() == mirror.random()
    with pytest.raises(DecodeError, match="no random generator 99"):
        checks.resolve(99, "PCG64", state)
    with pytest.raises(DecodeError, match="no random generator 99"):
        checks.apply({99: state})
    with pytest.raises(DecodeError, match="another kind"):
        checks.apply({number: np.random.Generator(np.random.MT19937(0)).bit_generator.state})
    with pytest.raises(DecodeError):
        Decoder(_no_handles).decode(b"W" + (1).to_bytes(8, "little") + b"s\x05\x00\x00\x00PCG64N")


WATCHES_A_GENERATOR = """

def test_learner_code_iterates_over_a_checks_generator(learner, monkeypatch):
    seen = []
    real = learner.batches

    def watched(n):
        for item in real(n):
            seen.append(item)
            yield item

    monkeypatch.setattr(learner, "batches", watched)
    assert learner.total(3) == 3  # 0 + 1 + 2, through the check's generator
    assert seen == [0, 1, 2]
    assert learner.peek(watched(2)) == "PermissionError"
"""

ITERATES_A_WATCHED_GENERATOR = """
def batches(n):
    yield from range(n)


def total(n):
    return sum(x for x in batches(n))


def peek(gen):
    try:
        gen.gi_frame
    except Exception as exc:
        return type(exc).__name__
"""


@needs_confinement
def test_a_checks_generator_crosses_as_something_to_iterate_over(tmp_path: Path) -> None:
    result = _tiny_trusted_check(tmp_path, WATCHES_A_GENERATOR, ITERATES_A_WATCHED_GENERATOR)
    test = next(t for t in result.tests if t.name.endswith("iterates_over_a_checks_generator"))
    assert test.status is Status.PASSED, test.message


# ----- a library object built where learner code runs; an exception that passes through ---------
BUILDS_AND_PASSES_EXCEPTIONS = """

from collections import OrderedDict

import textwrap

from aipath.checks import built_in_learner_process, learner_process_global


class Refused(ValueError):
    pass


def test_a_library_object_built_in_the_learners_process(learner):
    store = built_in_learner_process(OrderedDict, [("a", 1)])
    learner.fill(store)  # arrives there as that very object
    assert store["b"] == 2 and len(store) == 2  # read there, by the check


def test_a_checks_exception_that_learner_code_lets_through_comes_back_as_itself(learner):
    raised = []

    def model(x):
        raised.append(Refused(f"cannot answer {x}"))
        raise raised[-1]

    try:
        learner.passes_through(model, 3)
    except Refused as exc:
        assert exc is raised[0]
    else:
        raise AssertionError("Refused did not come back")
    try:
        learner.wraps(model, 4)
    except RuntimeError as exc:
        assert "wrapped: cannot answer 4" in str(exc)  # a new exception is rebuilt as before


def test_a_library_global_as_learner_code_left_it_and_exception_args(learner):
    learner.mark_textwrap()
    assert learner_process_global("textwrap", "AIPATH_MARK") == 7
    assert not hasattr(textwrap, "AIPATH_MARK")  # the checks' own module is untouched
    try:
        learner.missing_key()
    except KeyError as exc:
        assert exc.args == ("Neighborhood",) and str(exc) == "'Neighborhood'"
"""

FILLS_AND_PASSES_THROUGH = """
def fill(store):
    store["b"] = 2


def passes_through(model, x):
    try:
        return model(x)
    except ValueError:
        raise


def mark_textwrap():
    import textwrap

    textwrap.AIPATH_MARK = 7


def missing_key():
    return {}["Neighborhood"]


def wraps(model, x):
    try:
        return model(x)
    except ValueError as exc:
        raise RuntimeError(f"wrapped: {exc}") from None
"""


@needs_confinement
def test_built_objects_and_exceptions_that_pass_through(tmp_path: Path) -> None:
    result = _tiny_trusted_check(tmp_path, BUILDS_AND_PASSES_EXCEPTIONS, FILLS_AND_PASSES_THROUGH)
    tests = {t.name: t for t in result.tests}
    for name in (
        "test_a_library_object_built_in_the_learners_process",
        "test_a_checks_exception_that_learner_code_lets_through_comes_back_as_itself",
        "test_a_library_global_as_learner_code_left_it_and_exception_args",
    ):
        assert tests[name].status is Status.PASSED, (name, tests[name].message)


COPIES_A_TORCH_MODULE = """

def test_a_checks_torch_module_reaches_learner_code_as_a_copy(learner):
    import torch

    layer = torch.nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.fill_(0.5)
    assert learner.weight_sum_then_zero(layer) == 3.0  # read its weights there
    assert float(layer.weight.sum()) == 3.0  # what learner code did to the copy stays there
    x = torch.ones(3)
    learner.halve_in_place(x)
    assert x.tolist() == [0.5, 0.5, 0.5]  # a tensor argument changed in place comes back
"""

READS_A_TORCH_MODULE = """
import torch


def halve_in_place(x):
    x /= 2


def weight_sum_then_zero(module):
    total = float(module.weight.sum())
    with torch.no_grad():
        module.weight.zero_()
    return total
"""


@needs_confinement
def test_a_checks_torch_module_crosses_as_a_copy_and_tensors_changed_in_place_come_back(
    tmp_path: Path,
) -> None:
    pytest.importorskip("torch")
    result = _tiny_trusted_check(tmp_path, COPIES_A_TORCH_MODULE, READS_A_TORCH_MODULE)
    test = next(t for t in result.tests if t.name.endswith("reaches_learner_code_as_a_copy"))
    assert test.status is Status.PASSED, test.message


WRITES_A_RELATIVE_FILE = """

def test_learner_code_writes_a_relative_path_into_its_lab_folder(learner, learner_file):
    assert learner.write_here("pipeline.yaml") == str(learner_file.parent)
    assert (learner_file.parent / "pipeline.yaml").read_text() == "ok"
"""

WRITES_HERE = """
import os


def write_here(name):
    with open(name, "w") as handle:
        handle.write("ok")
    return os.getcwd()
"""


@needs_confinement
def test_the_learners_process_works_in_its_lab_folder(tmp_path: Path) -> None:
    result = _tiny_trusted_check(tmp_path, WRITES_A_RELATIVE_FILE, WRITES_HERE)
    test = next(t for t in result.tests if t.name.endswith("relative_path_into_its_lab_folder"))
    assert test.status is Status.PASSED, test.message
