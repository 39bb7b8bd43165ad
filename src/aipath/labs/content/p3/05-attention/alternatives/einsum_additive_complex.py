"""Alternative: einsum, an additive −inf mask, complex-number RoPE, F.linear projections.

Same conventions as the lab: mask True = may attend; nn.Linear weights; rotate-half RoPE
(dimension i paired with i + d/2), here done by multiplying complex numbers x[i] + i·x[i + d/2].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def attention_weights(q: Tensor, k: Tensor, mask: Tensor | None = None) -> Tensor:
    scores = torch.einsum("...qd,...kd->...qk", q, k) * q.shape[-1] ** -0.5
    if mask is not None:
        bias = torch.zeros(mask.shape, dtype=scores.dtype)
        scores = scores + bias.masked_fill(~mask, float("-inf"))  # additive mask
    return F.softmax(scores, dim=-1)


def attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    return torch.einsum("...qk,...kd->...qd", attention_weights(q, k, mask), v)


def causal_mask(size: int) -> Tensor:
    index = torch.arange(size)
    return index[:, None] >= index[None, :]


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    batch, length, width = x.shape
    return x.view(batch, length, num_heads, width // num_heads).permute(0, 2, 1, 3)


def merge_heads(x: Tensor) -> Tensor:
    return x.permute(0, 2, 1, 3).flatten(start_dim=2)


def multi_head_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    params: dict[str, Tensor],
    num_heads: int,
    mask: Tensor | None = None,
) -> Tensor:
    q, k, v = (
        split_heads(F.linear(x, params[f"w_{p}"], params[f"b_{p}"]), num_heads)
        for x, p in ((query, "q"), (key, "k"), (value, "v"))
    )
    return F.linear(merge_heads(attention(q, k, v, mask)), params["w_o"], params["b_o"])


def mha_params(module: nn.MultiheadAttention) -> dict[str, Tensor]:
    width = module.embed_dim
    weight, bias = module.in_proj_weight.detach(), module.in_proj_bias.detach()
    params = {}
    for index, part in enumerate("qkv"):
        params[f"w_{part}"] = weight[index * width : (index + 1) * width].clone()
        params[f"b_{part}"] = bias[index * width : (index + 1) * width].clone()
    params["w_o"] = module.out_proj.weight.detach().clone()
    params["b_o"] = module.out_proj.bias.detach().clone()
    return params


def sinusoidal_encoding(num_positions: int, d_model: int, base: float = 10000.0) -> Tensor:
    position = torch.arange(num_positions, dtype=torch.float64)
    inv_freq = torch.exp(
        -torch.arange(0, d_model, 2, dtype=torch.float64)
        / d_model
        * torch.log(torch.tensor(base, dtype=torch.float64))
    )
    angle = torch.outer(position, inv_freq)
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2).float()


def apply_rope(x: Tensor, positions: Tensor | None = None, base: float = 10000.0) -> Tensor:
    length, dim = x.shape[-2:]
    half = dim // 2
    if positions is None:
        positions = torch.arange(length)
    inv_freq = 1.0 / base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    angle = torch.outer(positions.double(), inv_freq)
    z = torch.complex(x[..., :half].double(), x[..., half:].double())
    z = z * torch.polar(torch.ones_like(angle), angle)
    return torch.cat([z.real, z.imag], dim=-1).to(x.dtype)


def rope_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    positions: Tensor | None = None,
    mask: Tensor | None = None,
    base: float = 10000.0,
) -> Tensor:
    q, k = apply_rope(q, positions, base), apply_rope(k, positions, base)
    return attention(q, k, v, mask)
