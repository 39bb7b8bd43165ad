"""Turn an exception into a message about the learner's code, not the engine's.

A learner should see *their* line: the engine, pytest and library frames are noise.  When no
frame of theirs is involved (a check tripped over a wrong return value), say so instead.
"""

from __future__ import annotations

import linecache
import traceback
from types import TracebackType

from aipath.grader.results import ErrorInfo, ErrorKind
from aipath.grader.shapes import is_shape_error, shapes_on_line


def learner_frames(tb: TracebackType | None, learner_path: str) -> list[traceback.FrameSummary]:
    return [f for f in traceback.extract_tb(tb) if f.filename == learner_path]


def exception_frames(exc: BaseException, learner_path: str) -> list[traceback.FrameSummary]:
    """The learner's frames of ``exc``: its own traceback's, or for an exception rebuilt from a
    confined learner process (verdict_process = "trusted"), the frames that process reported."""
    from aipath.grader.remote import remote_trace

    trace = remote_trace(exc)
    if trace is not None:
        return [f for f in trace.frames if f.filename == learner_path]
    return learner_frames(exc.__traceback__, learner_path)


def format_frames(frames: list[traceback.FrameSummary]) -> str:
    lines = []
    for frame in frames:
        lines.append(f"  line {frame.lineno}, in {frame.name}")
        source = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
        if source:
            lines.append(f"    {source}")
    return "\n".join(lines)


def describe_exception(exc: BaseException, learner_path: str, *, context: str) -> ErrorInfo:
    """An ErrorInfo naming the kind of problem, the learner's line and how to move on."""
    from aipath.grader.sandbox import LearnerExit, SandboxViolation

    frames = exception_frames(exc, learner_path)
    last = frames[-1] if frames else None
    line = last.lineno if last else None
    source = (last.line or "").strip() if last else None
    where = f" at line {line}" if line else ""
    trace = format_frames(frames) if frames else None

    if isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and "allocate" in str(exc).lower()
    ):
        return ErrorInfo(
            kind=ErrorKind.MEMORY,
            message=f"memory limit: your code asked for more memory than the lab allows{where} "
            f"({context}). Look for a huge allocation such as [0] * 10**12 or an ever-growing list.",
            line=line,
            source=source,
            traceback=trace,
        )
    if isinstance(exc, SandboxViolation):
        return ErrorInfo(kind=ErrorKind.SANDBOX, message=str(exc), line=line, source=source)
    if isinstance(exc, SystemExit | LearnerExit):
        code = exc.code
        call = "os._exit" if isinstance(exc, LearnerExit) else "sys.exit"
        return ErrorInfo(
            kind=ErrorKind.EXIT,
            message=f"your code called {call}({code!r}){where} ({context}); a lab function must "
            "return its result instead of ending the program",
            line=line,
            source=source,
            traceback=trace,
        )
    if isinstance(exc, ImportError):
        missing = getattr(exc, "name", None)
        detail = (
            f"no module named '{missing}'" if isinstance(exc, ModuleNotFoundError) else str(exc)
        )
        return ErrorInfo(
            kind=ErrorKind.IMPORT,
            message=f"import error{where}: {detail}. Check the spelling, or use a library "
            "the lab lists in its README.",
            line=line,
            source=source,
            traceback=trace,
        )
    name = type(exc).__name__
    text = str(exc).strip()
    head = f"{name}: {text}" if text else name
    from aipath.grader.remote import remote_trace

    remote = remote_trace(exc)
    if frames and (remote.shape_error if remote is not None else is_shape_error(exc)):
        shapes = (
            remote.shapes if remote is not None else shapes_on_line(exc.__traceback__, learner_path)
        )
        if shapes:
            head += (
                f"\n  a shape mismatch at line {line}: the arrays there are {shapes} — check "
                "which axis each operand needs (print .shape before the line)"
            )
    if frames:
        message = f"{head}\n  raised in your code {context}:\n{trace}"
    else:
        message = f"{head}\n  raised {context}, outside your file: check what your function returns"
    return ErrorInfo(
        kind=ErrorKind.EXCEPTION, message=message, line=line, source=source, traceback=trace
    )
