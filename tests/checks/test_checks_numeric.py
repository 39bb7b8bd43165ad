"""aipath.checks bands, gradients, training and tensors: passing and failing cases, messages."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from aipath.checks import (
    CheckFailure,
    assert_beats,
    assert_in_band,
    assert_reaches,
    assert_tensor,
    gradient_check,
    numerical_gradient,
    run_until,
    seed_everything,
    to_numpy,
)


def message(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(CheckFailure) as info:
        call(*args, **kwargs)
    return str(info.value)


# ----- bands -----------------------------------------------------------------------------------


def test_assert_in_band() -> None:
    assert_in_band(0.8, 0.7, 0.9, name="accuracy")
    assert message(assert_in_band, 0.95, 0.7, 0.9, name="accuracy") == (
        "accuracy is 0.95; expected between 0.7 and 0.9"
    )
    assert message(assert_in_band, math.nan, 0.0, 1.0, name="auc", unit=" s").startswith(
        "auc is nan s; expected between 0 and 1 s"
    )
    assert message(assert_in_band, None, 0.0, 1.0, name="auc") == (
        "auc is None: did you forget to `return` it?"
    )


def test_assert_beats() -> None:
    assert_beats(0.85, 0.8, margin=0.02, name="CV accuracy")
    assert_beats(1.0, 2.0, higher_is_better=False, name="RMSE")
    assert message(
        assert_beats, 0.81, 0.8, margin=0.02, name="CV accuracy", baseline_name="majority class"
    ) == (
        "CV accuracy is 0.81; majority class scores 0.8, so it must be at least 0.82 (margin 0.02)"
    )
    assert message(assert_beats, 1.9, 2.0, margin=0.5, higher_is_better=False, name="RMSE") == (
        "RMSE is 1.9; the baseline scores 2, so it must be at most 1.5 (margin 0.5)"
    )


# ----- gradients -------------------------------------------------------------------------------


def square(x: np.ndarray[Any, Any]) -> float:
    return float(np.sum(x**2))


def test_numerical_gradient_leaves_x_alone() -> None:
    x = np.array([1.0, -2.0, 3.0])
    grad = numerical_gradient(square, x)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-7)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])


def test_gradient_check_passes_and_returns_the_error() -> None:
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    assert gradient_check(square, x, 2 * x) < 1e-7


def test_gradient_check_names_a_sign_error() -> None:
    x = np.array([1.0, 2.0])
    text = message(gradient_check, square, x, -2 * x, name="grad")
    assert text.startswith("grad relative error 1 (must be ≤ 1e-07); worst at grad[1]: yours -4")
    assert text.endswith("It looks like a sign error.")


def test_gradient_check_names_a_constant_factor() -> None:
    x = np.array([1.0, 2.0, 3.0])
    text = message(gradient_check, square, x, x)
    assert "Yours is 0.5 × the numerical gradient everywhere" in text


def test_gradient_check_shape() -> None:
    assert message(gradient_check, square, np.ones(3), np.ones(2), name="g") == (
        "g has shape (2,); expected (3,) (the shape of the input)"
    )


# ----- training --------------------------------------------------------------------------------


def test_seed_everything_makes_draws_repeat() -> None:
    seed_everything(3)
    first = (random.random(), float(np.random.rand()))
    seed_everything(3)
    assert (random.random(), float(np.random.rand())) == first


def test_assert_reaches() -> None:
    assert assert_reaches([3.0, 2.0, 0.5, 0.4], 1.0) == 2
    assert assert_reaches([0.1, 0.6], 0.5, higher_is_better=True, name="accuracy") == 1
    assert message(assert_reaches, [3.0, 2.0, 2.5], 1.0, unit="epochs") == (
        "validation loss did not reach ≤ 1 within 3 epochs: best 2 at step 1, last 2.5"
    )
    assert message(assert_reaches, [1.0, math.nan], 0.1, name="loss").startswith(
        "loss became NaN at step 1: the loss diverged"
    )
    assert message(assert_reaches, [], 0.1, name="loss") == (
        "loss: the training returned no values to judge (an empty history)"
    )
    assert message(assert_reaches, [5.0, 0.0], 1.0, within=1).startswith(
        "validation loss did not reach ≤ 1 within 1 steps"
    )


def test_run_until() -> None:
    assert run_until(lambda i: 10 - i, lambda v: v <= 7, max_steps=10, target="≤ 7") == (4, 7.0)
    assert (
        message(
            run_until,
            lambda i: 5.0,
            lambda v: v < 1,
            max_steps=3,
            target="a loss below 1",
            name="loss",
        )
        == "loss did not reach a loss below 1 within 3 steps (last value 5)"
    )
    assert message(
        run_until, lambda i: math.nan, lambda v: False, max_steps=3, target="x", name="loss"
    ) == ("loss became NaN at step 0: training diverged")


# ----- tensors ---------------------------------------------------------------------------------


def test_assert_tensor() -> None:
    torch = pytest.importorskip("torch")
    want = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert_tensor(want.clone(), want, name="y")
    assert message(assert_tensor, want.double(), want, name="y") == (
        "y has dtype torch.float64; expected torch.float32"
    )
    assert message(assert_tensor, want.T.contiguous().reshape(4), want, name="y") == (
        "y has shape (4,); expected (2, 2)"
    )
    assert message(assert_tensor, [1.0], want, name="y") == "y should be a torch.Tensor; got list"
    off = want.clone()
    off[1, 0] = 9.0
    assert message(assert_tensor, off, want, name="y").startswith("y[1, 0] is 9; expected 3.")
    graph = want.clone().requires_grad_(True) * 1
    assert "still requires grad" in message(assert_tensor, graph, want, requires_grad=False)
    assert "does not require grad" in message(assert_tensor, want, want, requires_grad=True)


def test_assert_tensor_names_mistakes_eager_and_lazy() -> None:
    torch = pytest.importorskip("torch")
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    want = torch.softmax(x, dim=-1)
    wrong = torch.softmax(x, dim=0)
    text = message(assert_tensor, wrong, want, name="p", mistakes={"softmax over dim 0": wrong})
    assert text.startswith("p looks like softmax over dim 0.")
    lazy = {"over dim 0": lambda: torch.softmax(x, dim=0).numpy()}
    assert message(assert_tensor, wrong, want, name="p", mistakes=lazy).startswith(
        "p looks like over dim 0."
    )
    flat = wrong.reshape(4)
    shaped = message(assert_tensor, flat, want, name="p", mistakes={"flattened": lambda: flat})
    assert shaped == "p looks like flattened. Its shape is (4,); expected (2, 2)"
    # a mistake of the same shape but other values is not named: its cause was not verified
    other = {"flattened": lambda: torch.zeros(4)}
    assert message(assert_tensor, flat, want, name="p", mistakes=other) == (
        "p has shape (4,); expected (2, 2)"
    )


def test_to_numpy() -> None:
    torch = pytest.importorskip("torch")
    assert isinstance(to_numpy(torch.ones(2, requires_grad=True)), np.ndarray)
    assert to_numpy([1]) == [1]
