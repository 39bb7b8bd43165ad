"""Recognise a wrong answer that is the right one off by a telling factor, offset or order.

"value 0.3466 differs from 0.5" teaches little; "every value is ln 2 = 0.693× the expected one"
points straight at a natural log where a base-2 log belongs.  The relation is *measured* on the
values (every element, not one) before it is named, and the message states the measured fact
first; the likely cause follows as a question, since the same factor can have other causes.

:func:`telling_relation` is what :func:`aipath.checks.assert_array` and
:func:`aipath.checks.assert_close` append to a value mismatch that no ``mistakes=`` entry named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["telling_factor", "telling_relation"]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _factors(n: int | None) -> list[tuple[float, str]]:
    """(factor got/expected, what it says): the factors that name a common slip."""
    table: list[tuple[float, str]] = [
        (2.0, "exactly 2× the expected values: counted twice, or a step of 2h where h belongs?"),
        (
            0.5,
            "exactly half the expected values: divided by 2 once too often, or h where 2h belongs?",
        ),
        (-1.0, "the expected values with the sign flipped: a subtraction the wrong way round?"),
        (_LN2, "ln 2 = 0.693× the expected values: a natural log where log base 2 belongs?"),
        (
            1 / _LN2,
            "1/ln 2 = 1.443× the expected values: log base 2 where the natural log belongs?",
        ),
        (_LN10, "ln 10 = 2.303× the expected values: a natural log where log base 10 belongs?"),
        (
            1 / _LN10,
            "1/ln 10 = 0.434× the expected values: log base 10 where the natural log belongs?",
        ),
        (
            math.log2(10),
            "log2(10) = 3.32× the expected values: log base 2 where log base 10 belongs?",
        ),
        (
            math.log10(2),
            "log10(2) = 0.301× the expected values: log base 10 where log base 2 belongs?",
        ),
        (100.0, "100× the expected values: a percentage where a fraction belongs?"),
        (0.01, "1/100 of the expected values: a fraction where a percentage belongs?"),
    ]
    if n is not None and n > 1:
        table += [
            (float(n), f"n = {n} times the expected values: a sum where a mean belongs?"),
            (1.0 / n, f"1/n of the expected values (n = {n}): divided by n once too often?"),
            (
                n / (n - 1),
                f"n/(n−1) = {n / (n - 1):.4g}× the expected values (n = {n}): divided by n − 1 "
                "where n belongs?",
            ),
            (
                float(n - 1),
                f"n − 1 = {n - 1} times the expected values: a sum where a mean over n − 1 "
                "belongs?",
            ),
            (
                1.0 / (n - 1),
                f"1/(n−1) of the expected values (n = {n}): divided by n − 1 where no division "
                "belongs?",
            ),
            (
                (n - 1) / n,
                f"(n−1)/n = {(n - 1) / n:.4g}× the expected values (n = {n}): divided by n "
                "where n − 1 belongs?",
            ),
        ]
    return table


def _as_floats(value: Any) -> np.ndarray[Any, Any] | None:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def telling_factor(
    actual: Any,
    expected: Any,
    *,
    n: int | None = None,
    factors: Mapping[str, float] | None = None,
    rtol: float = 1e-6,
) -> str | None:
    """What constant factor turns ``expected`` into ``actual``, if it is a telling one.

    ``n`` is the sample size that n, 1/n and n/(n−1) are measured against; ``factors`` adds
    factors of the lab's own (``{"a step of h where 2h belongs": 0.5}``), tried first.  None
    when the ratio is not the same for every element, or is not one of these.
    """
    got, want = _as_floats(actual), _as_floats(expected)
    if got is None or want is None or got.shape != want.shape or got.size == 0:
        return None
    finite = np.isfinite(got) & np.isfinite(want)
    if not finite.all():
        return None
    zero = want == 0
    if np.any(zero) and not np.allclose(got[zero], 0.0, atol=1e-12):
        return None
    used = ~zero
    if not used.any():
        return None
    ratios = got[used] / want[used]
    ratio = float(np.median(ratios))
    if not np.allclose(ratios, ratio, rtol=rtol, atol=0.0) or math.isclose(
        ratio, 1.0, rel_tol=rtol
    ):
        return None
    for label, value in (factors or {}).items():
        if math.isclose(ratio, value, rel_tol=max(rtol, 1e-6)):
            return f"{ratio:.4g}× the expected values: {label}?"
    for value, label in _factors(n):
        if math.isclose(ratio, value, rel_tol=max(rtol, 1e-6)):
            return label
    return None


def _relation(got: np.ndarray[Any, Any], want: np.ndarray[Any, Any]) -> str | None:
    """Offsets, powers and order: relations other than a constant factor, measured exactly."""
    if got.shape != want.shape or got.size == 0:
        return None
    if not (np.isfinite(got).all() and np.isfinite(want).all()):
        return None
    offset = got - want
    if got.size > 1 or want.size == 1:
        step = float(np.median(offset))
        if step in (1.0, -1.0) and np.allclose(offset, step, rtol=0, atol=1e-9):
            more = "more" if step > 0 else "less"
            return f"every value is exactly 1 {more} than expected: an off-by-one?"
    if np.allclose(got, want**2, rtol=1e-9, atol=1e-12) and not np.allclose(want, want**2):
        return "the square of the expected values: a variance where a standard deviation belongs?"
    if (
        np.all(want >= 0)
        and np.allclose(got**2, want, rtol=1e-9, atol=1e-12)
        and not np.allclose(want, want**2)
    ):
        return (
            "the square root of the expected values: a standard deviation where a variance belongs?"
        )
    if got.ndim >= 1 and got.shape[0] > 1 and np.array_equal(got, want[::-1]):
        return "the expected values in reverse order (along the first axis)"
    distinct = np.unique(want).size == want.size
    if (
        got.size > 2
        and distinct
        and np.array_equal(np.sort(got, axis=None), np.sort(want, axis=None))
    ):
        return "the expected values, all present, in another order"
    return None


def telling_relation(
    actual: Any,
    expected: Any,
    *,
    n: int | None = None,
    factors: Mapping[str, float] | None = None,
    rtol: float = 1e-6,
) -> str | None:
    """How ``actual`` relates to ``expected`` when the relation names a slip, else None.

    A constant factor (:func:`telling_factor`), an offset of exactly ±1, a square or square root,
    or the same values reversed or reordered — each measured over every element.  The text reads
    after "got is …": ``"exactly half the expected values: …"``.
    """
    factor = telling_factor(actual, expected, n=n, factors=factors, rtol=rtol)
    if factor is not None:
        return factor
    got, want = _as_floats(actual), _as_floats(expected)
    if got is None or want is None:
        return None
    if got.shape != want.shape and got.ndim == 2 and got.T.shape == want.shape:
        if np.allclose(got.T, want, rtol=1e-9, atol=1e-12, equal_nan=True):
            return "the expected values transposed: rows and columns swapped"
        return None
    return _relation(got, want)
