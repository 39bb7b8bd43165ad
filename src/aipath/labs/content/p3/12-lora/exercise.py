"""LoRA from scratch: the file you edit.

Read README.md first. Shapes: ``in`` and ``out`` are the widths of the layer you wrap
(``base.weight`` is ``(out, in)``), ``r`` the rank of the update. In SmolLM2-135M every decoder
layer has ``q_proj`` 576 → 576 and ``v_proj`` 576 → 192, and there are 30 layers.

The checks hand your functions layers and models of their own (a fresh copy of the packaged
SmolLM2-135M-Instruct for tasks 2–4). To experiment yourself, get one with
``from aipath.checks import fresh_smollm2`` (``tokenizer, model = fresh_smollm2()``), as the
``__main__`` block at the bottom does: ``python exercise.py``.
"""

from __future__ import annotations

import math  # noqa: F401  (task 1: nn.init.kaiming_uniform_(A, a=math.sqrt(5)))
from typing import Any

import torch
from torch import nn

TARGETS = ("q_proj", "v_proj")  # the attention projections that get an adapter


# ----- task 1 -----------------------------------------------------------------------------------
class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update.

    ``y = base(x) + scaling · dropout(x) @ A.T @ B.T`` with ``scaling = alpha / r``.

    Attributes the checks read:

    - ``base``: the ``nn.Linear`` you were given, its weight and bias frozen
      (``requires_grad`` False), its values unchanged;
    - ``lora_A``: an ``nn.Parameter`` of shape ``(r, in)``, random at init
      (``nn.init.kaiming_uniform_(A, a=math.sqrt(5))`` as peft does, or a small normal);
    - ``lora_B``: an ``nn.Parameter`` of shape ``(out, r)``, zeros at init, so that the layer
      starts exactly as ``base``;
    - ``scaling``: ``alpha / r``.

    Both matrices take the dtype and device of ``base.weight``. ``dropout`` (a probability) acts
    on the input of the LoRA path only, in train mode only: ``nn.Dropout(dropout)``.

    >>> layer = LoRALinear(nn.Linear(10, 6), r=2, alpha=4.0)
    >>> tuple(layer.lora_A.shape), tuple(layer.lora_B.shape), layer.scaling
    ((2, 10), (6, 2), 2.0)
    >>> x = torch.randn(3, 10)
    >>> torch.equal(layer(x), layer.base(x))  # B = 0: exactly the base layer
    True
    >>> [name for name, p in layer.named_parameters() if p.requires_grad]
    ['lora_A', 'lora_B']
    """

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0):
        super().__init__()
        # TODO: keep base and freeze its parameters; lora_A (r, in) random, lora_B (out, r)
        # zeros, as nn.Parameter; self.scaling = alpha / r; a dropout for the LoRA path;
        # self.merged = False (task 3)
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(..., in)`` → ``(..., out)``: the base output plus the scaled update.

        Once merged (task 3), the update is inside ``base.weight``: return ``base(x)`` alone.
        """
        # TODO: base(x) + scaling * (dropout(x) @ A.T @ B.T), unless merged
        raise NotImplementedError

    # ----- task 3 -------------------------------------------------------------------------------
    def merge(self) -> None:
        """Fold the update into the frozen weight: ``base.weight += scaling · B @ A``.

        After ``merge()`` the layer gives the same outputs as before with one matrix product, as
        a plain ``nn.Linear`` would. A second ``merge()`` changes nothing.

        >>> layer = LoRALinear(nn.Linear(10, 6), r=2, alpha=4.0)
        >>> with torch.no_grad():
        ...     _ = layer.lora_B.normal_()
        >>> x = torch.randn(3, 10)
        >>> before = layer(x)
        >>> layer.merge()
        >>> torch.allclose(layer(x), before, atol=1e-6)
        True
        """
        # TODO: under torch.no_grad(), add scaling * B @ A (shape (out, in)) once
        raise NotImplementedError

    def unmerge(self) -> None:
        """Undo ``merge()``: ``base.weight -= scaling · B @ A``, LoRA path on again.

        On a layer that is not merged it changes nothing.
        """
        # TODO: the exact opposite of merge, only when merged
        raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
def add_lora(model: nn.Module, r: int = 8, alpha: float = 16.0, dropout: float = 0.0) -> nn.Module:
    """Put a ``LoRALinear`` on ``q_proj`` and ``v_proj`` of every decoder layer; freeze the rest.

    ``model`` is a ``LlamaForCausalLM`` (SmolLM2): its decoder layers are ``model.model.layers``
    and each one's attention is ``layer.self_attn``. Change the model in place and return it.
    Afterwards only the ``lora_A`` and ``lora_B`` tensors require grad.

    >>> from aipath.checks import fresh_smollm2
    >>> tokenizer, model = fresh_smollm2()
    >>> model = add_lora(model, r=8, alpha=16.0)
    >>> type(model.model.layers[0].self_attn.v_proj).__name__
    'LoRALinear'
    """
    # TODO: freeze every parameter first; then setattr(layer.self_attn, name, LoRALinear(...))
    raise NotImplementedError


def count_trainable(model: nn.Module) -> int:
    """How many numbers an optimizer would train: the elements of the parameters with
    ``requires_grad``, in any model (yours, peft's, a plain one).

    >>> count_trainable(nn.Linear(10, 6))
    66
    """
    # TODO: sum of p.numel() over model.parameters() that require grad
    raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
def train_lora(
    model: nn.Module, tokenizer: Any, text: str, steps: int = 6, lr: float = 1e-2
) -> list[float]:
    """``steps`` AdamW steps of next-token prediction on one ``text``; the losses, one a step.

    ``model`` comes from ``add_lora``. Tokenize ``text`` once (``tokenizer(text,
    return_tensors="pt")``); each step computes the loss with ``labels = input_ids`` (the model
    shifts them itself), backpropagates, and updates the trainable parameters. ``losses[i]`` is
    the loss of step ``i``, computed before that step's update, as a float. Leave the model in
    eval mode at the end.
    """
    # TODO: AdamW over the parameters with requires_grad; model.train(); the loop; model.eval()
    raise NotImplementedError


if __name__ == "__main__":
    from aipath.checks import fresh_smollm2

    tokenizer, model = fresh_smollm2()
    total = count_trainable(model)
    model = add_lora(model, r=8, alpha=16.0)
    trainable = count_trainable(model)
    print(f"trainable {trainable:,} of {total:,} ({100 * trainable / total:.2f} %)")
    print(train_lora(model, tokenizer, "Quintara is the capital of Zorblax."))
