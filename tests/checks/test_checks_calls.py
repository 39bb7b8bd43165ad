"""Calling learner code from a check: crashes quoted with the inputs, inputs kept unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aipath.checks import (
    CheckFailure,
    assert_unchanged,
    call_with_inputs,
    copied,
    describe_inputs,
    run_on_copies,
    tensor_mistake,
)


def _matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x @ w  # the learner's line the message quotes


def test_describe_inputs_says_shapes_values_and_kinds() -> None:
    text = describe_inputs(
        {
            "x": torch.zeros(2, 3),
            "positions": torch.tensor([0, 1, 2]),
            "a": np.zeros((4,)),
            "layer": torch.nn.Linear(2, 2),
            "cfg": {"k": 1},
            "stride": 2,
            "skip": None,
        }
    )
    assert text == "x (2, 3), positions [0, 1, 2], a array (4,), layer Linear, cfg {k}, stride 2"


def test_a_crash_is_quoted_with_the_line_and_the_inputs() -> None:
    with pytest.raises(CheckFailure) as caught:
        call_with_inputs("layer(x, w)", _matmul, torch.zeros(2, 3), w=torch.zeros(4, 5))
    message = str(caught.value)
    assert message.startswith("layer(x, w) raised RuntimeError")
    assert "of your file: `return x @ w" in message
    assert message.endswith("The inputs were arg0 (2, 3), w (4, 5)")


@torch.no_grad()
def _decorated_matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x @ w  # quoted too, not torch's wrapper


def test_a_crash_in_a_decorated_function_quotes_the_learners_line() -> None:
    with pytest.raises(CheckFailure) as caught:
        call_with_inputs("layer(x, w)", _decorated_matmul, torch.zeros(2, 3), torch.zeros(4, 5))
    assert "of your file: `return x @ w  # quoted too" in str(caught.value)


def test_not_implemented_and_listed_errors_only() -> None:
    def todo() -> None:
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        call_with_inputs("todo()", todo)
    with pytest.raises(KeyError):  # not in ``errors``: the grader reports it with frames
        call_with_inputs("f()", {}.__getitem__, "k", errors=(ValueError,))


def test_in_place_changes_are_named_and_copies_protect_the_caller() -> None:
    x = torch.ones(3)

    def scale_in_place(x: torch.Tensor) -> torch.Tensor:
        return x.mul_(2)

    with pytest.raises(CheckFailure, match=r"changed its input `x` in place \(max change 1\)"):
        run_on_copies("scale(x)", scale_in_place, x=x, advice="x * 2, not x.mul_(2)")
    assert torch.equal(x, torch.ones(3))  # the learner only ever saw a copy
    kept = copied({"a": np.zeros(2)})
    assert_unchanged("f(a)", {"a": np.zeros(2)}, kept)  # equal: passes


def test_tensor_mistake_names_an_equal_wrong_output() -> None:
    got = torch.tensor([1.0, 2.0])
    assert tensor_mistake(got, {"doubled": lambda: torch.tensor([1.0, 2.0])}) == "doubled"
    assert tensor_mistake(got, {"other": torch.tensor([0.0, 2.0])}) is None
    assert tensor_mistake(None, {"x": got}) is None
