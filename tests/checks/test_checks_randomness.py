"""The global-generator check names exactly the generators a learner's code moved."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from aipath.checks import CheckFailure, assert_no_global_draws, global_draws


def _seeded_choice(values: list[int], rng: np.random.Generator) -> int:
    return int(rng.choice(values))


def test_drawing_only_from_the_given_rng_passes_and_returns_the_result() -> None:
    got = assert_no_global_draws("pick(...)", _seeded_choice, [1, 2, 3], np.random.default_rng(0))
    assert got in (1, 2, 3)


@pytest.mark.parametrize(
    ("draw", "named", "not_named"),
    [
        (lambda: np.random.rand(), "NumPy's global generator", "Python's global `random`"),
        (lambda: random.random(), "Python's global `random` generator", "NumPy's"),
        (lambda: np.random.seed(0), "NumPy's global generator", "torch's"),
        (lambda: torch.rand(1), "torch's global generator", "NumPy's"),
    ],
)
def test_each_global_generator_that_moved_is_named(draw, named: str, not_named: str) -> None:
    np.random.seed(12345)  # a state np.random.seed(0) changes
    with pytest.raises(CheckFailure) as failure:
        assert_no_global_draws("sample(...)", draw)
    text = str(failure.value)
    assert named in text and not_named not in text
    assert text.startswith("sample(...) drew from (or reseeded)")


def test_global_draws_reports_every_generator_that_moved() -> None:
    def both() -> float:
        random.random()
        return float(np.random.rand())

    value, moved = global_draws(both)
    assert isinstance(value, float) and moved == ["random", "numpy"]
    assert global_draws(lambda: 1)[1] == []
