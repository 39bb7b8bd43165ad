"""Checks for p3-transformer: a tiny GPT, piece by piece, then trained and sampled.

Each piece is compared with a reference computed here. The block is rebuilt from the learner's
own sub-modules (norm1, attn, norm2, mlp) wired the pre-LN way, and the wirings people get wrong
(post-LN, a missing residual, parallel branches…) are computed from the same sub-modules, so the
message can say which one the block matches. Causality is probed by changing a future token.
The schedule is compared step by step with the formula; the optimizer's groups parameter by
parameter; one training step through the update it makes with plain SGD (update = −lr · the
gradient it used, which must be the clipped one). The trained model must beat a bigram model
counted here on the same characters, by a margin, within the step budget. Generation is checked
with models built here whose next-token distribution is known.

Every torch test is seeded and single-threaded; the trained run is cached (lru_cache) and shared
by the tests that judge it.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch._dynamo  # AdamW imports it lazily (~3 s); imported here, the worker preloads it
import torch.nn.functional as F
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from aipath.checks import (
    assert_array,
    assert_close,
    assert_tensor,
    call_with_inputs,
    fail,
    seed_everything,
    text_corpus,
)


def _shape(value: Any) -> str:
    return str(tuple(value.shape)) if hasattr(value, "shape") else type(value).__name__


def _causality(learner, label: str, fn: Callable, x: torch.Tensor, at: int, change: Callable):
    """Change position ``at`` of the input; earlier outputs must stay, position ``at`` must move."""
    with torch.no_grad():
        before = call_with_inputs(label, fn, x)
        after = call_with_inputs(label, fn, change(x.clone()))
    leaked = [
        t for t in range(at) if not torch.allclose(before[:, t], after[:, t], atol=1e-5, rtol=1e-4)
    ]
    if leaked:
        fail(
            f"future tokens leak: changing the token at position {at} changed the output of "
            f"{label} at the earlier positions {leaked}. Position t may only see positions 0…t: "
            "is the attention masked (F.scaled_dot_product_attention(q, k, v, is_causal=True))? "
            "If it is, look for a reshape that mixes positions, such as heads merged back "
            "without the transpose"
        )
    if torch.allclose(before[:, at], after[:, at], atol=1e-6, rtol=1e-5):
        fail(
            f"changing the token at position {at} did not change the output of {label} at "
            f"position {at} itself: each position must see its own token too (the causal mask "
            "keeps the diagonal)"
        )


# --- end of candidate ---------------------------------------------------------------------------


# ----- running the learner's code ---------------------------------------------------------------
def _module(learner: Any, label: str, cls: Any, *args: Any, **kwargs: Any) -> nn.Module:
    made = call_with_inputs(label, cls, *args, **kwargs)
    if not isinstance(made, nn.Module):
        fail(f"{label} should build an nn.Module; got {type(made).__name__}")
    return made


def _child(module: nn.Module, owner: str, names: tuple[str, ...], kind: type = nn.Module) -> Any:
    """The first of ``names`` that the module has (of type ``kind``), or None."""
    for name in names:
        value = getattr(module, name, None)
        if isinstance(value, kind):
            return value
    return None


def _require(module: nn.Module, owner: str, name: str, what: str) -> nn.Module:
    value = getattr(module, name, None)
    if not isinstance(value, nn.Module):
        fail(
            f"{owner} has no sub-module `{name}` ({what}); the checks call the parts of your "
            f"model by the names the exercise gives them (it has: "
            f"{sorted(n for n, _ in module.named_children())})"
        )
    return value


def _randomize_norms(module: nn.Module, generator: torch.Generator) -> None:
    """Give every norm's parameters distinct values, so norm1, norm2 and no norm differ."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() == 1 and "norm" in name:
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=generator))


# ----- a reference GPT of the checks' own (for the optimizer, training step and generation) -----
class _RefNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


def _ref_attention(
    x, qkv, proj, n_head, *, causal=True, split=True, transpose=True, merge=True, order=(0, 1, 2)
):
    """Multi-head attention from projection callables; the flags make the known wrong variants.

    ``transpose="reshape"`` splits the heads with a reshape straight to (B, H, T, D), no transpose;
    ``order`` reads the three projections in another order (q, k, v = parts[order]).
    """
    B, T, C = x.shape
    parts = qkv(x)
    q, k, v = (parts[i] for i in order)
    if not split:
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return proj(y)
    H, D = n_head, C // n_head
    if transpose == "reshape":
        q, k, v = (t.reshape(B, H, T, D) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        y = y.transpose(1, 2).reshape(B, T, C) if merge else y.reshape(B, T, C)
    elif transpose:
        q, k, v = (t.reshape(B, T, H, D).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        y = y.transpose(1, 2).reshape(B, T, C) if merge else y.reshape(B, T, C)
    else:
        q, k, v = (t.reshape(B, T, H, D) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal).reshape(B, T, C)
    return proj(y)


class _RefBlock(nn.Module):
    def __init__(self, d: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.norm1 = _RefNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.out = nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1]
        x = x + _ref_attention(
            self.norm1(x), lambda h: self.qkv(h).split(d, -1), self.proj, self.n_head
        )
        return x + self.out(F.gelu(self.fc(self.norm2(x))))


class _RefGPT(nn.Module):
    def __init__(self, vocab: int, block_size: int, d: int, n_layer: int, n_head: int) -> None:
        super().__init__()
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab, d)
        self.pos_emb = nn.Embedding(block_size, d)
        self.blocks = nn.ModuleList(_RefBlock(d, n_head) for _ in range(n_layer))
        self.norm_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.tok_emb.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm_f(x))


def _ref_model(seed: int, *, vocab=12, block_size=8, d=16, n_layer=1, n_head=2, std=0.3):
    torch.manual_seed(seed)
    model = _RefGPT(vocab, block_size, d, n_layer, n_head)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, std)
            elif "bias" in name:
                p.normal_(0.0, 0.05)
    return model


# ----- task 1: RMSNorm --------------------------------------------------------------------------
def _rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def _norm_module(learner, dim: int, **kwargs) -> nn.Module:
    norm = _module(learner, f"RMSNorm({dim})", learner.RMSNorm, dim, **kwargs)
    weight = getattr(norm, "weight", None)
    if not isinstance(weight, nn.Parameter) or tuple(weight.shape) != (dim,):
        fail(
            f"RMSNorm({dim}).weight should be an nn.Parameter of shape ({dim},), the learned "
            f"scale; got {type(weight).__name__}"
            + (f" of shape {tuple(weight.shape)}" if hasattr(weight, "shape") else "")
        )
    if not torch.allclose(weight.detach(), torch.ones(dim)):
        fail(f"RMSNorm({dim}).weight should start at ones (the identity scale)")
    return norm


@pytest.mark.task(1)
def test_rmsnorm_formula(learner):
    seed_everything(0)
    dim = 16
    norm = _norm_module(learner, dim)
    w = 1.0 + 0.5 * torch.randn(dim)
    with torch.no_grad():
        norm.weight.copy_(w)
    x = torch.randn(2, 5, dim) * 3.0 + 0.7
    got = call_with_inputs("RMSNorm(16)", norm, x)
    want = _rms(x, w, 1e-5)

    def over(axis):
        return x * torch.rsqrt(x.pow(2).mean(axis, keepdim=True) + 1e-5) * w

    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    assert_tensor(
        got,
        want.detach(),
        name="RMSNorm(16)(x) for x of shape (2, 5, 16)",
        rtol=1e-4,
        atol=1e-5,
        mistakes={
            "LayerNorm: the mean was subtracted. RMSNorm only divides by the root mean square "
            "x / sqrt(mean(x²) + eps)": ((x - mu) * torch.rsqrt(var + 1e-5) * w),
            "the standard deviation used instead of the root mean square (RMSNorm divides by "
            "sqrt(mean(x²)), the mean is not taken out)": (x * torch.rsqrt(var + 1e-5) * w),
            "the learned scale not applied: multiply by self.weight": _rms(x, 1.0, 1e-5),
            "dividing by the L2 norm sqrt(sum(x²)): it is the mean of the squares, not their sum": (
                x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + 1e-5) * w
            ),
            "the mean of squares taken over axis 0 (the batch): RMSNorm normalizes each "
            "token's own vector, the last axis": over(0),
            "the mean of squares taken over axis 1 (the positions): RMSNorm normalizes each "
            "token's own vector, the last axis": over(1),
            "the mean of squares taken over the whole tensor (no axis given): RMSNorm "
            "normalizes each token's own vector, mean(x², dim=-1, keepdim=True)": (
                x * torch.rsqrt(x.pow(2).mean() + 1e-5) * w
            ),
        },
    )
    if not got.requires_grad:
        fail("RMSNorm's output does not require grad: was it computed under no_grad or detached?")
    got.sum().backward()
    if norm.weight.grad is None:
        fail("no gradient reached RMSNorm.weight: the scale must be part of the computation")


@pytest.mark.task(1)
def test_rmsnorm_eps_inside_the_root(learner):
    seed_everything(0)
    dim = 8
    norm = _norm_module(learner, dim, eps=0.1)
    x = torch.randn(3, dim) * torch.tensor([[0.05], [0.3], [2.0]])
    got = call_with_inputs("RMSNorm(8, eps=0.1)", norm, x)
    ms = x.pow(2).mean(-1, keepdim=True)
    assert_tensor(
        got.detach() if isinstance(got, torch.Tensor) else got,
        _rms(x, 1.0, 0.1),
        name="RMSNorm(8, eps=0.1)(x) on rows of small, medium and large scale",
        rtol=1e-4,
        atol=1e-6,
        mistakes={
            "eps added outside the square root: x / (sqrt(mean(x²)) + eps); it goes inside, "
            "x / sqrt(mean(x²) + eps)": x / (ms.sqrt() + 0.1),
            "the eps argument ignored (or fixed at 1e-5): keep the one passed to __init__": (
                _rms(x, 1.0, 1e-5)
            ),
            "eps ignored altogether: x / sqrt(mean(x²))": x / ms.sqrt(),
        },
    )


# ----- task 2: attention, MLP, the pre-LN block --------------------------------------------------
_FUSED = ("qkv", "c_attn", "in_proj")
_SEPARATE = (("q", "k", "v"), ("q_proj", "k_proj", "v_proj"), ("query", "key", "value"))
_OUT = ("proj", "out_proj", "c_proj", "o_proj")


def _attention_parts(attn: nn.Module, d: int, owner: str):
    """(qkv callable returning q, k, v; proj; n_head) read from the learner's attention module."""
    fused = _child(attn, owner, _FUSED, nn.Linear)
    if fused is not None:
        if (fused.in_features, fused.out_features) != (d, 3 * d):
            fail(
                f"{owner}'s fused projection is Linear({fused.in_features}, "
                f"{fused.out_features}); expected Linear({d}, {3 * d}), read as q, k, v"
            )

        def qkv(x):
            return fused(x).split(d, dim=-1)

    else:
        separate = None
        for names in _SEPARATE:
            found = [_child(attn, owner, (n,), nn.Linear) for n in names]
            if all(f is not None for f in found):
                separate = found
                break
        if separate is None:
            fail(
                f"{owner} has neither a fused projection `qkv` (nn.Linear(d, 3d)) nor three "
                f"projections `q`, `k`, `v` (nn.Linear(d, d)); the check reads your weights "
                f"through these names (it has: {sorted(n for n, _ in attn.named_children())})"
            )

        def qkv(x):
            return tuple(lin(x) for lin in separate)

    proj = _child(attn, owner, _OUT, nn.Linear)
    if proj is None:
        fail(
            f"{owner} has no output projection `proj` (nn.Linear(d, d)) "
            f"(it has: {sorted(n for n, _ in attn.named_children())})"
        )
    n_head = getattr(attn, "n_head", None)
    if not isinstance(n_head, int):
        fail(f"{owner} should keep the number of heads as `self.n_head` (an int)")
    return qkv, proj, n_head


def _attention_mistakes(x, qkv, proj, h) -> dict[str, Callable]:
    """Known wrong attentions, computed from the learner's own projections."""
    names = "qkv"
    table: dict[str, Callable] = {
        "attention without the causal mask (is_causal=True missing)": lambda: _ref_attention(
            x, qkv, proj, h, causal=False
        ),
        "one single head over the whole width: split q, k, v into n_head heads "
        "(B, T, C) → (B, n_head, T, C / n_head)": lambda: _ref_attention(
            x, qkv, proj, h, split=False
        ),
        "heads split without the transpose: (B, T, n_head, D) given to the attention, which "
        "then mixes heads instead of positions; transpose to (B, n_head, T, D)": lambda: (
            _ref_attention(x, qkv, proj, h, transpose=False)
        ),
        "heads split with a reshape straight to (B, n_head, T, D), which scrambles positions "
        "and heads: view as (B, T, n_head, D) first, then .transpose(1, 2)": lambda: _ref_attention(
            x, qkv, proj, h, transpose="reshape"
        ),
        "heads split and merged with reshapes straight between (B, T, C) and "
        "(B, n_head, T, D), which scramble positions and heads: view as (B, T, n_head, D) "
        "and .transpose(1, 2), and transpose back before merging": lambda: _ref_attention(
            x, qkv, proj, h, transpose="reshape", merge=False
        ),
        "heads merged without transposing back: (B, n_head, T, D) must become "
        "(B, T, n_head, D) before the reshape to (B, T, C)": lambda: _ref_attention(
            x, qkv, proj, h, merge=False
        ),
        "the output projection `proj` not applied": lambda: _ref_attention(x, qkv, lambda y: y, h),
    }
    for order in ((0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
        read = ", ".join(names[order.index(i)] for i in range(3))
        table[
            f"the projections read in the order {read} instead of q, k, v (the fused output "
            "splits into q, k, v in that order)"
        ] = functools.partial(_ref_attention, x, qkv, proj, h, order=order)
    return table


def _attention_leak_cause(attn, x, d, h) -> str | None:
    """The known wrong attention the module matches, when its parts can be read."""
    try:
        qkv, proj, _n = _attention_parts(attn, d, "attn")
        with torch.no_grad():
            got = attn(x)
            for label, wrong in _attention_mistakes(x, qkv, proj, h).items():
                if torch.allclose(got, wrong(), rtol=1e-4, atol=1e-5):
                    return label
    except Exception:
        return None
    return None


@pytest.mark.task(2)
def test_attention_is_causal(learner):
    seed_everything(0)
    attn = _module(learner, "CausalSelfAttention(32, 4)", learner.CausalSelfAttention, 32, 4)
    x = torch.randn(2, 6, 32)
    out = call_with_inputs("CausalSelfAttention(32, 4)", attn, x)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, 6, 32):
        fail(
            f"CausalSelfAttention(32, 4) maps x of shape (2, 6, 32) to {_shape(out)}; "
            "expected (2, 6, 32), one vector per position"
        )

    def change(v):
        v[:, 4] += 2.0 * torch.randn(2, 32)
        return v

    try:
        _causality(learner, "CausalSelfAttention", attn, x, 4, change)
    except AssertionError as exc:
        cause = _attention_leak_cause(attn, x, 32, 4)
        if cause is None or "future tokens leak" not in str(exc):
            raise
        leak = str(exc).split(". Position t")[0]
        fail(f"{leak}: your CausalSelfAttention matches {cause}")


@pytest.mark.task(2)
def test_attention_matches_multi_head_reference(learner):
    seed_everything(0)
    d, h = 32, 4
    attn = _module(learner, f"CausalSelfAttention({d}, {h})", learner.CausalSelfAttention, d, h)
    qkv, proj, n_head = _attention_parts(attn, d, f"CausalSelfAttention({d}, {h})")
    if n_head != h:
        fail(f"CausalSelfAttention({d}, {h}).n_head is {n_head}; expected {h}")
    x = torch.randn(2, 7, d)
    with torch.no_grad():
        got = call_with_inputs("CausalSelfAttention(32, 4)", attn, x)
        want = _ref_attention(x, qkv, proj, h)
    assert_tensor(
        got.detach() if isinstance(got, torch.Tensor) else got,
        want,
        name="CausalSelfAttention(32, 4)(x) for x of shape (2, 7, 32)",
        rtol=1e-4,
        atol=1e-5,
        mistakes=_attention_mistakes(x, qkv, proj, h),
    )


@pytest.mark.task(2)
def test_mlp_is_position_wise(learner):
    seed_everything(0)
    d = 32
    mlp = _module(learner, f"MLP({d})", learner.MLP, d)
    x = torch.randn(2, 5, d)
    with torch.no_grad():
        out = call_with_inputs(f"MLP({d})", mlp, x)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, 5, d):
            fail(f"MLP({d}) maps x of shape (2, 5, {d}) to {_shape(out)}; expected (2, 5, {d})")
        changed = x.clone()
        changed[:, 2] += torch.randn(2, d)
        other = mlp(changed)
        moved = [t for t in (0, 1, 3, 4) if not torch.allclose(out[:, t], other[:, t], atol=1e-6)]
        if moved:
            fail(
                f"changing token 2 changed the MLP's output at positions {moved}: the MLP must "
                "act on each position on its own (Linear layers on the last axis only)"
            )
        a, b = torch.randn(4, d), torch.randn(4, d)
        zero = torch.zeros(4, d)
        if torch.allclose(mlp(a) + mlp(b), mlp(a + b) + mlp(zero), atol=1e-5):
            fail(
                "MLP is affine (f(a) + f(b) = f(a + b) + f(0)): the non-linearity between the two "
                "Linear layers (F.gelu) is missing"
            )
    count = sum(p.numel() for p in mlp.parameters())
    if count not in (2 * 4 * d * d + 5 * d, 2 * 4 * d * d):
        fail(
            f"MLP({d}) has {count} parameters; Linear({d}, {4 * d}) → GELU → "
            f"Linear({4 * d}, {d}) has {2 * 4 * d * d + 5 * d} (the hidden layer is 4 × d_model)"
        )
    _check_mlp_activation(mlp, d, x, out)


def _check_mlp_activation(mlp: nn.Module, d: int, x: torch.Tensor, out: torch.Tensor) -> None:
    """Rebuild Linear → GELU → Linear from the MLP's own two Linear layers and compare."""
    linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    up = [m for m in linears if (m.in_features, m.out_features) == (d, 4 * d)]
    down = [m for m in linears if (m.in_features, m.out_features) == (4 * d, d)]
    if len(up) != 1 or len(down) != 1:
        return  # not two plain nn.Linear layers: the parameter count above already judged it
    up, down = up[0], down[0]
    with torch.no_grad():
        hidden = up(x)
        got = out.detach()
        if any(
            torch.allclose(got, down(F.gelu(hidden, approximate=a)), rtol=1e-4, atol=1e-5)
            for a in ("none", "tanh")
        ):
            return
        others = {
            "ReLU": F.relu,
            "SiLU (swish)": F.silu,
            "tanh": torch.tanh,
            "sigmoid": torch.sigmoid,
            "no activation": lambda h: h,
        }
        for name, act in others.items():
            if torch.allclose(got, down(act(hidden)), rtol=1e-4, atol=1e-5):
                fail(
                    f"MLP({d})(x) equals its two Linear layers with {name} between them: the "
                    "README's MLP uses GELU, Linear(C, 4C) → F.gelu → Linear(4C, C) (the "
                    "activation of GPT-2 and most transformers since)"
                )
        want = down(F.gelu(hidden))
        err = float((got - want).abs().max())
        fail(
            f"MLP({d})(x) is not Linear({d}, {4 * d}) → GELU → Linear({4 * d}, {d}) built from "
            f"your own two Linear layers (max abs error {err:.3g}): apply the first layer, "
            "F.gelu, then the second, to every position"
        )


@pytest.mark.task(2)
def test_block_is_pre_ln_with_two_residuals(learner):
    seed_everything(0)
    d = 32
    block = _module(learner, f"Block({d}, 4)", learner.Block, d, 4)
    owner = f"Block({d}, 4)"
    norm1 = _require(block, owner, "norm1", "the norm before attention")
    attn = _require(block, owner, "attn", "the CausalSelfAttention")
    norm2 = _require(block, owner, "norm2", "the norm before the MLP")
    mlp = _require(block, owner, "mlp", "the MLP")
    _randomize_norms(block, torch.Generator().manual_seed(1))
    x = torch.randn(2, 6, d) * 2.0 + 0.5

    def run(sub, v):
        return call_with_inputs(f"{owner}'s sub-module", sub, v)

    with torch.no_grad():
        got = call_with_inputs(owner, block, x)
        h = x + run(attn, run(norm1, x))
        want = h + run(mlp, run(norm2, h))

        def post_ln():
            p = run(norm1, x + run(attn, x))
            return run(norm2, p + run(mlp, p))

        def no_attn_residual():
            p = run(attn, run(norm1, x))
            return p + run(mlp, run(norm2, p))

        def no_mlp_residual():
            return run(mlp, run(norm2, h))

        def residual_from_normed():
            a = run(norm1, x)
            p = a + run(attn, a)
            b = run(norm2, p)
            return b + run(mlp, b)

        def parallel():
            return x + run(attn, run(norm1, x)) + run(mlp, run(norm2, x))

        def swapped():
            p = x + run(attn, run(norm2, x))
            return p + run(mlp, run(norm1, p))

        def one_norm():
            p = x + run(attn, run(norm1, x))
            return p + run(mlp, run(norm1, p))

        def no_norm():
            p = x + run(attn, x)
            return p + run(mlp, p)

        assert_tensor(
            got.detach() if isinstance(got, torch.Tensor) else got,
            want,
            name=f"{owner}(x)",
            rtol=1e-4,
            atol=1e-5,
            mistakes={
                "post-LN (norm after the residual add, as in the 2017 paper): this lab asks for "
                "pre-LN, x = x + attn(norm1(x)); x = x + mlp(norm2(x))": post_ln,
                "no residual around the attention: x = x + attn(norm1(x)), not "
                "x = attn(norm1(x))": no_attn_residual,
                "no residual around the MLP: return x + mlp(norm2(x)), not mlp(norm2(x))": (
                    no_mlp_residual
                ),
                "the residual stream normalized in place (x = norm1(x); x = x + attn(x)): the "
                "norm feeds the branch only, the residual carries the un-normalized x": (
                    residual_from_normed
                ),
                "parallel branches (attention and MLP both read the block's input): the MLP "
                "reads the stream after the attention was added": parallel,
                "norm1 and norm2 swapped: norm1 feeds the attention, norm2 the MLP": swapped,
                "norm1 used twice: norm2 feeds the MLP": one_norm,
                "no normalization at all: each branch reads norm(x)": no_norm,
            },
        )

    def change(v):
        v[:, 3] += torch.randn(2, d)
        return v

    _causality(learner, owner, block, x, 3, change)


# ----- task 3: the GPT --------------------------------------------------------------------------
def _gpt(learner, *args, **kwargs) -> nn.Module:
    text = ", ".join([*map(str, args), *(f"{k}={v}" for k, v in kwargs.items())])
    return _module(learner, f"GPT({text})", learner.GPT, *args, **kwargs)


def _gpt_parts(model: nn.Module, owner: str):
    parts = {
        "tok_emb": "the token embedding, nn.Embedding(vocab_size, d_model)",
        "pos_emb": "the position embedding, nn.Embedding(block_size, d_model)",
        "blocks": "the blocks, an nn.ModuleList",
        "norm_f": "the final norm",
        "head": "the LM head, nn.Linear(d_model, vocab_size)",
    }
    return {name: _require(model, owner, name, what) for name, what in parts.items()}


@pytest.mark.task(3)
def test_gpt_forward_matches_its_parts(learner):
    seed_everything(0)
    vocab, block_size, d, n_layer = 12, 16, 32, 2
    model = _gpt(learner, vocab, block_size, d, n_layer, 4)
    owner = "GPT(12, 16, 32, 2, 4)"
    p = _gpt_parts(model, owner)
    blocks = list(p["blocks"])
    if len(blocks) != n_layer:
        fail(f"{owner}.blocks holds {len(blocks)} blocks; expected n_layer = {n_layer}")
    _randomize_norms(model, torch.Generator().manual_seed(2))
    idx = torch.randint(0, vocab, (3, 7))

    def run(sub, v, what):
        return call_with_inputs(f"{owner}.{what}", sub, v)

    with torch.no_grad():
        got = call_with_inputs(owner, model, idx)
        tok = run(p["tok_emb"], idx, "tok_emb")
        pos = run(p["pos_emb"], torch.arange(7), "pos_emb")

        def through(x, layers):
            for block in layers:
                x = run(block, x, "blocks[i]")
            return x

        stream = through(tok + pos, blocks)
        want = run(p["head"], run(p["norm_f"], stream, "norm_f"), "head")

        def head(x):
            return run(p["head"], run(p["norm_f"], x, "norm_f"), "head")

        assert_tensor(
            got.detach() if isinstance(got, torch.Tensor) else got,
            want,
            name=f"{owner}(idx) for idx of shape (3, 7)",
            rtol=1e-4,
            atol=1e-5,
            mistakes={
                "no final norm: the stream goes through norm_f before the head": lambda: run(
                    p["head"], stream, "head"
                ),
                "no position embeddings added: x = tok_emb(idx) + pos_emb(positions)": lambda: head(
                    through(tok, blocks)
                ),
                "the position embedding looked up with the token ids (pos_emb(idx)); it is "
                "looked up with the positions torch.arange(T)": lambda: head(
                    through(tok + run(p["pos_emb"], idx, "pos_emb"), blocks)
                ),
                "only the last block applied: each block reads the previous block's output "
                "(x = block(x))": lambda: head(through(tok + pos, blocks[-1:])),
                "probabilities (a softmax) instead of logits: return the head's output as it "
                "is, F.cross_entropy applies the softmax itself": lambda: torch.softmax(want, -1),
            },
        )


@pytest.mark.task(3)
def test_gpt_is_causal(learner):
    seed_everything(0)
    model = _gpt(learner, 12, 16, 32, 2, 4)
    idx = torch.randint(0, 12, (2, 10))

    def change(v):
        v[:, 6] = (v[:, 6] + 5) % 12
        return v

    _causality(learner, "GPT(12, 16, 32, 2, 4)", model, idx, 6, change)


@pytest.mark.task(3)
def test_gpt_ties_the_head_to_the_embedding(learner):
    seed_everything(0)
    tied = _gpt(learner, 12, 16, 32, 2, 4, tie_weights=True)
    untied = _gpt(learner, 12, 16, 32, 2, 4, tie_weights=False)
    for model, flag in ((tied, True), (untied, False)):
        p = _gpt_parts(model, f"GPT(..., tie_weights={flag})")
        same = p["head"].weight is p["tok_emb"].weight
        if flag and not same:
            fail(
                "GPT(..., tie_weights=True): head.weight should be the very same Parameter as "
                "tok_emb.weight (self.head.weight = self.tok_emb.weight), not a copy"
            )
        if not flag and same:
            fail("GPT(..., tie_weights=False): head.weight and tok_emb.weight should be separate")
    n_tied = sum(p.numel() for p in tied.parameters())
    n_untied = sum(p.numel() for p in untied.parameters())
    if n_untied - n_tied != 12 * 32:
        fail(
            f"tying should save exactly vocab_size × d_model = {12 * 32} parameters; the tied "
            f"model has {n_tied} and the untied one {n_untied}"
        )


def _init_report(model: nn.Module) -> list[str]:
    """Which weights do not look like N(0, 0.02), and what they look like instead (measured)."""
    notes = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear | nn.Embedding):
            std = float(module.weight.detach().std())
            if 0.005 <= std <= 0.03:
                continue
            like = ""
            if isinstance(module, nn.Embedding) and abs(std - 1.0) < 0.1:
                like = " — nn.Embedding's default N(0, 1)"
            elif isinstance(module, nn.Linear):
                default = 1.0 / math.sqrt(3.0 * module.in_features)
                if abs(std - default) < 0.15 * default:
                    like = " — nn.Linear's default init"
            notes.append(f"{name}.weight has std {std:.3g}{like}")
    return notes


@pytest.mark.task(3)
def test_loss_at_init_is_log_vocab(learner):
    seed_everything(0)
    vocab = 65
    model = _gpt(learner, vocab, 32, 64, 2, 4)
    idx = torch.randint(0, vocab, (8, 32))
    targets = torch.randint(0, vocab, (8, 32))
    with torch.no_grad():
        logits = call_with_inputs("GPT(65, 32, 64, 2, 4)", model, idx)
        loss = float(F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1)))
    want = math.log(vocab)
    if abs(loss - want) > 0.05:
        notes = _init_report(model)
        fail(
            f"the loss of the new model is {loss:.4f}; a model that knows nothing yet should "
            f"give ≈ ln(vocab_size) = ln {vocab} = {want:.4f} (within 0.05). Its logits have std "
            f"{float(logits.std()):.3g}: initialize every nn.Linear and nn.Embedding weight from "
            "N(0, 0.02) and every bias at 0, so they start close to 0"
            + (". Measured: " + "; ".join(notes[:4]) if notes else "")
        )
    for name, param in model.named_parameters():
        if name.endswith("bias") and float(param.detach().abs().max()) > 0:
            fail(f"{name} does not start at zero; initialize every bias at 0")
    notes = _init_report(model)
    if notes:
        fail(
            "the loss at init is fine, but these weights do not look like N(0, 0.02): "
            + "; ".join(notes[:4])
        )


# ----- task 4: the learning-rate schedule -------------------------------------------------------
def _ref_lr(step, max_lr, min_lr, warmup, total):
    if step < warmup:
        return max_lr * step / warmup
    if step >= total:
        return min_lr
    progress = (step - warmup) / (total - warmup)
    return min_lr + 0.5 * (max_lr - min_lr) * (1 + math.cos(math.pi * progress))


def _schedule_mistakes(steps, max_lr, min_lr, warmup, total):
    def cosine(step, floor, start, length, halve=True, clamp=True):
        if clamp and step >= total:
            return floor
        progress = (step - start) / length
        if halve:
            return floor + 0.5 * (max_lr - floor) * (1 + math.cos(math.pi * progress))
        return floor + (max_lr - floor) * math.cos(math.pi * progress)

    def piecewise(warm, decay):
        return np.array([warm(s) if s < warmup else decay(s) for s in steps])

    body = total - warmup
    ref = [_ref_lr(s, max_lr, min_lr, warmup, total) for s in steps]
    candidates = {
        "the warm-up reaching max_lr one step early, (step + 1) / warmup_steps: the "
        "warm-up is max_lr · step / warmup_steps, so step 0 has lr 0 and the peak is at "
        "step warmup_steps": piecewise(
            lambda s: max_lr * (s + 1) / warmup, lambda s: cosine(s, min_lr, warmup, body)
        ),
        "the whole schedule one step early (lr_at(step) gives the value of step + 1)": np.array(
            [_ref_lr(s + 1, max_lr, min_lr, warmup, total) for s in steps]
        ),
        "the whole schedule one step late (lr_at(step) gives the value of step − 1)": np.array(
            [_ref_lr(s - 1, max_lr, min_lr, warmup, total) if s > 0 else 0.0 for s in steps]
        ),
        "the warm-up reaching max_lr one step late, step / (warmup_steps + 1)": piecewise(
            lambda s: max_lr * s / (warmup + 1), lambda s: cosine(s, min_lr, warmup, body)
        ),
        "a decay to 0 instead of to min_lr (the floor is missing)": np.array(
            [_ref_lr(s, max_lr, 0.0, warmup, total) for s in steps]
        ),
        "a cosine that decays towards 0, not towards min_lr (min_lr only returned after "
        "total_steps): the decay is min_lr + ½ (max_lr − min_lr)(1 + cos(π · progress))": (
            piecewise(
                lambda s: max_lr * s / warmup,
                lambda s: cosine(s, 0.0, warmup, body) if s < total else min_lr,
            )
        ),
        "progress divided by total_steps instead of by the length of the decay: progress = "
        "(step − warmup_steps) / (total_steps − warmup_steps)": piecewise(
            lambda s: max_lr * s / warmup, lambda s: cosine(s, min_lr, warmup, total)
        ),
        "max_lr after total_steps: from step total_steps on the lr stays at the floor min_lr": (
            np.array([r if s < total else max_lr for s, r in zip(steps, ref, strict=True)])
        ),
        "a cosine over all total_steps (progress = step / total_steps); it runs over the steps "
        "after the warm-up, (step − warmup_steps) / (total_steps − warmup_steps)": piecewise(
            lambda s: max_lr * s / warmup, lambda s: cosine(s, min_lr, 0, total)
        ),
        "a linear decay: the decay follows half a cosine, "
        "min_lr + ½ (max_lr − min_lr)(1 + cos(π · progress))": piecewise(
            lambda s: max_lr * s / warmup,
            lambda s: min_lr + (max_lr - min_lr) * (1 - min(1.0, (s - warmup) / body)),
        ),
        "no warm-up (the cosine starts at step 0)": np.array(
            [cosine(s, min_lr, 0, total) for s in steps]
        ),
        "a cosine without the ½ (1 + cos) form, which dips below min_lr: use "
        "min_lr + ½ (max_lr − min_lr)(1 + cos(π · progress))": piecewise(
            lambda s: max_lr * s / warmup, lambda s: cosine(s, min_lr, warmup, body, halve=False)
        ),
        "a cosine that keeps going after total_steps (it rises again); hold min_lr from "
        "step total_steps on": piecewise(
            lambda s: max_lr * s / warmup, lambda s: cosine(s, min_lr, warmup, body, clamp=False)
        ),
        "a warm-up starting from min_lr instead of 0": piecewise(
            lambda s: min_lr + (max_lr - min_lr) * s / warmup,
            lambda s: cosine(s, min_lr, warmup, body),
        ),
    }
    return np.array(ref), candidates


def _check_schedule(learner, max_lr, min_lr, warmup, total):
    steps = list(range(total + 6))
    want, mistakes = _schedule_mistakes(steps, max_lr, min_lr, warmup, total)
    got = []
    for s in steps:
        value = call_with_inputs(
            f"lr_at({s}, max_lr={max_lr}, min_lr={min_lr}, warmup_steps={warmup}, "
            f"total_steps={total})",
            learner.lr_at,
            s,
            max_lr=max_lr,
            min_lr=min_lr,
            warmup_steps=warmup,
            total_steps=total,
        )
        try:
            got.append(float(value))
        except (TypeError, ValueError):
            fail(f"lr_at({s}, ...) should return a float; got {type(value).__name__}")
    assert_array(
        np.array(got),
        want,
        name=(
            f"lr_at(step) listed for step = 0…{steps[-1]} (max_lr={max_lr}, min_lr={min_lr}, "
            f"warmup_steps={warmup}, total_steps={total})"
        ),
        rtol=1e-9,
        atol=1e-15,
        mistakes=mistakes,
    )


@pytest.mark.task(4)
@pytest.mark.parametrize(
    "max_lr, min_lr, warmup, total", [(1e-2, 1e-3, 10, 50), (3e-4, 3e-5, 4, 23), (1.0, 0.25, 1, 9)]
)
def test_schedule_matches_the_formula(learner, max_lr, min_lr, warmup, total):
    _check_schedule(learner, max_lr, min_lr, warmup, total)


@pytest.mark.task(4)
def test_schedule_key_points(learner):
    kw = {"max_lr": 6e-3, "min_lr": 6e-4, "warmup_steps": 20, "total_steps": 120}
    points = {
        0: (0.0, "step 0: the warm-up starts from 0"),
        10: (3e-3, "half-way through the warm-up"),
        20: (6e-3, "the end of the warm-up: the peak max_lr"),
        70: (3.3e-3, "half-way through the decay: (max_lr + min_lr) / 2"),
        120: (6e-4, "total_steps: the floor min_lr"),
        500: (6e-4, "long after total_steps: still min_lr"),
    }
    for step, (want, what) in points.items():
        got = call_with_inputs(f"lr_at({step}, ...)", learner.lr_at, step, **kw)
        assert_close(got, want, name=f"lr_at({step}) at {what}", rtol=1e-9, atol=1e-15)


# ----- task 5: optimizer groups and one training step -------------------------------------------
def _kind(name: str, param: torch.Tensor, norms: set[str]) -> str:
    if name.endswith("bias"):
        return "bias"
    if name in norms:
        return "norm weight"
    if "emb" in name:
        return "embedding"
    return "weight matrix"


@pytest.mark.task(5)
def test_weight_decay_groups(learner):
    seed_everything(0)
    model = _ref_model(0, vocab=12, block_size=8, d=16, n_layer=2, n_head=2)
    norms = {
        f"{m}.{n}"
        for m, module in model.named_modules()
        if isinstance(module, _RefNorm | nn.LayerNorm)
        for n, _ in module.named_parameters()
    }
    opt = call_with_inputs(
        "configure_optimizer(model, lr=3e-3, weight_decay=0.1)",
        learner.configure_optimizer,
        model,
        lr=3e-3,
        weight_decay=0.1,
    )
    if not isinstance(opt, torch.optim.AdamW):
        fail(f"configure_optimizer should return a torch.optim.AdamW; got {type(opt).__name__}")
    where: dict[int, list[dict]] = {}
    for group in opt.param_groups:
        for p in group["params"]:
            where.setdefault(id(p), []).append(group)
    wrong: dict[str, list[str]] = {}
    for name, p in model.named_parameters():
        groups = where.get(id(p), [])
        if not groups:
            fail(f"the parameter {name!r} is in no group of the optimizer: it would never train")
        decay = float(groups[0].get("weight_decay", 0.0))
        want = 0.1 if p.dim() >= 2 else 0.0
        if not math.isclose(decay, want, abs_tol=1e-12):
            kind = _kind(name, p, norms)
            wrong.setdefault(f"{kind} with weight_decay={decay:g}", []).append(name)
        group = groups[0]
        if not math.isclose(float(group["lr"]), 3e-3, rel_tol=1e-12):
            fail(f"the group of {name!r} has lr {group['lr']}; expected the lr passed in, 3e-3")
        if tuple(group["betas"]) != (0.9, 0.95):
            fail(f"the group of {name!r} has betas {tuple(group['betas'])}; expected (0.9, 0.95)")
    if wrong:
        kinds = {k.split(" with ")[0] for k in wrong}
        decayed_small = {"bias", "norm weight"} & {
            k.split(" with ")[0] for k in wrong if not k.endswith("weight_decay=0")
        }
        summary = "; ".join(f"{len(v)} × {k} (e.g. {v[0]!r})" for k, v in wrong.items())
        n_wrong = sum(len(v) for v in wrong.values())
        if n_wrong == len(list(model.parameters())):
            fail(
                f"every parameter got the other group's weight decay: {summary}. The two groups "
                "look swapped: parameters with p.dim() >= 2 (weight matrices, embeddings) decay "
                "with weight_decay, the 1-D ones (biases, norm scales) get weight_decay=0"
            )
        if decayed_small:
            what = " and ".join(
                {"bias": "biases", "norm weight": "norm weights"}[k] for k in sorted(decayed_small)
            )
            fail(
                f"weight decay on {what}: {summary}. Decay only the parameters with 2 or more "
                "dimensions (weight matrices, embeddings); 1-D ones (biases, norm scales) get "
                "weight_decay=0 — shrinking a norm's scale towards 0 fights the norm itself"
            )
        missing = {"embedding", "weight matrix"} & kinds
        fail(
            f"these parameters got the wrong weight decay: {summary}. Every parameter with 2 "
            "or more dimensions decays with the weight_decay passed in"
            + (", the embeddings (and the tied head) included" if "embedding" in missing else "")
        )


def _flat_grads(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.detach().flatten() for p in model.parameters()])


def _flat_params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()]).double()


def _reference_gradient(model: nn.Module, x, y, *, reduction="mean"):
    """(gradient of every parameter as float64, loss) on a copy of the model."""
    copy_ = copy.deepcopy(model)
    logits = copy_(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction=reduction)
    loss.backward()
    return [p.grad.detach().double().clone() for p in copy_.parameters()], float(loss)


def _loss_after_update(model: nn.Module, x, y) -> float:
    """The mean cross-entropy of the (already updated) model on the same batch."""
    with torch.no_grad():
        logits = model(x)
        return float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)))


def _clip_total(grads, max_norm):
    total = math.sqrt(sum(float((g**2).sum()) for g in grads))
    scale = min(1.0, max_norm / (total + 1e-6))
    return [g * scale for g in grads], total


def _batch(seed: int, vocab=12, B=4, T=8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, vocab, (B, T), generator=g)
    return x, torch.randint(0, vocab, (B, T), generator=g)


def _step(learner, model, opt, x, y, lr, max_norm):
    out = call_with_inputs(
        f"train_step(model, optimizer, x, y, lr={lr}, max_norm={max_norm:.3g})",
        learner.train_step,
        model,
        opt,
        x,
        y,
        lr=lr,
        max_norm=max_norm,
    )
    if not isinstance(out, tuple) or len(out) != 2:
        fail(f"train_step should return (loss, grad_norm), two floats; got {out!r}")
    try:
        return float(out[0]), float(out[1])
    except (TypeError, ValueError):
        fail(f"train_step should return (loss, grad_norm) as floats; got {out!r}")


@pytest.mark.task(5)
def test_train_step_clips_the_total_norm(learner):
    seed_everything(0)
    model = _ref_model(3)
    x, y = _batch(0)
    grads, loss = _reference_gradient(model, x, y)
    total = math.sqrt(sum(float((g**2).sum()) for g in grads))
    largest = max(float(g.abs().max()) for g in grads)
    # below the total norm (so clipping acts) and below the largest entry (so clamping each
    # entry to ±max_norm, clip_grad_value_, changes the gradient and shows)
    max_norm = min(0.25 * total, 0.5 * largest)
    clipped, _ = _clip_total(grads, max_norm)
    before = _flat_params(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    got_loss, got_norm = _step(learner, model, opt, x, y, 0.1, max_norm)
    used = (before - _flat_params(model)) / 0.1  # the gradient the update applied
    flat = torch.cat([g.flatten() for g in clipped])
    raw = torch.cat([g.flatten() for g in grads])
    per_param = torch.cat(
        [(g * min(1.0, max_norm / (float(g.norm()) + 1e-6))).flatten() for g in grads]
    )
    assert_array(
        used.numpy(),
        flat.numpy(),
        name=(
            f"the gradient your update applied, (params before − after) / lr, with max_norm="
            f"{max_norm:.3g} (its norm is {float(used.norm()):.3g}, the raw gradient's {total:.3g})"
        ),
        rtol=1e-3,
        atol=2e-5,
        mistakes={
            "no gradient clipping: call "
            "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm) after "
            "loss.backward() and before optimizer.step()": raw.numpy(),
            "each parameter's gradient clipped on its own: clip the total norm of all "
            "gradients together, which keeps their direction": per_param.numpy(),
            "clip_grad_value_ (each entry clamped to ±max_norm): clip the total norm with "
            "clip_grad_norm_": raw.clamp(-max_norm, max_norm).numpy(),
            "the lr argument not applied (the optimizer kept its own lr 0.5): set "
            "group['lr'] = lr in every param group": (flat * 5).numpy(),
            "the lr argument not applied and no clipping": (raw * 5).numpy(),
        },
    )
    n_positions = y.numel()
    if math.isclose(got_loss, loss * n_positions, rel_tol=1e-4):
        fail(
            f"the loss train_step returned is {got_loss:.6g} = {n_positions} × the mean "
            f"cross-entropy {loss:.6g}: it is summed over the B·T = {n_positions} positions; "
            "return the mean (F.cross_entropy's default reduction='mean')"
        )
    after = _loss_after_update(model, x, y)
    if not math.isclose(got_loss, loss, rel_tol=1e-5, abs_tol=1e-6) and math.isclose(
        got_loss, after, rel_tol=1e-4, abs_tol=1e-6
    ):
        fail(
            f"the loss train_step returned is {got_loss:.6g}, the loss of the model after "
            f"optimizer.step(); the loss of the batch before the update is {loss:.6g}: return "
            "the loss of the forward pass whose gradient the update used"
        )
    assert_close(got_loss, loss, name="the loss train_step returned", rtol=1e-5, atol=1e-6)
    if not math.isclose(got_norm, total, rel_tol=1e-4) and math.isclose(
        got_norm, max_norm, rel_tol=1e-4
    ):
        fail(
            f"the gradient norm train_step returned is {got_norm:.6g} = max_norm, the norm "
            f"after clipping; the total norm before clipping is {total:.6g}: return what "
            "clip_grad_norm_ returns, it shows how often clipping kicks in"
        )
    assert_close(
        got_norm,
        total,
        name="the gradient norm train_step returned",
        rtol=1e-4,
        mistakes={
            "the norm after clipping: return the total norm before clipping (what "
            "clip_grad_norm_ returns), it shows how often clipping kicks in": max_norm,
        },
    )


@pytest.mark.task(5)
def test_train_step_leaves_small_gradients_alone(learner):
    seed_everything(0)
    model = _ref_model(4)
    x, y = _batch(1)
    grads, _loss = _reference_gradient(model, x, y)
    summed, _ = _reference_gradient(model, x, y, reduction="sum")
    before = _flat_params(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    _step(learner, model, opt, x, y, 0.01, 1e6)
    used = (before - _flat_params(model)) / 0.01
    raw = torch.cat([g.flatten() for g in grads])
    assert_array(
        used.numpy(),
        raw.numpy(),
        name="the gradient your update applied when max_norm (1e6) is far above its norm",
        rtol=1e-3,
        atol=2e-5,
        mistakes={
            "the loss summed over the B·T positions instead of averaged (F.cross_entropy's "
            "default reduction='mean' is the one to use)": torch.cat(
                [g.flatten() for g in summed]
            ).numpy(),
            "gradients rescaled to norm max_norm even when they are smaller: clipping only "
            "ever shrinks them": (raw * (1e6 / float(raw.norm()))).numpy(),
        },
    )


@pytest.mark.task(5)
def test_train_step_clears_old_gradients(learner):
    seed_everything(0)
    model = _ref_model(5)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x1, y1 = _batch(2)
    x2, y2 = _batch(3)
    _step(learner, model, opt, x1, y1, 0.05, 1e6)
    first = [
        p.grad.detach().double().clone() if p.grad is not None else None for p in model.parameters()
    ]
    grads, _ = _reference_gradient(model, x2, y2)
    before = _flat_params(model)
    _step(learner, model, opt, x2, y2, 0.05, 1e6)
    used = (before - _flat_params(model)) / 0.05
    raw = torch.cat([g.flatten() for g in grads])
    mistakes = {}
    if all(f is not None for f in first):
        mistakes[
            "the gradients of the previous step added in: call optimizer.zero_grad() before "
            "loss.backward() (backward adds to .grad)"
        ] = torch.cat([(g + f).flatten() for g, f in zip(grads, first, strict=True)]).numpy()
    assert_array(
        used.numpy(),
        raw.numpy(),
        name="the gradient the second of two train_step calls applied, (before − after) / lr",
        rtol=1e-3,
        atol=2e-5,
        mistakes=mistakes,
    )


# ----- task 6: batches and the training run -----------------------------------------------------
@pytest.mark.task(6)
def test_get_batch_windows(learner):
    seed_everything(0)
    ids = torch.arange(50) * 3 % 50  # a permutation: every value says where it came from
    position = torch.empty(50, dtype=torch.long)
    position[ids] = torch.arange(50)
    T, B = 8, 1000
    got = call_with_inputs(
        "get_batch(ids, 8, 1000, generator)",
        learner.get_batch,
        ids,
        T,
        B,
        torch.Generator().manual_seed(0),
    )
    if not isinstance(got, tuple) or len(got) != 2:
        fail(f"get_batch should return (x, y); got {type(got).__name__}")
    x, y = got
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != (B, T):
            fail(
                f"get_batch(ids, block_size=8, batch_size=1000, …): {name} has shape "
                f"{_shape(t)}; expected (1000, 8) = (batch_size, block_size)"
            )
        if t.dtype != torch.long:
            fail(f"{name} has dtype {t.dtype}; expected torch.int64 (token ids for nn.Embedding)")
    px, py = position[x], position[y]
    if not torch.equal(px[:, 1:] - px[:, :-1], torch.ones(B, T - 1, dtype=torch.long)):
        fail("each row of x must be one contiguous window of ids: ids[i : i + block_size]")
    shift = py - px
    if torch.equal(shift, torch.zeros_like(shift)):
        fail(
            "the targets y are the inputs x themselves: y is the window shifted by one, "
            "ids[i + 1 : i + block_size + 1], so each position learns to predict the next token"
        )
    if not torch.equal(shift, torch.ones_like(shift)):
        fail(
            f"y should be x shifted by one position (ids[i + 1 : i + block_size + 1]); it is "
            f"shifted by {sorted(set(shift.flatten().tolist()))[:5]}"
        )
    starts = px[:, 0]
    last = len(ids) - T - 1
    if int(starts.min()) != 0 or int(starts.max()) != last:
        fail(
            f"in 1000 draws the windows started between {int(starts.min())} and "
            f"{int(starts.max())}; every start from 0 to len(ids) − block_size − 1 = {last} "
            "should be possible (torch.randint's upper bound is exclusive: "
            "torch.randint(0, len(ids) - block_size, ...))"
        )


@pytest.mark.task(6)
def test_get_batch_uses_the_generator(learner):
    ids = torch.arange(200)

    def draw(seed):
        x, _y = call_with_inputs(
            "get_batch(ids, 8, 16, generator)",
            learner.get_batch,
            ids,
            8,
            16,
            torch.Generator().manual_seed(seed),
        )
        torch.rand(7)  # move the global RNG on: the result must not depend on it
        return x

    a, b, c = draw(1), draw(1), draw(2)
    if not torch.equal(a, b):
        fail(
            "two generators seeded alike gave different batches: draw the offsets with "
            "torch.randint(..., generator=generator), not from the global RNG"
        )
    if torch.equal(a, c):
        fail("generators with different seeds gave the same batch: is the generator used?")


# The run the checks judge: the corpus split 90 / 10, characters as tokens.
CORPUS_CHARS = 100_000
TRAIN = {
    "steps": 200,
    "block_size": 16,
    "batch_size": 64,
    "d_model": 64,
    "n_layer": 2,
    "n_head": 4,
    "tie_weights": False,
    "max_lr": 5e-3,
    "min_lr": 5e-4,
    "warmup_steps": 20,
    "weight_decay": 0.1,
    "max_norm": 1.0,
    "seed": 0,
}
MARGIN = 0.08  # nats per character below the bigram model


@functools.lru_cache(maxsize=1)
def _data() -> tuple[torch.Tensor, torch.Tensor, int]:
    text = text_corpus(CORPUS_CHARS)
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    cut = int(0.9 * len(ids))
    return ids[:cut], ids[cut:], len(chars)


@functools.lru_cache(maxsize=1)
def _bigram_loss() -> float:
    """Validation loss of a bigram model counted on the training characters (add-0.1)."""
    train_ids, val_ids, vocab = _data()
    counts = torch.full((vocab, vocab), 0.1, dtype=torch.float64)
    counts.index_put_(
        (train_ids[:-1], train_ids[1:]), torch.ones(len(train_ids) - 1, dtype=torch.float64), True
    )
    logp = (counts / counts.sum(1, keepdim=True)).log()
    return float(-logp[val_ids[:-1], val_ids[1:]].mean())


def _val_loss(model: nn.Module, block_size: int) -> float:
    _train, val_ids, vocab = _data()
    starts = torch.arange(0, len(val_ids) - block_size - 1, block_size)
    offsets = torch.arange(block_size)
    x = val_ids[starts[:, None] + offsets]
    y = val_ids[starts[:, None] + offsets + 1]
    with torch.no_grad():
        logits = model(x)
    return float(F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1)))


# The lr of the first param group at every optimizer.step() of the last training run, recorded
# by a global step pre-hook: what the updates really used, whatever history["lrs"] says.
_APPLIED_LRS: list[float] = []


def _record_lr(optimizer: torch.optim.Optimizer, _args: Any, _kwargs: Any) -> None:
    _APPLIED_LRS.append(float(optimizer.param_groups[0]["lr"]))


@functools.lru_cache(maxsize=1)
def _training_run(learner: Any) -> tuple[str, Any]:
    """The learner's training run, once per check session (a crash is kept, not re-run)."""
    seed_everything(0)
    train_ids, _val, vocab = _data()
    _APPLIED_LRS.clear()
    hook = register_optimizer_step_pre_hook(_record_lr)
    try:
        return "ok", learner.train(train_ids.clone(), vocab, **TRAIN)
    except Exception as exc:  # NotImplementedError included: re-raised by _trained
        return "error", exc
    finally:
        hook.remove()


def _trained(learner: Any) -> tuple[nn.Module, dict[str, list[float]]]:
    status, result = _training_run(learner)
    if status == "error":
        call_with_inputs("train(train_ids, vocab_size, **settings)", _raise, result)
    if not isinstance(result, tuple) or len(result) != 2:
        fail(f"train should return (model, history); got {type(result).__name__}")
    model, history = result
    if not isinstance(model, nn.Module):
        fail(f"train's first value should be the trained model; got {type(model).__name__}")
    if not isinstance(history, dict) or not {"losses", "lrs", "grad_norms"} <= set(history):
        fail("train's second value should be a dict with the lists 'losses', 'lrs', 'grad_norms'")
    return model, history


def _raise(exc: BaseException) -> None:
    raise exc


def _check_trained_settings(model: nn.Module) -> None:
    """The model train returns is built with the settings train was given."""
    head, tok = getattr(model, "head", None), getattr(model, "tok_emb", None)
    if isinstance(head, nn.Linear) and isinstance(tok, nn.Embedding):
        if head.weight is tok.weight and not TRAIN["tie_weights"]:
            fail(
                "train(..., tie_weights=False) returned a model whose head shares the token "
                "embedding: pass tie_weights on to GPT(...) (GPT's own default is True)"
            )
        if tok.embedding_dim != TRAIN["d_model"]:
            fail(
                f"train(..., d_model={TRAIN['d_model']}) returned a model of width "
                f"{tok.embedding_dim}: build the GPT with the d_model passed to train"
            )
    blocks = getattr(model, "blocks", None)
    if isinstance(blocks, nn.ModuleList) and len(blocks) != TRAIN["n_layer"]:
        fail(
            f"train(..., n_layer={TRAIN['n_layer']}) returned a model with {len(blocks)} "
            "blocks: build the GPT with the n_layer passed to train"
        )
    if getattr(model, "block_size", TRAIN["block_size"]) != TRAIN["block_size"]:
        fail(
            f"train(..., block_size={TRAIN['block_size']}) returned a model with block_size "
            f"{model.block_size}: build the GPT with the block_size passed to train"
        )


@pytest.mark.task(6)
def test_training_follows_the_schedule(learner):
    model, history = _trained(learner)
    _check_trained_settings(model)
    steps = TRAIN["steps"]
    for key in ("losses", "lrs", "grad_norms"):
        if len(history[key]) != steps:
            fail(
                f"history[{key!r}] has {len(history[key])} entries; expected one per step, {steps}"
            )
    kw = {k: TRAIN[k] for k in ("max_lr", "min_lr", "warmup_steps")}
    want = np.array(
        [_ref_lr(s, kw["max_lr"], kw["min_lr"], kw["warmup_steps"], steps) for s in range(steps)]
    )
    assert_array(
        np.array(history["lrs"], dtype=float),
        want,
        name=f"history['lrs'] (the lr of each of the {steps} steps; index = step)",
        rtol=1e-9,
        atol=1e-15,
        mistakes={
            "a constant learning rate: use lr_at(step, ...) for every step": np.full(
                steps, kw["max_lr"]
            ),
            "the schedule one step ahead (lr_at(step + 1) used at step)": np.array(
                [
                    _ref_lr(s + 1, kw["max_lr"], kw["min_lr"], kw["warmup_steps"], steps)
                    for s in range(steps)
                ]
            ),
            f"lr_at called with total_steps=steps − 1 = {steps - 1}: the run has `steps` "
            f"steps, so pass total_steps=steps": np.array(
                [
                    _ref_lr(s, kw["max_lr"], kw["min_lr"], kw["warmup_steps"], steps - 1)
                    for s in range(steps)
                ]
            ),
        },
    )
    applied = list(_APPLIED_LRS)
    if len(applied) == steps:
        differ = [s for s in range(steps) if not math.isclose(applied[s], want[s], rel_tol=1e-9)]
        if differ:
            s = differ[0]
            constant = len(set(applied)) == 1
            fail(
                f"history['lrs'] follows the schedule, but the optimizer did not: at step {s} "
                f"optimizer.step() ran with lr {applied[s]:.6g}, the schedule says {want[s]:.6g} "
                f"({len(differ)} of {steps} steps differ"
                + (f"; every step used lr {applied[0]:.6g}" if constant else "")
                + "). Pass the step's lr to train_step(..., lr=lr), which sets group['lr']"
            )
    losses = np.array(history["losses"], dtype=float)
    if not np.all(np.isfinite(losses)):
        first = int(np.argmin(np.isfinite(losses)))
        fail(f"the training loss became {losses[first]} at step {first}: the training diverged")


@pytest.mark.task(6)
def test_trained_model_beats_the_bigram_baseline(learner):
    model, history = _trained(learner)
    seed_everything(0)
    block_size = TRAIN["block_size"]
    _train, val_ids, vocab = _data()
    probe = val_ids[: 2 * block_size].reshape(2, block_size).clone()

    def change(v):
        v[:, 9] = (v[:, 9] + 7) % vocab
        return v

    _causality(learner, "the trained GPT", model, probe, 9, change)
    loss = _val_loss(model, block_size)
    baseline = _bigram_loss()
    target = baseline - MARGIN
    if not math.isfinite(loss) or loss > target:
        losses = history["losses"]
        fail(
            f"validation loss did not reach ≤ {target:.3f} within {TRAIN['steps']} steps: it is "
            f"{loss:.3f} nats per character, and a bigram model counted on the same training "
            f"text scores {baseline:.3f}, so it must be at least {MARGIN} lower. The training "
            f"loss went from {losses[0]:.3f} (step 0) to {np.mean(losses[-10:]):.3f} (last 10 "
            "steps)"
        )


# ----- task 7: generation -----------------------------------------------------------------------
def _rounded(values: Any) -> list[float]:
    return [round(float(v), 3) for v in np.asarray(values).ravel()]


class _FixedLogits(nn.Module):
    """A stand-in model: the last position's logits are ``last``, all others ``other``."""

    def __init__(self, last: torch.Tensor, other: torch.Tensor, block_size: int = 4) -> None:
        super().__init__()
        self.block_size = block_size
        self.last, self.other = last, other
        self.calls: list[int] = []

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        batch, length = idx.shape
        self.calls.append(length)
        if length > self.block_size:
            raise IndexError(f"a context of {length} tokens; block_size is {self.block_size}")
        logits = self.other.expand(batch, length, -1).clone()
        logits[:, -1] = self.last
        return logits


def _ref_greedy(model, idx, n, *, crop="last", position=-1):
    out = idx
    with torch.no_grad():
        for _ in range(n):
            ctx = out[:, -model.block_size :] if crop == "last" else out[:, : model.block_size]
            nxt = model(ctx)[:, position].argmax(-1, keepdim=True)
            out = torch.cat([out, nxt], 1)
    return out


def _generate_tokens(learner, model, idx, n, **kw):
    text = ", ".join(f"{k}={v}" for k, v in kw.items())
    label = f"generate(model, idx of shape {tuple(idx.shape)}, {n}{', ' + text if text else ''})"
    out = call_with_inputs(label, learner.generate, model, idx.clone(), n, **kw)
    want = (idx.shape[0], idx.shape[1] + n)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != want:
        fail(
            f"{label} returned {_shape(out)}; expected {want}: the prompt followed by "
            f"max_new_tokens = {n} new tokens"
        )
    if out.dtype != torch.long:
        fail(f"{label} returned dtype {out.dtype}; expected torch.int64 token ids")
    if not torch.equal(out[:, : idx.shape[1]], idx):
        fail(f"{label}: the first {idx.shape[1]} tokens of the result should be the prompt itself")
    return out, label


@pytest.mark.task(7)
def test_generate_greedy_crops_to_block_size(learner):
    seed_everything(0)
    model = _ref_model(7, vocab=12, block_size=8, d=16, n_layer=1, n_head=2, std=0.5).eval()
    short = torch.randint(0, 12, (2, 3))
    _generate_tokens(learner, model, short, 4, greedy=True)  # fits in block_size: must work
    prompt = torch.randint(0, 12, (2, 6))
    try:
        got, label = _generate_tokens(learner, model, prompt, 10, greedy=True)
    except AssertionError as exc:
        if "raised" in str(exc):
            fail(
                f"{exc}. generate works while the sequence fits in block_size = 8 but fails once "
                "it grows longer: feed the model only the last block_size tokens, "
                "idx[:, -block_size:]"
            )
        raise
    want = _ref_greedy(model, prompt, 10)
    assert_array(
        got.numpy(),
        want.numpy(),
        name=f"{label} (greedy, block_size = 8)",
        exact=True,
        mistakes={
            "the context cropped to the first block_size tokens: keep the last ones, "
            "idx[:, -block_size:]": lambda: _ref_greedy(model, prompt, 10, crop="first").numpy(),
            "the logits of the first position used: the next token comes from the last "
            "position, logits[:, -1, :]": lambda: _ref_greedy(
                model, prompt, 10, position=0
            ).numpy(),
        },
    )


@pytest.mark.task(7)
def test_generate_is_seeded_and_stays_in_the_vocabulary(learner):
    seed_everything(0)
    model = _ref_model(8, vocab=12, block_size=8, d=16, n_layer=1, n_head=2, std=0.3).eval()
    prompt = torch.randint(0, 12, (3, 2))
    state = torch.get_rng_state()
    a, label = _generate_tokens(learner, model, prompt, 20, seed=11)
    if not torch.equal(torch.get_rng_state(), state):
        fail(
            f"{label} changed the global random state (torch.manual_seed, or sampling without "
            "generator=g): a caller's own randomness (their training run, their next batch) "
            "must not be reset or consumed by generate. Draw every sample from "
            "g = torch.Generator().manual_seed(seed), made once per call"
        )
    torch.rand(5)  # the global RNG moves on between the calls
    b, _ = _generate_tokens(learner, model, prompt, 20, seed=11)
    c, _ = _generate_tokens(learner, model, prompt, 20, seed=12)
    if not torch.equal(a, b):
        fail(
            f"{label} gave different tokens in two calls with the same seed: sample with a "
            "generator seeded from `seed` (torch.multinomial(probs, 1, generator=g))"
        )
    if torch.equal(a, c):
        fail(f"{label} gave the same 60 sampled tokens for seed=11 and seed=12: is the seed used?")
    if int(a.min()) < 0 or int(a.max()) >= 12:
        fail(
            f"{label} emitted token ids outside the vocabulary 0…11: {sorted(set(a.flatten().tolist()))}"
        )
    if torch.equal(a, _ref_greedy(model, prompt, 20)):
        fail(f"{label} without greedy=True returned the greedy (argmax) tokens: sample instead")


@pytest.mark.task(7)
def test_generate_samples_softmax_over_temperature(learner):
    seed_everything(0)
    last = torch.tensor([2.0, 1.0, 0.0, -1.0, 0.5])
    other = torch.tensor([-2.0, 0.0, 3.0, 1.0, 0.0])
    model = _FixedLogits(last, other, block_size=4)
    rows, n_new, temperature = 1000, 3, 0.7
    prompt = torch.zeros(rows, 2, dtype=torch.long)
    out, label = _generate_tokens(learner, model, prompt, n_new, temperature=temperature, seed=5)
    if model.calls and max(model.calls) > model.block_size:
        fail(f"{label} fed the model {max(model.calls)} tokens; at most block_size = 4")
    n = rows * n_new
    new = out[:, 2:]
    if all(torch.equal(new[:, 0], new[:, j]) for j in range(1, n_new)):
        fail(
            f"{label}: every row drew the same token at each of its {n_new} steps, in all "
            f"{rows} rows: each step drew the same random numbers, as a generator re-created "
            "(or re-seeded) inside the loop does. Make g = torch.Generator().manual_seed(seed) "
            "once, before the loop, so the draws move on from step to step"
        )
    counts = np.bincount(new.flatten().numpy(), minlength=5)[:5]
    freq = counts / n
    want = torch.softmax(last / temperature, -1).numpy()
    tolerance = 4.5 * np.sqrt(want * (1 - want) / n) + 1e-3
    if np.all(np.abs(freq - want) <= tolerance):
        return
    candidates = {
        "the temperature ignored: divide the logits by it before the softmax": torch.softmax(
            last, -1
        ),
        "the logits multiplied by the temperature: divide them by it": torch.softmax(
            last * temperature, -1
        ),
        "the logits of the first position used: the next token comes from the last "
        "position, logits[:, -1, :]": torch.softmax(other / temperature, -1),
        "greedy decoding (argmax) instead of sampling": torch.nn.functional.one_hot(
            last.argmax(), 5
        ).double(),
        "a uniform draw, which is what a softmax over the batch axis (dim=0) gives here, "
        "where every row has the same logits: take the softmax over the vocabulary, dim=-1": (
            torch.full((5,), 0.2)
        ),
    }
    for description, probs in candidates.items():
        p = probs.numpy()
        if np.all(np.abs(freq - p) <= 4.5 * np.sqrt(p * (1 - p) / n) + 1e-3):
            fail(
                f"{label}: the token frequencies {_rounded(freq)} look like {description} "
                f"(softmax(logits / {temperature}) is {_rounded(want)})"
            )
    fail(
        f"{label}: over {n} samples the tokens came with frequencies {_rounded(freq)}; "
        f"softmax(logits / {temperature}) is {_rounded(want)}"
    )
