"""Feedback helpers for ``checks.py``: compare, measure how far off, and name the known mistake.

A check that only says "wrong" teaches nothing.  These helpers say *what* differs (shape, dtype,
columns, rows), *how far* (max absolute and relative error, first mismatching index with both
values) and, when the learner's answer equals the output of a known-wrong approach, *which
mistake* it looks like.  Every failure raises :class:`CheckFailure` (an ``AssertionError``), whose
message the learner sees verbatim.
"""

from __future__ import annotations

import ast
import inspect
import math
import textwrap
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import numpy as np

__all__ = [
    "CheckFailure",
    "assert_array",
    "assert_beats",
    "assert_close",
    "assert_frame",
    "assert_in_band",
    "assert_shape",
    "fail",
    "gradient_check",
    "matching_mistake",
    "no_loops",
    "numerical_gradient",
]


class CheckFailure(AssertionError):
    """A check's verdict with the message the learner reads."""


def fail(message: str) -> NoReturn:
    raise CheckFailure(message)


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    if isinstance(value, np.ndarray) and value.size > 8:
        return np.array2string(value, precision=4, threshold=8, edgeitems=2)
    return repr(value) if not isinstance(value, np.generic) else repr(value.item())


def _none_message(name: str) -> str:
    return f"{name} is None: did you forget to `return` it?"


def _to_array(actual: Any, name: str) -> np.ndarray[Any, Any]:
    if actual is None:
        fail(_none_message(name))
    try:
        return np.asarray(actual)
    except Exception as exc:  # pragma: no cover - unusual objects
        fail(f"{name} is a {type(actual).__name__} that cannot be read as an array: {exc}")


def matching_mistake(
    actual: Any, mistakes: Mapping[str, Any] | None, *, rtol: float = 1e-9, atol: float = 1e-12
) -> str | None:
    """The name of the first known-wrong output the learner's answer equals, if any."""
    if not mistakes or actual is None:
        return None
    try:
        got = np.asarray(actual, dtype=float)
    except (TypeError, ValueError):
        return None
    for label, wrong in mistakes.items():
        try:
            bad = np.asarray(wrong, dtype=float)
        except (TypeError, ValueError):
            continue
        if bad.shape == got.shape and np.allclose(got, bad, rtol=rtol, atol=atol, equal_nan=True):
            return label
    return None


def assert_shape(actual: Any, shape: tuple[int, ...], *, name: str = "result") -> None:
    got = _to_array(actual, name)
    if got.shape != tuple(shape):
        fail(f"{name} has shape {got.shape}; expected {tuple(shape)}")


def assert_array(
    actual: Any,
    expected: Any,
    *,
    name: str = "result",
    rtol: float = 1e-9,
    atol: float = 1e-12,
    exact: bool = False,
    mistakes: Mapping[str, Any] | None = None,
    check_dtype_kind: bool = True,
) -> None:
    """Compare arrays element-wise and explain the first difference.

    ``mistakes`` maps a description ("standardized over rows (axis=1) instead of columns") to the
    output that mistake produces on the same input; a match is named in the message.
    """
    got = _to_array(actual, name)
    want = np.asarray(expected)
    known = matching_mistake(got, mistakes, rtol=max(rtol, 1e-9), atol=max(atol, 1e-12))
    prefix = f"{name} looks like {known}. " if known else ""
    if got.shape != want.shape:
        hint = ""
        if got.ndim == 2 and want.ndim == 1 and got.shape == (want.shape[0], want.shape[0]):
            hint = " — an (N,) and an (N, 1) array broadcast into an (N, N) square"
        fail(f"{prefix}{name} has shape {got.shape}; expected {want.shape}{hint}")
    if check_dtype_kind and want.dtype.kind in "biuf" and got.dtype.kind not in "biuf":
        fail(f"{prefix}{name} has dtype {got.dtype}; expected numbers like {want.dtype}")
    if check_dtype_kind and want.dtype.kind == "b" and got.dtype.kind != "b":
        fail(f"{prefix}{name} has dtype {got.dtype}; expected booleans")
    if want.dtype.kind not in "biufc" or got.dtype.kind not in "biufc":
        equal = got == want
        if np.all(equal):
            return
        index = tuple(int(i) for i in np.argwhere(~np.asarray(equal))[0])
        fail(f"{prefix}{name}[{index}] is {_fmt(got[index])}; expected {_fmt(want[index])}")
    g = got.astype(np.float64) if got.dtype.kind != "c" else got
    w = want.astype(np.float64) if want.dtype.kind != "c" else want
    g_nan, w_nan = np.isnan(g), np.isnan(w)
    if np.any(g_nan & ~w_nan):
        index = tuple(int(i) for i in np.argwhere(g_nan & ~w_nan)[0])
        fail(
            f"{prefix}{name} contains NaN at index {index} where {_fmt(w[index])} was expected "
            f"({int(np.sum(g_nan & ~w_nan))} NaN in all): a log(0), 0/0 or an overflow?"
        )
    g_inf = np.isinf(g) & ~np.isinf(w)
    if np.any(g_inf):
        index = tuple(int(i) for i in np.argwhere(g_inf)[0])
        fail(
            f"{prefix}{name} contains inf at index {index} where {_fmt(w[index])} was expected: "
            "an overflow (exp of a large number?) or a division by zero"
        )
    if exact:
        close = (g == w) | (g_nan & w_nan)
    else:
        close = np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
    if np.all(close):
        return
    diff = np.abs(np.where(g_nan | w_nan, 0, g - w))
    scale = np.abs(np.where(w_nan, 0, w))
    rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), 0.0)
    first = tuple(int(i) for i in np.argwhere(~close)[0])
    count = int(np.sum(~close))
    where = f"[{first}]" if first else ""
    fail(
        f"{prefix}{name}{where} is {_fmt(g[first])}; expected {_fmt(w[first])}. "
        f"{count} of {g.size} values differ; max abs error {_fmt(float(diff.max()))}, "
        f"max rel error {_fmt(float(rel.max()))}"
        + ("" if exact else f" (tolerance rtol={rtol:g}, atol={atol:g})")
    )


def assert_close(
    actual: Any,
    expected: float,
    *,
    name: str = "result",
    rtol: float = 1e-9,
    atol: float = 1e-12,
    mistakes: Mapping[str, float] | None = None,
) -> None:
    """Compare one number, quoting both values and the error."""
    if actual is None:
        fail(_none_message(name))
    try:
        value = float(actual)
    except (TypeError, ValueError):
        fail(f"{name} should be a number; got {type(actual).__name__} {actual!r}")
    if math.isnan(value) and not math.isnan(expected):
        fail(f"{name} is NaN; expected {_fmt(expected)}: a log(0), 0/0 or an overflow?")
    if math.isclose(value, expected, rel_tol=rtol, abs_tol=atol):
        return
    for label, wrong in (mistakes or {}).items():
        if math.isclose(value, wrong, rel_tol=1e-9, abs_tol=1e-12):
            fail(f"{name} is {_fmt(value)}, which looks like {label}; expected {_fmt(expected)}")
    err = abs(value - expected)
    rel = err / abs(expected) if expected else math.inf
    fail(
        f"{name} is {_fmt(value)}; expected {_fmt(expected)} "
        f"(abs error {_fmt(err)}, rel error {_fmt(rel)})"
    )


def assert_frame(
    actual: Any,
    expected: Any,
    *,
    name: str = "result",
    check_column_order: bool = False,
    check_index: bool = True,
    check_dtype: bool = False,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    sort_by: list[str] | None = None,
    mistakes: Mapping[str, str] | None = None,
) -> None:
    """Compare DataFrames (or Series) and name the column and row that differ.

    ``mistakes`` maps a row-count or shape clue to its explanation, e.g.
    ``{"rows": "an inner join dropped rows without a match: use how='left'"}`` is shown when the
    row count differs.
    """
    import pandas as pd

    if actual is None:
        fail(_none_message(name))
    if isinstance(expected, pd.Series):
        if not isinstance(actual, pd.Series):
            fail(f"{name} should be a pandas Series; got {type(actual).__name__}")
        actual = actual.to_frame(name=expected.name if expected.name is not None else 0)
        expected = expected.to_frame(name=expected.name if expected.name is not None else 0)
    if not isinstance(actual, pd.DataFrame):
        fail(f"{name} should be a pandas DataFrame; got {type(actual).__name__}")
    missing = [c for c in expected.columns if c not in actual.columns]
    extra = [c for c in actual.columns if c not in expected.columns]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if extra:
            parts.append(f"unexpected columns {extra}")
        fail(f"{name} has {' and '.join(parts)}; expected columns {list(expected.columns)}")
    if check_column_order and list(actual.columns) != list(expected.columns):
        fail(
            f"{name} has columns in order {list(actual.columns)}; expected {list(expected.columns)}"
        )
    actual = actual[list(expected.columns)]
    if sort_by:
        actual = actual.sort_values(sort_by).reset_index(drop=True)
        expected = expected.sort_values(sort_by).reset_index(drop=True)
    if len(actual) != len(expected):
        clue = (mistakes or {}).get("rows", "")
        fail(
            f"{name} has {len(actual)} rows; expected {len(expected)}"
            + (f" — {clue}" if clue else "")
        )
    if check_index and not actual.index.equals(expected.index):
        pos = next(
            (
                i
                for i, (a, b) in enumerate(zip(actual.index, expected.index, strict=True))
                if a != b
            ),
            None,
        )
        if pos is None:
            fail(f"{name} index differs in type: {actual.index.dtype} vs {expected.index.dtype}")
        clue = (mistakes or {}).get("order", "")
        fail(
            f"{name} row {pos} has index {actual.index[pos]!r}; expected {expected.index[pos]!r}"
            + (f" — {clue}" if clue else "")
        )
    for column in expected.columns:
        got, want = actual[column], expected[column]
        if check_dtype and got.dtype != want.dtype:
            fail(f"{name} column {column!r} has dtype {got.dtype}; expected {want.dtype}")
        g_values = got.to_numpy()
        w_values = want.to_numpy()
        numeric = pd.api.types.is_numeric_dtype(want) and pd.api.types.is_numeric_dtype(got)
        if numeric and not pd.api.types.is_bool_dtype(want):
            g = got.astype("float64").to_numpy()
            w = want.astype("float64").to_numpy()
            same = np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
        else:
            # Vectorized: equal values, or missing on both sides (NaN, None, NaT, pd.NA).
            g_series = pd.Series(g_values, dtype=object)
            w_series = pd.Series(w_values, dtype=object)
            both_missing = (g_series.isna() & w_series.isna()).to_numpy()
            try:
                equal = (g_series == w_series).fillna(False).to_numpy(dtype=bool)
            except (TypeError, ValueError):
                pairs = zip(g_values, w_values, strict=True)
                equal = np.array([a == b for a, b in pairs], dtype=bool)
            same = equal | both_missing
        if not same.all():
            pos = int(np.argmin(same))
            label = actual.index[pos]
            count = int((~same).sum())
            extra_text = ""
            if numeric and not pd.api.types.is_bool_dtype(want):
                diff = np.nanmax(np.abs(g - w)) if count else 0.0
                extra_text = f"; max abs error in the column {_fmt(float(diff))}"
            fail(
                f"{name} column {column!r}, row {label!r}: got {_fmt(g_values[pos])}, expected "
                f"{_fmt(w_values[pos])} ({count} of {len(same)} rows differ{extra_text})"
            )


def assert_in_band(
    value: Any, low: float, high: float, *, name: str = "score", unit: str = ""
) -> None:
    """For trained metrics: any value in a reasonable band passes."""
    if value is None:
        fail(_none_message(name))
    number = float(value)
    if math.isnan(number) or not low <= number <= high:
        fail(f"{name} is {_fmt(number)}{unit}; expected between {_fmt(low)} and {_fmt(high)}{unit}")


def assert_beats(
    value: Any,
    baseline: float,
    *,
    margin: float = 0.0,
    higher_is_better: bool = True,
    name: str = "score",
    baseline_name: str = "the baseline",
) -> None:
    """For trained metrics: must improve on a baseline the check computed itself."""
    if value is None:
        fail(_none_message(name))
    number = float(value)
    if higher_is_better:
        ok = number >= baseline + margin
        need = f"at least {_fmt(baseline + margin)}"
    else:
        ok = number <= baseline - margin
        need = f"at most {_fmt(baseline - margin)}"
    if math.isnan(number) or not ok:
        fail(
            f"{name} is {_fmt(number)}; {baseline_name} scores {_fmt(baseline)}, so it must be "
            f"{need} (margin {_fmt(margin)})"
        )


def numerical_gradient(
    f: Callable[[np.ndarray[Any, Any]], float], x: np.ndarray[Any, Any], eps: float = 1e-6
) -> np.ndarray[Any, Any]:
    """Central differences, one coordinate at a time (float64)."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        up = float(f(x))
        x[index] = old - eps
        down = float(f(x))
        x[index] = old
        grad[index] = (up - down) / (2 * eps)
    return grad


def gradient_check(
    f: Callable[[np.ndarray[Any, Any]], float],
    x: np.ndarray[Any, Any],
    analytic: Any,
    *,
    eps: float = 1e-6,
    tol: float = 1e-7,
    name: str = "gradient",
) -> float:
    """Compare an analytic gradient with central differences; return the relative error."""
    got = _to_array(analytic, name).astype(np.float64)
    numeric = numerical_gradient(f, x, eps)
    if got.shape != numeric.shape:
        fail(f"{name} has shape {got.shape}; expected {numeric.shape} (the shape of the input)")
    scale = max(float(np.linalg.norm(got) + np.linalg.norm(numeric)), 1e-12)
    rel = float(np.linalg.norm(got - numeric)) / scale
    if rel <= tol:
        return rel
    flipped = float(np.linalg.norm(-got - numeric)) / scale
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(got - numeric)), got.shape))
    clue = " It looks like a sign error." if flipped <= tol else ""
    fail(
        f"{name} relative error {rel:.3g} (must be ≤ {tol:g}); worst at index {worst}: "
        f"yours {_fmt(got[worst])}, numerical {_fmt(numeric[worst])}.{clue}"
    )


def _only_raises_not_implemented(tree: ast.Module) -> bool:
    """True for an untouched starter body: (docstring) + raise NotImplementedError."""
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if len(functions) != 1:
        return False
    body = [
        n
        for n in functions[0].body
        if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
    ]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc
    target = exc.func if isinstance(exc, ast.Call) else exc
    return isinstance(target, ast.Name) and target.id == "NotImplementedError"


def no_loops(
    func: Callable[..., Any], *, name: str | None = None, allow_comprehensions: bool = False
) -> None:
    """Reject Python-level loops in a function that the task asks to vectorize."""
    label = name or getattr(func, "__name__", "function")
    try:
        source = textwrap.dedent(inspect.getsource(func))
        first_line = inspect.getsourcelines(func)[1]
    except (OSError, TypeError):
        return  # source unavailable (a builtin or a lambda from elsewhere): nothing to inspect
    tree = ast.parse(source)
    if _only_raises_not_implemented(tree):
        raise NotImplementedError(f"{label} is still the starter's TODO")
    loops: tuple[type[ast.AST], ...] = (ast.For, ast.While, ast.AsyncFor)
    if not allow_comprehensions:
        loops += (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    for node in ast.walk(tree):
        if isinstance(node, loops):
            kind = {
                ast.For: "a `for` loop",
                ast.AsyncFor: "an `async for` loop",
                ast.While: "a `while` loop",
            }.get(type(node), "a comprehension")
            line = first_line + getattr(node, "lineno", 1) - 1
            fail(
                f"{label} uses {kind} at line {line}; this task asks for whole-array "
                "operations (broadcasting, ufuncs, axis= arguments) instead"
            )
