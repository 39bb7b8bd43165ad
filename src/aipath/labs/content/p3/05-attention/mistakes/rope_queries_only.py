# expect: applied to only the queries
"""Mistake: only the queries are rotated.

Otherwise the reference solution.

Conventions used throughout (see README.md):

* A boolean mask is True where a query **may** attend to a key, as in the ``attn_mask`` of
  ``torch.nn.functional.scaled_dot_product_attention``.
* Projection weights follow ``nn.Linear``: ``y = x @ w.T + b`` with ``w`` of shape (out, in).
* RoPE uses the *rotate-half* pairing of GPT-NeoX and of LLaMA in Hugging Face: dimension ``i``
  is paired with dimension ``i + d/2`` (not with ``i + 1``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


# ----- task 1 -----------------------------------------------------------------------------------
def attention_weights(q: Tensor, k: Tensor, mask: Tensor | None = None) -> Tensor:
    """softmax(q kᵀ / √d_k) over the keys, with masked positions given weight 0.

    q (..., T_q, d_k), k (..., T_k, d_k), mask bool broadcastable to (..., T_q, T_k) → (..., T_q, T_k).
    """
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)


def attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """Scaled dot-product attention: q (..., T_q, d_k), k (..., T_k, d_k), v (..., T_k, d_v)."""
    return attention_weights(q, k, mask) @ v


# ----- task 2 -----------------------------------------------------------------------------------
def causal_mask(size: int) -> Tensor:
    """(size, size) bool, True on and below the diagonal: query i may see keys 0..i."""
    return torch.tril(torch.ones(size, size, dtype=torch.bool))


# ----- task 3 -----------------------------------------------------------------------------------
def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, T, D) → (B, H, T, D // H); head h holds features h·d_head … (h + 1)·d_head − 1."""
    batch, length, width = x.shape
    return x.reshape(batch, length, num_heads, width // num_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, d_head) → (B, T, H · d_head), the inverse of ``split_heads``."""
    batch, heads, length, d_head = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * d_head)


def multi_head_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    params: dict[str, Tensor],
    num_heads: int,
    mask: Tensor | None = None,
) -> Tensor:
    """Project, split into heads, attend per head, merge, project out: (B, T_q, D)."""
    q = split_heads(query @ params["w_q"].T + params["b_q"], num_heads)
    k = split_heads(key @ params["w_k"].T + params["b_k"], num_heads)
    v = split_heads(value @ params["w_v"].T + params["b_v"], num_heads)
    heads = attention(q, k, v, mask)
    return merge_heads(heads) @ params["w_o"].T + params["b_o"]


def mha_params(module: nn.MultiheadAttention) -> dict[str, Tensor]:
    """The eight tensors of ``multi_head_attention`` taken from a ``nn.MultiheadAttention``."""
    w_q, w_k, w_v = module.in_proj_weight.detach().chunk(3, dim=0)
    b_q, b_k, b_v = module.in_proj_bias.detach().chunk(3, dim=0)
    return {
        "w_q": w_q,
        "w_k": w_k,
        "w_v": w_v,
        "b_q": b_q,
        "b_k": b_k,
        "b_v": b_v,
        "w_o": module.out_proj.weight.detach(),
        "b_o": module.out_proj.bias.detach(),
    }


# ----- task 4 -----------------------------------------------------------------------------------
def sinusoidal_encoding(num_positions: int, d_model: int, base: float = 10000.0) -> Tensor:
    """PE[pos, 2i] = sin(pos / base^(2i/d_model)), PE[pos, 2i + 1] = cos(same angle); float32."""
    position = torch.arange(num_positions, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angle = position / base ** (two_i / d_model)
    encoding = torch.zeros(num_positions, d_model, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(angle)
    encoding[:, 1::2] = torch.cos(angle)
    return encoding.to(torch.float32)


# ----- task 5 -----------------------------------------------------------------------------------
def apply_rope(x: Tensor, positions: Tensor | None = None, base: float = 10000.0) -> Tensor:
    """Rotate each pair (x[i], x[i + d/2]) of x (..., T, d) by the angle position · base^(−2i/d)."""
    length, dim = x.shape[-2], x.shape[-1]
    if positions is None:
        positions = torch.arange(length)
    half = dim // 2
    inv_freq = base ** (-torch.arange(half, dtype=torch.float64) * 2 / dim)
    angle = positions.to(torch.float64)[:, None] * inv_freq[None, :]
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def rope_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    positions: Tensor | None = None,
    mask: Tensor | None = None,
    base: float = 10000.0,
) -> Tensor:
    """Attention with RoPE on the queries and keys (never on the values)."""
    return attention(apply_rope(q, positions, base), k, v, mask)
