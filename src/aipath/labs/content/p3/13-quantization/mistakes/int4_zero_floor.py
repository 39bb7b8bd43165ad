# expect: floor(−min / scale)
"""A known-wrong solution: the 4-bit zero point is floored instead of rounded."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# A paragraph the model has never been tuned on: no calibration data is used in this lab, so any
# text is held out. About 150 tokens with SmolLM2's tokenizer: one forward pass is a second.
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
INT8_MAX = 127  # symmetric int8 uses [-127, 127]: the same step on both sides of zero
INT4_MAX = 15  # 4-bit codes 0..15


# ----- task 1 -----------------------------------------------------------------------------------
def quantize_int8(w: torch.Tensor, per_channel: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    w = w.detach().to(torch.float32)
    # (out, 1): one scale per output row; or (): one scale for the whole matrix
    max_abs = w.abs().amax(dim=1, keepdim=True) if per_channel else w.abs().max()
    scale = torch.where(max_abs > 0, max_abs / INT8_MAX, torch.ones_like(max_abs))
    q = torch.clamp(torch.round(w / scale), -INT8_MAX, INT8_MAX).to(torch.int8)
    return q, scale


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.to(torch.float32) * scale


# ----- task 2 -----------------------------------------------------------------------------------
def quantize_int4(
    w: torch.Tensor, group_size: int = 32
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    out_features, in_features = w.shape
    if in_features % group_size:
        raise ValueError(f"in_features {in_features} is not a multiple of group_size {group_size}")
    groups = w.detach().to(torch.float32).reshape(out_features, -1, group_size)  # (out, G, g)
    lo = groups.amin(dim=2)
    hi = groups.amax(dim=2)
    scale = (hi - lo) / INT4_MAX
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    zero = torch.clamp(torch.floor(-lo / scale), 0, INT4_MAX)  # (out, G): the code of 0.0
    q = torch.clamp(torch.round(groups / scale[..., None]) + zero[..., None], 0, INT4_MAX)
    return q.reshape(out_features, in_features).to(torch.uint8), scale, zero.to(torch.uint8)


def dequantize_int4(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    out_features, in_features = q.shape
    group_size = in_features // scale.shape[1]
    groups = q.to(torch.float32).reshape(out_features, -1, group_size)
    deq = (groups - zero.to(torch.float32)[..., None]) * scale[..., None]
    return deq.reshape(out_features, in_features)


# ----- task 3 -----------------------------------------------------------------------------------
def pack_int4(q: torch.Tensor) -> torch.Tensor:
    q = q.to(torch.uint8)
    return q[:, 0::2] | (q[:, 1::2] << 4)  # even column: low nibble, odd column: high nibble


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    low = packed & 0x0F
    high = packed >> 4
    return torch.stack((low, high), dim=-1).reshape(packed.shape[0], -1)


# ----- task 4 -----------------------------------------------------------------------------------
def quantize_model(model: nn.Module, method: str, group_size: int = 32) -> dict[str, int]:
    if method not in ("int8", "int4"):
        raise ValueError(f"method must be 'int8' or 'int4'; got {method!r}")
    linears = [m for m in model.model.layers.modules() if isinstance(m, nn.Linear)]
    float_bytes = quantized_bytes = 0
    with torch.no_grad():
        for layer in linears:
            w = layer.weight
            float_bytes += w.numel() * w.element_size()
            if method == "int8":
                q, scale = quantize_int8(w, per_channel=True)
                stored = (q, scale)
                deq = dequantize_int8(q, scale)
            else:
                q, scale, zero = quantize_int4(w, group_size)
                stored = (pack_int4(q), scale, zero)
                deq = dequantize_int4(q, scale, zero)
            quantized_bytes += sum(t.numel() * t.element_size() for t in stored)
            w.copy_(deq.to(w.dtype))
    return {"linears": len(linears), "float_bytes": float_bytes, "quantized_bytes": quantized_bytes}


# ----- task 5 -----------------------------------------------------------------------------------
def perplexity(tokenizer: Any, model: nn.Module, text: str) -> float:
    input_ids = tokenizer(text, return_tensors="pt").input_ids  # (1, T)
    model.eval()
    with torch.no_grad():
        logits = model(input_ids).logits  # (1, T, V)
    # position t predicts token t + 1: T - 1 predictions
    nll = F.cross_entropy(logits[0, :-1].float(), input_ids[0, 1:])  # the mean
    return math.exp(nll.item())


# ----- task 6 -----------------------------------------------------------------------------------
def quantization_report(
    tokenizer: Any, model: nn.Module, text: str, method: str, group_size: int = 32
) -> dict[str, float]:
    before = perplexity(tokenizer, model, text)
    sizes = quantize_model(model, method, group_size)
    after = perplexity(tokenizer, model, text)
    return {
        "float_perplexity": before,
        "quantized_perplexity": after,
        "perplexity_delta": after - before,
        "float_bytes": sizes["float_bytes"],
        "quantized_bytes": sizes["quantized_bytes"],
        "size_ratio": sizes["float_bytes"] / sizes["quantized_bytes"],
    }


if __name__ == "__main__":
    from aipath.checks import fresh_smollm2

    torch.set_num_threads(1)
    for method in ("int8", "int4"):
        tokenizer, model = fresh_smollm2()
        print(method, quantization_report(tokenizer, model, EVAL_TEXT, method))
