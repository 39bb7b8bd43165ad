"""Direction slips, measured: `>` for `>=`, a comparison reversed, `~` on integers, swapped parts.

These mistakes change a handful of values, so a plain comparison says only "differs at index 7".
Each helper here looks at *where* the answer differs and names the slip only when every
difference is explained by it — values exactly at the threshold, every element flipped, the
two's-complement values `~` gives on 0/1 integers, or the right parts in another order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from aipath.checks.failure import fail
from aipath.checks.failure import fmt as _fmt

__all__ = ["assert_mask", "invert_on_integers", "swapped_parts", "threshold_slip"]


def threshold_slip(
    actual: Any, expected: Any, values: Any, threshold: float, *, op: str = ">="
) -> str | None:
    """Name the comparison slip that turns ``expected`` (``values <op> threshold``) into ``actual``.

    ``op`` is the comparison the lab asks for (``">="``, ``">"``, ``"<="``, ``"<"``).  Returns
    e.g. "`>` where `>=` belongs: the 3 values exactly equal to 0.5 were left out", or "the
    comparison is reversed" — or None when the differences are not explained by a slip.
    """
    got = np.asarray(actual)
    want = np.asarray(expected, dtype=bool)
    vals = np.asarray(values, dtype=np.float64)
    if got.shape != want.shape or vals.shape != want.shape or got.dtype.kind not in "biu":
        return None
    got = got.astype(bool)
    differ = got != want
    if not differ.any():
        return None
    at = np.isclose(vals, threshold, rtol=0.0, atol=0.0)
    strict = {">=": ">", ">": ">=", "<=": "<", "<": "<="}.get(op)
    if strict is not None and differ.any() and np.all(at[differ]):
        count = int(differ.sum())
        what = "left out" if want[differ].all() else "counted in"
        return (
            f"`{strict}` where `{op}` belongs: the {count} value{'s' if count != 1 else ''} "
            f"exactly equal to the threshold {_fmt(threshold)} {'were' if count != 1 else 'was'} "
            f"{what}"
        )
    off = ~at
    if off.any() and np.array_equal(got[off], ~want[off]):
        flipped = {">=": "<", ">": "<=", "<=": ">", "<": ">="}.get(op, "the opposite")
        return f"the comparison is reversed: every value away from the threshold is on the wrong side (`{flipped}` where `{op}` belongs)"
    return None


def invert_on_integers(actual: Any, expected: Any) -> str | None:
    """Name ``~`` applied to 0/1 integers (it gives -1 and -2, not a negated mask)."""
    got = np.asarray(actual)
    want = np.asarray(expected)
    if got.shape != want.shape or got.dtype.kind not in "iu" or want.dtype.kind != "b":
        return None
    if got.size and set(np.unique(got).tolist()) <= {-1, -2}:
        return (
            "holds -1 and -2, which is what `~` gives on the integers 0 and 1: `~` negates "
            "booleans only — compare (x == 0) or use np.logical_not"
        )
    return None


def assert_mask(
    actual: Any,
    expected: Any,
    *,
    values: Any,
    threshold: float,
    op: str = ">=",
    name: str = "mask",
) -> None:
    """Compare a boolean mask made by thresholding ``values``; name `>`/`>=` and reversed slips.

    The check should include values exactly at ``threshold`` so that `>` and `>=` differ.
    """
    got = np.asarray(actual)
    want = np.asarray(expected, dtype=bool)
    if got.shape != want.shape:
        fail(f"{name} has shape {got.shape}; expected {want.shape}")
    inverted = invert_on_integers(got, want)
    if inverted:
        fail(f"{name} {inverted}")
    if got.dtype.kind != "b":
        fail(f"{name} has dtype {got.dtype}; expected booleans (a mask from a comparison)")
    differ = got != want
    if not differ.any():
        return
    slip = threshold_slip(got, want, values, threshold, op=op)
    first = tuple(int(i) for i in np.argwhere(differ)[0])
    where = ", ".join(str(i) for i in first)
    base = (
        f"{name}[{where}] is {bool(got[first])} for the value {_fmt(np.asarray(values)[first])}; "
        f"expected {bool(want[first])} (the rule is value {op} {_fmt(threshold)}; "
        f"{int(differ.sum())} of {want.size} differ)"
    )
    fail(f"{name}: {slip}. {base}" if slip else base)


def swapped_parts(
    actual: Sequence[Any], expected: Sequence[Any], names: Sequence[str]
) -> str | None:
    """Name a tuple whose parts are right but in another order: "got (y, X) where (X, y) belongs"."""
    if len(actual) != len(expected) or len(names) != len(expected):
        return None

    def same(a: Any, b: Any) -> bool:
        try:
            if hasattr(a, "shape") or hasattr(b, "shape"):
                return bool(
                    np.shape(a) == np.shape(b) and np.array_equal(np.asarray(a), np.asarray(b))
                )
            result = a == b
            return bool(result) if isinstance(result, bool | np.bool_) else False
        except Exception:
            return False

    order: list[int] = []
    for part in actual:
        match = [j for j, want in enumerate(expected) if j not in order and same(part, want)]
        if not match:
            return None
        order.append(match[0])
    if order == list(range(len(expected))):
        return None
    got_names = ", ".join(names[j] for j in order)
    return f"the right parts in another order: ({got_names}) where ({', '.join(names)}) belongs"
