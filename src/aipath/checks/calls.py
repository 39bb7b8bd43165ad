"""Calling the learner's code from a check: an exception it raises becomes a readable verdict.

A ``ValueError`` deep inside scikit-learn, raised because the learner's pipeline handed it NaN,
would otherwise be reported as an error with a long traceback; :func:`call_learner` turns it
into a failure that says which call raised what.  ``NotImplementedError`` always passes through
untouched: it is how the grader tells a task that is not attempted yet.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

from aipath.checks.failure import fail
from aipath.grader.codec import BY_REFERENCE
from aipath.grader.shapes import is_shape_error, shapes_on_line

__all__ = [
    "LEARNER_ERRORS",
    "assert_unchanged",
    "by_reference",
    "call_learner",
    "call_with_inputs",
    "describe_inputs",
    "in_learner_process",
    "once_per_run",
    "raised",
    "run_on_copies",
]

LEARNER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    RuntimeError,
)
"""What a broken learner function usually raises (bugs, not a check's own problems)."""


C = TypeVar("C", bound=type)
V = TypeVar("V")


def by_reference(cls: C) -> C:
    """Mark a class of the checks whose objects learner code uses in place (a class decorator).

    A spy that learner code drives (a scripted policy, an environment that logs each step, a
    generator that records its draws) must record in the checks' process.  With
    ``verdict_process = "trusted"`` the checks' other objects reach learner code as copies, so a
    copied spy would record in the learner's process, where the check cannot see it; an object
    of a marked class crosses as a reference instead: learner code reads its public attributes
    and calls its methods, each answered here, and gets back data, copies, functions or other
    shared objects.  Names with a leading underscore stay out of reach, and learner code cannot
    set attributes on it.  In the shared mode (one process) the mark changes nothing.
    """
    setattr(cls, BY_REFERENCE, True)
    return cls


def built_in_learner_process(cls: Callable[..., V], *args: Any, **kwargs: Any) -> V:
    """``cls(*args, **kwargs)``, made where learner code runs: a library object to hand it.

    Some objects a check gives learner code to fill in cannot be copied across the trusted
    verdict process's boundary (a ``prometheus_client.CollectorRegistry`` holds a lock).  In the
    shared mode this is ``cls(*args, **kwargs)``.  With ``verdict_process = "trusted"`` the object
    is made in the learner's process and the check gets a proxy of it: passed to learner code it
    arrives as that very object, and the check reads it (``registry.get_sample_value(...)``)
    with each call answered there.  ``cls`` must be a library's class, never one of the checks.
    """
    from aipath.grader.remote import active_peer

    peer = active_peer()
    return cls(*args, **kwargs) if peer is None else cast(V, peer.build(cls, args, kwargs))


def learner_process_global(module: str, name: str) -> Any:
    """A library's module-level object as learner code sees it (``prometheus_client.REGISTRY``).

    In the shared mode this is ``getattr(import_module(module), name)``.  With
    ``verdict_process = "trusted"`` learner code runs in another process, whose globals are its
    own: what it registered on a library's global registry is there, not in the checks'
    process.  This returns that object (a proxy; plain data by value).
    """
    from aipath.grader.remote import active_peer

    peer = active_peer()
    if peer is None:
        import importlib

        return getattr(importlib.import_module(module), name)
    return peer.library_global(module, name)


def in_learner_process(value: V) -> V:
    """``value`` as an object that lives where learner code runs: to test aliasing.

    Whether learner code keeps a view of its argument or its own copy shows only when the caller
    changes the argument afterwards.  In the shared mode ``value`` is returned as it is.  With
    ``verdict_process = "trusted"`` arguments cross by value, so a change the check makes to its
    own array never reaches learner code; this returns instead a proxy of a copy of ``value``
    kept in the learner's process: passed to learner code it arrives as that very object, and
    ``held[:] = …`` in the check changes it there.
    """
    from aipath.grader.remote import active_peer

    peer = active_peer()
    return value if peer is None else cast(V, peer.hold(value))


def call_learner(
    what: str,
    func: Callable[..., Any],
    *args: Any,
    hint: str = "",
    errors: tuple[type[BaseException], ...] = LEARNER_ERRORS,
    **kwargs: Any,
) -> Any:
    """``func(*args, **kwargs)``; one of ``errors`` fails the check as "{what} raised …".

    ``hint`` is added after the error (a question that points at the usual cause)::

        model = call_learner("make_pipeline().fit(X, y)", pipe.fit, X, y,
                             hint="Do the missing ages reach a step that cannot take NaN?")
    """
    try:
        return func(*args, **kwargs)
    except NotImplementedError:
        raise
    except errors as exc:
        text = f"{what} raised {type(exc).__name__}: {str(exc)[:300]}"
        fail(f"{text}. {hint}" if hint else text)


def raised(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Exception | None:
    """The exception ``func(*args, **kwargs)`` raised, or None when it returned normally.

    For checks that demand an error (``ValueError`` for a bad label): the check then says what
    was raised instead, or that nothing was.  ``NotImplementedError`` passes through.
    """
    try:
        func(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as exc:  # learner code may raise anything: the caller judges it
        return exc
    return None


def describe_inputs(inputs: Mapping[str, Any]) -> str:
    """``x (2, 3, 7, 7), weight (4, 3, 3, 3), stride 1``: a call's inputs as a message quotes them.

    Tensors and arrays by shape (a short 1-D integer tensor by value: positions, lengths),
    modules by class, mappings by their keys, anything else by ``repr``; ``None`` is left out.
    """
    parts = []
    for key, value in inputs.items():
        shape = getattr(value, "shape", None)
        if value is None:
            continue
        if _is_short_int_vector(value):
            parts.append(f"{key} {value.tolist()}")
        elif shape is not None and hasattr(value, "dtype"):
            kind = "array " if type(value).__module__ == "numpy" else ""
            parts.append(f"{key} {kind}{tuple(shape)}")
        elif hasattr(value, "parameters") and hasattr(value, "forward"):
            parts.append(f"{key} {type(value).__name__}")
        elif isinstance(value, Mapping):
            parts.append(f"{key} {{{', '.join(map(str, value))}}}")
        else:
            parts.append(f"{key} {value!r}")
    return ", ".join(parts)


def _is_short_int_vector(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return (
        torch is not None
        and isinstance(value, torch.Tensor)
        and value.dim() == 1
        and value.numel() <= 12
        and not value.is_floating_point()
        and value.dtype != torch.bool
    )


def _installed_roots() -> tuple[str, ...]:
    """Folders of installed code (the standard library, site-packages, aipath itself)."""
    import sysconfig

    import aipath

    roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.add(str(Path(aipath.__file__).parent))
    return tuple(sorted(roots))


def _learner_line(func: Callable[..., Any], exc: BaseException) -> str:
    """`` — at line N of your file: `code``` for the deepest frame of the learner's code.

    The learner's file is the one ``func`` was defined in, or — when ``func`` is a library object
    the learner built, e.g. an ``nn.Sequential`` — the deepest frame outside installed code.
    """
    # A decorated function (@torch.no_grad(), functools.wraps): the learner's own code; a cycle
    # of __wrapped__ raises ValueError and leaves func as it was.
    with contextlib.suppress(ValueError):
        func = inspect.unwrap(func)
    path = getattr(getattr(func, "__code__", None), "co_filename", None)
    if path is None:
        module = sys.modules.get(getattr(func, "__module__", None) or "")
        path = getattr(module, "__file__", None)
    from aipath.grader.remote import remote_trace

    trace = remote_trace(exc)  # raised in a confined learner process (verdict_process="trusted")
    frames = trace.frames if trace is not None else traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if path and f.filename == path]
    if not mine:
        roots = _installed_roots()
        mine = [f for f in frames if not f.filename.startswith(roots) and "<" not in f.filename]
    if not mine:
        return ""
    return f" — at line {mine[-1].lineno} of your file: `{(mine[-1].line or '').strip()}`"


def call_with_inputs(
    what: str,
    func: Callable[..., Any],
    *args: Any,
    given: str | None = None,
    errors: tuple[type[BaseException], ...] = (Exception,),
    **kwargs: Any,
) -> Any:
    """``func(*args, **kwargs)``; a crash fails as "{what} raised E: … — at line N of your file:
    `code`. The inputs were x (2, 3), k 3", so a shape mismatch reads as one, not as a bare
    torch traceback.  ``given`` describes the inputs instead when the caller has better names.

    ``NotImplementedError`` (an untouched TODO) and running out of memory pass through: the
    grader reports those itself.
    """
    try:
        return func(*args, **kwargs)
    except NotImplementedError:
        raise
    except MemoryError:
        raise
    except errors as exc:
        if isinstance(exc, RuntimeError) and "allocate" in str(exc).lower():
            raise  # torch's out-of-memory: the grader names it
        inputs = given or describe_inputs({f"arg{i}": a for i, a in enumerate(args)} | kwargs)
        shapes = ""
        if is_shape_error(exc):
            path = ""
            with contextlib.suppress(ValueError):
                code = getattr(inspect.unwrap(func), "__code__", None)
                path = getattr(code, "co_filename", "") or ""
            from aipath.grader.remote import remote_trace

            trace = remote_trace(exc)
            if trace is not None:
                met = trace.shapes
            else:
                met = shapes_on_line(exc.__traceback__, path) if path else ""
            shapes = f"; on that line the arrays are {met}" if met else ""
        fail(
            f"{what} raised {type(exc).__name__}: {str(exc).strip()[:300]}"
            f"{_learner_line(func, exc)}{shapes}. The inputs were {inputs}"
        )


def assert_unchanged(
    what: str, passed: Mapping[str, Any], kept: Mapping[str, Any], *, advice: str = ""
) -> None:
    """Fail when learner code changed, in place, a tensor or array it was given.

    ``passed`` are the objects the learner got, ``kept`` untouched copies of them.
    """
    import numpy as np

    for key, original in kept.items():
        given = passed[key]
        if _frame_like(original):
            if not _frame_equal(given, original):
                fail(
                    f"{what} changed its input `{key}` in place (a pandas object it was given "
                    "is no longer as it was): work on a copy (df = df.copy(), or methods that "
                    "return a new frame) — the README's rule is that inputs stay unchanged"
                    + (f" ({advice})" if advice else "")
                )
            continue
        if isinstance(original, list | dict | set):
            try:
                changed = bool(given != original)
            except Exception:  # containers of arrays: == is elementwise, nothing to conclude
                changed = False
            if changed:
                fail(
                    f"{what} changed its input `{key}` in place (the {type(original).__name__} "
                    f"it was given now differs): build a new {type(original).__name__} instead"
                    + (f" ({advice})" if advice else "")
                )
            continue
        if not hasattr(original, "shape") or not hasattr(original, "dtype"):
            continue
        a = np.asarray(given.detach().cpu() if hasattr(given, "detach") else given, dtype=float)
        b = np.asarray(
            original.detach().cpu() if hasattr(original, "detach") else original, dtype=float
        )
        if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
            change = float(np.nanmax(np.abs(a - b))) if a.shape == b.shape else float("nan")
            fail(
                f"{what} changed its input `{key}` in place (max change {change:.3g}). The "
                "caller's tensors must stay as they were: use out-of-place operations"
                + (f" ({advice})" if advice else "")
            )


def _frame_like(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "pandas" and hasattr(value, "equals")


def _frame_equal(given: Any, original: Any) -> bool:
    try:
        return bool(
            given.equals(original)
            and list(getattr(given, "columns", [])) == list(getattr(original, "columns", []))
            and given.index.equals(original.index)
        )
    except Exception:
        return False


def run_on_copies(what: str, func: Callable[..., Any], *, advice: str = "", **inputs: Any) -> Any:
    """The learner's ``func`` on copies of ``inputs`` (:func:`aipath.checks.copied`) (crashes quoted, see
    :func:`call_with_inputs`); fails too when it changed those inputs in place."""
    from aipath.checks.data import copied

    passed = copied(dict(inputs))
    got = call_with_inputs(what, func, **passed)
    assert_unchanged(what, passed, inputs, advice=advice)
    return got


P = ParamSpec("P")
T = TypeVar("T")


def once_per_run(func: Callable[P, T]) -> Callable[P, tuple[T | None, Exception | None]]:
    """Run an expensive learner call once per check run; every check gets the same outcome.

    Returns ``(value, None)`` or ``(None, exception)`` — a failure (``CheckFailure``) or the
    learner's own error — so that a run which raises is not repeated by each check that needs
    its result (a benchmark of several seconds, say); each check then reports it itself, and
    gets its own copy of the value (see :func:`aipath.checks.copied`).
    ``NotImplementedError`` passes through uncached: the task is not attempted yet.
    """

    @functools.cache
    def outcome(*args: Any, **kwargs: Any) -> tuple[T | None, Exception | None]:
        try:
            return func(*args, **kwargs), None
        except NotImplementedError:
            raise
        except Exception as exc:  # shown by every check that asks for the outcome
            return None, exc

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> tuple[T | None, Exception | None]:
        from aipath.checks.data import copied

        value, error = outcome(*args, **kwargs)  # type: ignore[arg-type]  # hashable, as lru_cache needs
        return copied(value), error  # a check that edits the result spoils no other check

    return wrapper
