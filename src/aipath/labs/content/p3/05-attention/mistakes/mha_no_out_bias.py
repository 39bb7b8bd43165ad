# expect: the output bias b_o left out
# Mistake: MHA: output projection bias b_o forgotten
"""Attention from scratch in PyTorch: the file you edit.

Read README.md first. Conventions used throughout:

* A boolean mask is True where a query **may** attend to a key, the meaning of a boolean
  ``attn_mask`` in ``torch.nn.functional.scaled_dot_product_attention``. (``nn.MultiheadAttention``
  reads its boolean mask the other way round: True there means *blocked*.)
* Projection weights follow ``nn.Linear``: ``y = x @ w.T + b`` with ``w`` of shape (out, in).
* RoPE uses the *rotate-half* pairing of GPT-NeoX and of LLaMA in Hugging Face: dimension ``i``
  is paired with dimension ``i + d/2`` (not with ``i + 1``, the interleaved pairing of GPT-J).

Build everything from tensor operations (``@``, ``softmax``, ``reshape``, ``transpose``, ``sin``,
``cos``, …): ``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention`` are what the checks
compare your functions with, so they are not to be called here.
"""

from __future__ import annotations

import math  # noqa: F401  (math.sqrt is handy)

import torch  # noqa: F401  (torch.softmax, torch.tril, torch.sin, …)
from torch import Tensor, nn


# ----- task 1 -----------------------------------------------------------------------------------
def attention_weights(q: Tensor, k: Tensor, mask: Tensor | None = None) -> Tensor:
    """softmax(q kᵀ / √d_k) over the keys; positions where ``mask`` is False get weight 0.

    Args:
        q: queries (..., T_q, d_k); any leading dims, e.g. (B, T_q, d_k) or (B, H, T_q, d_k).
        k: keys (..., T_k, d_k), same leading dims.
        mask: optional bool tensor broadcastable to (..., T_q, T_k), e.g. (T_q, T_k); True where
            query i may attend to key j. Every row has at least one True.

    Returns:
        weights (..., T_q, T_k): each row (one query) sums to 1 over the keys. The inputs are
        left unchanged.

    >>> q = torch.tensor([[1.0, 0.0]])                  # T_q = 1, d_k = 2
    >>> k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])      # T_k = 2
    >>> attention_weights(q, k)                         # scores [1/√2, 0]
    tensor([[0.6698, 0.3302]])
    >>> attention_weights(q, k, mask=torch.tensor([[True, False]]))
    tensor([[1., 0.]])
    """
    # TODO: scores = q kᵀ / √d_k; where the mask is False, -inf; softmax over the keys
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, dim=-1)


def attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """Scaled dot-product attention: ``attention_weights(q, k, mask) @ v``.

    Args:
        q: (..., T_q, d_k); k: (..., T_k, d_k); v: (..., T_k, d_v); mask as in attention_weights.

    Returns:
        (..., T_q, d_v): for each query, the weighted average of the values.

    >>> attention(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
    ...           torch.tensor([[10.0], [20.0]]))     # 0.6698 · 10 + 0.3302 · 20
    tensor([[13.3024]])
    """
    # TODO: combine attention_weights with v
    return attention_weights(q, k, mask) @ v


# ----- task 2 -----------------------------------------------------------------------------------
def causal_mask(size: int) -> Tensor:
    """(size, size) bool mask for a decoder: query i may attend to keys 0, 1, …, i.

    >>> causal_mask(3)
    tensor([[ True, False, False],
            [ True,  True, False],
            [ True,  True,  True]])
    """
    # TODO: True on and below the diagonal
    return torch.tril(torch.ones(size, size, dtype=torch.bool))


# ----- task 3 -----------------------------------------------------------------------------------
def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, T, D) → (B, H, T, D // H); head h holds features h·d_head … (h + 1)·d_head − 1.

    >>> x = torch.arange(12.0).reshape(1, 2, 6)         # B = 1, T = 2, D = 6
    >>> split_heads(x, 3)[0, 1]                         # head 1: features 2, 3 of both tokens
    tensor([[2., 3.],
            [8., 9.]])
    """
    # TODO: reshape to (B, T, H, d_head), then bring H forward
    B, T, D = x.shape
    return x.reshape(B, T, num_heads, D // num_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, d_head) → (B, T, H · d_head): the inverse of ``split_heads``.

    >>> x = torch.arange(12.0).reshape(1, 2, 6)
    >>> torch.equal(merge_heads(split_heads(x, 3)), x)
    True
    """
    # TODO: undo split_heads step by step, in reverse order
    B, H, T, d = x.shape
    return x.transpose(1, 2).reshape(B, T, H * d)


def multi_head_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    params: dict[str, Tensor],
    num_heads: int,
    mask: Tensor | None = None,
) -> Tensor:
    """Multi-head attention, as ``nn.MultiheadAttention(D, num_heads, batch_first=True)``.

    Args:
        query: (B, T_q, D); key and value: (B, T_k, D) (the same tensor as query for
            self-attention).
        params: ``w_q, w_k, w_v, w_o`` of shape (D, D) and ``b_q, b_k, b_v, b_o`` of shape (D,),
            used as ``x @ w.T + b``.
        num_heads: H, which divides D; each head works on d_head = D // H features.
        mask: optional bool (T_q, T_k) (or broadcastable to (B, H, T_q, T_k)), True = may attend.

    Returns:
        (B, T_q, D): project q, k, v; split each into H heads; attend in every head at once;
        merge the heads; apply the output projection ``w_o``, ``b_o``.
    """
    # TODO: three projections, split_heads, attention, merge_heads, output projection
    q = query @ params["w_q"].T + params["b_q"]
    k = key @ params["w_k"].T + params["b_k"]
    v = value @ params["w_v"].T + params["b_v"]
    q, k, v = (split_heads(t, num_heads) for t in (q, k, v))
    out = merge_heads(attention(q, k, v, mask))
    return out @ params["w_o"].T


def mha_params(module: nn.MultiheadAttention) -> dict[str, Tensor]:
    """The eight tensors ``multi_head_attention`` takes, read from a ``nn.MultiheadAttention``.

    The module keeps W_q, W_k, W_v stacked in ``in_proj_weight`` (3·D, D) and their biases in
    ``in_proj_bias`` (3·D,); the output projection is ``out_proj`` (an ``nn.Linear``).

    >>> module = nn.MultiheadAttention(8, 2, batch_first=True)
    >>> {name: tuple(t.shape) for name, t in mha_params(module).items()}["w_k"]
    (8, 8)
    """
    # TODO: cut in_proj_weight and in_proj_bias into three; out_proj.weight / .bias
    w_q, w_k, w_v = module.in_proj_weight.chunk(3, dim=0)
    b_q, b_k, b_v = module.in_proj_bias.chunk(3, dim=0)
    return {"w_q": w_q, "w_k": w_k, "w_v": w_v, "w_o": module.out_proj.weight,
            "b_q": b_q, "b_k": b_k, "b_v": b_v, "b_o": module.out_proj.bias}


# ----- task 4 -----------------------------------------------------------------------------------
def sinusoidal_encoding(num_positions: int, d_model: int, base: float = 10000.0) -> Tensor:
    """The fixed positional encodings of "Attention Is All You Need", (num_positions, d_model).

    PE[pos, 2i] = sin(pos / base^(2i / d_model)) and PE[pos, 2i + 1] = cos(pos / base^(2i / d_model))
    for pos = 0 … num_positions − 1 and i = 0 … d_model/2 − 1 (d_model is even). float32.

    >>> sinusoidal_encoding(3, 4)
    tensor([[ 0.0000,  1.0000,  0.0000,  1.0000],
            [ 0.8415,  0.5403,  0.0100,  0.9999],
            [ 0.9093, -0.4161,  0.0200,  0.9998]])
    """
    # TODO: an angle per (position, pair); sin into the even columns, cos into the odd ones
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    i = torch.arange(d_model // 2, dtype=torch.float64)[None, :]
    angle = pos / base ** (2 * i / d_model)
    pe = torch.zeros(num_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.float()


# ----- task 5 -----------------------------------------------------------------------------------
def apply_rope(x: Tensor, positions: Tensor | None = None, base: float = 10000.0) -> Tensor:
    """Rotary positional embedding, rotate-half convention, applied to x (..., T, d), d even.

    With h = d/2 and θ_i = base^(−2i/d) for i = 0 … h − 1, the token at position m has each pair
    (x[i], x[i + h]) rotated by the angle m·θ_i:
        out[i]     = x[i] · cos(m θ_i) − x[i + h] · sin(m θ_i)
        out[i + h] = x[i + h] · cos(m θ_i) + x[i] · sin(m θ_i)

    Args:
        x: (..., T, d), e.g. queries (B, H, T, d_head).
        positions: optional int tensor (T,) with the position of each of the T tokens; default
            0, 1, …, T − 1.

    Returns:
        a tensor of the shape and dtype of x.

    >>> apply_rope(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.tensor([1]))  # θ_0 = 1
    tensor([[0.5403, 0.0000, 0.8415, 0.0000]])
    """
    # TODO: angles (T, h); split x into halves; combine them with cos and sin
    T, d = x.shape[-2], x.shape[-1]
    h = d // 2
    if positions is None:
        positions = torch.arange(T)
    theta = base ** (-2 * torch.arange(h, dtype=torch.float64) / d)
    ang = positions.to(torch.float64)[:, None] * theta[None, :]
    cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def rope_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    positions: Tensor | None = None,
    mask: Tensor | None = None,
    base: float = 10000.0,
) -> Tensor:
    """Attention whose queries and keys carry RoPE: q, k (..., T, d_k), v (..., T, d_v).

    ``positions`` (T,) as in ``apply_rope``; ``mask`` as in ``attention``. Returns (..., T, d_v).
    """
    # TODO: decide which of q, k, v get rotated, then attention(...)
    return attention(apply_rope(q, positions, base), apply_rope(k, positions, base), v, mask)
