"""Sentence embeddings the check computes itself with the packaged MiniLM, and the known ways
of getting them wrong.

Three labs (fine-tuning a Hugging Face encoder, vector search, RAG) ask the learner for the same
thing: one L2-normalised, attention-masked mean of ``last_hidden_state`` per text, the pooling
all-MiniLM-L6-v2 was trained with.  The reference and the table of wrong poolings live here once,
so every lab names a mistake in the same words.  torch and transformers are imported only when a
function is called.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from aipath.checks.calls import call_learner
from aipath.checks.data import cached
from aipath.checks.failure import fail
from aipath.checks.models import minilm
from aipath.checks.tensors import to_numpy

__all__ = [
    "POOLINGS",
    "as_embeddings",
    "call_embed",
    "cosine",
    "minilm_embeddings",
    "pooling_mistakes",
]

POOLINGS = ("mean", "mean over padding", "cls", "max", "pooler")
"""What ``minilm_embeddings(pool=...)`` accepts: the right one (``mean``) and four wrong ones."""


def _batch(
    texts: Sequence[str], *, max_length: int, special: bool, padding_side: str
) -> dict[str, Any]:
    tokenizer = minilm()[0]
    tokenizer.padding_side = padding_side
    try:
        batch = tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=max_length,
            add_special_tokens=special,
            return_tensors="pt",
        )
    finally:
        tokenizer.padding_side = "right"
    return dict(batch)


@cached  # a check asks for the same texts' embeddings several times: one forward pass each
def _one_batch(
    texts: tuple[str, ...],
    *,
    max_length: int,
    pool: str,
    model_mask: bool,
    normalize: bool,
    special: bool,
    padding_side: str,
) -> np.ndarray[Any, Any]:
    import torch
    import torch.nn.functional as F

    batch = _batch(texts, max_length=max_length, special=special, padding_side=padding_side)
    inputs = batch if model_mask else {"input_ids": batch["input_ids"]}
    with torch.inference_mode():
        output = minilm()[1](**inputs)
    hidden = output.last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    if pool == "mean":
        vectors = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    elif pool == "mean over padding":
        vectors = hidden.mean(1)
    elif pool == "cls":
        vectors = hidden[:, 0]
    elif pool == "max":
        vectors = hidden.masked_fill(mask == 0, -1e9).max(1).values
    elif pool == "pooler":
        vectors = output.pooler_output
    else:
        raise ValueError(f"pool must be one of {POOLINGS}; got {pool!r}")
    if normalize:
        vectors = F.normalize(vectors, p=2, dim=1)
    return np.asarray(vectors.numpy(), dtype=np.float64)


def minilm_embeddings(
    texts: Sequence[str],
    *,
    max_length: int = 256,
    batch_size: int | None = None,
    pool: str = "mean",
    model_mask: bool = True,
    normalize: bool = True,
    special: bool = True,
    padding_side: str = "right",
) -> np.ndarray[Any, Any]:
    """The texts through the check's own MiniLM, ``(len(texts), 384)`` float64.

    The defaults are the right way (masked mean, L2-normalised, truncated at ``max_length``);
    every other setting is a known mistake.  ``batch_size`` pads each batch on its own, as a
    learner's ``embed(..., batch_size=n)`` does: padding changes the float rounding slightly.
    """
    texts = list(texts)
    size = batch_size or max(len(texts), 1)
    parts = [
        _one_batch(
            tuple(texts[i : i + size]),
            max_length=max_length,
            pool=pool,
            model_mask=model_mask,
            normalize=normalize,
            special=special,
            padding_side=padding_side,
        )
        for i in range(0, len(texts), size)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, 384))


def pooling_mistakes(
    texts: Sequence[str], *, batch_size: int | None = None, max_length: int = 256
) -> Callable[[], dict[str, Callable[[], np.ndarray[Any, Any]]]]:
    """The embeddings each known pooling mistake gives for ``texts``, computed only if needed.

    Pass it as ``mistakes=`` to ``assert_array``/``matching_mistake``: the table is built when the
    comparison has failed, and each wrong embedding when it is compared.
    """
    texts = list(texts)

    def variant(**options: Any) -> Callable[[], np.ndarray[Any, Any]]:
        return lambda: minilm_embeddings(
            texts, max_length=max_length, batch_size=batch_size, **options
        )

    def table() -> dict[str, Callable[[], np.ndarray[Any, Any]]]:
        return {
            "the right masked mean, but not L2-normalised: without the L2 normalisation a row's "
            "length is not 1, so a dot product is not a cosine": variant(normalize=False),
            "a mean over the padding too (the attention mask was not used in the pooling: the "
            "[PAD] positions were averaged in)": variant(pool="mean over padding"),
            "a mean over the padding too, and not L2-normalised": variant(
                pool="mean over padding", normalize=False
            ),
            "the model run without the attention mask (the real tokens attended to the "
            "padding)": variant(model_mask=False),
            "the model run without the attention mask AND a mean over the padding": variant(
                model_mask=False, pool="mean over padding"
            ),
            "CLS pooling: the [CLS] vector (position 0), L2-normalised. all-MiniLM-L6-v2 was "
            "trained with mean pooling, and its [CLS] vector is not a sentence embedding": (
                variant(pool="cls")
            ),
            "CLS pooling: the raw [CLS] vector (position 0), not normalised. This model was "
            "trained with mean pooling": variant(pool="cls", normalize=False),
            "max pooling over the real tokens: this model was trained with mean pooling": (
                variant(pool="max")
            ),
            "the model's pooler_output (tanh of a dense layer on [CLS], L2-normalised), not the "
            "masked mean of last_hidden_state this model was trained with": variant(pool="pooler"),
            "the model's raw pooler_output (tanh of a dense layer on [CLS]), not the masked mean "
            "of last_hidden_state": variant(pool="pooler", normalize=False),
            "texts padded on the left (padding_side='left'): BERT numbers positions from the "
            "first column, so every real token got another position embedding": variant(
                padding_side="left"
            ),
            "texts tokenized without [CLS] and [SEP] (add_special_tokens=False)": variant(
                special=False
            ),
        }

    return table


def as_embeddings(got: Any, name: str, n: int, dim: int = 384) -> np.ndarray[Any, Any]:
    """A learner's embeddings as a float64 ``(n, dim)`` array, or a failure that says why not.

    A tensor is accepted once detached; one still recording autograd is refused with the fix.
    """
    import torch

    if got is None:
        fail(f"{name} is None: did you forget to `return` the embeddings?")
    if isinstance(got, torch.Tensor):
        if got.requires_grad:
            fail(
                f"{name} still requires grad: it was computed with autograd recording. Run the "
                "model under torch.no_grad() (or torch.inference_mode())"
            )
        got = to_numpy(got)
    try:
        values = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{name} should be an array of numbers ({n}, {dim}); got {type(got).__name__}")
    if values.ndim == 3 and values.shape[0] == n and values.shape[2] == dim:
        fail(
            f"{name} has shape {values.shape}: one vector per token. Pool the tokens of each "
            f"text into one vector (a masked mean): expected ({n}, {dim})"
        )
    if values.shape != (n, dim):
        fail(
            f"{name} has shape {values.shape} for {n} texts; expected ({n}, {dim}), one "
            f"{dim}-d vector per text, in the order of the texts"
        )
    return values


def call_embed(
    embed: Callable[..., Any],
    tokenizer: Any,
    model: Any,
    texts: Sequence[str],
    *,
    dim: int = 384,
    hint: str = "",
    **options: Any,
) -> np.ndarray[Any, Any]:
    """A learner's ``embed(tokenizer, model, texts, **options)``, checked by :func:`as_embeddings`.

    A crash fails as "embed(tokenizer, model, texts, ...) raised …", followed by ``hint``.
    """
    got = call_learner(
        "embed(tokenizer, model, texts, ...)",
        embed,
        tokenizer,
        model,
        list(texts),
        hint=hint,
        **options,
    )
    return as_embeddings(got, "embed(...)", len(texts), dim)


def cosine(a: Any, b: Any) -> float:
    """The cosine of two vectors (0 when either is all zeros)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(x @ y / max(float(np.linalg.norm(x) * np.linalg.norm(y)), 1e-12))
