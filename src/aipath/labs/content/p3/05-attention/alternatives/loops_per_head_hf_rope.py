"""Alternative: loops over queries and heads, a large negative mask value, per-head weight slices,
RoPE written as Hugging Face's LLaMA does (x·cos + rotate_half(x)·sin, float32 frequencies).

Same conventions as the lab: mask True = may attend; nn.Linear weights; rotate-half RoPE.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def attention_weights(q: Tensor, k: Tensor, mask: Tensor | None = None) -> Tensor:
    t_q = q.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        full = torch.broadcast_to(mask, scores.shape)
        scores = torch.where(full, scores, torch.finfo(scores.dtype).min)  # a large negative
    rows = []
    for i in range(t_q):  # one query at a time, a stable softmax written out
        row = scores[..., i, :]
        e = torch.exp(row - row.max(dim=-1, keepdim=True).values)
        rows.append(e / e.sum(dim=-1, keepdim=True))
    return torch.stack(rows, dim=-2)


def attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    return attention_weights(q, k, mask) @ v


def causal_mask(size: int) -> Tensor:
    mask = torch.zeros(size, size, dtype=torch.bool)
    for i in range(size):
        for j in range(i + 1):
            mask[i, j] = True
    return mask


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    return torch.stack(x.chunk(num_heads, dim=-1), dim=1)  # (B, H, T, d_head)


def merge_heads(x: Tensor) -> Tensor:
    return torch.cat(x.unbind(dim=1), dim=-1)


def multi_head_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    params: dict[str, Tensor],
    num_heads: int,
    mask: Tensor | None = None,
) -> Tensor:
    d_head = query.shape[-1] // num_heads
    outputs = []
    for h in range(num_heads):  # each head uses its own rows of the projection weights
        rows = slice(h * d_head, (h + 1) * d_head)
        q = query @ params["w_q"][rows].T + params["b_q"][rows]
        k = key @ params["w_k"][rows].T + params["b_k"][rows]
        v = value @ params["w_v"][rows].T + params["b_v"][rows]
        outputs.append(attention(q, k, v, mask))
    return torch.cat(outputs, dim=-1) @ params["w_o"].T + params["b_o"]


def mha_params(module: nn.MultiheadAttention) -> dict[str, Tensor]:
    w = dict(
        zip(
            ("w_q", "w_k", "w_v"),
            module.in_proj_weight.detach().split(module.embed_dim),
            strict=True,
        )
    )
    b = dict(
        zip(
            ("b_q", "b_k", "b_v"), module.in_proj_bias.detach().split(module.embed_dim), strict=True
        )
    )
    return {**w, **b, "w_o": module.out_proj.weight.detach(), "b_o": module.out_proj.bias.detach()}


def sinusoidal_encoding(num_positions: int, d_model: int, base: float = 10000.0) -> Tensor:
    table = [[0.0] * d_model for _ in range(num_positions)]
    for pos in range(num_positions):
        for i in range(d_model // 2):
            angle = pos / base ** (2 * i / d_model)
            table[pos][2 * i] = math.sin(angle)
            table[pos][2 * i + 1] = math.cos(angle)
    return torch.tensor(table, dtype=torch.float32)


def rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x: Tensor, positions: Tensor | None = None, base: float = 10000.0) -> Tensor:
    length, dim = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(length)
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))  # float32, as in HF
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    return x * cos + rotate_half(x) * sin


def rope_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    positions: Tensor | None = None,
    mask: Tensor | None = None,
    base: float = 10000.0,
) -> Tensor:
    return attention(apply_rope(q, positions, base), apply_rope(k, positions, base), v, mask)
