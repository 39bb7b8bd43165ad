"""The shared MiniLM reference embeddings, their mistake table, and the forward-call recorder."""

from __future__ import annotations

import numpy as np
import pytest

from aipath.checks import (
    CheckFailure,
    ForwardCalls,
    as_embeddings,
    assert_array,
    cosine,
    learner_minilm,
    minilm,
    minilm_embeddings,
    pooling_mistakes,
)

pytestmark = pytest.mark.xdist_group("models")  # one worker pays for the loads

TEXTS = ("a cat sat on the mat", "ok", "the quick brown fox jumps over the lazy dog")


def test_reference_is_a_unit_masked_mean_batching_aside() -> None:
    whole = minilm_embeddings(TEXTS)
    assert whole.shape == (3, 384) and whole.dtype == np.float64
    assert np.allclose(np.linalg.norm(whole, axis=1), 1.0)
    one_by_one = minilm_embeddings(TEXTS, batch_size=1)
    assert np.allclose(whole, one_by_one, atol=2e-5)  # padding changes rounding only
    assert not np.allclose(whole, minilm_embeddings(TEXTS, pool="mean over padding"), atol=1e-3)
    assert cosine(whole[0], whole[0]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"pool": "cls"}, "CLS pooling: the [CLS] vector"),
        ({"pool": "mean over padding"}, "a mean over the padding too (the attention mask"),
        ({"normalize": False}, "not L2-normalised"),
        ({"padding_side": "left"}, "padded on the left"),
    ],
)
def test_pooling_mistakes_name_what_was_done(options: dict[str, object], named: str) -> None:
    wrong = minilm_embeddings(TEXTS, batch_size=2, **options)  # type: ignore[arg-type]
    with pytest.raises(CheckFailure) as failure:
        assert_array(
            wrong,
            minilm_embeddings(TEXTS, batch_size=2),
            name="embed(texts)",
            rtol=1e-4,
            atol=2e-5,
            mistakes=pooling_mistakes(TEXTS, batch_size=2),
        )
    assert named in str(failure.value)


def test_as_embeddings_says_what_is_wrong_with_the_value() -> None:
    torch = pytest.importorskip("torch")
    good = np.zeros((2, 384), dtype=np.float32)
    assert as_embeddings(good, "e", 2).dtype == np.float64
    cases = [
        (None, "did you forget to `return`"),
        (torch.zeros(2, 384, requires_grad=True), "still requires grad"),
        (np.zeros((2, 7, 384)), "one vector per token"),
        (np.zeros((3, 384)), "for 2 texts; expected (2, 384)"),
        ("text", "should be an array of numbers"),
    ]
    for value, named in cases:
        with pytest.raises(CheckFailure, match=None) as failure:
            as_embeddings(value, "e", 2)
        assert named in str(failure.value), value


def test_forward_calls_record_mode_autograd_shape_and_mask() -> None:
    torch = pytest.importorskip("torch")
    layer = torch.nn.Linear(3, 2)
    with ForwardCalls(layer) as log:
        layer(torch.zeros(4, 3))
        with torch.no_grad():
            layer.eval()
            layer(torch.zeros(5, 3))
    first, second = log.calls
    assert (first.training, first.grad_enabled, first.output_requires_grad) == (True, True, True)
    assert (second.training, second.grad_enabled, second.input_shape) == (False, False, (5, 3))
    layer(torch.zeros(1, 3))
    assert len(log.calls) == 2  # the hook is gone after the block

    tokenizer, model = learner_minilm()
    assert model is not minilm()[1]  # the learner's copy is its own
    batch = tokenizer(list(TEXTS), padding=True, return_tensors="pt")
    with ForwardCalls(model) as log, torch.no_grad():
        model(**batch)
        model(batch["input_ids"])
    assert [c.mask for c in log.calls] == [True, False]
    assert log.lengths == [batch["input_ids"].shape[1]] * 2
