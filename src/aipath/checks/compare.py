"""Compare a learner's value with the expected one: say what differs, how far, and which mistake.

A check that only says "wrong" teaches nothing.  These helpers say *what* differs (shape, dtype,
columns, rows), *how far* (max absolute and relative error, first mismatching index with both
values) and, when the learner's answer equals the output of a known-wrong approach, *which
mistake* it looks like.

``mistakes=`` has one meaning everywhere: a mapping from a description of the mistake ("softmax
over axis 0") to the output that mistake produces on the same input — or to a zero-argument
callable that computes that output, called only when the comparison has already failed.  The
whole mapping may be such a callable too (``mistakes=partial(softmax_mistakes, x)``).  A wrong
output that is None, or whose computation raises, is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import numpy as np

from aipath.checks.factors import telling_relation
from aipath.checks.failure import CheckFailure, fail, none_message
from aipath.checks.failure import fmt as _fmt
from aipath.checks.slips import invert_on_integers

__all__ = [
    "CheckFailure",
    "Mistakes",
    "assert_array",
    "assert_close",
    "assert_frame",
    "assert_returned",
    "assert_shape",
    "assert_tuple",
    "frame_difference",
    "matching_mistake",
    "mistake_table",
    "text_difference",
]

Mistakes = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
"""Description of a mistake → the wrong output it gives (or a callable computing it lazily);
or a zero-argument callable returning that mapping, called only when a comparison fails."""


def mistake_table(mistakes: Mistakes | None) -> Mapping[str, Any]:
    """The mapping behind ``mistakes=`` (calling it when it is lazy; ``{}`` when it fails)."""
    if mistakes is None:
        return {}
    if callable(mistakes):
        try:
            return mistakes()
        except Exception:
            return {}
    return mistakes


def _wrong_output(wrong: Any) -> Any:
    """Resolve a lazily computed wrong output; a candidate that cannot be computed is skipped."""
    if callable(wrong):
        try:
            return wrong()
        except Exception:
            return None
    return wrong


def assert_returned(
    value: Any,
    name: str = "result",
    *,
    what: str = "it",
    of: type | tuple[type, ...] | None = None,
) -> Any:
    """Fail with the "did you forget to return" message when ``value`` is None; else return it.

    ``what`` names what should have been returned (``"the fitted model"``); ``of`` is the type
    (or types) the value must have: ``assert_returned(got, "clean(df)", of=pd.DataFrame)``.
    """
    if value is None:
        fail(none_message(name, what))
    if of is not None and not isinstance(value, of):
        kinds = of if isinstance(of, tuple) else (of,)
        wanted = " or ".join(_type_name(k) for k in kinds)
        fail(f"{name} should be a {wanted}; got {type(value).__name__}")
    return value


def assert_tuple(
    value: Any,
    parts: int | Sequence[str],
    name: str = "result",
    *,
    allow_list: bool = False,
) -> tuple[Any, ...]:
    """The learner's tuple result, checked: not None, a tuple of the right length; returned.

    ``parts`` is the length, or the names of the parts (they make the message):
    ``X, y = assert_tuple(learner.load_titanic(), ("X", "y"), "load_titanic()")`` fails with
    ``load_titanic() should return a tuple (X, y); got DataFrame``.  ``allow_list=True``
    accepts a list of the right length too.
    """
    if isinstance(parts, int):
        length, shape, what = parts, f"of {parts} values", "the tuple"
    else:
        names = [parts] if isinstance(parts, str) else list(parts)
        length, shape = len(names), f"({', '.join(names)})"
        what = shape
    if value is None:
        fail(none_message(name, what))
    accepted = isinstance(value, tuple) or (allow_list and isinstance(value, list))
    if accepted and len(value) == length:
        return tuple(value)
    if isinstance(value, tuple | list):
        got = f"a {type(value).__name__} of {len(value)} values"
    else:
        got = type(value).__name__
    fail(f"{name} should return a tuple {shape}; got {got}")


def _type_name(kind: type) -> str:
    module = kind.__module__.split(".")[0]
    short = {"pandas": "pandas", "numpy": "numpy", "torch": "torch"}.get(module)
    return f"{short}.{kind.__name__}" if short else kind.__name__


def _index(index: tuple[int, ...]) -> str:
    """``(1,)`` → ``1`` and ``(1, 2)`` → ``1, 2``: as the learner would type it inside ``[]``."""
    return ", ".join(str(i) for i in index)


def _to_array(actual: Any, name: str) -> np.ndarray[Any, Any]:
    if actual is None:
        fail(none_message(name))
    try:
        return np.asarray(actual)
    except Exception as exc:  # pragma: no cover - unusual objects
        fail(f"{name} is a {type(actual).__name__} that cannot be read as an array: {exc}")


def _same(a: Any, b: Any) -> bool:
    """Exact equality that never raises (``==`` on odd objects may)."""
    try:
        same = a == b
    except Exception:
        return False
    return same if isinstance(same, bool) else False


def matching_mistake(
    actual: Any,
    mistakes: Mistakes | None,
    *,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    exact: bool = False,
) -> str | None:
    """The name of the first known-wrong output the learner's answer equals, if any.

    Numbers and arrays match within ``rtol``/``atol``; anything that is not numeric (strings,
    dicts, lists of tuples, merge lists) — or every value when ``exact=True`` — matches by
    ``==``, so structured answers are named as readily as arrays.
    """
    if mistakes is None or actual is None:
        return None
    got: np.ndarray | None = None
    if not exact:
        try:
            got = np.asarray(actual, dtype=float)
        except (TypeError, ValueError):
            got = None
    for label, candidate in mistake_table(mistakes).items():
        wrong = _wrong_output(candidate)
        if wrong is None:
            continue
        if got is None:
            if _same(actual, wrong):
                return label
            continue
        try:
            bad = np.asarray(wrong, dtype=float)
        except (TypeError, ValueError):
            continue
        if bad.shape == got.shape and np.allclose(got, bad, rtol=rtol, atol=atol, equal_nan=True):
            return label
    return None


def assert_shape(actual: Any, shape: tuple[int, ...], *, name: str = "result") -> None:
    """Fail unless ``actual`` reads as an array of exactly ``shape``, quoting both shapes."""
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
    mistakes: Mistakes | None = None,
    check_dtype_kind: bool = True,
    dtype: Any = None,
    n: int | None = None,
    factors: Mapping[str, float] | None = None,
) -> None:
    """Compare arrays element-wise and explain the first difference.

    ``mistakes`` maps a description ("standardized over rows (axis=1) instead of columns") to the
    output that mistake produces on the same input; a match is named in the message.  ``dtype``
    demands exactly that dtype (a contract detail the value comparison would otherwise convert
    away).  When nothing in ``mistakes`` matches, a measured relation is named instead: a
    telling factor (2×, ½, ln 2, n/(n−1) with ``n``, the lab's own ``factors``), an offset of
    one, a square, the values transposed or reversed (:mod:`aipath.checks.factors`).
    """
    got = _to_array(actual, name)
    want = np.asarray(expected)

    def explain(message: str) -> NoReturn:
        # The known-wrong outputs are looked at only once the comparison has failed, so lazy
        # ``mistakes=`` callables cost nothing for a right answer.
        known = matching_mistake(got, mistakes, rtol=max(rtol, 1e-9), atol=max(atol, 1e-12))
        fail(f"{name} looks like {known}. {message}" if known else message)

    if got.shape != want.shape:
        hint = ""
        if got.ndim == 2 and want.ndim == 1 and got.shape == (want.shape[0], want.shape[0]):
            hint = " — an (N,) and an (N, 1) array broadcast into an (N, N) square"
        elif got.ndim == 2 and got.T.shape == want.shape:
            relation = telling_relation(got, want)
            hint = f" — it holds {relation}" if relation else " — the transposed shape"
        explain(f"{name} has shape {got.shape}; expected {want.shape}{hint}")
    if dtype is not None and got.dtype != np.dtype(dtype):
        explain(f"{name} has dtype {got.dtype}; expected {np.dtype(dtype)}")
    if check_dtype_kind and want.dtype.kind in "biuf" and got.dtype.kind not in "biuf":
        explain(f"{name} has dtype {got.dtype}; expected numbers like {want.dtype}")
    if check_dtype_kind and want.dtype.kind == "b" and got.dtype.kind != "b":
        inverted = invert_on_integers(got, want)
        explain(
            f"{name} {inverted}" if inverted else f"{name} has dtype {got.dtype}; expected booleans"
        )
    if want.dtype.kind not in "biufc" or got.dtype.kind not in "biufc":
        equal = got == want
        if np.all(equal):
            return
        index = tuple(int(i) for i in np.argwhere(~np.asarray(equal))[0])
        explain(f"{name}[{_index(index)}] is {_fmt(got[index])}; expected {_fmt(want[index])}")
    g = got.astype(np.float64) if got.dtype.kind != "c" else got
    w = want.astype(np.float64) if want.dtype.kind != "c" else want
    g_nan, w_nan = np.isnan(g), np.isnan(w)
    if np.any(g_nan & ~w_nan):
        index = tuple(int(i) for i in np.argwhere(g_nan & ~w_nan)[0])
        # Only what was measured: NaN is where it is; the arithmetic that makes NaN is a fact
        # about floats, not a diagnosis of this learner's code.
        explain(
            f"{name} contains NaN at index [{_index(index)}] where {_fmt(w[index])} was expected "
            f"({int(np.sum(g_nan & ~w_nan))} NaN in all). NaN comes from 0/0, inf − inf, "
            "0 × inf or a NaN in the inputs"
        )
    g_inf = np.isinf(g) & ~np.isinf(w)
    if np.any(g_inf):
        index = tuple(int(i) for i in np.argwhere(g_inf)[0])
        sign = "+inf" if g[index] > 0 else "-inf"
        origin = (
            "+inf comes from a result beyond the float range (an overflow, e.g. exp of a number "
            "above 709) or x/0"
            if sign == "+inf"
            else "-inf comes from log(0) (a value that underflowed to 0?), -x/0 or an overflow "
            "of a negative number"
        )
        explain(
            f"{name} contains {sign} at index [{_index(index)}] where {_fmt(w[index])} was "
            f"expected ({int(np.sum(g_inf))} infinite in all). {origin}"
        )
    if exact:
        close = (g == w) | (g_nan & w_nan)
    else:
        close = np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
    if np.all(close):
        return
    measured = ~close & np.isfinite(g) & np.isfinite(w)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(np.where(measured, g - w, 0))
    scale = np.abs(np.where(measured, w, 0))
    rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), 0.0)
    first = tuple(int(i) for i in np.argwhere(~close)[0])
    count = int(np.sum(~close))
    where = f"[{_index(first)}]" if first else ""
    errors = (
        f"; max abs error {_fmt(float(diff.max()))}, max rel error {_fmt(float(rel.max()))}"
        if measured.any()
        else " (where infinities differ)"
    )
    relation = telling_relation(g, w, n=n, factors=factors)
    explain(
        f"{name}{where} is {_fmt(g[first])}; expected {_fmt(w[first])}. "
        f"{count} of {g.size} values differ{errors}"
        + ("" if exact else f" (tolerance rtol={rtol:g}, atol={atol:g})")
        + (f" — it is {relation}" if relation else "")
    )


def assert_close(
    actual: Any,
    expected: float,
    *,
    name: str = "result",
    rtol: float = 1e-9,
    atol: float = 1e-12,
    mistakes: Mistakes | None = None,
    n: int | None = None,
    factors: Mapping[str, float] | None = None,
) -> None:
    """Compare one number, quoting both values and the error.

    With no ``mistakes=`` match, a telling factor is named when the value is one (see
    :func:`aipath.checks.factors.telling_relation`; ``n`` and ``factors`` as in assert_array).
    """
    if actual is None:
        fail(none_message(name))
    try:
        value = float(actual)
    except (TypeError, ValueError):
        fail(f"{name} should be a number; got {type(actual).__name__} {actual!r}")
    if math.isnan(value) and not math.isnan(expected):
        fail(f"{name} is NaN; expected {_fmt(expected)}: a log(0), 0/0 or an overflow?")
    if math.isclose(value, expected, rel_tol=rtol, abs_tol=atol):
        return
    # A mistake is recognised at the comparison's own tolerance (a float32 loss cannot equal a
    # recomputation to 1e-9); of several within it, the nearest one is named.
    near: list[tuple[float, str]] = []
    for label, candidate in mistake_table(mistakes).items():
        wrong = _wrong_output(candidate)
        if not isinstance(wrong, int | float | np.number) or isinstance(wrong, bool):
            continue
        if math.isclose(value, float(wrong), rel_tol=max(rtol, 1e-9), abs_tol=max(atol, 1e-12)):
            near.append((abs(value - float(wrong)), label))
    if near:
        label = min(near, key=lambda item: item[0])[1]
        fail(f"{name} is {_fmt(value)}, which looks like {label}; expected {_fmt(expected)}")
    err = abs(value - expected)
    rel = err / abs(expected) if expected else math.inf
    relation = telling_relation(value, expected, n=n, factors=factors)
    fail(
        f"{name} is {_fmt(value)}; expected {_fmt(expected)} "
        f"(abs error {_fmt(err)}, rel error {_fmt(rel)})"
        + (f" — it is {relation.replace('expected values', 'expected value')}" if relation else "")
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
    clues: Mapping[str, str] | None = None,
    mistakes: Mistakes | None = None,
    source: Any = None,
) -> None:
    """Compare DataFrames (or Series) and name the column and row that differ.

    ``source`` is the input frame: lost rows are traced to it (see :func:`frame_difference`).

    ``clues`` explains a kind of difference: ``{"rows": "an inner join dropped rows without a
    match: use how='left'"}`` is added when the row count differs, ``"order"`` when the index
    order differs.  ``mistakes`` maps a description to the wrong frame a mistake produces (or a
    callable computing it); a learner frame equal to one of them is named.
    """
    options = {
        "check_column_order": check_column_order,
        "check_index": check_index,
        "check_dtype": check_dtype,
        "rtol": rtol,
        "atol": atol,
        "sort_by": sort_by,
    }
    message = frame_difference(actual, expected, name=name, clues=clues, source=source, **options)  # type: ignore[arg-type]
    if message is None:
        return
    for label, candidate in mistake_table(mistakes).items():
        wrong = _wrong_output(candidate)
        if wrong is None:
            continue
        try:
            same = frame_difference(actual, wrong, name=name, **options) is None  # type: ignore[arg-type]
        except Exception:
            same = False
        if same:
            fail(f"{name} looks like {label}. {message}")
    fail(message)


def frame_difference(
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
    clues: Mapping[str, str] | None = None,
    source: Any = None,
) -> str | None:
    """The first difference between two frames as a message, or None when they are equal.

    ``source`` is the frame the learner's function was given: rows lost on the way are then
    traced to what they had in common there (a missing value in one column: a ``dropna``).
    """
    import pandas as pd

    if actual is None:
        return none_message(name)
    if isinstance(expected, pd.Series):
        if not isinstance(actual, pd.Series):
            return f"{name} should be a pandas Series; got {type(actual).__name__}"
        actual = actual.to_frame(name=expected.name if expected.name is not None else 0)
        expected = expected.to_frame(name=expected.name if expected.name is not None else 0)
    if not isinstance(actual, pd.DataFrame):
        return f"{name} should be a pandas DataFrame; got {type(actual).__name__}"
    missing = [c for c in expected.columns if c not in actual.columns]
    extra = [c for c in actual.columns if c not in expected.columns]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if extra:
            parts.append(f"unexpected columns {extra}")
        return f"{name} has {' and '.join(parts)}; expected columns {list(expected.columns)}"
    if check_column_order and list(actual.columns) != list(expected.columns):
        return (
            f"{name} has columns in order {list(actual.columns)}; expected {list(expected.columns)}"
        )
    actual = actual[list(expected.columns)]
    if sort_by:
        actual = actual.sort_values(sort_by).reset_index(drop=True)
        expected = expected.sort_values(sort_by).reset_index(drop=True)
    if len(actual) != len(expected):
        clue = (clues or {}).get("rows", "") or (
            "" if sort_by else _lost_rows(actual, expected, source)
        )
        return f"{name} has {len(actual)} rows; expected {len(expected)}" + (
            f" — {clue}" if clue else ""
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
            return f"{name} index differs in type: {actual.index.dtype} vs {expected.index.dtype}"
        clue = (clues or {}).get("order", "")
        return (
            f"{name} row {pos} has index {actual.index[pos]!r}; expected {expected.index[pos]!r}"
            + (f" — {clue}" if clue else "")
        )
    for column in expected.columns:
        got, want = actual[column], expected[column]
        if check_dtype and got.dtype != want.dtype:
            return f"{name} column {column!r} has dtype {got.dtype}; expected {want.dtype}"
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
            return (
                f"{name} column {column!r}, row {label!r}: got {_fmt(g_values[pos])}, expected "
                f"{_fmt(w_values[pos])} ({count} of {len(same)} rows differ{extra_text})"
            )
    return None


def _lost_rows(actual: Any, expected: Any, source: Any) -> str:
    """Which rows went missing (or were added), and what the lost ones share in ``source``."""
    import pandas as pd

    have, want = actual.index, expected.index
    if len(actual) > len(expected):
        if have.has_duplicates and not want.has_duplicates:
            repeated = list(dict.fromkeys(have[have.duplicated()]))[:5]
            return (
                f"index labels {repeated} appear more than once: a join matched some rows "
                "several times (duplicate keys on the other side?)"
            )
        return ""
    if not set(have) <= set(want):
        return ""
    lost = [label for label in want if label not in set(have)]
    shown = ", ".join(repr(label) for label in lost[:5]) + (" …" if len(lost) > 5 else "")
    text = f"{len(lost)} row{'s' if len(lost) != 1 else ''} missing (index {shown})"
    for frame in (source, expected):
        if not isinstance(frame, pd.DataFrame) or not set(lost) <= set(frame.index):
            continue
        rows = frame.loc[lost]
        kept = frame.loc[[label for label in frame.index if label not in set(lost)]]
        for column in frame.columns:
            if rows[column].isna().all() and not kept[column].isna().any():
                return (
                    f"{text}: exactly the rows with a missing {column!r} were dropped "
                    "(a dropna where the README keeps them?)"
                )
        break
    return text


def text_difference(got: str, want: str, *, expected: str = "expected", context: int = 30) -> str:
    """Where two texts part: the character offset and a window of each around it.

    ``"they part at character 41 of 120: got '...', expected '...'"``; an empty string when the
    texts are equal.  ``expected`` names the reference ("the template writes").
    """
    if got == want:
        return ""
    at = next(
        (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
        min(len(got), len(want)),
    )
    start = max(0, at - context)
    end = at + context + 10
    return (
        f"they part at character {at} of {len(want)}: got {got[start:end]!r}, "
        f"{expected} {want[start:end]!r}"
    )
