"""Checks for p3-attention.

Every reference is computed here, from the inputs the check keeps to itself (the learner gets
clones): ``F.scaled_dot_product_attention`` for attention, ``nn.MultiheadAttention`` with copied
weights for multi-head attention, the formula of "Attention Is All You Need" for the sinusoidal
encodings, and a complex-number rotation for RoPE (rotate-half pairing: dimension i with i + d/2).
Besides the comparisons, the checks test the properties themselves: a future token never changes
a past output under the causal mask; RoPE keeps norms and makes q·k depend on m − n only.
Whenever a comparison fails, the outputs of the known mistakes are computed on the same input and
a match is named.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from aipath.checks import (
    CheckFailure,
    assert_tensor,
    call_with_inputs,
    describe_inputs,
    fail,
    forbid_calls,
    run_on_copies,
    seed_everything,
    tensor_mistake,
)

# How to keep the caller's tensors: named when a function changed one in place.
IN_PLACE_ADVICE = "q / s, not q /= s or q.div_(s); x.masked_fill, not x.masked_fill_"

F64 = torch.float64
NEG_INF = float("-inf")
BANNED_EVERYWHERE = [
    "scaled_dot_product_attention",
    "_scaled_dot_product_attention_math",
    "multi_head_attention_forward",
    "_native_multi_head_attention",
]
BUILD_IT = (
    "this lab asks you to build attention from matrix products and a softmax; the checks compare "
    "your result with torch's ready-made version"
)


# --- candidate for aipath.checks -----------------------------------------------------------------


def _kind_of(value: Any) -> str:
    """``a tensor of shape (2, 3)``, ``None``, ``a list``: what a learner's function returned."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return "None" if value is None else f"a {type(value).__name__}"


# --- shared helpers --------------------------------------------------------------------------------


def _compare_with_source(
    got, want, *, name, mistakes=None, rtol, atol, source="", note=None
) -> None:
    """assert_tensor, with where the expected values come from and a note on earlier tasks."""
    try:
        assert_tensor(got, want, name=name, rtol=rtol, atol=atol, mistakes=mistakes)
    except CheckFailure as failure:
        message = str(failure)
        if source:
            message += f" (expected values: {source})"
        if note:
            message += f". {note}"
        raise CheckFailure(message) from None


def random_mask(t_q: int, t_k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random boolean mask with at least one True and one False in every row and column."""
    while True:
        mask = torch.rand(t_q, t_k, generator=generator) < 0.6
        if (
            mask.any(-1).all()
            and (~mask).any(-1).all()
            and mask.any(0).all()
            and (~mask).any(0).all()
        ):
            return mask


# --- references (with switches that reproduce the known mistakes) --------------------------------
def ref_weights(
    q: torch.Tensor,
    k: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    divide_by: float | None = None,
    fill: float = NEG_INF,
    dim: int = -1,
    after: float | None = None,
    invert: bool = False,
) -> torch.Tensor:
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1] if divide_by is None else divide_by)
    if mask is not None and invert:
        mask = ~mask
    if mask is not None and after is None:
        scores = scores.masked_fill(~mask, fill)
    weights = torch.softmax(scores, dim=dim)
    if mask is not None and after is not None:
        weights = weights.masked_fill(~mask, after)
    return weights


def weight_mistakes(
    q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None, d_v: int | None = None
) -> dict[str, Callable[[], torch.Tensor]]:
    """Description → the attention weights that mistake gives on (q, k, mask)."""
    d_k = q.shape[-1]
    found: dict[str, Callable[[], torch.Tensor]] = {
        f"unscaled scores: q·kᵀ must be divided by √d_k (here √{d_k})": lambda: ref_weights(
            q, k, mask, divide_by=1.0
        ),
        f"scores divided by d_k instead of √d_k (here {d_k} instead of {math.sqrt(d_k):.4g})": (
            lambda: ref_weights(q, k, mask, divide_by=float(d_k) ** 2)
        ),
        "a softmax over the wrong axis (the queries, dim=-2): each query's weights must sum to 1 "
        "over the keys, softmax(..., dim=-1)": lambda: ref_weights(q, k, mask, dim=-2),
    }
    if d_v is not None and d_v != d_k:
        found[f"scores divided by √d_v (the values' width, {d_v}) instead of √d_k ({d_k})"] = (
            lambda: ref_weights(q, k, mask, divide_by=float(d_v))
        )
    for size, axes in wrong_axis_sizes(q, k, d_v).items():
        found[
            f"scores divided by √{size}, the size of {axes}, instead of √d_k = √{d_k}: d_k is the "
            "last axis of q, q.shape[-1], whatever the leading dimensions"
        ] = lambda size=size: ref_weights(q, k, mask, divide_by=float(size))
    if mask is not None:
        found.update(
            {
                "masked scores filled with 0 instead of −inf: exp(0) still gives the masked keys "
                "weight; fill them with float('-inf') (or a large negative number)": lambda: (
                    ref_weights(q, k, mask, fill=0.0)
                ),
                "the mask applied after the softmax (masked weights zeroed afterwards): the kept "
                "weights then no longer sum to 1; mask the scores before the softmax": lambda: (
                    ref_weights(q, k, mask, after=0.0)
                ),
                "the mask applied after the softmax (masked weights set to −inf afterwards); "
                "mask the scores before the softmax": lambda: ref_weights(
                    q, k, mask, after=NEG_INF
                ),
                "the mask read the other way round: here True means 'may attend' (as in "
                "F.scaled_dot_product_attention), so fill the scores where the mask is False": (
                    lambda: ref_weights(q, k, mask, invert=True)
                ),
            }
        )
    return found


def wrong_axis_sizes(q: torch.Tensor, k: torch.Tensor, d_v: int | None) -> dict[int, str]:
    """Size → which axes of q and k have it, for every axis but d_k (a scale read off the wrong
    axis). Sizes equal to d_k (indistinguishable from the right scale) or to d_v (named apart)
    are left out."""
    d_k = q.shape[-1]
    leading = (
        {0: "the batch size", 1: "the number of heads"} if q.dim() == 4 else {0: "the batch size"}
    )
    names: dict[int, list[str]] = {}
    for axis in range(q.dim() - 1):
        what = (
            "the number of queries T_q" if axis == q.dim() - 2 else leading.get(axis, "a batch dim")
        )
        names.setdefault(q.shape[axis], []).append(f"q.shape[{axis}] ({what})")
    names.setdefault(k.shape[-2], []).append("k.shape[-2] (the number of keys T_k)")
    return {
        size: " and of ".join(labels) for size, labels in names.items() if size not in (d_k, d_v, 1)
    }


def output_mistakes(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
) -> dict[str, Callable[[], torch.Tensor]]:
    return {
        label: (lambda w=w: w() @ v)
        for label, w in weight_mistakes(q, k, mask, d_v=v.shape[-1]).items()
    }


@functools.lru_cache(maxsize=8)
def earlier_problems(learner) -> tuple[str, ...]:
    """Which of the learner's building blocks (tasks 1, 3, 5) do not match a reference yet."""
    gen = torch.Generator().manual_seed(12345)  # its own generator: the tests' RNG is untouched
    q, k, v = (torch.randn(2, 2, 5, 4, dtype=F64, generator=gen) for _ in range(3))
    x = torch.randn(2, 5, 6, dtype=F64, generator=gen)
    mask = random_mask(5, 5, gen)
    probes = {
        "attention (task 1)": (
            lambda: learner.attention(q.clone(), k.clone(), v.clone(), mask.clone()),
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        ),
        "split_heads (task 3)": (
            lambda: learner.split_heads(x.clone(), 3),
            x.reshape(2, 5, 3, 2).transpose(1, 2),
        ),
        "merge_heads (task 3)": (
            lambda: learner.merge_heads(q.clone()),
            q.transpose(1, 2).reshape(2, 5, 8),
        ),
        "apply_rope (task 5)": (lambda: learner.apply_rope(q.clone()), None),
    }
    found = []
    for label, (probe, want) in probes.items():
        if want is None:
            want = ref_rope(q)
        try:
            got = probe()
        except NotImplementedError:
            found.append(f"your {label} is still a TODO")
            continue
        except Exception as exc:
            found.append(f"your {label} raises {type(exc).__name__}")
            continue
        ok = (
            isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and torch.allclose(got.detach().double(), want, rtol=1e-5, atol=1e-5)
        )
        if not ok:
            found.append(f"your {label} does not pass its own checks yet")
    return tuple(found)


def note_on(learner, function: str, uses: tuple[str, ...]) -> str | None:
    """A sentence about the building blocks ``function`` may rely on that are not right yet."""
    problems = [p for p in earlier_problems(learner) if any(u in p for u in uses)]
    if not problems:
        return None
    it, that = ("them", "those") if len(problems) > 1 else ("it", "that")
    return f"Note: {'; '.join(problems)}: if {function} relies on {it}, fix {that} first"


# ----- task 1: scaled dot-product attention ------------------------------------------------------
@pytest.mark.task(1)
def test_attention_weights_scale_and_axis(learner):
    seed_everything(0)
    for d_k in (4, 16):
        q, k = torch.randn(2, 5, d_k, dtype=F64), torch.randn(2, 7, d_k, dtype=F64)
        name = f"attention_weights(q {tuple(q.shape)}, k {tuple(k.shape)})"
        got = run_on_copies(name, learner.attention_weights, q=q, k=k, advice=IN_PLACE_ADVICE)
        want = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
        assert_tensor(
            got, want, name=name, rtol=1e-7, atol=1e-9, mistakes=weight_mistakes(q, k, None)
        )


@pytest.mark.task(1)
def test_attention_weights_with_a_mask(learner):
    seed_everything(0)
    q, k = torch.randn(2, 5, 8, dtype=F64), torch.randn(2, 7, 8, dtype=F64)
    mask = random_mask(5, 7)
    name = "attention_weights(q (2, 5, 8), k (2, 7, 8), mask (5, 7))"
    got = run_on_copies(
        name, learner.attention_weights, q=q, k=k, mask=mask, advice=IN_PLACE_ADVICE
    )
    want = F.softmax((q @ k.transpose(-2, -1) / math.sqrt(8)).masked_fill(~mask, NEG_INF), dim=-1)
    mistakes = weight_mistakes(q, k, mask)
    if (
        isinstance(got, torch.Tensor)
        and got.shape == want.shape
        and tensor_mistake(got, mistakes, rtol=1e-7, atol=1e-9) is None
    ):
        leak = got.detach().double().masked_fill(mask, 0.0).abs().max().item()
        if not math.isfinite(leak) or leak > 1e-9:
            fail(
                f"{name} gives masked positions (mask False) weight up to {leak:.3g}; they must get "
                "weight 0, and each row's remaining weights must sum to 1"
            )
    assert_tensor(got, want, name=name, rtol=1e-7, atol=1e-9, mistakes=mistakes)


def attention_cases() -> list[tuple[str, dict[str, Any], torch.Tensor]]:
    """(label, inputs, F.scaled_dot_product_attention's output) on the shapes attention meets."""
    q3, k3, v3 = (torch.randn(2, t, d, dtype=F64) for t, d in ((5, 8), (7, 8), (7, 3)))
    q4, k4, v4 = (torch.randn(2, 3, t, d, dtype=F64) for t, d in ((5, 8), (7, 8), (7, 6)))
    m2 = random_mask(5, 7)
    m4 = torch.stack([random_mask(5, 7), random_mask(5, 7)])[:, None]  # (2, 1, 5, 7)
    qc, kc, vc = (torch.randn(2, 3, 6, d, dtype=F64) for d in (8, 8, 4))
    causal = torch.tril(torch.ones(6, 6, dtype=torch.bool))
    sdpa = F.scaled_dot_product_attention
    return [
        ("no mask", {"q": q3, "k": k3, "v": v3}, sdpa(q3, k3, v3)),
        (
            "mask (5, 7) broadcast over batch and heads",
            {"q": q4, "k": k4, "v": v4, "mask": m2},
            sdpa(q4, k4, v4, attn_mask=m2),
        ),
        (
            "one mask per batch element, (2, 1, 5, 7)",
            {"q": q4, "k": k4, "v": v4, "mask": m4},
            sdpa(q4, k4, v4, attn_mask=m4),
        ),
        (
            "a causal mask, vs is_causal=True",
            {"q": qc, "k": kc, "v": vc, "mask": causal},
            sdpa(qc, kc, vc, is_causal=True),
        ),
    ]


@pytest.mark.task(1)
def test_attention_matches_torch(learner):
    seed_everything(0)
    for label, inputs, want in attention_cases():
        name = f"attention({describe_inputs(inputs)})"
        got = run_on_copies(name, learner.attention, **inputs, advice=IN_PLACE_ADVICE)
        _compare_with_source(
            got,
            want,
            name=name,
            rtol=1e-7,
            atol=1e-9,
            mistakes=output_mistakes(inputs["q"], inputs["k"], inputs["v"], inputs.get("mask")),
            source=f"F.scaled_dot_product_attention, {label}",
        )


@pytest.mark.task(1)
def test_a_future_token_never_changes_a_past_output(learner):
    seed_everything(0)
    length = 6
    q, k, v = (torch.randn(1, 2, length, 8, dtype=F64) for _ in range(3))
    mask = torch.tril(torch.ones(length, length, dtype=torch.bool))
    name = "attention(q, k, v (1, 2, 6, 8), mask=causal)"
    base = run_on_copies(name, learner.attention, q=q, k=k, v=v, mask=mask, advice=IN_PLACE_ADVICE)
    if not isinstance(base, torch.Tensor) or base.shape != q.shape:
        fail(f"{name} should be a tensor of shape {tuple(q.shape)}; got {_kind_of(base)}")
    for t in range(1, length):
        moved = [x.clone() for x in (q, k, v)]
        for x in moved:
            x[..., t, :] += 3.0 * torch.randn(1, 2, 8, dtype=F64)
        out = run_on_copies(
            name,
            learner.attention,
            q=moved[0],
            k=moved[1],
            v=moved[2],
            mask=mask,
            advice=IN_PLACE_ADVICE,
        )
        change = (out[..., :t, :] - base[..., :t, :]).detach().abs().amax(dim=(0, 1, 3))
        if not bool(torch.isfinite(change).all()) or change.max().item() > 1e-9:
            where = int(torch.nan_to_num(change, nan=math.inf).argmax())
            size = change[where].item()
            what = f"position {where}"
            how = (
                f"made the output at {what} NaN"
                if math.isnan(size)
                else (f"changed the output at {what} by {size:.3g}")
            )
            known = tensor_mistake(base, output_mistakes(q, k, v, mask), rtol=1e-7, atol=1e-9)
            fail(
                f"with a causal mask, changing token {t} (its query, key and value) {how}, though "
                f"{what} may only see positions 0…{where}"
                + (f". The output looks like {known}" if known else "")
            )


@pytest.mark.task(1)
def test_attention_is_built_not_borrowed(learner, learner_file):
    seed_everything(0)
    q = torch.randn(1, 3, 4, dtype=F64)
    run_on_copies(
        "attention(q, k, v (1, 3, 4))", learner.attention, q=q, k=q, v=q, advice=IN_PLACE_ADVICE
    )
    forbid_calls(learner_file, BANNED_EVERYWHERE, BUILD_IT)


# ----- task 2: the causal mask -------------------------------------------------------------------
CAUSAL_MISTAKES = {
    "a mask with the diagonal excluded (torch.tril(..., diagonal=-1)): a token must be allowed to "
    "attend to itself, or the first query has no key at all": lambda n: torch.tril(
        torch.ones(n, n, dtype=torch.bool), diagonal=-1
    ),
    "a mask that lets every token see one position into the future (torch.tril(..., "
    "diagonal=1)): query i may attend to keys 0…i only": lambda n: torch.tril(
        torch.ones(n, n, dtype=torch.bool), diagonal=1
    ),
    "the inverse mask (True above the diagonal, marking the blocked positions): here True means "
    "'may attend'": lambda n: torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1),
    "True on and above the diagonal (torch.triu): the keys query i may see are 0…i, on and "
    "below the diagonal": lambda n: torch.triu(torch.ones(n, n, dtype=torch.bool)),
}


def learner_causal_mask(learner, size: int) -> torch.Tensor:
    name = f"causal_mask({size})"
    got = call_with_inputs(name, learner.causal_mask, size=size)
    if got is None:
        fail(f"{name} is None: did you forget to `return` it?")
    if not isinstance(got, torch.Tensor):
        fail(f"{name} should be a torch.Tensor; got {type(got).__name__}")
    if got.dtype != torch.bool:
        fail(
            f"{name} has dtype {got.dtype}; expected torch.bool: return a boolean mask, True where "
            "a query may attend to a key (not an additive mask of 0 and −inf, nor 0/1 numbers)"
        )
    if tuple(got.shape) != (size, size):
        fail(f"{name} has shape {tuple(got.shape)}; expected ({size}, {size}): (queries, keys)")
    return got


@pytest.mark.task(2)
def test_causal_mask_is_lower_triangular(learner):
    seed_everything(0)
    for size in (4, 7, 1):
        got = learner_causal_mask(learner, size)
        want = torch.tril(torch.ones(size, size, dtype=torch.bool))
        mistakes = {label: (lambda m=m, n=size: m(n)) for label, m in CAUSAL_MISTAKES.items()}
        assert_tensor(got, want, name=f"causal_mask({size})", rtol=0, atol=0, mistakes=mistakes)


@pytest.mark.task(2)
def test_causal_mask_hides_the_future(learner):
    seed_everything(0)
    length = 6
    mask = learner_causal_mask(learner, length)
    empty = [i for i in range(length) if not bool(mask[i].any())]
    if empty:
        fail(
            f"causal_mask({length}) allows query {empty[0]} no key at all, so its attention "
            "weights are 0/0 (NaN): every token may attend to itself and to the tokens before it"
        )
    q, k, v = (torch.randn(2, length, 8, dtype=F64) for _ in range(3))

    def reference(q, k, v):  # the check's own attention, with the learner's mask
        return ref_weights(q, k, mask) @ v

    base = reference(q, k, v)
    for t in range(length):
        moved_k, moved_v = k.clone(), v.clone()
        for x in (moved_k, moved_v):
            x[:, t, :] += 3.0 * torch.randn(2, 8, dtype=F64)
        change = (reference(q, moved_k, moved_v) - base).abs().amax(dim=(0, 2))
        if t > 0 and change[:t].max().item() > 1e-12:
            where = int(change[:t].argmax())
            fail(
                f"with your causal_mask({length}), changing the key and value of token {t} changed "
                "the attention "
                f"output at position {where} by {change[where].item():.3g}: position {where} must "
                f"only see positions 0…{where}, so its row of the mask must be False after column "
                f"{where}"
            )
        if change[t].item() < 1e-9:
            fail(
                f"with your causal_mask({length}), token {t} does not see itself: changing its key "
                "and value leaves its own output unchanged. The diagonal must be True"
            )


# ----- task 3: multi-head attention --------------------------------------------------------------
NO_TRANSPOSE = (
    "a reshape straight to (B, H, T, d_head) without a transpose. That mixes positions: each "
    "'head' then holds slices of several different tokens. Reshape to (B, T, H, d_head), then "
    ".transpose(1, 2)"
)
NO_TRANSPOSE_MERGE = (
    "a reshape straight to (B, T, H·d_head) without first transposing back to (B, T, H, d_head). "
    "That mixes positions: output token t gets pieces of other tokens. Use "
    "x.transpose(1, 2).reshape(B, T, H * d_head)"
)
ROUND_ROBIN = (
    "features dealt to the heads round-robin (feature j to head j % H): head h must hold the "
    "contiguous features h·d_head … (h + 1)·d_head − 1, the layout nn.MultiheadAttention's "
    "weights assume"
)


@pytest.mark.task(3)
def test_split_heads(learner):
    seed_everything(0)
    x = torch.randn(2, 5, 12, dtype=F64)
    name = "split_heads(x (2, 5, 12), num_heads=3)"
    got = run_on_copies(name, learner.split_heads, x=x, num_heads=3, advice=IN_PLACE_ADVICE)
    assert_tensor(
        got,
        x.reshape(2, 5, 3, 4).transpose(1, 2),
        name=name,
        rtol=0,
        atol=0,
        mistakes={
            NO_TRANSPOSE: lambda: x.reshape(2, 3, 5, 4),
            ROUND_ROBIN: lambda: x.reshape(2, 5, 4, 3).permute(0, 3, 1, 2),
            "(B, T, H, d_head) without the final transpose to (B, H, T, d_head)": lambda: x.reshape(
                2, 5, 3, 4
            ),
        },
    )


@pytest.mark.task(3)
def test_merge_heads(learner):
    seed_everything(0)
    x = torch.randn(2, 3, 5, 4, dtype=F64)
    name = "merge_heads(x (2, 3, 5, 4))"
    got = run_on_copies(name, learner.merge_heads, x=x, advice=IN_PLACE_ADVICE)
    assert_tensor(
        got,
        x.transpose(1, 2).reshape(2, 5, 12),
        name=name,
        rtol=0,
        atol=0,
        mistakes={
            NO_TRANSPOSE_MERGE: lambda: x.reshape(2, 5, 12),
            ROUND_ROBIN: lambda: x.permute(0, 2, 3, 1).reshape(2, 5, 12),
        },
    )


def attention_params(width: int) -> dict[str, torch.Tensor]:
    params = {}
    for part in "qkvo":
        params[f"w_{part}"] = torch.randn(width, width, dtype=F64) / math.sqrt(width)
        params[f"b_{part}"] = 0.3 * torch.randn(width, dtype=F64)
    return params


def torch_mha(params: dict[str, torch.Tensor], num_heads: int) -> nn.MultiheadAttention:
    """nn.MultiheadAttention holding ``params``: in_proj_weight stacks [W_q; W_k; W_v] by rows."""
    width = params["w_q"].shape[0]
    module = nn.MultiheadAttention(width, num_heads, batch_first=True, dtype=F64).eval()
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.cat([params["w_q"], params["w_k"], params["w_v"]]))
        module.in_proj_bias.copy_(torch.cat([params["b_q"], params["b_k"], params["b_v"]]))
        module.out_proj.weight.copy_(params["w_o"])
        module.out_proj.bias.copy_(params["b_o"])
    return module


def ref_mha(query, key, value, params, num_heads, mask=None, *, variant: str = "") -> torch.Tensor:
    """Multi-head attention; ``variant`` reproduces one known mistake."""
    batch, t_q, width = query.shape
    d_head = width // num_heads

    def project(x, part):
        w, b = params[f"w_{part}"], params[f"b_{part}"]
        return x @ w + b if variant == "w not transposed" else x @ w.T + b

    def split(x):
        if variant == "no transpose":
            return x.reshape(batch, num_heads, x.shape[1], d_head)
        if variant == "round robin":
            return x.reshape(batch, x.shape[1], d_head, num_heads).permute(0, 3, 1, 2)
        return x.reshape(batch, x.shape[1], num_heads, d_head).transpose(1, 2)

    def merge(x):
        if variant in ("no transpose", "merge no transpose"):
            return x.reshape(batch, t_q, width)
        if variant == "round robin":
            return x.permute(0, 2, 3, 1).reshape(batch, t_q, width)
        return x.transpose(1, 2).reshape(batch, t_q, width)

    if variant == "kv from query":
        key = value = query
    if variant == "v from key":
        value = key
    if variant == "no out bias":
        params = {**params, "b_o": torch.zeros_like(params["b_o"])}
    if variant == "no in biases":
        params = {**params, **{f"b_{p}": torch.zeros_like(params[f"b_{p}"]) for p in "qkv"}}
    q, k, v = split(project(query, "q")), split(project(key, "k")), split(project(value, "v"))
    divide_by = {"scale d_model": float(width), "no scale": 1.0}.get(variant)
    heads = ref_weights(q, k, mask, divide_by=divide_by) @ v
    merged = merge(heads)
    if variant == "no out proj":
        return merged
    return project(merged, "o")


MHA_MISTAKES = {
    "no transpose": "heads split (and merged) by a reshape without a transpose, which mixes "
    "positions across heads (see split_heads)",
    "merge no transpose": "heads merged by a reshape without a transpose back, which mixes "
    "positions (see merge_heads)",
    "round robin": "heads split round-robin (feature j to head j % H) instead of in contiguous "
    "blocks of d_head features",
    "scale d_model": "scores scaled by 1/√d_model instead of 1/√d_head: inside multi-head "
    "attention d_k is the width of one head, D // H",
    "no scale": "unscaled scores: divide q·kᵀ by √d_head",
    "no out proj": "the output projection (w_o, b_o) left out",
    "no out bias": "the output bias b_o left out: the output projection is out @ w_o.T + b_o",
    "no in biases": "the biases b_q, b_k, b_v left out of the input projections: x @ w.T + b",
    "kv from query": "keys and values projected from `query` instead of from `key` and `value`: "
    "in cross-attention they come from a different sequence (k = key @ w_k.T + b_k, "
    "v = value @ w_v.T + b_v)",
    "v from key": "values projected from `key` instead of from `value` (v = value @ w_v.T + b_v)",
    "w not transposed": "x @ w + b instead of x @ w.T + b: the weights follow nn.Linear's "
    "(out_features, in_features) layout",
}


def mha_mistakes(query, key, value, params, num_heads, mask):
    skip = set()
    if key is query:  # self-attention: these read the same tensors as the right answer
        skip.add("kv from query")
    if value is key:
        skip.add("v from key")
    return {
        label: (
            lambda variant=variant: ref_mha(
                query, key, value, params, num_heads, mask, variant=variant
            )
        )
        for variant, label in MHA_MISTAKES.items()
        if variant not in skip
    }


@pytest.mark.task(3)
def test_multi_head_attention_matches_torch(learner):
    seed_everything(0)
    width, heads = 12, 3
    params = attention_params(width)
    module = torch_mha(params, heads)
    x = torch.randn(2, 5, width, dtype=F64)
    causal = torch.tril(torch.ones(5, 5, dtype=torch.bool))
    cases = [
        ("self-attention", x, x, x, None),
        (
            "cross-attention, 4 queries over 7 keys",
            torch.randn(2, 4, width, dtype=F64),
            torch.randn(2, 7, width, dtype=F64),
            torch.randn(2, 7, width, dtype=F64),
            None,
        ),
        ("causal self-attention", x, x, x, causal),
    ]
    for label, query, key, value, mask in cases:
        with torch.no_grad():  # nn.MultiheadAttention's boolean mask is True where *blocked*
            want = module(
                query, key, value, need_weights=False, attn_mask=None if mask is None else ~mask
            )[0]
        inputs = {"query": query, "key": key, "value": value}
        name = f"multi_head_attention({describe_inputs(inputs)}, num_heads=3)"
        got = run_on_copies(
            name,
            learner.multi_head_attention,
            **inputs,
            params={k: p.clone() for k, p in params.items()},
            num_heads=heads,
            mask=mask,
            advice=IN_PLACE_ADVICE,
        )
        _compare_with_source(
            got,
            want,
            name=name,
            rtol=1e-7,
            atol=1e-9,
            mistakes=mha_mistakes(query, key, value, params, heads, mask),
            source=f"nn.MultiheadAttention with the same weights, {label}",
            note=note_on(learner, "multi_head_attention", ("attention", "heads")),
        )


@pytest.mark.task(3)
def test_mha_params_unpacks_nn_multiheadattention(learner):
    seed_everything(0)
    width, heads = 12, 3
    module = nn.MultiheadAttention(width, heads, batch_first=True, dtype=F64).eval()
    with torch.no_grad():  # torch starts the biases at 0: random ones show a mix-up
        module.in_proj_bias.normal_()
        module.out_proj.bias.normal_()
    x = torch.randn(2, 5, width, dtype=F64)
    with torch.no_grad():
        want = module(x, x, x, need_weights=False)[0]
    w_chunks = module.in_proj_weight.detach().clone().chunk(3)
    b_chunks = module.in_proj_bias.detach().clone().chunk(3)
    columns = module.in_proj_weight.detach().clone().chunk(3, dim=1)
    expected = {
        "w_q": w_chunks[0],
        "w_k": w_chunks[1],
        "w_v": w_chunks[2],
        "b_q": b_chunks[0],
        "b_k": b_chunks[1],
        "b_v": b_chunks[2],
        "w_o": module.out_proj.weight.detach().clone(),
        "b_o": module.out_proj.bias.detach().clone(),
    }
    params = call_with_inputs(
        "mha_params(module)", learner.mha_params, module=copy.deepcopy(module)
    )
    if not isinstance(params, dict):
        fail(f"mha_params(module) should return a dict; got {type(params).__name__}")
    missing = [key for key in expected if key not in params]
    if missing:
        fail(f"mha_params(module) lacks the keys {missing}; expected the keys {list(expected)}")
    order = {"w": w_chunks, "b": b_chunks}
    for key, want_part in expected.items():
        mistakes: dict[str, Any] = {}
        if key[0] in "wb" and key[2] in "qkv":
            index = "qkv".index(key[2])
            rows = "rows" if key[0] == "w" else "entries"
            for other, part in zip("qkv", order[key[0]], strict=True):
                if other != key[2]:
                    mistakes[
                        f"the {other.upper()} block where the {key[2].upper()} one belongs: "
                        f"in_proj_{'weight' if key[0] == 'w' else 'bias'} stacks q, k, v in that "
                        f"order, D {rows} each"
                    ] = part
            if key[0] == "w":
                mistakes[
                    "in_proj_weight (3·D, D) split along dim 1, its columns: W_q, W_k and W_v are "
                    "stacked along dim 0, the rows (in_proj_weight.chunk(3, dim=0))"
                ] = columns[index]
                mistakes["a transposed weight: keep nn.Linear's (out, in) layout"] = want_part.T
        if key == "w_o":
            mistakes["a transposed weight: keep out_proj.weight as it is"] = want_part.T
        assert_tensor(
            params[key],
            want_part,
            name=f"mha_params(module)[{key!r}]",
            rtol=0,
            atol=0,
            mistakes=mistakes,
        )
    name = "multi_head_attention(x, x, x, mha_params(module), num_heads=3)"
    got = run_on_copies(
        name,
        learner.multi_head_attention,
        query=x,
        key=x,
        value=x,
        params={k: p.detach().clone() for k, p in params.items()},
        num_heads=heads,
        advice=IN_PLACE_ADVICE,
    )
    _compare_with_source(
        got,
        want,
        name=name,
        rtol=1e-7,
        atol=1e-9,
        mistakes=mha_mistakes(x, x, x, expected, heads, None),
        source="module(x, x, x)",
        note=note_on(learner, "multi_head_attention", ("attention", "heads")),
    )


@pytest.mark.task(3)
def test_multi_head_attention_is_built_not_borrowed(learner, learner_file):
    seed_everything(0)
    x = torch.randn(1, 3, 4, dtype=F64)
    run_on_copies(
        "multi_head_attention(x (1, 3, 4), num_heads=2)",
        learner.multi_head_attention,
        query=x,
        key=x,
        value=x,
        params=attention_params(4),
        num_heads=2,
        advice=IN_PLACE_ADVICE,
    )
    forbid_calls(learner_file, BANNED_EVERYWHERE, BUILD_IT)
    forbid_calls(
        learner_file,
        ["MultiheadAttention"],
        "task 3 asks you to build multi-head attention from your own pieces; the checks compare it "
        "with nn.MultiheadAttention",
        within="multi_head_attention",
    )


# ----- task 4: sinusoidal positional encodings ---------------------------------------------------
def ref_sinusoidal(num_positions, d_model, base, *, variant: str = "") -> torch.Tensor:
    if variant == "base ignored":
        base = 10000.0
    position = torch.arange(num_positions, dtype=F64)[:, None] + (1 if variant == "from 1" else 0)
    pair = torch.arange(d_model // 2, dtype=F64)
    exponent = {"i": pair / d_model}.get(variant, 2 * pair / d_model)
    angle = position / base**exponent
    sin, cos = torch.sin(angle), torch.cos(angle)
    if variant == "swapped":
        sin, cos = cos, sin
    if variant == "halves":
        return torch.cat([sin, cos], dim=-1)
    if variant == "j":
        dims = torch.arange(d_model, dtype=F64)
        angle = position / base ** (dims / d_model)
        even = (torch.arange(d_model) % 2 == 0)[None, :]
        return torch.where(even, torch.sin(angle), torch.cos(angle))
    return torch.stack([sin, cos], dim=-1).reshape(num_positions, d_model)


SINUSOIDAL_MISTAKES = {
    "swapped": "sin and cos swapped: the paper puts sin on the even dimensions 0, 2, 4, … and cos "
    "on the odd ones",
    "halves": "sin in the first half of the dimensions and cos in the second (a layout some "
    "libraries use); the paper interleaves them: sin on even, cos on odd dimensions",
    "j": "an exponent built from the dimension index j itself (base^(j/d_model)); dimensions 2i "
    "and 2i + 1 share the angle pos / base^(2i/d_model)",
    "i": "the exponent i/d_model instead of 2i/d_model for pair i",
    "from 1": "positions counted from 1: the first row is position 0 (all sin 0, all cos 1)",
}


@pytest.mark.task(4)
def test_sinusoidal_encoding_formula(learner):
    seed_everything(0)
    for num_positions, d_model, base in ((50, 16, 10000.0), (7, 6, 100.0)):
        name = f"sinusoidal_encoding({num_positions}, {d_model}, base={base:g})"
        got = call_with_inputs(
            name,
            learner.sinusoidal_encoding,
            num_positions=num_positions,
            d_model=d_model,
            base=base,
        )
        want = ref_sinusoidal(num_positions, d_model, base)
        mistakes = {
            label: (
                lambda v=variant, n=num_positions, d=d_model, b=base: ref_sinusoidal(
                    n, d, b, variant=v
                )
            )
            for variant, label in SINUSOIDAL_MISTAKES.items()
        }
        if base != 10000.0:
            mistakes[f"the base argument ignored: 10000 used instead of base={base:g}"] = (
                lambda n=num_positions, d=d_model, b=base: ref_sinusoidal(
                    n, d, b, variant="base ignored"
                )
            )
        if isinstance(got, torch.Tensor) and got.is_floating_point() and got.dtype != torch.float32:
            fail(
                f"{name} has dtype {got.dtype}; expected torch.float32, the dtype the encodings "
                "are added to embeddings in (compute in float64 if you like, then .float())"
            )
        assert_tensor(got, want.float(), name=name, rtol=1e-5, atol=2e-5, mistakes=mistakes)


# ----- task 5: rotary positional embeddings (RoPE) -----------------------------------------------
def ref_rope(x, positions=None, base=10000.0, *, variant: str = "") -> torch.Tensor:
    """RoPE by complex numbers: z_i = x[i] + i·x[i + d/2] times e^{i·m·θ_i}, θ_i = base^(−2i/d)."""
    length, dim = x.shape[-2], x.shape[-1]
    half = dim // 2
    if positions is None or variant == "positions ignored":
        positions = torch.arange(length)
    if variant == "from 1":
        positions = torch.arange(1, length + 1)
    if variant == "base ignored":
        base = 10000.0
    pair = torch.arange(half, dtype=F64)
    exponent = pair / dim if variant == "freq i" else 2 * pair / dim
    angle = positions.to(F64)[:, None] * base ** (-exponent)[None, :]
    if variant == "sign":
        angle = -angle
    xd = x.to(F64)
    if variant == "no rotate half":
        cos, sin = torch.cat([angle.cos()] * 2, -1), torch.cat([angle.sin()] * 2, -1)
        return (xd * cos + xd * sin).to(x.dtype)
    if variant == "interleaved":
        z = torch.complex(xd[..., 0::2], xd[..., 1::2]) * torch.polar(torch.ones_like(angle), angle)
        return torch.stack([z.real, z.imag], dim=-1).reshape(x.shape).to(x.dtype)
    z = torch.complex(xd[..., :half], xd[..., half:]) * torch.polar(torch.ones_like(angle), angle)
    return torch.cat([z.real, z.imag], dim=-1).to(x.dtype)


INTERLEAVED = (
    "the interleaved convention (pairs (x₀, x₁), (x₂, x₃), …, as in GPT-J and the RoFormer "
    "paper). This lab accepts only the rotate-half convention of GPT-NeoX and of LLaMA in Hugging "
    "Face: dimension i pairs with dimension i + d/2. Both are valid RoPE, but weights trained with "
    "one work only with the same one"
)
ROPE_MISTAKES = {
    "interleaved": INTERLEAVED,
    "sign": "a rotation by −position·θ (the sin terms' signs flipped): the first half is "
    "x₁·cos − x₂·sin, the second x₂·cos + x₁·sin",
    "freq i": "frequencies base^(−i/d) instead of base^(−2i/d) for pair i",
    "no rotate half": "x·cos + x·sin without rotate_half: the sin term multiplies the partner "
    "dimension (−x₂ in the first half, x₁ in the second)",
    "positions ignored": "the positions argument ignored: the rotation used 0, 1, 2, … instead of "
    "the positions passed in",
}


def rope_mistakes(x, positions, base):
    found = {
        label: (lambda v=variant: ref_rope(x, positions, base, variant=v))
        for variant, label in ROPE_MISTAKES.items()
    }
    if positions is None:
        found.pop(ROPE_MISTAKES["positions ignored"])
        found[
            "default positions counted from 1: without a positions argument the tokens are at "
            "0, 1, …, T − 1 (torch.arange(T)), and the first one is not rotated"
        ] = lambda: ref_rope(x, None, base, variant="from 1")
    if base != 10000.0:
        found[f"the base argument ignored: 10000 used instead of base={base:g}"] = lambda: ref_rope(
            x, positions, base, variant="base ignored"
        )
    return found


@pytest.mark.task(5)
def test_apply_rope_matches_reference(learner):
    seed_everything(0)
    cases = [
        ({"x": torch.randn(2, 3, 10, 8)}, 10000.0),
        ({"x": torch.randn(5, 16), "positions": torch.tensor([3, 9, 0, 14, 2])}, 10000.0),
        ({"x": torch.randn(2, 6, 12), "positions": torch.arange(6) + 20}, 500.0),
    ]
    for inputs, base in cases:
        name = f"apply_rope({describe_inputs(inputs)}, base={base:g})"
        got = run_on_copies(name, learner.apply_rope, **inputs, base=base, advice=IN_PLACE_ADVICE)
        want = ref_rope(inputs["x"], inputs.get("positions"), base)
        assert_tensor(
            got,
            want,
            name=name,
            rtol=1e-5,
            atol=1e-5,
            mistakes=rope_mistakes(inputs["x"], inputs.get("positions"), base),
        )


@pytest.mark.task(5)
def test_apply_rope_preserves_norms(learner):
    seed_everything(0)
    x = torch.randn(2, 4, 12, 8)
    name = "apply_rope(x (2, 4, 12, 8))"
    got = run_on_copies(name, learner.apply_rope, x=x, advice=IN_PLACE_ADVICE)
    if not isinstance(got, torch.Tensor) or got.shape != x.shape:
        fail(f"{name} should be a tensor of shape {tuple(x.shape)}; got {_kind_of(got)}")
    before = x.double().norm(dim=-1)
    after = got.detach().double().norm(dim=-1)
    rel = ((after - before).abs() / before).nan_to_num(nan=math.inf)
    if rel.max().item() > 1e-5:
        index = tuple(int(i) for i in torch.nonzero(rel == rel.max())[0])
        known = tensor_mistake(got, rope_mistakes(x, None, 10000.0), rtol=1e-5, atol=1e-5)
        fail(
            f"{name} changed the length of the vector x[{', '.join(map(str, index))}] from "
            f"{before[index].item():.6g} to {after[index].item():.6g}: RoPE only rotates pairs of "
            "coordinates, which keeps every vector's norm"
            + (f". The result looks like {known}" if known else "")
        )


@pytest.mark.task(5)
def test_rope_scores_depend_only_on_the_offset(learner):
    seed_everything(0)
    dim = 16
    q, k = torch.randn(dim, dtype=F64), torch.randn(dim, dtype=F64)
    tolerance = 1e-4 * q.norm().item() * k.norm().item()
    plain = float(q @ k)
    means = []
    for offset in (0, 1, 4, 9):
        m = torch.tensor([0, 3, 10, 25]) + offset
        n = m - offset
        rq = run_on_copies(
            f"apply_rope(q (4, {dim}), positions {m.tolist()})",
            learner.apply_rope,
            x=q.expand(4, dim),
            positions=m,
            advice=IN_PLACE_ADVICE,
        )
        rk = run_on_copies(
            f"apply_rope(k (4, {dim}), positions {n.tolist()})",
            learner.apply_rope,
            x=k.expand(4, dim),
            positions=n,
            advice=IN_PLACE_ADVICE,
        )
        for label, r in (("q", rq), ("k", rk)):
            if not isinstance(r, torch.Tensor) or tuple(r.shape) != (4, dim):
                fail(
                    f"apply_rope({label} (4, {dim}), positions) should have shape (4, {dim}); got {_kind_of(r)}"
                )
        dots = (rq.detach().double() * rk.detach().double()).sum(-1)
        spread = (dots.max() - dots.min()).item()
        if not math.isfinite(spread) or spread > tolerance:
            lo, hi = int(dots.argmin()), int(dots.argmax())
            fail(
                f"after apply_rope, q·k should depend only on the offset m − n between the two "
                f"positions, but for m − n = {offset} it is {dots[lo].item():.6g} at (m, n) = "
                f"({m[lo].item()}, {n[lo].item()}) and {dots[hi].item():.6g} at ({m[hi].item()}, "
                f"{n[hi].item()}): rotate q by m·θ_i and k by n·θ_i, pair by pair"
            )
        if offset == 0 and abs(dots.mean().item() - plain) > tolerance:
            fail(
                f"after apply_rope with both vectors at the same position, q·k is "
                f"{dots.mean().item():.6g}; expected the plain q·k = {plain:.6g}: rotating both by "
                "the same angles changes no dot product"
            )
        means.append(dots.mean().item())
    if max(abs(value - plain) for value in means) < tolerance:
        fail(
            "after apply_rope, q·k equals the plain q·k at every offset m − n: the rotation has no "
            "effect (are the positions used? does the angle grow with the position?)"
        )


ROPE_ATTENTION_MISTAKES = {
    "values": "RoPE applied to the values too: it encodes positions in the q·k scores only; the "
    "values stay as they are",
    "queries": "RoPE applied to only the queries: rotate both q and k, so that q·k depends on the "
    "offset between their positions",
    "keys": "RoPE applied to only the keys: rotate both q and k",
    "none": "no RoPE at all: rotate q and k with apply_rope before the attention",
    "interleaved": INTERLEAVED,
    "mask dropped": "the mask not passed on: rope_attention must hand its mask to attention",
}


def ref_rope_attention(q, k, v, positions=None, mask=None, base=10000.0, *, variant: str = ""):
    rope_variant = "interleaved" if variant == "interleaved" else ""

    def rot(x):
        return ref_rope(x, positions, base, variant=rope_variant)

    rq = q if variant in ("keys", "none") else rot(q)
    rk = k if variant in ("queries", "none") else rot(k)
    rv = rot(v) if variant == "values" else v
    if variant == "mask dropped":
        mask = None
    return F.scaled_dot_product_attention(rq, rk, rv, attn_mask=mask)


@pytest.mark.task(5)
def test_rope_attention_matches_reference(learner):
    seed_everything(0)
    q, k = torch.randn(2, 2, 6, 8, dtype=F64), torch.randn(2, 2, 6, 8, dtype=F64)
    v = torch.randn(2, 2, 6, 4, dtype=F64)
    causal = torch.tril(torch.ones(6, 6, dtype=torch.bool))
    for positions, mask in ((None, None), (torch.arange(6) + 5, causal)):
        inputs = {"q": q, "k": k, "v": v, "positions": positions, "mask": mask}
        name = f"rope_attention({describe_inputs(inputs)})"
        got = run_on_copies(name, learner.rope_attention, **inputs, advice=IN_PLACE_ADVICE)
        want = ref_rope_attention(q, k, v, positions, mask)
        _compare_with_source(
            got,
            want,
            name=name,
            rtol=1e-5,
            atol=1e-5,
            mistakes={
                label: (
                    lambda v_=variant, p=positions, m=mask: ref_rope_attention(
                        q, k, v, p, m, variant=v_
                    )
                )
                for variant, label in ROPE_ATTENTION_MISTAKES.items()
                if mask is not None or variant != "mask dropped"
            },
            source="the reference RoPE on q and k, then F.scaled_dot_product_attention",
            note=note_on(learner, "rope_attention", ("attention", "apply_rope")),
        )


@pytest.mark.task(5)
def test_rope_attention_ignores_a_common_shift(learner):
    seed_everything(0)
    q, k, v = (torch.randn(1, 2, 6, 8, dtype=F64) for _ in range(3))
    base = run_on_copies(
        "rope_attention(q, k, v (1, 2, 6, 8))",
        learner.rope_attention,
        q=q,
        k=k,
        v=v,
        advice=IN_PLACE_ADVICE,
    )
    shifted = run_on_copies(
        "rope_attention(q, k, v (1, 2, 6, 8), positions=arange(6) + 7)",
        learner.rope_attention,
        q=q,
        k=k,
        v=v,
        positions=torch.arange(6) + 7,
        advice=IN_PLACE_ADVICE,
    )
    for label, out in (("positions 0…5", base), ("positions 7…12", shifted)):
        if not isinstance(out, torch.Tensor) or out.shape != v.shape:
            fail(
                f"rope_attention with {label} should return shape {tuple(v.shape)}; got {_kind_of(out)}"
            )
    change = (shifted - base).detach().abs().max().item()
    if not math.isfinite(change) or change > 1e-5:
        mistakes = {
            label: (lambda v_=variant: ref_rope_attention(q, k, v, variant=v_))
            for variant, label in ROPE_ATTENTION_MISTAKES.items()
            if variant != "mask dropped"  # no mask here: it would equal the right answer
        }
        known = tensor_mistake(base, mistakes, rtol=1e-5, atol=1e-5)
        fail(
            f"rope_attention's output changed by up to {change:.3g} when every position was "
            "shifted by 7: with RoPE on the queries and keys only, the scores depend on relative "
            "positions, so a common shift must change nothing"
            + (f". The output looks like {known}" if known else "")
        )
