"""The packaged models load offline, once per process, and the same in every process."""

from __future__ import annotations

import socket

import pytest

from aipath.checks import models

pytestmark = pytest.mark.xdist_group("models")  # one worker pays for the loads


def test_minilm_is_cached_and_offline() -> None:
    tokenizer, model = models.minilm()
    assert models.minilm()[1] is model  # once per process
    batch = tokenizer(["a cat sat"], return_tensors="pt")
    assert model(**batch).last_hidden_state.shape[-1] == 384


def test_smollm2_greedy_answer_is_reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a model loader tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    tokenizer, model = models.smollm2()
    assert models.smollm2()[1] is model
    fresh = models.fresh_smollm2()[1]
    assert fresh is not model  # the learner's copy is its own
    messages = [{"role": "user", "content": "What is 2+2?"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")[
        "input_ids"
    ]
    import torch

    with torch.no_grad():
        a = model.generate(ids, max_new_tokens=12, do_sample=False)
        b = fresh.generate(ids, max_new_tokens=12, do_sample=False)
    assert torch.equal(a, b)
    assert "4" in tokenizer.decode(a[0][ids.shape[1] :])
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()


def test_warm_ignores_unknown_names() -> None:
    models.warm(["not-a-model"])  # a manifest typo is caught by its schema, not here


def test_a_fresh_copy_frees_the_copies_that_failed_checks_left_in_cycles() -> None:
    """A failing check's copy lives on in exception → traceback → frame; the next copy frees it.

    Automatic collection is off here: in a check it runs too rarely to matter (the copies sit in
    the oldest generation), so only an explicit collection can be relied on.
    """
    import gc
    import weakref

    def failing_check() -> None:
        _tokenizer, _model = models.fresh_smollm2()
        raise NotImplementedError  # as the untouched starter does

    try:
        failing_check()
    except NotImplementedError as exc:
        leaked = exc.__traceback__.tb_next.tb_frame.f_locals["_model"]  # type: ignore[union-attr]
        left = weakref.ref(leaked)
        cycle: list[object] = [exc]
        cycle.append(cycle)  # unreachable only through a cycle, as pytest leaves it
        del leaked, exc, cycle
    gc.disable()
    try:
        assert left() is not None  # nothing but a collection frees it
        models.fresh_smollm2()
        assert left() is None
    finally:
        gc.enable()
