"""A correct solution written differently: the layers are replaced by a QuantLinear module that
stores the codes (int8, or two 4-bit codes per byte) with their scales and zero points and
dequantizes in forward, so the model really holds the smaller tensors; the 4-bit groups are
quantized one group of columns at a time in a loop, a per-tensor int8 scale has shape (1, 1),
and the perplexity is the loss the model computes from labels=input_ids."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

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


def quantize_int8(w: torch.Tensor, per_channel: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    w = w.detach().float()
    if per_channel:
        max_abs = torch.amax(torch.abs(w), dim=1, keepdim=True)
    else:
        max_abs = torch.abs(w).max().reshape(1, 1)
    scale = max_abs / 127
    scale[scale == 0] = 1.0
    return torch.round(w / scale).clamp(-127, 127).to(torch.int8), scale


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.to(torch.float32).mul(scale)


def quantize_int4(
    w: torch.Tensor, group_size: int = 32
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    w = w.detach().float()
    out_features, in_features = w.shape
    n_groups = in_features // group_size
    q = torch.empty(out_features, in_features, dtype=torch.uint8)
    scale = torch.empty(out_features, n_groups)
    zero = torch.empty(out_features, n_groups, dtype=torch.uint8)
    for g in range(n_groups):
        cols = slice(g * group_size, (g + 1) * group_size)
        block = w[:, cols]
        lo = block.min(dim=1, keepdim=True).values
        hi = block.max(dim=1, keepdim=True).values
        s = (hi - lo) / 15
        s = torch.where(s == 0, torch.ones_like(s), s)
        z = torch.round(-lo / s).clamp(0, 15)
        q[:, cols] = (torch.round(block / s) + z).clamp(0, 15).to(torch.uint8)
        scale[:, g] = s[:, 0]
        zero[:, g] = z[:, 0].to(torch.uint8)
    return q, scale, zero


def dequantize_int4(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    out_features, in_features = q.shape
    n_groups = scale.shape[1]
    blocks = q.view(out_features, n_groups, in_features // n_groups).float()
    return ((blocks - zero.unsqueeze(2).float()) * scale.unsqueeze(2)).view(out_features, -1)


def pack_int4(q: torch.Tensor) -> torch.Tensor:
    pairs = q.to(torch.uint8).reshape(q.shape[0], -1, 2)
    return pairs[..., 0] | (pairs[..., 1] << 4)


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    pairs = torch.stack((torch.bitwise_and(packed, 15), torch.bitwise_right_shift(packed, 4)), -1)
    return pairs.flatten(1)


class QuantLinear(nn.Module):
    """A Linear layer kept as codes: int8 per channel, or packed 4-bit groups."""

    def __init__(self, linear: nn.Linear, method: str, group_size: int) -> None:
        super().__init__()
        self.method = method
        w = linear.weight.detach()
        if method == "int8":
            q, scale = quantize_int8(w, per_channel=True)
            self.register_buffer("codes", q)
            self.register_buffer("scale", scale)
            self.register_buffer("zero", torch.empty(0, dtype=torch.uint8))
        else:
            q, scale, zero = quantize_int4(w, group_size)
            self.register_buffer("codes", pack_int4(q))
            self.register_buffer("scale", scale)
            self.register_buffer("zero", zero)
        self.bias = linear.bias

    def stored_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.codes, self.scale, self.zero))

    def weight_now(self) -> torch.Tensor:
        if self.method == "int8":
            return dequantize_int8(self.codes, self.scale)
        return dequantize_int4(unpack_int4(self.codes), self.scale, self.zero)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight_now().to(x.dtype), self.bias)


def quantize_model(model: nn.Module, method: str, group_size: int = 32) -> dict[str, int]:
    if method not in {"int8", "int4"}:
        raise ValueError(method)
    targets = [
        (parent, name, child)
        for parent in model.model.layers.modules()
        for name, child in parent.named_children()
        if isinstance(child, nn.Linear)
    ]
    float_bytes = quantized_bytes = 0
    for parent, name, child in targets:
        float_bytes += child.weight.numel() * child.weight.element_size()
        replacement = QuantLinear(child, method, group_size)
        quantized_bytes += replacement.stored_bytes()
        setattr(parent, name, replacement)
    return {"linears": len(targets), "float_bytes": float_bytes, "quantized_bytes": quantized_bytes}


def perplexity(tokenizer: Any, model: nn.Module, text: str) -> float:
    batch = tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        loss = model(input_ids=batch["input_ids"], labels=batch["input_ids"]).loss
    return math.exp(float(loss))


def quantization_report(
    tokenizer: Any, model: nn.Module, text: str, method: str, group_size: int = 32
) -> dict[str, float]:
    before = perplexity(tokenizer, model, text)
    sizes = quantize_model(model, method, group_size=group_size)
    after = perplexity(tokenizer, model, text)
    return {
        "float_perplexity": before,
        "quantized_perplexity": after,
        "perplexity_delta": after - before,
        "float_bytes": sizes["float_bytes"],
        "quantized_bytes": sizes["quantized_bytes"],
        "size_ratio": sizes["float_bytes"] / sizes["quantized_bytes"],
    }
