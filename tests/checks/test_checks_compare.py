"""aipath.checks.failure and aipath.checks.compare: verdicts and the messages learners read."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aipath.checks import (
    CheckFailure,
    assert_array,
    assert_close,
    assert_frame,
    assert_returned,
    assert_shape,
    assert_tuple,
    fail,
    fmt,
    frame_difference,
    matching_mistake,
    mistake_table,
    none_message,
)


def message(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(CheckFailure) as info:
        call(*args, **kwargs)
    return str(info.value)


# ----- failure ---------------------------------------------------------------------------------


def test_fail_raises_a_check_failure_that_is_an_assertion_error() -> None:
    with pytest.raises(AssertionError, match=r"^x is wrong$"):
        fail("x is wrong")
    assert issubclass(CheckFailure, AssertionError)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.1 + 0.2, "0.3"),
        (np.float32(2.5), "2.5"),
        ((1,), "1"),
        ((1, 2), "(1, 2)"),
        (np.int64(7), "7"),
        ("text", "'text'"),
    ],
)
def test_fmt(value: Any, shown: str) -> None:
    assert fmt(value) == shown


def test_fmt_abbreviates_a_large_array() -> None:
    assert "..." in fmt(np.arange(100.0))


def test_none_message() -> None:
    assert none_message("f(x)") == "f(x) is None: did you forget to `return` it?"
    assert (
        none_message("fit()", "the model") == "fit() is None: did you forget to `return` the model?"
    )


# ----- assert_returned / assert_tuple / assert_shape -------------------------------------------


def test_assert_returned_passes_the_value_through() -> None:
    frame = pd.DataFrame({"a": [1]})
    assert assert_returned(frame, "clean(df)", of=pd.DataFrame) is frame
    assert assert_returned(0, "count()") == 0  # falsy is not None


def test_assert_returned_names_the_missing_return() -> None:
    assert message(assert_returned, None, "softmax(x)") == (
        "softmax(x) is None: did you forget to `return` it?"
    )
    assert message(assert_returned, None, "fit()", what="the fitted model") == (
        "fit() is None: did you forget to `return` the fitted model?"
    )


def test_assert_returned_checks_the_type() -> None:
    assert message(assert_returned, [1, 2], "clean(df)", of=pd.DataFrame) == (
        "clean(df) should be a pandas.DataFrame; got list"
    )
    assert message(assert_returned, "x", "f()", of=(int, float)) == (
        "f() should be a int or float; got str"
    )


def test_assert_tuple() -> None:
    assert assert_tuple((1, 2), ("X", "y"), "load()") == (1, 2)
    assert assert_tuple([1, 2, 3], 3, "roc_curve", allow_list=True) == (1, 2, 3)
    assert message(assert_tuple, [1, 2], ("X", "y"), "load()") == (
        "load() should return a tuple (X, y); got a list of 2 values"
    )
    assert message(assert_tuple, (1, 2, 3), 2, "pair()") == (
        "pair() should return a tuple of 2 values; got a tuple of 3 values"
    )
    assert message(assert_tuple, np.zeros(2), ("low", "high"), "interval()") == (
        "interval() should return a tuple (low, high); got ndarray"
    )
    assert message(assert_tuple, None, ("X", "y"), "load()") == (
        "load() is None: did you forget to `return` (X, y)?"
    )


def test_assert_shape() -> None:
    assert_shape(np.zeros((2, 3)), (2, 3))
    assert message(assert_shape, np.zeros((3, 2)), (2, 3), name="W") == (
        "W has shape (3, 2); expected (2, 3)"
    )
    assert (
        message(assert_shape, None, (2,), name="v") == "v is None: did you forget to `return` it?"
    )


# ----- assert_array ----------------------------------------------------------------------------


def test_assert_array_passes_within_tolerance() -> None:
    assert_array([1.0, 2.0 + 1e-12], np.array([1.0, 2.0]), name="x")
    assert_array(np.array([1, 2]), np.array([1, 2]), name="labels", exact=True)


def test_assert_array_names_the_first_difference_with_a_plain_index() -> None:
    text = message(assert_array, [1.0, 2.5, 3.0], np.array([1.0, 2.0, 3.0]), name="x")
    assert text.startswith("x[1] is 2.5; expected 2. 1 of 3 values differ")
    assert "x[(1,)]" not in text
    assert "max abs error 0.5, max rel error 0.25" in text


def test_assert_array_index_of_a_matrix() -> None:
    got = np.eye(2)
    got[0, 1] = 5.0
    text = message(assert_array, got, np.eye(2), name="m")
    assert text.startswith("m[0, 1] is 5; expected 0.")


def test_assert_array_shape_and_the_broadcast_hint() -> None:
    text = message(assert_array, np.zeros((3, 3)), np.zeros(3), name="d")
    assert text == (
        "d has shape (3, 3); expected (3,) — an (N,) and an (N, 1) array broadcast into an "
        "(N, N) square"
    )


def test_assert_array_nan_and_inf() -> None:
    nan = message(assert_array, [1.0, math.nan], np.array([1.0, 2.0]), name="p")
    assert nan.startswith("p contains NaN at index [1] where 2 was expected (1 NaN in all)")
    inf = message(assert_array, [math.inf, 1.0], np.array([1.0, 1.0]), name="lse")
    assert inf.startswith("lse contains +inf at index [0] where 1 was expected")


def test_assert_array_dtype() -> None:
    assert message(assert_array, np.array(["a"]), np.array([1.0]), name="x") == (
        "x has dtype <U1; expected numbers like float64"
    )


def test_assert_array_none() -> None:
    assert message(assert_array, None, np.zeros(2), name="x") == (
        "x is None: did you forget to `return` it?"
    )


def test_assert_array_names_an_eager_mistake() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    wrong = x / x.sum(axis=0)
    text = message(
        assert_array,
        wrong,
        x / x.sum(axis=1, keepdims=True),
        name="normalize(x)",
        mistakes={"normalized over axis 0": wrong, "not normalized": x},
    )
    assert text.startswith("normalize(x) looks like normalized over axis 0. normalize(x)[0, 0]")


def test_assert_array_names_a_lazy_mistake_and_skips_none_and_errors() -> None:
    def broken() -> Any:
        raise ZeroDivisionError

    text = message(
        assert_array,
        [2.0, 4.0],
        np.array([1.0, 2.0]),
        name="y",
        mistakes={"not applicable": lambda: None, "crashes": broken, "doubled": lambda: [2.0, 4.0]},
    )
    assert text.startswith("y looks like doubled. y[0] is 2; expected 1.")


def test_assert_array_accepts_a_lazy_mapping() -> None:
    text = message(
        assert_array, [0.0, 0.0], np.array([1.0, 1.0]), name="z", mistakes=lambda: {"zeros": [0, 0]}
    )
    assert text.startswith("z looks like zeros.")


def test_assert_array_computes_no_mistake_for_a_right_answer() -> None:
    calls: list[str] = []

    def wrong() -> list[float]:
        calls.append("entry")
        return [0.0]

    def table() -> dict[str, Any]:
        calls.append("table")
        return {"w": wrong}

    assert_array([1.0], np.array([1.0]), mistakes={"w": wrong})
    assert_array([1.0], np.array([1.0]), mistakes=table)
    assert calls == []


def test_assert_array_without_a_matching_mistake_says_nothing_about_one() -> None:
    text = message(assert_array, [5.0], np.array([1.0]), name="v", mistakes={"off": [2.0]})
    assert "looks like" not in text


def test_matching_mistake_and_mistake_table() -> None:
    assert matching_mistake([1.0, 2.0], {"a": [0.0, 0.0], "b": lambda: [1.0, 2.0]}) == "b"
    assert matching_mistake([1.0], {"a": [1.0, 1.0]}) is None  # another shape
    assert matching_mistake(None, {"a": [1.0]}) is None
    assert matching_mistake([1.0], None) is None
    assert dict(mistake_table(lambda: {"a": 1})) == {"a": 1}
    assert dict(mistake_table(None)) == {}


def test_matching_mistake_names_structured_answers_exactly() -> None:
    merges = [(104, 105), (256, 33)]
    table = {
        "ties to the smallest pair": lambda: [(97, 98)],
        "merges reversed": lambda: merges[::-1],
        "a mistake that cannot run here": lambda: 1 / 0,
    }
    assert matching_mistake(merges[::-1], table) == "merges reversed"
    assert matching_mistake({"lo": 256}, {"a": {"lo": 257}, "b": {"lo": 256}}) == "b"
    assert matching_mistake("abc", {"a": "abd", "b": "abc"}) == "b"
    assert matching_mistake(["x", "y"], {"a": ["x"]}) is None
    # exact=True: no tolerance, and lists are not tuples
    assert matching_mistake([1.0, 2.0], {"a": [1.0, 2.0 + 1e-12]}) == "a"
    assert matching_mistake([1.0, 2.0], {"a": [1.0, 2.0 + 1e-12]}, exact=True) is None
    assert matching_mistake([1, 2], {"a": (1, 2), "b": [1, 2]}, exact=True) == "b"

    def broken() -> dict[str, Any]:
        raise RuntimeError

    assert dict(mistake_table(broken)) == {}


# ----- assert_close ----------------------------------------------------------------------------


def test_assert_close() -> None:
    assert_close(0.1 + 0.2, 0.3, name="sum")
    assert message(assert_close, 1.5, 1.0, name="p") == (
        "p is 1.5; expected 1 (abs error 0.5, rel error 0.5)"
    )


def test_assert_close_names_eager_and_lazy_mistakes() -> None:
    assert message(assert_close, 0.25, 0.5, name="p", mistakes={"one-sided": 0.25}) == (
        "p is 0.25, which looks like one-sided; expected 0.5"
    )
    assert message(
        assert_close, 2.0, 1.0, name="t", mistakes={"a sum": lambda: 2.0, "skip": lambda: None}
    ) == ("t is 2, which looks like a sum; expected 1")


def test_assert_close_none_nan_and_text() -> None:
    assert message(assert_close, None, 1.0, name="q") == "q is None: did you forget to `return` it?"
    assert message(assert_close, math.nan, 1.0, name="q").startswith("q is NaN; expected 1")
    assert message(assert_close, "one", 1.0, name="q") == "q should be a number; got str 'one'"


# ----- frames ----------------------------------------------------------------------------------


def frame() -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"], "x": [0.5, 1.5, 2.5]})


def test_assert_frame_passes() -> None:
    assert_frame(frame(), frame(), name="merged")
    shuffled = frame().iloc[::-1]
    assert_frame(shuffled, frame(), name="merged", sort_by=["id"])
    assert_frame(frame()[["x", "id", "name"]], frame())  # column order is not checked by default


def test_assert_frame_columns() -> None:
    text = message(assert_frame, frame().drop(columns="x"), frame(), name="df")
    assert text == "df has missing columns ['x']; expected columns ['id', 'name', 'x']"
    text = message(assert_frame, frame()[["x", "id", "name"]], frame(), check_column_order=True)
    assert text == "result has columns in order ['x', 'id', 'name']; expected ['id', 'name', 'x']"


def test_assert_frame_rows_and_order_clues() -> None:
    clues = {"rows": "an inner join dropped rows", "order": "keep the input order"}
    text = message(assert_frame, frame().iloc[:2], frame(), name="m", clues=clues)
    assert text == "m has 2 rows; expected 3 — an inner join dropped rows"
    text = message(assert_frame, frame().iloc[::-1], frame(), name="m", clues=clues)
    assert text == "m row 0 has index 2; expected 0 — keep the input order"


def test_assert_frame_names_the_cell() -> None:
    got = frame()
    got.loc[1, "x"] = 9.0
    text = message(assert_frame, got, frame(), name="df")
    assert text == (
        "df column 'x', row 1: got 9, expected 1.5 (1 of 3 rows differ; max abs error in the "
        "column 7.5)"
    )


def test_assert_frame_names_eager_and_lazy_mistakes() -> None:
    inner = frame().iloc[:2]
    text = message(assert_frame, inner, frame(), name="m", mistakes={"an inner join": inner})
    assert text.startswith("m looks like an inner join. m has 2 rows; expected 3")
    assert "1 row missing (index 2)" in text
    text = message(assert_frame, inner, frame(), name="m", mistakes={"lazy": lambda: inner})
    assert text.startswith("m looks like lazy.")


def test_frame_difference_and_series() -> None:
    assert frame_difference(frame(), frame()) is None
    assert frame_difference(None, frame(), name="f") == "f is None: did you forget to `return` it?"
    assert frame_difference([1], frame(), name="f") == "f should be a pandas DataFrame; got list"
    s = pd.Series([1.0, 2.0], name="v")
    assert frame_difference(s, s) is None
    assert (
        frame_difference(s.to_frame(), s, name="s") == "s should be a pandas Series; got DataFrame"
    )


def test_assert_close_recognises_mistakes_at_its_own_tolerance_and_names_the_nearest() -> None:
    with pytest.raises(CheckFailure, match="looks like the sum, not the mean"):
        assert_close(
            12.0001,
            3.0,
            name="loss",
            rtol=1e-4,
            mistakes={"a mean over the wrong axis": 12.1, "the sum, not the mean": 12.0},
        )
    with pytest.raises(CheckFailure, match=r"rel error") as info:
        assert_close(12.0001, 3.0, name="loss", mistakes={"the sum, not the mean": 12.0})
    assert "looks like" not in str(info.value)  # at the default 1e-9, 12.0001 is not 12
