"""The shared recall@k, its mistake table, the once-per-run outcome and the text difference."""

from __future__ import annotations

import numpy as np
import pytest

from aipath.checks import (
    CheckFailure,
    assert_close,
    once_per_run,
    recall_at_k,
    recall_mistakes,
    relative_error,
    strip_html,
    text_difference,
)

RETRIEVED = [["a", "a", "b", "c"], ["x", "y", "z", "w"]]
RELEVANT = [{"a", "c"}, {"y", "q", "r"}]


def test_recall_counts_each_relevant_item_once_and_cuts_at_k() -> None:
    # query 1: a (twice) and b in the first 3 → 1 of 2; query 2: y → 1 of 3
    assert recall_at_k(RETRIEVED, RELEVANT, 3) == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert recall_at_k(np.array([[3, 1, 2]]), [{1, 2}], 1) == 0.0


@pytest.mark.parametrize(
    ("wrong", "named"),
    [
        (1 / 2, "precision@k"),
        ((1.0 + 1 / 3) / 2, "counted once for each time it was retrieved"),
        (2 / 5, "micro average"),
        (0.9, None),
    ],
)
def test_recall_mistakes_name_the_wrong_value(wrong: float, named: str | None) -> None:
    # k = 2: query 1 finds a (twice) of {a, c}, query 2 finds y of {y, q, r}
    want = recall_at_k(RETRIEVED, RELEVANT, 2)
    assert want == pytest.approx((1 / 2 + 1 / 3) / 2)
    with pytest.raises(CheckFailure) as failure:
        assert_close(wrong, want, name="recall", mistakes=recall_mistakes(RETRIEVED, RELEVANT, 2))
    if named is None:
        assert "looks like" not in str(failure.value)
    else:
        assert named in str(failure.value)


def test_repeats_mistake_only_offered_when_the_rankings_repeat() -> None:
    table = recall_mistakes([["a", "b"]], [{"a"}], 2)
    assert all(v is None for k, v in table.items() if "each time it was retrieved" in k)


def test_once_per_run_keeps_the_outcome_and_hands_out_copies() -> None:
    calls: list[int] = []

    @once_per_run
    def run(n: int) -> dict[str, list[int]]:
        calls.append(n)
        if n < 0:
            raise ValueError("negative")
        return {"values": [n]}

    first, error = run(1)
    assert error is None and first == {"values": [1]}
    first["values"].append(99)  # a check that edits its copy spoils nothing
    assert run(1) == ({"values": [1]}, None)
    value, error = run(-1)
    assert value is None and isinstance(error, ValueError)
    assert run(-1)[1] is error and calls == [1, -1]


def test_once_per_run_lets_not_implemented_through_uncached() -> None:
    calls: list[int] = []

    @once_per_run
    def todo() -> None:
        calls.append(1)
        raise NotImplementedError

    for _ in range(2):
        with pytest.raises(NotImplementedError):
            todo()
    assert calls == [1, 1]


def test_text_difference_points_at_the_first_differing_character() -> None:
    assert text_difference("same", "same") == ""
    text = text_difference("Hello, world", "Hello; world", expected="the template writes")
    assert text.startswith("they part at character 5 of 12: got 'Hello, world'")
    assert "the template writes 'Hello; world'" in text
    assert text_difference("abc", "abcdef").startswith("they part at character 3 of 6")


def test_relative_error_and_strip_html() -> None:
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([1.0], [-1.0]) == pytest.approx(1.0)
    assert strip_html("Great<br />tea &amp; <b>fast</b>\n shipping") == "Great tea & fast shipping"
