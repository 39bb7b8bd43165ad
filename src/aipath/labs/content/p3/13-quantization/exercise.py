"""Model quantization by hand: the file you edit.

Read README.md first. Shapes: a Linear layer's weight ``w`` is ``(out, in)`` (one row per output
feature, ``y = x @ w.T``); G = in / group_size groups per row in task 2; T = tokens of a text.
The checks hand your functions small matrices of their own (tasks 1–3), a tiny Llama model
(task 4) and a fresh copy of SmolLM2-135M-Instruct (tasks 5–6), so each task is checked alone.

Try the whole lab on the real model with ``python exercise.py`` once tasks 1–6 are done.
No torchao, bitsandbytes or torch.ao here: everything is built from plain tensor operations.
"""

from __future__ import annotations

import math  # noqa: F401  (task 5: math.exp)
from typing import Any

import torch
import torch.nn.functional as F  # noqa: F401  (task 5: F.cross_entropy)
from torch import nn

# A paragraph the model has never been tuned on: no calibration data is used in this lab, so any
# text is held out. 142 tokens with SmolLM2's tokenizer: one forward pass takes about a second.
EVAL_TEXT = (
    "The old harbour town wakes up slowly. Before the first ferry leaves, the bakers have already "
    "pulled the morning bread out of their ovens, and the smell drifts down the narrow streets "
    "towards the water. Fishermen sort their nets on the quay while gulls wait on the railings, "
    "hoping that something will fall. By eight o'clock the cafés open their shutters and children "
    "in blue uniforms hurry past on their way to school. Most visitors arrive in the afternoon, "
    "when the light turns golden and the boats return with their catch. In winter the town is "
    "quieter: storms close the harbour for days at a time, and the people who live there all year "
    "finally have the streets to themselves."
)


# ----- task 1 -----------------------------------------------------------------------------------
def quantize_int8(w: torch.Tensor, per_channel: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8: ``(q (out, in) torch.int8, scale float32)``.

    ``scale = max |w| / 127`` — over the whole matrix (a 0-dim tensor) when ``per_channel`` is
    False, over each output row (shape ``(out, 1)``) when it is True; a max of 0 gets scale 1.
    ``q = round(w / scale)`` clamped to ``[-127, 127]``. Do not change ``w``.

    >>> w = torch.tensor([[0.6, -1.0, 0.25], [0.01, 0.03, -0.04]])
    >>> q, scale = quantize_int8(w)
    >>> q.tolist(), round(float(scale), 6)
    ([[76, -127, 32], [1, 4, -5]], 0.007874)
    >>> q, scale = quantize_int8(w, per_channel=True)
    >>> q.tolist(), scale.shape
    ([[76, -127, 32], [32, 95, -127]], torch.Size([2, 1]))
    """
    # TODO: max_abs (keepdim=True per channel), scale = max_abs / 127 (1.0 where max_abs is 0),
    # torch.round(w / scale), torch.clamp(..., -127, 127), .to(torch.int8)
    raise NotImplementedError


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The float32 weights that ``q`` and ``scale`` stand for: ``q * scale`` (broadcast).

    >>> q, scale = quantize_int8(torch.tensor([[0.6, -1.0, 0.25]]))
    >>> [round(v, 4) for v in dequantize_int8(q, scale)[0].tolist()]
    [0.5984, -1.0, 0.252]
    """
    raise NotImplementedError  # TODO: q as float32 times the scale


# ----- task 2 -----------------------------------------------------------------------------------
def quantize_int4(
    w: torch.Tensor, group_size: int = 32
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric 4-bit, one scale and zero point per group of ``group_size`` consecutive weights
    of a row: ``(q (out, in) codes 0..15, scale (out, G) float32, zero (out, G) codes 0..15)``.

    Per group: ``scale = (max - min) / 15``, ``zero = round(-min / scale)`` clamped to [0, 15]
    (the code that stands for 0.0), ``q = clamp(round(w / scale) + zero, 0, 15)``. Return q and
    zero as ``torch.uint8``. ``in`` is a multiple of ``group_size``. Do not change ``w``.

    >>> w = torch.tensor([[-0.32, 0.1, 0.27, 1.18, 0.9, -1.0, 0.5, 0.1]])
    >>> q, scale, zero = quantize_int4(w, group_size=4)
    >>> q.tolist(), [round(s, 4) for s in scale[0].tolist()], zero.tolist()
    ([[0, 4, 6, 15, 15, 0, 12, 9]], [0.1, 0.1267], [[3, 8]])
    """
    # TODO: w.reshape(out, in // group_size, group_size); amin / amax over the last axis;
    # scale, zero, codes; reshape the codes back to (out, in)
    raise NotImplementedError


def dequantize_int4(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    """The float32 weights ``(q - zero) * scale``, each group with its own scale and zero point.

    The group size is ``in / scale.shape[1]``.

    >>> q, scale, zero = quantize_int4(torch.tensor([[-0.32, 0.1, 0.27, 1.18]]), group_size=4)
    >>> [round(v, 4) for v in dequantize_int4(q, scale, zero)[0].tolist()]
    [-0.3, 0.1, 0.3, 1.2]
    """
    raise NotImplementedError  # TODO: group the codes like the weights, or repeat_interleave


# ----- task 3 -----------------------------------------------------------------------------------
def pack_int4(q: torch.Tensor) -> torch.Tensor:
    """Two 4-bit codes per byte: ``(out, in)`` codes 0..15 → ``(out, in / 2)`` torch.uint8.

    Columns ``2i`` and ``2i + 1`` share byte ``i``: the even column in the LOW nibble (bits 0–3),
    the odd column in the HIGH nibble (bits 4–7).

    >>> pack_int4(torch.tensor([[1, 2, 15, 0]], dtype=torch.uint8)).tolist()
    [[33, 15]]
    """
    raise NotImplementedError  # TODO: q[:, 0::2] | (q[:, 1::2] << 4) on uint8 tensors


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """The inverse of ``pack_int4``: ``(out, in / 2)`` uint8 → ``(out, in)`` codes 0..15 (uint8).

    >>> unpack_int4(torch.tensor([[33, 15]], dtype=torch.uint8)).tolist()
    [[1, 2, 15, 0]]
    """
    raise NotImplementedError  # TODO: packed & 0x0F, packed >> 4, then interleave the two


# ----- task 4 -----------------------------------------------------------------------------------
def quantize_model(model: nn.Module, method: str, group_size: int = 32) -> dict[str, int]:
    """Quantize every ``nn.Linear`` inside ``model.model.layers``, in place; return the sizes.

    ``method`` is ``"int8"`` (task 1, per channel) or ``"int4"`` (task 2, ``group_size``). Each
    layer's weight is replaced by its dequantized values (fake quantization), or the layer by a
    module of your own that stores the codes (a QuantLinear). The embedding and ``lm_head`` stay
    as they are. Returns::

        {
            "linears": ...,  # how many Linear layers were quantized
            "float_bytes": ...,  # their float32 weights: 4 bytes per weight
            "quantized_bytes": ...,  # codes (int8, or packed 4-bit) + scales (float32)
            #                          + zero points (uint8, int4 only)
        }
    """
    # TODO: for each Linear in model.model.layers.modules(): quantize, count, and (under
    # torch.no_grad()) write the dequantized weight back with layer.weight.copy_(...)
    raise NotImplementedError


# ----- task 5 -----------------------------------------------------------------------------------
def perplexity(tokenizer: Any, model: nn.Module, text: str) -> float:
    """``exp`` of the mean negative log-likelihood of each token of ``text`` given the ones before.

    ``tokenizer(text, return_tensors="pt")`` as it is (no special tokens added for SmolLM2); T
    tokens give T - 1 predictions. ``model(input_ids, labels=input_ids).loss`` is that mean NLL
    already: the model shifts the labels itself. Or compute it from the logits by hand.
    """
    # TODO: under torch.no_grad(): the mean NLL of tokens 1..T-1, then math.exp
    raise NotImplementedError


# ----- task 6 -----------------------------------------------------------------------------------
def quantization_report(
    tokenizer: Any, model: nn.Module, text: str, method: str, group_size: int = 32
) -> dict[str, float]:
    """Measure ``model`` (float), quantize it in place with ``quantize_model``, measure again::

    {
        "float_perplexity": ...,
        "quantized_perplexity": ...,
        "perplexity_delta": ...,  # quantized - float
        "float_bytes": ...,  # from quantize_model
        "quantized_bytes": ...,
        "size_ratio": ...,  # float_bytes / quantized_bytes
    }
    """
    raise NotImplementedError  # TODO: tasks 4 and 5 put together


if __name__ == "__main__":
    from aipath.checks import fresh_smollm2

    torch.set_num_threads(1)
    for method in ("int8", "int4"):
        tokenizer, model = fresh_smollm2()  # a copy of the packaged model you may change
        print(method, quantization_report(tokenizer, model, EVAL_TEXT, method))
