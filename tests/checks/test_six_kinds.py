"""The six kinds of mishandled mistakes (issue #14), each named by the shared check helpers.

A blind set of learner answers showed six ways a check can fail a learner: a contract detail not
asserted, a mistake label reached too late, a raw traceback for a shape error, a factor-of error
read as a plain difference, a wrong diagnosis, and lost rows or direction slips.  Each test here
makes one such wrong answer and asserts the helper's message names it — and, for the second
half of each kind, that a right answer or an unrelated wrong one is not given that name.
"""

from __future__ import annotations

import math
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aipath.checks import (
    CheckFailure,
    assert_array,
    assert_close,
    assert_frame,
    assert_mask,
    assert_unchanged,
    call_with_inputs,
    swapped_parts,
    telling_relation,
)
from aipath.grader.learnerframes import describe_exception


def message(check: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(CheckFailure) as info:
        check(*args, **kwargs)  # type: ignore[operator]
    return str(info.value)


# 1. Contract details not asserted -----------------------------------------------------------


def test_kind1_a_result_of_the_wrong_dtype_is_named_when_the_contract_fixes_it() -> None:
    want = np.array([1.0, 2.0, 3.0])
    text = message(assert_array, np.array([1, 2, 3]), want, name="counts", dtype=np.float64)
    assert "counts has dtype int64; expected float64" in text
    assert_array(np.array([1, 2, 3]), want, name="counts")  # without the contract, values rule


def test_kind1_an_input_frame_changed_in_place_is_named() -> None:
    frame = pd.DataFrame({"age": [30.0, np.nan], "fare": [7.25, 71.3]})
    kept = frame.copy()
    frame.loc[1, "age"] = 30.0  # what a learner's fillna(inplace=True) does to the caller's frame
    text = message(assert_unchanged, "clean(df)", {"df": frame}, {"df": kept})
    assert "changed its input `df` in place" in text
    assert_unchanged("clean(df)", {"df": kept.copy()}, {"df": kept})


# 2. A mistake label reached too late ---------------------------------------------------------


def test_kind2_a_known_mistake_is_named_at_the_shape_stage_not_only_at_the_value_stage() -> None:
    x = np.arange(6.0).reshape(2, 3)
    want = x - x.mean(axis=0)
    wrong = x - x.mean(axis=1, keepdims=True).T.mean()  # any output of another shape
    got = x.mean(axis=1)  # the learner returned the row means: a (2,) array
    text = message(
        assert_array,
        got,
        want,
        name="centre(x)",
        mistakes={"the row means instead of centred values": x.mean(axis=1), "other": wrong},
    )
    assert text.startswith("centre(x) looks like the row means instead of centred values")
    assert "has shape (2,); expected (2, 3)" in text


def test_kind2_a_known_mistake_is_named_at_the_dtype_stage() -> None:
    want = np.array([True, False, True])
    got = np.array([1, 0, 1])
    text = message(
        assert_array, got, want, name="mask", mistakes={"an integer 0/1 array": np.array([1, 0, 1])}
    )
    assert "looks like an integer 0/1 array" in text


# 3. Raw tracebacks for shape errors ----------------------------------------------------------


def _learner_module(tmp_path: Path, source: str) -> object:
    path = tmp_path / "exercise.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "exercise_under_test"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return type("Module", (), namespace)


def test_kind3_a_matmul_shape_error_names_the_shapes_that_met(tmp_path: Path) -> None:
    module = _learner_module(
        tmp_path,
        """
        import numpy as np

        def project(x, w):
            return x @ w.T
        """,
    )
    x, w = np.ones((4, 3)), np.ones((2, 4))
    text = message(call_with_inputs, "project(x, w)", module.project, x, w)  # type: ignore[attr-defined]
    assert "x (4, 3), w (2, 4)" in text
    assert "at line 5 of your file: `return x @ w.T`" in text


def test_kind3_the_grader_error_for_a_shape_error_lists_the_shapes(tmp_path: Path) -> None:
    module = _learner_module(
        tmp_path,
        """
        import numpy as np

        def add_bias(x, b):
            out = x + b
            return out
        """,
    )
    try:
        module.add_bias(np.ones((3, 4)), np.ones(3))  # type: ignore[attr-defined]
    except ValueError as exc:
        info = describe_exception(exc, str(tmp_path / "exercise.py"), context="while checking")
    assert "a shape mismatch at line 5: the arrays there are x (3, 4), b (3,)" in info.message


def test_kind3_other_errors_get_no_shape_line(tmp_path: Path) -> None:
    module = _learner_module(
        tmp_path,
        """
        def ratio(a, b):
            return a / b
        """,
    )
    try:
        module.ratio(1, 0)  # type: ignore[attr-defined]
    except ZeroDivisionError as exc:
        info = describe_exception(exc, str(tmp_path / "exercise.py"), context="while checking")
    assert "shape mismatch" not in info.message


# 4. Factor-of errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("got", "named"),
    [
        (lambda w: 2 * w, "exactly 2×"),
        (lambda w: w / 2, "exactly half"),
        (lambda w: w * math.log(2), "natural log where log base 2 belongs"),
        (lambda w: w / math.log(2), "log base 2 where the natural log belongs"),
        (lambda w: w * 5 / 4, "divided by n − 1 where n belongs"),
        (lambda w: w / 5, "1/n of the expected values (n = 5)"),
        (lambda w: w * 4, "n − 1 = 4 times the expected values"),
        (lambda w: w / 4, "1/(n−1) of the expected values (n = 5)"),
        (lambda w: -w, "sign flipped"),
        (lambda w: w + 1, "exactly 1 more than expected"),
        (lambda w: w[::-1], "reverse order"),
    ],
)
def test_kind4_a_telling_factor_is_named(got: object, named: str) -> None:
    want = np.array([0.5, 1.25, 2.0, 3.5])
    text = message(assert_array, got(want), want, name="entropy", n=5)  # type: ignore[operator]
    assert named in text


def test_kind4_a_scalar_factor_is_named_and_an_unrelated_error_is_not() -> None:
    assert "exactly 2×" in message(assert_close, 3.0, 1.5, name="variance")
    text = message(assert_close, 1.7, 1.5, name="variance")
    assert "it is" not in text and "abs error" in text
    assert telling_relation(np.array([1.0, 2.0]), np.array([1.1, 2.3])) is None


def test_kind4_a_finite_difference_step_factor_of_the_labs_own_is_named() -> None:
    text = message(
        assert_close,
        0.25,
        0.5,
        name="slope",
        factors={"divided by 2h where h belongs (a central difference over h)": 0.5},
    )
    assert "divided by 2h where h belongs" in text


# 5. Wrong diagnoses --------------------------------------------------------------------------


def test_kind5_minus_inf_from_an_underflow_is_not_blamed_on_an_overflow() -> None:
    # log(softmax) computed naively: exp(-1000) underflows to 0 and log(0) is -inf
    with np.errstate(all="ignore"):
        got = np.log(np.exp(np.array([-1000.0, 0.0])) / np.exp(np.array([-1000.0, 0.0])).sum())
    want = np.array([-1000.0, 0.0])
    text = message(assert_array, got, want, name="log_softmax(x)")
    assert "-inf" in text and "log(0)" in text and "underflowed" in text
    assert "exp of a large number" not in text


def test_kind5_nan_is_reported_as_measured_without_a_guessed_cause() -> None:
    text = message(assert_array, np.array([np.nan, 1.0]), np.array([0.5, 1.0]), name="p")
    assert "p contains NaN at index [0] where 0.5 was expected" in text
    assert "overflow?" not in text


def test_kind5_an_inf_in_the_answer_does_not_report_nan_errors() -> None:
    text = message(assert_array, np.array([np.inf, 1.0]), np.array([np.inf, 2.0]), name="d")
    assert "nan" not in text.lower().replace("and", "")
    assert "d[1] is 1; expected 2" in text


# 6. Lost rows, silent fallbacks and direction slips -------------------------------------------


def test_kind6_rows_lost_to_a_dropna_are_traced_to_the_column() -> None:
    source = pd.DataFrame({"age": [22.0, np.nan, 35.0, np.nan], "fare": [7.0, 8.0, 9.0, 10.0]})
    want = source.assign(age=source["age"].fillna(28.5))
    got = want.loc[[0, 2]]
    text = message(assert_frame, got, want, name="clean(df)", source=source)
    assert "2 rows missing (index 1, 3)" in text
    assert "exactly the rows with a missing 'age' were dropped" in text


def test_kind6_rows_multiplied_by_a_join_are_named() -> None:
    want = pd.DataFrame({"k": [1, 2]}, index=[0, 1])
    got = pd.DataFrame({"k": [1, 1, 2]}, index=[0, 0, 1])
    assert "index labels [0] appear more than once" in message(assert_frame, got, want)


def test_kind6_gt_for_ge_at_the_threshold_is_named() -> None:
    values = np.array([0.2, 0.5, 0.7, 0.5])
    want = values >= 0.5
    text = message(assert_mask, values > 0.5, want, values=values, threshold=0.5, name="pred")
    assert (
        "`>` where `>=` belongs: the 2 values exactly equal to the threshold 0.5 were left out"
        in text
    )
    text = message(assert_mask, values < 0.5, want, values=values, threshold=0.5, name="pred")
    assert "the comparison is reversed" in text


def test_kind6_tilde_on_integers_is_named() -> None:
    flags = np.array([0, 1, 1])
    text = message(assert_array, ~flags, flags == 0, name="not_seen")
    assert "what `~` gives on the integers 0 and 1" in text


def test_kind6_swapped_tuple_parts_are_named() -> None:
    x, y = np.ones((3, 2)), np.arange(3)
    assert swapped_parts((y, x), (x, y), ("X", "y")) == (
        "the right parts in another order: (y, X) where (X, y) belongs"
    )
    assert swapped_parts((x, y), (x, y), ("X", "y")) is None


def test_kind6_a_transposed_result_is_named() -> None:
    want = np.arange(6.0).reshape(2, 3)
    text = message(assert_array, want.T, want, name="W")
    assert "rows and columns swapped" in text


def test_indices_print_as_typed() -> None:
    text = message(assert_array, np.array([1.0, 5.0]), np.array([1.0, 2.0]), name="v")
    assert "v[1] is 5" in text and "(1,)" not in text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
