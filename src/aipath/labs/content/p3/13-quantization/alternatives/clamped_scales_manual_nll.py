"""A correct solution written differently: scales guarded with clamp_min instead of a where,
multiplication by 1 / scale, 4-bit ranges stretched to include 0 (as GPTQ does: the same answer
whenever a group holds both signs), pack and unpack with arithmetic (x + 16 * y, % 16, // 16),
weights replaced through .data, and the perplexity from log_softmax and gather."""

from __future__ import annotations

import math
from typing import Any

import torch
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
    a = w.detach().float().abs()
    max_abs = a.max(dim=1, keepdim=True).values if per_channel else a.max()
    scale = max_abs.clamp_min(1e-12) / 127.0
    q = (w.detach().float() * (1.0 / scale)).round().clamp(-127, 127)
    return q.to(torch.int8), scale


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return scale * q.float()


def quantize_int4(
    w: torch.Tensor, group_size: int = 32
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    groups = w.detach().float().unflatten(1, (-1, group_size))  # (out, G, g)
    lo, hi = torch.aminmax(groups, dim=-1)
    lo, hi = lo.clamp(max=0.0), hi.clamp(min=0.0)  # the range always holds 0
    scale = ((hi - lo) / 15.0).clamp_min(1e-12)
    zero = (-lo / scale).round().clamp(0, 15)
    q = (groups / scale.unsqueeze(-1)).round().add(zero.unsqueeze(-1)).clamp(0, 15)
    return q.flatten(1).to(torch.uint8), scale, zero.to(torch.uint8)


def dequantize_int4(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    g = q.shape[1] // scale.shape[1]
    s = scale.repeat_interleave(g, dim=1)
    z = zero.float().repeat_interleave(g, dim=1)
    return (q.float() - z) * s


def pack_int4(q: torch.Tensor) -> torch.Tensor:
    q = q.to(torch.int16)
    return (q[:, ::2] + 16 * q[:, 1::2]).to(torch.uint8)


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    p = packed.to(torch.int16)
    out = torch.empty(p.shape[0], 2 * p.shape[1], dtype=torch.uint8)
    out[:, ::2] = (p % 16).to(torch.uint8)
    out[:, 1::2] = (p // 16).to(torch.uint8)
    return out


def quantize_model(model: nn.Module, method: str, group_size: int = 32) -> dict[str, int]:
    count = float_bytes = quantized_bytes = 0
    for _name, layer in model.model.layers.named_modules():
        if not isinstance(layer, nn.Linear):
            continue
        w = layer.weight.data
        out_features, in_features = w.shape
        count += 1
        float_bytes += 4 * w.numel()
        if method == "int8":
            q, scale = quantize_int8(w, per_channel=True)
            layer.weight.data = dequantize_int8(q, scale)
            quantized_bytes += w.numel() + 4 * out_features
        elif method == "int4":
            q, scale, zero = quantize_int4(w, group_size)
            layer.weight.data = dequantize_int4(q, scale, zero)
            n_groups = out_features * (in_features // group_size)
            quantized_bytes += w.numel() // 2 + 4 * n_groups + n_groups
        else:
            raise ValueError(method)
    return {"linears": count, "float_bytes": float_bytes, "quantized_bytes": quantized_bytes}


def perplexity(tokenizer: Any, model: nn.Module, text: str) -> float:
    ids = tokenizer(text, return_tensors="pt")["input_ids"][0]
    with torch.no_grad():
        logits = model(ids[None]).logits[0]
    logp = torch.log_softmax(logits.float(), dim=-1)
    token_logp = logp[torch.arange(len(ids) - 1), ids[1:]]
    return math.exp(-token_logp.mean().item())


def quantization_report(
    tokenizer: Any, model: nn.Module, text: str, method: str, group_size: int = 32
) -> dict[str, float]:
    report: dict[str, float] = {"float_perplexity": perplexity(tokenizer, model, text)}
    sizes = quantize_model(model, method, group_size)
    report["quantized_perplexity"] = perplexity(tokenizer, model, text)
    report["perplexity_delta"] = report["quantized_perplexity"] - report["float_perplexity"]
    report["float_bytes"] = sizes["float_bytes"]
    report["quantized_bytes"] = sizes["quantized_bytes"]
    report["size_ratio"] = sizes["float_bytes"] / sizes["quantized_bytes"]
    return report
