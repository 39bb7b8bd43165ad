"""A correct solution written differently: Python loops over rows (int8) and over groups of
columns (4-bit) instead of reshapes,
pack and unpack with int32 arithmetic and slice assignment, weight.data assigned instead of
copy_, and the perplexity from the logits by hand under torch.inference_mode()."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
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
def quantize_int8(w, per_channel=False):
    w = w.detach().clone().float()
    out, inn = w.shape
    q = torch.empty(out, inn, dtype=torch.int8)
    if not per_channel:
        m = w.abs().max()
        scale = m / 127 if m > 0 else torch.tensor(1.0)
        for r in range(out):
            q[r] = torch.round(w[r] / scale).clamp(-127, 127)
        return q, scale
    scale = torch.empty(out, 1)
    for r in range(out):  # one row (output channel) at a time
        m = w[r].abs().max()
        s = m / 127 if m > 0 else torch.tensor(1.0)
        scale[r, 0] = s
        q[r] = torch.round(w[r] / s).clamp(-127, 127)
    return q, scale


def dequantize_int8(q, scale):
    return q.float() * scale.float()


# ----- task 2 -----------------------------------------------------------------------------------
def quantize_int4(w, group_size=32):
    out, inn = w.shape
    G = inn // group_size
    q = torch.empty(out, inn, dtype=torch.uint8)
    scale = torch.empty(out, G, dtype=torch.float32)
    zero = torch.empty(out, G, dtype=torch.uint8)
    for g in range(G):  # one group of columns at a time, all rows together
        cols = slice(g * group_size, (g + 1) * group_size)
        blk = w[:, cols].detach().float()
        lo = blk.min(dim=1, keepdim=True).values
        hi = blk.max(dim=1, keepdim=True).values
        s = (hi - lo) / 15
        s = torch.where(s > 0, s, torch.ones_like(s))
        z = torch.round(-lo / s).clamp(0, 15)
        q[:, cols] = (torch.round(blk / s) + z).clamp(0, 15).to(torch.uint8)
        scale[:, g] = s[:, 0]
        zero[:, g] = z[:, 0].to(torch.uint8)
    return q, scale, zero


def dequantize_int4(q, scale, zero):
    out, inn = q.shape
    G = scale.shape[1]
    gs = inn // G
    res = torch.empty(out, inn, dtype=torch.float32)
    for g in range(G):
        cols = slice(g * gs, (g + 1) * gs)
        res[:, cols] = (q[:, cols].float() - zero[:, g : g + 1].float()) * scale[:, g : g + 1]
    return res


# ----- task 3 -----------------------------------------------------------------------------------
def pack_int4(q):
    q = q.to(torch.int32)
    return (q[:, 0::2] + 16 * q[:, 1::2]).to(torch.uint8)


def unpack_int4(packed):
    p = packed.to(torch.int32)
    out = torch.empty(p.shape[0], p.shape[1] * 2, dtype=torch.uint8)
    out[:, 0::2] = (p % 16).to(torch.uint8)
    out[:, 1::2] = (p // 16).to(torch.uint8)
    return out


# ----- task 4 -----------------------------------------------------------------------------------
def quantize_model(model, method, group_size=32):
    info = {"linears": 0, "float_bytes": 0, "quantized_bytes": 0}
    for layer in model.model.layers:
        for mod in layer.modules():
            if isinstance(mod, nn.Linear):
                W = mod.weight.data
                info["linears"] += 1
                info["float_bytes"] += 4 * W.numel()
                if method == "int8":
                    q, s = quantize_int8(W, per_channel=True)
                    mod.weight.data = dequantize_int8(q, s)
                    info["quantized_bytes"] += q.numel() + 4 * s.numel()
                else:
                    q, s, z = quantize_int4(W, group_size)
                    mod.weight.data = dequantize_int4(q, s, z)
                    info["quantized_bytes"] += W.numel() // 2 + 5 * s.numel()
    return info


# ----- task 5 -----------------------------------------------------------------------------------
def perplexity(tokenizer, model, text):
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        logits = model(input_ids=ids).logits
    nll = F.cross_entropy(logits[0, :-1].float(), ids[0, 1:])
    return math.exp(nll.item())


# ----- task 6 -----------------------------------------------------------------------------------
def quantization_report(tokenizer, model, text, method, group_size=32):
    before = perplexity(tokenizer, model, text)
    sz = quantize_model(model, method, group_size=group_size)
    after = perplexity(tokenizer, model, text)
    return dict(
        float_perplexity=before,
        quantized_perplexity=after,
        perplexity_delta=after - before,
        float_bytes=sz["float_bytes"],
        quantized_bytes=sz["quantized_bytes"],
        size_ratio=sz["float_bytes"] / sz["quantized_bytes"],
    )


if __name__ == "__main__":
    from aipath.checks import fresh_smollm2

    torch.set_num_threads(1)
    for method in ("int8", "int4"):
        tokenizer, model = fresh_smollm2()  # a copy of the packaged model you may change
        print(method, quantization_report(tokenizer, model, EVAL_TEXT, method))
