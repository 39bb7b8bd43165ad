"""Checks for p3-quantization: int8 and 4-bit quantization built by hand, checked against a
reference computed here.

Tasks 1–3 run on small seeded matrices: scales, zero points and codes are compared with the
reference element by element (a code may differ by one only where ``w / scale`` sits within 1e-3
of a rounding tie, where another correct order of float operations can round the other way),
and every round trip is held to the bound the scale implies, ``|w − dequantized| ≤ scale / 2``.
Task 4 quantizes a tiny seeded Llama built here (2 decoder layers, tied embeddings like
SmolLM2): cheap, and it shows whether the learner's code finds the layers rather than knowing
SmolLM2's. Tasks 5 and 6 use the packaged SmolLM2-135M-Instruct: the learner always gets a
fresh copy (``fresh_smollm2()``); the check's own model (``smollm2()``) gives the reference
logits, and the weights it compares with, and is fingerprinted before any learner code runs.
The effective weight of a learner's layer is read from ``module.weight`` for a plain
``nn.Linear``, or from the module's outputs for a module of the learner's own (a QuantLinear).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from aipath.checks import (
    assert_array,
    assert_unchanged,
    call_with_inputs,
    fail,
    forbid_calls,
    forbid_imports,
    fresh_smollm2,
    smollm2,
    to_numpy,
)

# The README's paragraph (142 tokens, 141 predictions) and a short second text.
TEXT = (
    "The old harbour town wakes up slowly. Before the first ferry leaves, the bakers have already "
    "pulled the morning bread out of their ovens, and the smell drifts down the narrow streets "
    "towards the water. Fishermen sort their nets on the quay while gulls wait on the railings, "
    "hoping that something will fall. By eight o'clock the cafés open their shutters and children "
    "in blue uniforms hurry past on their way to school. Most visitors arrive in the afternoon, "
    "when the light turns golden and the boats return with their catch. In winter the town is "
    "quieter: storms close the harbour for days at a time, and the people who live there all year "
    "finally have the streets to themselves."
)
SHORT_TEXT = "Quantization stores every weight of a network in a few bits."

TIE = 1e-3  # |frac(w / scale) − 0.5| below this: either rounding is right
PPL_RTOL = 1e-4  # the same weights in float32, computed another way
MATCH_RTOL = 1e-3  # a known-wrong perplexity computed in float64 here, in float32 by the learner
BANNED_CALLS = [
    "quantize_per_tensor",
    "quantize_per_channel",
    "fake_quantize_per_tensor_affine",
    "fake_quantize_per_channel_affine",
    "quantize_dynamic",
    "quantize_",
]
BANNED_IMPORTS = ["torchao", "bitsandbytes", "torch.ao", "optimum", "quanto", "hqq", "auto_gptq"]
WHY = "this lab builds quantization by hand from torch tensor operations"
IN_PLACE_ADVICE = (
    "w /= scale, w.div_(scale) or w -= lo write into the tensor you were given; w / scale and "
    "w - lo make new ones"
)


# ----- small seeded matrices --------------------------------------------------------------------
def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _matrix(out_features: int, in_features: int, seed: int) -> torch.Tensor:
    """Weights like a layer's: rows of different magnitudes, both signs in every group of 32.

    The largest |w| of the whole matrix is negative (so max(w) is not max(|w|)), and so is the
    largest |w| of several rows.
    """
    g = _generator(seed)
    rows = torch.exp(torch.randn(out_features, 1, generator=g) * 0.5)
    w = torch.randn(out_features, in_features, generator=g) * 0.02 * rows
    w[1, 3] = -4.0 * float(w.abs().max())
    for row in range(0, out_features, 3):
        col = int(w[row].abs().argmax())
        w[row, col] = -abs(float(w[row, col])) * 1.5
    return w.contiguous()


def _outlier_matrix() -> torch.Tensor:
    """Typical weights with one output row (channel 5) a hundred times larger."""
    w = torch.randn(64, 96, generator=_generator(7)) * 0.02
    w[5] *= 100.0
    return w


# ----- references -------------------------------------------------------------------------------
def _int8_scale(w: torch.Tensor, per_channel: bool, divisor: float = 127.0, how: str = "max"):
    a = w.abs()
    if how == "mean":
        m = a.mean(dim=1, keepdim=True) if per_channel else a.mean()
    elif how == "signed max":
        m = w.amax(dim=1, keepdim=True) if per_channel else w.max()
    elif how == "range":
        m = (
            (w.amax(dim=1, keepdim=True) - w.amin(dim=1, keepdim=True))
            if per_channel
            else (w.max() - w.min())
        )
    elif how == "columns":
        m = a.amax(dim=0, keepdim=True)
    elif how == "flat rows":
        m = a.amax(dim=1)
    else:
        m = a.amax(dim=1, keepdim=True) if per_channel else a.max()
    return torch.where(m > 0, m / divisor, torch.ones_like(m))


def _int8_codes(w: torch.Tensor, scale: torch.Tensor, rounding=torch.round, lo=-127, hi=127):
    return torch.clamp(rounding(w / scale), lo, hi)


def _int8(w: torch.Tensor, per_channel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    scale = _int8_scale(w, per_channel)
    return _int8_codes(w, scale).to(torch.int8), scale


def _int4_parts(
    w: torch.Tensor, group_size: int, *, layout: str = "contiguous", levels: float = 15.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(groups (out, G, g), lo, hi, scale) with the groups taken one way or another."""
    out_features = w.shape[0]
    if layout == "strided":  # column j belongs to group j % G
        groups = w.reshape(out_features, group_size, -1).transpose(1, 2)
    else:
        groups = w.reshape(out_features, -1, group_size)
    lo, hi = groups.amin(dim=2), groups.amax(dim=2)
    scale = (hi - lo) / levels
    return groups, lo, hi, torch.where(scale > 0, scale, torch.ones_like(scale))


def _ungroup(groups: torch.Tensor, layout: str = "contiguous") -> torch.Tensor:
    if layout == "strided":
        groups = groups.transpose(1, 2)
    return groups.reshape(groups.shape[0], -1)


def _int4(
    w: torch.Tensor, group_size: int, *, layout: str = "contiguous", rounding=torch.round
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    groups, lo, _hi, scale = _int4_parts(w, group_size, layout=layout)
    zero = torch.clamp(torch.round(-lo / scale), 0, 15)
    q = torch.clamp(rounding(groups / scale[..., None]) + zero[..., None], 0, 15)
    return _ungroup(q, layout).to(torch.uint8), scale, zero.to(torch.uint8)


def _deq4(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    out_features, in_features = q.shape
    g = in_features // scale.shape[1]
    groups = q.float().reshape(out_features, -1, g)
    return ((groups - zero.float()[..., None]) * scale[..., None]).reshape(out_features, -1)


def _expand(values: torch.Tensor, in_features: int) -> torch.Tensor:
    """Per-group values (out, G) repeated over their columns (out, in)."""
    return values.repeat_interleave(in_features // values.shape[1], dim=1)


def _pack(q: torch.Tensor) -> torch.Tensor:
    q = q.to(torch.uint8)
    return q[:, 0::2] | (q[:, 1::2] << 4)


def _unpack(packed: torch.Tensor) -> torch.Tensor:
    return torch.stack((packed & 15, packed >> 4), dim=-1).reshape(packed.shape[0], -1)


# ----- reading the learner's results ------------------------------------------------------------
def _tensor(value: Any, name: str) -> torch.Tensor:
    if value is None:
        fail(f"{name} is None: did you forget to `return` it?")
    if isinstance(value, np.ndarray):
        fail(f"{name} is a NumPy array; return a torch.Tensor (torch.from_numpy(...) if needed)")
    if not isinstance(value, torch.Tensor):
        fail(f"{name} should be a torch.Tensor; got {type(value).__name__}")
    return value.detach()


def _parts(value: Any, names: tuple[str, ...], call: str) -> tuple[torch.Tensor, ...]:
    if value is None:
        fail(f"{call} is None: did you forget to `return` ({', '.join(names)})?")
    if not isinstance(value, tuple | list) or len(value) != len(names):
        got = (
            f"a {type(value).__name__} of {len(value)} values"
            if isinstance(value, tuple | list)
            else type(value).__name__
        )
        fail(f"{call} should return a tuple ({', '.join(names)}); got {got}")
    return tuple(_tensor(v, f"the {n} of {call}") for n, v in zip(names, value, strict=True))


def _shape_mistake(got: torch.Tensor, mistakes: Mapping[str, Callable[[], Any]]) -> str | None:
    for label, make in mistakes.items():
        try:
            wrong = make()
        except Exception:
            continue
        if wrong is not None and tuple(np.shape(to_numpy(wrong))) == tuple(got.shape):
            return label
    return None


def _assert_shape(
    got: torch.Tensor,
    shape: tuple[int, ...],
    name: str,
    mistakes: Mapping[str, Callable[[], Any]] | None = None,
    why: str = "",
) -> None:
    if tuple(got.shape) == tuple(shape):
        return
    known = _shape_mistake(got, mistakes or {})
    prefix = f"{name} looks like {known}. " if known else ""
    fail(f"{prefix}{name} has shape {tuple(got.shape)}; expected {tuple(shape)}{why}")


def _assert_float(got: torch.Tensor, name: str) -> None:
    if got.dtype != torch.float32:
        fail(f"{name} has dtype {got.dtype}; expected torch.float32, like the weights")
    if not torch.isfinite(got).all():
        bad = int((~torch.isfinite(got)).sum())
        fail(f"{name} holds {bad} values that are NaN or infinite")


def _assert_integral(got: torch.Tensor, name: str, lo: int, hi: int) -> torch.Tensor:
    """The learner's codes as int64, after checking they are whole numbers in [lo, hi]."""
    if got.dtype.is_floating_point:
        if not torch.isfinite(got).all() or not torch.equal(got, torch.round(got)):
            sample = got[got != torch.round(got)][:3].tolist()
            fail(
                f"{name} holds values that are not whole numbers, such as {sample}: codes and "
                "zero points are integers (round, then convert)"
            )
    elif got.dtype == torch.bool or got.is_complex():
        fail(f"{name} has dtype {got.dtype}; expected integer codes")
    values = got.to(torch.int64)
    if int(values.min()) < lo or int(values.max()) > hi:
        fail(
            f"{name} holds values from {int(values.min())} to {int(values.max())}; expected "
            f"whole numbers in [{lo}, {hi}]"
        )
    return values


def _assert_codes(
    got: torch.Tensor,
    want: torch.Tensor,
    exact: torch.Tensor,
    name: str,
    mistakes: Mapping[str, Callable[[], Any]],
) -> None:
    """Integer codes equal to the reference, except by one where ``exact`` is a rounding tie."""
    diff = (got.to(torch.int64) - want.to(torch.int64)).abs()
    near_tie = ((exact - torch.floor(exact)) - 0.5).abs() < TIE
    if bool(((diff == 0) | ((diff == 1) & near_tie)).all()):
        return
    assert_array(
        to_numpy(got).astype(np.int64),
        to_numpy(want).astype(np.int64),
        name=name,
        exact=True,
        check_dtype_kind=False,
        mistakes={
            label: (lambda m=m: to_numpy(m()).astype(np.int64)) for label, m in mistakes.items()
        },
    )


def _assert_values(
    got: torch.Tensor,
    want: torch.Tensor,
    name: str,
    mistakes: Mapping[str, Callable[[], Any]],
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> None:
    assert_array(
        to_numpy(got).astype(np.float64),
        to_numpy(want).astype(np.float64),
        name=name,
        rtol=rtol,
        atol=atol,
        mistakes={
            label: (lambda m=m: to_numpy(m()).astype(np.float64)) for label, m in mistakes.items()
        },
    )


def _assert_within_half_step(
    w: torch.Tensor, deq: torch.Tensor, step: torch.Tensor, what: str, clue: str = ""
) -> None:
    """|w − deq| ≤ step / 2 everywhere (``step`` broadcast to w's shape)."""
    step = step.expand_as(w).to(torch.float64)
    err = (w.double() - deq.double()).abs()
    over = err > step / 2 * (1 + 1e-4) + 1e-9
    if not bool(over.any()):
        return
    worst = int(torch.argmax(torch.where(over, err / step, torch.zeros_like(err))))
    i, j = divmod(worst, w.shape[1])
    fail(
        f"{what}: the round trip is off by more than half a step at {int(over.sum())} of "
        f"{w.numel()} weights; the worst, w[{i}, {j}] = {float(w[i, j]):.6g}, comes back as "
        f"{float(deq[i, j]):.6g}, an error of {float(err[i, j]):.3g} = "
        f"{float(err[i, j] / step[i, j]):.2f} steps (the scale there is {float(step[i, j]):.3g}; "
        f"rounding to the nearest code is never more than 0.5 steps off){clue}"
    )


# ----- task 1 -----------------------------------------------------------------------------------
def _int8_scale_mistakes(w: torch.Tensor, per_channel: bool) -> dict[str, Callable[[], Any]]:
    table: dict[str, Callable[[], Any]] = {
        "a scale from the mean of |w| instead of the max (max |w| / 127: the largest weight "
        "must map to 127, not be clipped)": lambda: _int8_scale(w, per_channel, how="mean"),
        "max |w| / 128 — the symmetric range is [-127, 127], so the scale is max |w| / 127": (
            lambda: _int8_scale(w, per_channel, 128.0)
        ),
        "max |w| / 255 (as if 256 levels were on one side) — symmetric int8 maps max |w| to "
        "127": lambda: _int8_scale(w, per_channel, 255.0),
        "max |w| / 127.5 — the symmetric range [-127, 127] has 127 steps each side": (
            lambda: _int8_scale(w, per_channel, 127.5)
        ),
        "the largest w, not the largest |w|: a row whose biggest weight is negative gets a "
        "scale too small": lambda: _int8_scale(w, per_channel, how="signed max"),
        "(max − min) / 255, an asymmetric scale — this task is symmetric: max |w| / 127": (
            lambda: _int8_scale(w, per_channel, 255.0, how="range")
        ),
    }
    if per_channel:
        table[
            "one scale per input column (the max over dim 0): per-channel means one scale per "
            "output row, the max over dim 1"
        ] = lambda: _int8_scale(w, True, how="columns")
        table[
            "one scale per row, but of shape (out,) instead of (out, 1) (keepdim=True), so it "
            "does not broadcast over the row"
        ] = lambda: _int8_scale(w, True, how="flat rows")
    else:
        table["one scale per output row: per_channel=False asks for a single scale"] = lambda: (
            _int8_scale(w, True)
        )
    return table


def _int8_code_mistakes(w: torch.Tensor, scale: torch.Tensor) -> dict[str, Callable[[], Any]]:
    return {
        "truncation toward zero (a cast such as .to(torch.int8) or .int() without torch.round "
        "first)": lambda: _int8_codes(w, scale, torch.trunc),
        "floor instead of round (torch.floor rounds -0.4 down to -1)": lambda: _int8_codes(
            w, scale, torch.floor
        ),
        "ceil instead of round": lambda: _int8_codes(w, scale, torch.ceil),
        "codes from w * scale instead of w / scale": lambda: torch.clamp(
            torch.round(w * scale), -127, 127
        ),
        "codes from the scale max |w| / 128 and the range [-128, 127]": lambda: torch.clamp(
            torch.round(w / _int8_scale(w, scale.numel() > 1, 128.0)), -128, 127
        ),
    }


def _call_int8(learner: Any, w: torch.Tensor, per_channel: bool) -> tuple[torch.Tensor, ...]:
    call = f"quantize_int8(w {tuple(w.shape)}, per_channel={per_channel})"
    given = w.clone()
    got = call_with_inputs(call, learner.quantize_int8, given, per_channel=per_channel)
    assert_unchanged(call, {"w": given}, {"w": w}, advice=IN_PLACE_ADVICE)
    q, scale = _parts(got, ("q", "scale"), call)
    return call, q, scale


def _check_int8(learner: Any, w: torch.Tensor, per_channel: bool) -> None:
    call, q, scale = _call_int8(learner, w, per_channel)
    out_features, in_features = w.shape
    want_q, want_scale = _int8(w, per_channel)
    scale_name = f"the scale of {call}"
    scale_mistakes = _int8_scale_mistakes(w, per_channel)
    if per_channel:
        _assert_shape(
            scale,
            (out_features, 1),
            scale_name,
            scale_mistakes,
            ": one scale per output row, as a column that broadcasts over the row",
        )
    elif scale.numel() != 1:
        known = _shape_mistake(scale, scale_mistakes)
        prefix = f"{scale_name} looks like {known}. " if known else ""
        fail(f"{prefix}{scale_name} has shape {tuple(scale.shape)}; expected a single number")
    _assert_float(scale, scale_name)
    _assert_values(
        scale.reshape(want_scale.shape), want_scale, scale_name, scale_mistakes, rtol=1e-6
    )
    q_name = f"the codes q of {call}"
    _assert_shape(q, (out_features, in_features), q_name)
    if q.dtype != torch.int8:
        fail(f"{q_name} have dtype {q.dtype}; expected torch.int8 (one byte per weight)")
    if int(q.min()) < -127:
        fail(
            f"{q_name} hold {int((q < -127).sum())} codes of -128: symmetric int8 uses [-127, "
            "127], the same number of steps on both sides of zero (clamp to -127, 127)"
        )
    _assert_codes(q, want_q, w / want_scale, q_name, _int8_code_mistakes(w, want_scale))


@pytest.mark.task(1)
def test_int8_per_tensor(learner, learner_file):
    _check_int8(learner, _matrix(24, 80, seed=1), per_channel=False)
    forbid_imports(learner_file, BANNED_IMPORTS, WHY)
    forbid_calls(learner_file, BANNED_CALLS, WHY)


@pytest.mark.task(1)
def test_int8_per_channel(learner):
    _check_int8(learner, _matrix(24, 80, seed=2), per_channel=True)


@pytest.mark.task(1)
@pytest.mark.parametrize("per_channel", [False, True])
def test_dequantize_int8(learner, per_channel):
    w = _matrix(16, 48, seed=3)
    q, scale = _int8(w, per_channel)
    call = f"dequantize_int8(q, scale) (per_channel={per_channel})"
    got = _tensor(call_with_inputs(call, learner.dequantize_int8, q.clone(), scale.clone()), call)
    _assert_shape(got, tuple(w.shape), call)
    _assert_float(got, call)
    _assert_values(
        got,
        q.float() * scale,
        call,
        {
            "q / scale — dequantization multiplies the codes by the scale": lambda: (
                q.float() / scale
            ),
            "the codes without the scale": lambda: q.float(),
            "q * scale / 127": lambda: q.float() * scale / 127,
            "q * scale * 127": lambda: q.float() * scale * 127,
        },
        rtol=1e-6,
    )


@pytest.mark.task(1)
@pytest.mark.parametrize("per_channel", [False, True])
def test_int8_round_trip_within_half_a_step(learner, per_channel):
    w = _matrix(32, 64, seed=4)
    call, q, scale = _call_int8(learner, w, per_channel)
    if scale.numel() not in (1, w.shape[0]):
        fail(f"the scale of {call} has shape {tuple(scale.shape)}: see test_int8_per_channel")
    deq = call_with_inputs("dequantize_int8(q, scale)", learner.dequantize_int8, q, scale)
    deq = _tensor(deq, "dequantize_int8(q, scale)")
    _assert_shape(deq, tuple(w.shape), "dequantize_int8(q, scale)")
    step = scale.reshape(-1, 1) if per_channel else scale.reshape(1, 1)
    _assert_within_half_step(w, deq.float(), step.float(), f"dequantize_int8({call})")


@pytest.mark.task(1)
def test_int8_all_zero_row(learner):
    w = _matrix(8, 32, seed=5)
    w[3] = 0.0  # a pruned row: max |w| is 0 there
    call, q, scale = _call_int8(learner, w, True)
    _assert_shape(scale, (8, 1), f"the scale of {call}")
    if not bool(torch.isfinite(scale).all()) or float(scale[3].min()) <= 0:
        fail(
            f"{call} gives row 3, whose weights are all 0, the scale {float(scale[3, 0])!r}. Then "
            "w / scale is 0 / 0 = NaN there (and the int8 value of NaN is undefined): give a row "
            "whose max |w| is 0 a positive scale instead, e.g. torch.where(max_abs > 0, "
            "max_abs / 127, 1.0)"
        )
    if bool((q[3] != 0).any()):
        fail(
            f"{call} gives row 3, whose weights are all 0, the codes {q[3, :6].tolist()}…; expected 0"
        )
    deq = _tensor(
        call_with_inputs("dequantize_int8(q, scale)", learner.dequantize_int8, q, scale),
        "dequantize_int8(q, scale)",
    )
    if not bool(torch.isfinite(deq).all()) or bool((deq[3] != 0).any()):
        fail("dequantize_int8(q, scale) does not give 0.0 back for the all-zero row 3")


@pytest.mark.task(1)
def test_per_channel_beats_per_tensor_on_an_outlier_row(learner):
    w = _outlier_matrix()
    errors = {}
    for per_channel in (False, True):
        _call, q, scale = _call_int8(learner, w, per_channel)
        deq = _tensor(
            call_with_inputs("dequantize_int8(q, scale)", learner.dequantize_int8, q, scale),
            "dequantize_int8(q, scale)",
        )
        _assert_shape(deq, tuple(w.shape), "dequantize_int8(q, scale)")
        normal = torch.ones(w.shape[0], dtype=torch.bool)
        normal[5] = False
        errors[per_channel] = float(((w - deq.float())[normal] ** 2).mean().sqrt())
    q_ref, scale_ref = _int8(w, False)
    ref_tensor = float(((w - q_ref.float() * scale_ref)[normal] ** 2).mean().sqrt())
    if not errors[True] * 10 < errors[False]:
        fail(
            "on a (64, 96) matrix whose row 5 is a hundred times larger than the others, the "
            f"other rows come back with an RMS error of {errors[True]:.3g} per channel and "
            f"{errors[False]:.3g} per tensor (the reference per tensor: {ref_tensor:.3g}); per "
            "channel should be far smaller, since each row gets a step fitted to its own range"
        )


# ----- task 2 -----------------------------------------------------------------------------------
INT4_CASES = [((64, 128), 32), ((64, 64), 32), ((48, 128), 64)]


def _int4_scale_mistakes(w: torch.Tensor, group_size: int) -> dict[str, Callable[[], Any]]:
    out_features, in_features = w.shape
    table: dict[str, Callable[[], Any]] = {
        "(max − min) / 16 — 4 bits give the 16 codes 0..15, so the range spans 15 steps": (
            lambda: _int4_parts(w, group_size, levels=16.0)[3]
        ),
        "a symmetric scale, max |w| / 7 — this task is asymmetric: (max − min) / 15": lambda: (
            w.reshape(out_features, -1, group_size).abs().amax(dim=2) / 7
        ),
        "max / 15 without the min — the range of a group is max − min": lambda: (
            w.reshape(out_features, -1, group_size).amax(dim=2) / 15
        ),
        "groups of every G-th column (w.reshape(out, group_size, -1)): a group is "
        "group_size consecutive columns, w.reshape(out, -1, group_size)": lambda: _int4_parts(
            w, group_size, layout="strided"
        )[3],
        "groups along the output dimension (down the columns) instead of along each row": (
            lambda: _int4_parts(w.T.contiguous(), group_size)[3].T
        ),
        "groups along the output dimension, stored as (in / group_size, out)": lambda: _int4_parts(
            w.T.contiguous(), group_size
        )[3],
        "one group per row (the whole row)": lambda: _int4_parts(w, in_features)[3],
    }
    if group_size != 32:
        table["groups of 32 whatever group_size says"] = lambda: _int4_parts(w, 32)[3]
    return table


def _int4_zero_mistakes(w: torch.Tensor, group_size: int) -> dict[str, Callable[[], Any]]:
    _groups, lo, _hi, scale = _int4_parts(w, group_size)
    return {
        "round(min / scale) clamped to [0, 15] — the sign: the zero point is the code of 0.0, "
        "round(−min / scale)": lambda: torch.clamp(torch.round(lo / scale), 0, 15),
        "the code of the group's max instead of its min, round(max / scale)": lambda: torch.clamp(
            torch.round(_hi / scale), 0, 15
        ),
        "zero points of every G-th column (strided groups)": lambda: _int4(
            w, group_size, layout="strided"
        )[2],
        "7 or 8 for every group (a symmetric offset)": lambda: torch.full_like(lo, 8),
        "floor(−min / scale) (or a cast to an integer without torch.round, which truncates): "
        "the zero point is the nearest code, torch.round(−min / scale)": lambda: torch.clamp(
            torch.floor(-lo / scale), 0, 15
        ),
    }


def _int4_code_mistakes(w: torch.Tensor, group_size: int) -> dict[str, Callable[[], Any]]:
    groups, lo, _hi, scale = _int4_parts(w, group_size)
    zero = torch.clamp(torch.round(-lo / scale), 0, 15)
    return {
        "truncation toward zero (a cast without torch.round first)": lambda: _int4(
            w, group_size, rounding=torch.trunc
        )[0],
        "floor instead of round": lambda: _int4(w, group_size, rounding=torch.floor)[0],
        "round(w / scale) clamped to [0, 15] without adding the zero point": lambda: _ungroup(
            torch.clamp(torch.round(groups / scale[..., None]), 0, 15)
        ),
        "round(w / scale) − zero (the zero point subtracted, not added)": lambda: _ungroup(
            torch.clamp(torch.round(groups / scale[..., None]) - zero[..., None], 0, 15)
        ),
        "round((w − min) / scale), a float offset instead of the integer zero point": lambda: (
            _ungroup(torch.clamp(torch.round((groups - lo[..., None]) / scale[..., None]), 0, 15))
        ),
        "groups of every G-th column (strided groups)": lambda: _int4(
            w, group_size, layout="strided"
        )[0],
    }


def _call_int4(learner: Any, w: torch.Tensor, group_size: int) -> tuple[Any, ...]:
    call = f"quantize_int4(w {tuple(w.shape)}, group_size={group_size})"
    given = w.clone()
    got = call_with_inputs(call, learner.quantize_int4, given, group_size=group_size)
    assert_unchanged(call, {"w": given}, {"w": w}, advice=IN_PLACE_ADVICE)
    q, scale, zero = _parts(got, ("q", "scale", "zero"), call)
    return call, q, scale, zero


@pytest.mark.task(2)
@pytest.mark.parametrize(("shape", "group_size"), INT4_CASES)
def test_quantize_int4(learner, shape, group_size):
    w = _matrix(*shape, seed=10 + group_size + shape[1])
    call, q, scale, zero = _call_int4(learner, w, group_size)
    out_features, in_features = shape
    groups = in_features // group_size
    want_q, want_scale, want_zero = _int4(w, group_size)
    why = (
        f": one per group of {group_size} consecutive weights along each row (the input dimension)"
    )
    scale_mistakes = _int4_scale_mistakes(w, group_size)
    _assert_shape(scale, (out_features, groups), f"the scale of {call}", scale_mistakes, why)
    _assert_float(scale, f"the scale of {call}")
    _assert_values(scale, want_scale, f"the scale of {call}", scale_mistakes, rtol=1e-6)
    _assert_shape(zero, (out_features, groups), f"the zero point of {call}", None, why)
    zero_values = _assert_integral(zero, f"the zero point of {call}", 0, 15)
    _groups, lo, _hi, _s = _int4_parts(w, group_size)
    _assert_codes(
        zero_values,
        want_zero,
        -lo / want_scale,
        f"the zero point of {call}",
        _int4_zero_mistakes(w, group_size),
    )
    _assert_shape(q, shape, f"the codes q of {call}")
    codes = _assert_integral(q, f"the codes q of {call}", 0, 15)
    exact = w / _expand(want_scale, in_features) + _expand(want_zero.float(), in_features)
    _assert_codes(
        codes, want_q, exact, f"the codes q of {call}", _int4_code_mistakes(w, group_size)
    )


@pytest.mark.task(2)
@pytest.mark.parametrize(("shape", "group_size"), [((64, 128), 32), ((48, 128), 64)])
def test_dequantize_int4(learner, shape, group_size):
    w = _matrix(*shape, seed=20 + group_size)
    q, scale, zero = _int4(w, group_size)
    in_features = shape[1]
    call = f"dequantize_int4(q {shape}, scale {tuple(scale.shape)}, zero {tuple(zero.shape)})"
    got = _tensor(
        call_with_inputs(call, learner.dequantize_int4, q.clone(), scale.clone(), zero.clone()),
        call,
    )
    _assert_shape(got, shape, call)
    _assert_float(got, call)
    s, z, codes = _expand(scale, in_features), _expand(zero.float(), in_features), q.float()
    _assert_values(
        got,
        (codes - z) * s,
        call,
        {
            "q · scale: the zero point ignored — dequantize with (q − zero) · scale": lambda: (
                codes * s
            ),
            "(q + zero) · scale — the zero point is subtracted": lambda: (codes + z) * s,
            "q · scale − zero — subtract the zero point from the codes before scaling": lambda: (
                codes * s - z
            ),
            "scale and zero spread with .repeat (strided) instead of .repeat_interleave (each "
            "group's values over its own consecutive columns)": lambda: (
                (codes - zero.float().repeat(1, group_size)) * scale.repeat(1, group_size)
            ),
            "(zero − q) · scale (the sign reversed)": lambda: (z - codes) * s,
            "q − zero computed in uint8, which wraps around to q − zero + 256 wherever q < zero: "
            "convert q and zero to float32 (or a signed type) before subtracting": lambda: (
                ((q.to(torch.int64) - _expand(zero.to(torch.int64), in_features)) % 256).float() * s
            ),
        },
        rtol=1e-6,
        atol=1e-7,
    )


@pytest.mark.task(2)
@pytest.mark.parametrize(("shape", "group_size"), [((40, 96), 32), ((24, 128), 128)])
def test_int4_round_trip_within_half_a_step(learner, shape, group_size):
    w = _matrix(*shape, seed=30 + group_size)
    call, q, scale, zero = _call_int4(learner, w, group_size)
    groups = shape[1] // group_size
    _assert_shape(
        scale, (shape[0], groups), f"the scale of {call}", _int4_scale_mistakes(w, group_size)
    )
    deq = _tensor(
        call_with_inputs(
            "dequantize_int4(q, scale, zero)", learner.dequantize_int4, q, scale, zero
        ),
        "dequantize_int4(q, scale, zero)",
    )
    _assert_shape(deq, shape, "dequantize_int4(q, scale, zero)")
    _assert_within_half_step(
        w, deq.float(), _expand(scale.float(), shape[1]), f"dequantize_int4({call})"
    )


# ----- task 3 -----------------------------------------------------------------------------------
def _codes(shape: tuple[int, int], seed: int) -> torch.Tensor:
    q = torch.randint(0, 16, shape, generator=_generator(seed), dtype=torch.uint8)
    q[0, :4] = torch.tensor([1, 2, 15, 0], dtype=torch.uint8)  # bytes 0x21 and 0x0F
    return q


def _pack_mistakes(q: torch.Tensor) -> dict[str, Callable[[], Any]]:
    half = q.shape[1] // 2
    return {
        "the nibble order swapped: the even column q[:, 0::2] goes in the LOW nibble (bits "
        "0–3), the odd column q[:, 1::2] in the high nibble": lambda: (
            q[:, 1::2] | (q[:, 0::2] << 4)
        ),
        "pairs of the first and the second half of each row (q[:, :in/2], q[:, in/2:]): pack "
        "neighbours, columns 2i and 2i + 1": lambda: q[:, :half] | (q[:, half:] << 4),
        "the second value of each pair shifted by 8 bits, out of the byte (a nibble is 4 bits)": (
            lambda: q[:, 0::2] | (q[:, 1::2] << 8)
        ),
        "the two values added without a shift": lambda: q[:, 0::2] + q[:, 1::2],
        "pairs packed down the columns (q[0::2] and q[1::2]: along dim 0)": lambda: (
            q[0::2] | (q[1::2] << 4)
        ),
    }


@pytest.mark.task(3)
def test_pack_int4(learner):
    q = _codes((6, 16), seed=40)
    call = "pack_int4(q (6, 16))"
    got = _tensor(call_with_inputs(call, learner.pack_int4, q.clone()), call)
    mistakes = _pack_mistakes(q)
    _assert_shape(got, (6, 8), call, mistakes, ": two 4-bit codes per byte along each row")
    if got.dtype != torch.uint8:
        fail(
            f"{call} has dtype {got.dtype}; expected torch.uint8: a byte whose high nibble is 8 "
            "or more is 128 or more, which int8 cannot hold"
        )
    first = got[0, :2].tolist()
    if first != [0x21, 0x0F]:
        clue = ""
        if first == [0x12, 0xF0]:
            clue = " — the nibbles are swapped"
        fail(
            f"{call}: row 0 starts with the codes [1, 2, 15, 0], which pack into the bytes "
            f"[33, 15] (0x21: 1 in the low nibble, 2 in the high one; 0x0F); got {first}{clue}"
        )
    assert_array(
        to_numpy(got).astype(np.int64),
        to_numpy(_pack(q)).astype(np.int64),
        name=call,
        exact=True,
        mistakes={
            label: (lambda m=m: to_numpy(m()).astype(np.int64)) for label, m in mistakes.items()
        },
    )


@pytest.mark.task(3)
def test_unpack_int4(learner):
    q = _codes((5, 32), seed=41)
    packed = _pack(q)
    call = "unpack_int4(packed (5, 16))"
    got = _tensor(call_with_inputs(call, learner.unpack_int4, packed.clone()), call)
    low, high = packed & 15, packed >> 4
    mistakes = {
        "the nibble order swapped: the low nibble (packed & 0x0F) is the even column": lambda: (
            torch.stack((high, low), dim=-1).reshape(5, -1)
        ),
        "all low nibbles, then all high nibbles (torch.cat): interleave them (torch.stack on a "
        "last axis, then reshape)": lambda: torch.cat((low, high), dim=1),
        "the low nibble without the mask & 0x0F (it still holds the high bits)": lambda: (
            torch.stack((packed, high), dim=-1).reshape(5, -1)
        ),
    }
    _assert_shape(got, (5, 32), call, mistakes)
    if not got.dtype.is_floating_point and int(got.min()) < 0:
        fail(
            f"{call} holds negative values (from {int(got.min())}): a code is 0..15. It looks like "
            "the bytes were read as signed (torch.int8), where a byte of 128 or more is negative "
            "and >> 4 keeps its sign; work on the uint8 bytes"
        )
    codes = _assert_integral(got, call, 0, 255)
    assert_array(
        to_numpy(codes),
        to_numpy(q).astype(np.int64),
        name=call,
        exact=True,
        check_dtype_kind=False,
        mistakes={
            label: (lambda m=m: to_numpy(m()).astype(np.int64)) for label, m in mistakes.items()
        },
    )


@pytest.mark.task(3)
def test_pack_round_trip_every_byte(learner):
    every = torch.arange(256, dtype=torch.int64).to(torch.uint8).reshape(4, 64)
    unpacked = _tensor(
        call_with_inputs("unpack_int4(every byte)", learner.unpack_int4, every.clone()),
        "unpack_int4(packed)",
    )
    _assert_shape(unpacked, (4, 128), "unpack_int4(packed (4, 64))")
    repacked = _tensor(
        call_with_inputs(
            "pack_int4(unpack_int4(packed))", learner.pack_int4, unpacked.to(torch.uint8)
        ),
        "pack_int4(unpack_int4(packed))",
    )
    _assert_shape(repacked, (4, 64), "pack_int4(unpack_int4(packed))")
    if not torch.equal(repacked.to(torch.int64), every.to(torch.int64)):
        i, j = map(int, torch.nonzero(repacked.to(torch.int64) != every.to(torch.int64))[0])
        fail(
            f"pack_int4(unpack_int4(packed)) does not give the 256 possible bytes back: byte "
            f"{int(every[i, j])} comes back as {int(repacked[i, j])}; pack and unpack must "
            "use the same nibble order"
        )
    q = _codes((3, 40), seed=42)
    again = _tensor(
        call_with_inputs(
            "unpack_int4(pack_int4(q))",
            learner.unpack_int4,
            _tensor(learner.pack_int4(q.clone()), "pack_int4(q)"),
        ),
        "unpack_int4(pack_int4(q))",
    )
    if again.shape != q.shape or not torch.equal(again.to(torch.int64), q.to(torch.int64)):
        fail("unpack_int4(pack_int4(q)) is not q for random codes q (3, 40)")


# ----- tasks 4 and 6: a quantized model, layer by layer -----------------------------------------
def _deq_for(w: torch.Tensor, method: str, group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(the reference dequantized weight, its step per element)."""
    if method == "int8":
        q, scale = _int8(w, True)
        return q.float() * scale, scale.expand_as(w)
    q, scale, zero = _int4(w, group_size)
    return _deq4(q, scale, zero), _expand(scale, w.shape[1])


def _near_ties(w: torch.Tensor, method: str, group_size: int) -> torch.Tensor:
    """Where another correct order of operations may round the other way (a whole 4-bit group
    when its zero point ``-min / scale`` is a near tie)."""
    if method == "int8":
        scale = _int8_scale(w, True)
        x = w / scale
        return ((x - torch.floor(x)) - 0.5).abs() < TIE
    _groups, lo, _hi, scale = _int4_parts(w, group_size)
    z = -lo / scale
    group_tie = _expand((((z - torch.floor(z)) - 0.5).abs() < TIE).float(), w.shape[1]) > 0
    x = w / _expand(scale, w.shape[1])
    return group_tie | ((((x - torch.floor(x)) - 0.5).abs()) < TIE)


def _quantized_weight_mistakes(
    w: torch.Tensor, method: str, group_size: int
) -> dict[str, Callable[[], Any]]:
    table: dict[str, Callable[[], Any]] = {
        "the float weights: this layer was not quantized": lambda: w,
        "the integer codes themselves, not the dequantized weights (write back q · scale, or "
        "(q − zero) · scale)": lambda: (
            _int8(w, True)[0].float() if method == "int8" else _int4(w, group_size)[0].float()
        ),
    }
    if method == "int8":
        table[
            "int8 with one scale for the whole matrix (per tensor): task 4 asks for one "
            "scale per output row"
        ] = lambda: _int8(w, False)[0].float() * _int8(w, False)[1]
        table["int8 with one scale per input column"] = lambda: (
            _int8_codes(w, _int8_scale(w, True, how="columns"))
            * _int8_scale(w, True, how="columns")
        )
        table["the 4-bit quantization of task 2, where method='int8' was asked"] = lambda: _deq_for(
            w, "int4", group_size
        )[0]
    else:
        table["int8 per channel, where method='int4' was asked"] = lambda: _deq_for(w, "int8", 0)[0]
        table["4-bit without the zero point (q · scale)"] = lambda: (
            lambda q, s, z: q.float() * _expand(s, w.shape[1])
        )(*_int4(w, group_size))
        if group_size != 32:
            table["4-bit groups of 32 where group_size=64 was asked"] = lambda: _deq_for(
                w, "int4", 32
            )[0]
    return table


def _plain_linear(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) and type(module).forward is nn.Linear.forward


def _effective_weight(module: nn.Module, in_features: int) -> torch.Tensor:
    """The weight a module computes with: ``module.weight`` of a plain Linear, else read from
    the outputs (identity rows in, minus the output for zeros, which is the bias)."""
    if _plain_linear(module):
        return module.weight.detach().float()
    with torch.no_grad():
        eye = torch.eye(in_features)
        return (module(eye) - module(torch.zeros(1, in_features))).float().T


def _check_layer(
    model: nn.Module, name: str, w: torch.Tensor, method: str, group_size: int, call: str
) -> None:
    try:
        module = model.get_submodule(name)
    except AttributeError:
        fail(f"after {call}, the model has no module {name} any more: keep the module names")
    out_features, in_features = w.shape
    want, step = _deq_for(w, method, group_size)
    if _plain_linear(module):
        got = module.weight.detach()
        if got.dtype != torch.float32 or tuple(got.shape) != tuple(w.shape):
            fail(
                f"after {call}, {name}.weight is {got.dtype} of shape {tuple(got.shape)}; expected "
                f"float32 {tuple(w.shape)}: the dequantized weights, in the model's dtype"
            )
    else:
        probe = torch.randn(3, in_features, generator=_generator(99))
        out = call_with_inputs(f"{name}(x) after {call}", module, probe)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (3, out_features):
            fail(
                f"after {call}, {name}(x (3, {in_features})) gives "
                f"{getattr(out, 'shape', type(out).__name__)}; expected shape (3, {out_features})"
            )
        with torch.no_grad():
            bias = module(torch.zeros(1, in_features)).detach()
        if torch.allclose(
            (out.detach() - bias).float(), probe @ want.T, rtol=1e-5, atol=1e-5 * float(step.max())
        ):
            return
        got = _effective_weight(module, in_features)
    if torch.equal(got, want):
        return
    err = (got.float() - want).abs()
    ok = err <= 1e-5 * want.abs() + 1e-4 * step
    if bool(ok.all()):
        return
    if bool((ok | ((err <= step * 1.001) & _near_ties(w, method, group_size))).all()):
        return
    _assert_values(
        got,
        want,
        f"the weights {name} computes with after {call}",
        _quantized_weight_mistakes(w, method, group_size),
        rtol=1e-5,
        atol=float(step.min()) * 1e-4,
    )


def _decoder_linears(model: nn.Module) -> dict[str, torch.Tensor]:
    """Full module name → the float weight, for every Linear of model.model.layers (of a model
    no learner code receives: the check's own)."""
    return {
        f"model.layers.{name}": m.weight.detach()
        for name, m in model.model.layers.named_modules()
        if isinstance(m, nn.Linear)
    }


def _check_untouched(model: nn.Module, reference: nn.Module, call: str) -> None:
    """Everything outside the decoder layers' Linears still equals the float reference."""
    embed = model.get_input_embeddings()
    ref_embed = reference.get_input_embeddings().weight.detach()
    got = getattr(embed, "weight", None)
    if (
        got is None
        or tuple(got.shape) != tuple(ref_embed.shape)
        or not torch.equal(got.detach(), ref_embed)
    ):
        change = (
            float((got.detach() - ref_embed).abs().max())
            if got is not None and tuple(got.shape) == tuple(ref_embed.shape)
            else float("nan")
        )
        tied = " (lm_head shares this tensor: quantizing lm_head changes the embedding too)"
        fail(
            f"after {call}, the token embedding (model.model.embed_tokens.weight) has changed "
            f"(max change {change:.3g}){tied if reference.config.tie_word_embeddings else ''}. "
            "Quantize only the nn.Linear layers inside model.model.layers; the embedding and "
            "lm_head stay in float"
        )
    head = model.get_output_embeddings()
    ref_head = reference.get_output_embeddings().weight.detach()
    hidden = ref_head.shape[1]
    probe = torch.randn(2, hidden, generator=_generator(98))
    with torch.no_grad():
        out = head(probe)
    if not torch.allclose(out.float(), probe @ ref_head.T, rtol=1e-5, atol=1e-5):
        fail(
            f"after {call}, lm_head computes with other weights than the float ones: leave "
            "lm_head (the output projection to the vocabulary) unquantized"
        )
    ref_params = dict(reference.named_parameters())
    for name, param in model.named_parameters():
        if (
            name in ref_params
            and "norm" in name
            and not torch.equal(param.detach(), ref_params[name].detach())
        ):
            fail(f"after {call}, {name} has changed: only the Linear weights are quantized")


# ----- the sizes --------------------------------------------------------------------------------
def _sizes(shapes: list[tuple[int, int]], method: str, group_size: int) -> dict[str, int]:
    numel = sum(o * i for o, i in shapes)
    rows = sum(o for o, _ in shapes)
    groups = sum(o * (i // group_size) for o, i in shapes) if method == "int4" else 0
    # int8: a byte per code and a float32 scale per row; int4: half a byte per code, a float32
    # scale and a uint8 zero point per group
    quantized = numel + 4 * rows if method == "int8" else numel // 2 + 4 * groups + groups
    return {
        "float": 4 * numel,
        "quantized": quantized,
        "numel": numel,
        "rows": rows,
        "groups": groups,
    }


def _quantized_size_mistakes(sizes: dict[str, int], method: str) -> dict[str, int]:
    n, rows, groups = sizes["numel"], sizes["rows"], sizes["groups"]
    if method == "int8":
        return {
            "the int8 codes only, without the scales (4 bytes each, float32)": n,
            "the scales counted as elements (1 each) instead of 4 bytes each": n + rows,
            "the codes counted at 4 bytes each (float32)": 4 * n + 4 * rows,
        }
    return {
        "the packed codes only, without the scales and zero points": n // 2,
        "the packed codes at 8 bytes each (an int64 tensor): pack into torch.uint8": (
            8 * (n // 2) + 5 * groups
        ),
        "without the zero points (one uint8 each)": n // 2 + 4 * groups,
        "the 4-bit codes at one byte each (unpacked) — two codes share a byte": n + 5 * groups,
        "elements instead of bytes (codes, scales and zero points counted 1 each)": n + 2 * groups,
        "the zero points counted at half a byte (packed); this lab stores one uint8 each": (
            n // 2 + 4 * groups + groups // 2
        ),
        "the scales counted at 2 bytes (float16); they are float32 here": n // 2 + 3 * groups,
    }


def _float_size_mistakes(sizes: dict[str, int]) -> dict[str, int]:
    return {"elements instead of bytes (float32 weights take 4 bytes each)": sizes["numel"]}


def _assert_number(
    got: float,
    want: float,
    name: str,
    *,
    rtol: float = 0.0,
    atol: float = 0.0,
    mistakes: Mapping[str, float] | None = None,
    match_rtol: float | None = None,
    match_atol: float | None = None,
) -> None:
    """One number within ``atol + rtol · |want|``; a miss names the mistake whose value it
    equals within the match tolerances (by default the same ones)."""
    if abs(got - want) <= atol + rtol * abs(want):
        return
    m_rtol = rtol if match_rtol is None else match_rtol
    m_atol = atol if match_atol is None else match_atol
    for label, wrong in (mistakes or {}).items():
        if (
            wrong is not None
            and math.isfinite(wrong)
            and abs(got - wrong) <= m_atol + m_rtol * abs(wrong)
            # a mistake whose value is itself within tolerance of the right one names nothing
            and abs(wrong - want) > atol + rtol * abs(want)
        ):
            fail(f"{name} is {got:.6g}, which looks like {label}; expected {want:.6g}")
    fail(
        f"{name} is {got:.6g}; expected {want:.6g} (abs error {abs(got - want):.3g}, rel error "
        f"{abs(got - want) / abs(want) if want else math.inf:.3g})"
    )


def _assert_count(got: Any, want: int, name: str, mistakes: dict[str, int]) -> None:
    try:
        value = float(to_numpy(got))
    except (TypeError, ValueError):
        fail(f"{name} should be a number of bytes; got {type(got).__name__}")
    if value == want:
        return
    known = next((label for label, wrong in mistakes.items() if value == wrong), None)
    prefix = f"{name} looks like {known}. " if known else ""
    fail(f"{prefix}{name} is {value:,.0f}; expected {want:,} bytes")


# ----- task 4: a tiny Llama ---------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _tiny_state() -> tuple[Any, dict[str, torch.Tensor]]:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
    return config, {k: v.clone() for k, v in model.state_dict().items()}


def _tiny() -> nn.Module:
    from transformers import LlamaForCausalLM

    config, state = _tiny_state()
    with torch.random.fork_rng():
        model = LlamaForCausalLM(config)
    model.load_state_dict(state)
    model.tie_weights()
    return model.eval()


TINY_CASES = [("int8", 32), ("int4", 32), ("int4", 64)]


def _quantize_tiny(learner: Any, method: str, group_size: int) -> tuple[nn.Module, Any, str]:
    model = _tiny()
    call = f"quantize_model(model, {method!r}, group_size={group_size})"
    result = call_with_inputs(
        call, learner.quantize_model, model, method, group_size=group_size, given="a tiny Llama"
    )
    return model, result, call


def _result_dict(result: Any, call: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if result is None:
        fail(f"{call} is None: did you forget to `return` the dict of sizes?")
    if not isinstance(result, Mapping):
        fail(f"{call} should return a dict; got {type(result).__name__}")
    missing = [k for k in keys if k not in result]
    if missing:
        fail(f"{call}'s result lacks the keys {missing}; it has {sorted(result)}")
    return result


@pytest.mark.task(4)
@pytest.mark.parametrize(("method", "group_size"), TINY_CASES)
def test_quantize_model_layers(learner, method, group_size):
    model, _result, call = _quantize_tiny(learner, method, group_size)
    reference = _tiny()
    for name, w in _decoder_linears(reference).items():
        _check_layer(model, name, w, method, group_size, f"{call} (a tiny Llama)")


@pytest.mark.task(4)
@pytest.mark.parametrize("method", ["int8", "int4"])
def test_quantize_model_leaves_embedding_head_and_norms(learner, method):
    model, _result, call = _quantize_tiny(learner, method, 32)
    _check_untouched(model, _tiny(), f"{call} (a tiny Llama)")
    ids = torch.tensor([[1, 5, 9, 200]])
    with torch.no_grad():
        logits = call_with_inputs(f"the model after {call}", lambda: model(ids).logits)
    if not torch.isfinite(logits).all():
        fail(f"after {call}, the model's logits hold NaN or infinite values")


@pytest.mark.task(4)
@pytest.mark.parametrize(("method", "group_size"), TINY_CASES)
def test_quantize_model_sizes(learner, method, group_size):
    _model, result, call = _quantize_tiny(learner, method, group_size)
    result = _result_dict(result, call, ("linears", "float_bytes", "quantized_bytes"))
    shapes = [tuple(w.shape) for w in _decoder_linears(_tiny()).values()]
    if result["linears"] != len(shapes):
        fail(
            f"{call}['linears'] is {result['linears']!r}; the tiny Llama has {len(shapes)} "
            "nn.Linear layers in model.model.layers (7 per decoder layer, 2 layers); lm_head "
            "is not one of them"
        )
    sizes = _sizes(shapes, method, group_size)
    _assert_count(
        result["float_bytes"], sizes["float"], f"{call}['float_bytes']", _float_size_mistakes(sizes)
    )
    _assert_count(
        result["quantized_bytes"],
        sizes["quantized"],
        f"{call}['quantized_bytes']",
        _quantized_size_mistakes(sizes, method),
    )


# ----- task 5: perplexity -----------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _fingerprint() -> tuple[float, ...]:
    """Sums of the check's own model's tensors, taken before any learner code touches a model."""
    _tokenizer, model = smollm2()
    return tuple(float(p.detach().sum(dtype=torch.float64)) for p in model.parameters())


@functools.lru_cache(maxsize=4)
def _nll(text: str) -> dict[str, Any]:
    """Per-token NLLs of ``text`` under the check's own model, and the known wrong versions."""
    _fingerprint()
    tokenizer, model = smollm2()
    ids = tokenizer(text, return_tensors="pt").input_ids
    with torch.no_grad():
        logp = model(ids).logits[0].float().log_softmax(-1)  # (T, V)
    tokens = ids[0]
    shifted = -logp[:-1].gather(1, tokens[1:, None]).squeeze(1).double()  # T - 1 predictions
    unshifted = -logp.gather(1, tokens[:, None]).squeeze(1).double()
    twice = -logp[:-2].gather(1, tokens[2:, None]).squeeze(1).double()
    return {"T": int(tokens.numel()), "shifted": shifted, "unshifted": unshifted, "twice": twice}


def _ppl_mistakes(text: str) -> dict[str, float]:
    parts = _nll(text)
    nll, T = parts["shifted"], parts["T"]
    total = float(nll.sum())
    return {
        "the mean NLL itself (the loss): the perplexity is exp of it": float(nll.mean()),
        "the mean of exp(NLL) over the tokens: the perplexity is exp of the mean NLL, not the "
        "mean of each token's exp": float(nll.exp().mean()),
        "2 ** mean NLL: cross-entropy in PyTorch is in nats, so the perplexity is exp(mean NLL)": (
            2.0 ** float(nll.mean())
        ),
        "exp of the summed NLL instead of the mean": math.exp(total) if total < 700 else math.inf,
        f"the summed NLL divided by all {T} tokens instead of the {T - 1} predictions "
        "(the first token is never predicted)": math.exp(total / T),
        "labels not shifted: each position scored on the token it was given, not on the next "
        "one (HF shifts labels=input_ids itself; by hand, logits[:, :-1] go with "
        "input_ids[:, 1:])": math.exp(float(parts["unshifted"].mean())),
        "labels shifted twice (e.g. model(input_ids[:, :-1], labels=input_ids[:, 1:]): with "
        "labels=, the model shifts them itself; pass labels=input_ids)": math.exp(
            float(parts["twice"].mean())
        ),
        "the mean NLL in nats, divided by ln 2 (bits) without exp": float(nll.mean()) / math.log(2),
    }


def _reference_ppl(text: str) -> float:
    return math.exp(float(_nll(text)["shifted"].mean()))


@functools.lru_cache(maxsize=1)
def _ppl_model() -> tuple[Any, Any]:
    _fingerprint()
    return fresh_smollm2()


def _as_float(value: Any, name: str) -> float:
    if value is None:
        fail(f"{name} is None: did you forget to `return` it?")
    try:
        return float(to_numpy(value))
    except (TypeError, ValueError):
        fail(f"{name} should be a number; got {type(value).__name__}")


def _assert_ppl(got: float, text: str, name: str) -> None:
    parts = _nll(text)
    total = float(parts["shifted"].sum())
    if not math.isfinite(got):
        fail(
            f"{name} is {got}: exp overflowed. The NLL of these {parts['T'] - 1} predictions sums "
            f"to {total:.1f} (exp of that is beyond float32) and averages "
            f"{total / (parts['T'] - 1):.3f}: the perplexity is exp of the mean"
        )
    if got > 1e6 and abs(math.log(got) - total) < 0.05:  # float32 sums differ in the 3rd decimal
        fail(
            f"{name} is {got:.4g}, which looks like exp of the summed NLL instead of the mean: "
            f"ln of it is {math.log(got):.2f}, the sum of the {parts['T'] - 1} NLLs is {total:.2f}; "
            f"expected exp({total / (parts['T'] - 1):.4f}) = {_reference_ppl(text):.6g}"
        )
    _assert_number(
        got,
        _reference_ppl(text),
        name,
        rtol=PPL_RTOL,
        mistakes=_ppl_mistakes(text),
        match_rtol=MATCH_RTOL,
    )


@pytest.mark.task(5)
@pytest.mark.parametrize("which", ["README paragraph", "short text"])
def test_perplexity(learner, which):
    text = TEXT if which == "README paragraph" else SHORT_TEXT
    tokenizer, model = _ppl_model()
    call = f"perplexity(tokenizer, model, {text[:30]!r}…)"
    got = _as_float(call_with_inputs(call, learner.perplexity, tokenizer, model, text), call)
    _assert_ppl(got, text, call)


# ----- task 6: the report on SmolLM2 ------------------------------------------------------------
REPORT_KEYS = (
    "float_perplexity",
    "quantized_perplexity",
    "perplexity_delta",
    "float_bytes",
    "quantized_bytes",
    "size_ratio",
)


@functools.lru_cache(maxsize=2)
def _report(learner: Any, method: str) -> dict[str, Any]:
    """One report per method and check run, judged at once so that the quantized model can go:
    ``{"result", "error", "layers" (a failure or None), "after" (the check's own perplexity of
    the model after the report)}``. A report that is not written yet is remembered as such, so
    that no other test makes another copy of the model for it."""
    _fingerprint()
    tokenizer, model = fresh_smollm2()
    call = f"quantization_report(tokenizer, model, text, {method!r})"
    outcome: dict[str, Any] = {"result": None, "error": None, "layers": None, "after": None}
    try:
        result = call_with_inputs(
            call, learner.quantization_report, tokenizer, model, TEXT, method, given="SmolLM2"
        )
        outcome["result"] = _result_dict(result, call, REPORT_KEYS)
    except NotImplementedError:
        outcome["error"] = "todo"
        return outcome
    except Exception as exc:  # a failure (or an error) every test of this method shows
        outcome["error"] = exc
        return outcome
    try:
        _check_in_place(model, method, call)
    except Exception as exc:  # shown by test_report_model_quantized_in_place
        outcome["layers"] = exc
    try:
        outcome["after"] = _perplexity_of(model, f"the model after {call}")
    except Exception as exc:
        outcome["after"] = exc
    return outcome


def _run_report(learner: Any, method: str) -> tuple[dict[str, Any], str]:
    outcome = _report(learner, method)
    if outcome["error"] == "todo":
        raise NotImplementedError("quantization_report")
    if outcome["error"] is not None:
        raise outcome["error"]
    return outcome, f"quantization_report(tokenizer, model, text, {method!r})"


def _perplexity_of(model: nn.Module, what: str) -> float:
    """The check's own perplexity of TEXT under ``model`` (any model the learner changed)."""
    tokenizer, _ = smollm2()
    ids = tokenizer(TEXT, return_tensors="pt").input_ids
    with torch.no_grad():
        logits = call_with_inputs(what, lambda: model(ids).logits)
    return math.exp(float(F.cross_entropy(logits[0, :-1].float(), ids[0, 1:])))


def _check_in_place(model: nn.Module, method: str, call: str) -> None:
    _tokenizer, reference = smollm2()
    weights = _decoder_linears(reference)
    first = next(iter(weights))
    try:
        module = model.get_submodule(first)
    except AttributeError:
        module = None
    if module is not None and _plain_linear(module) and torch.equal(module.weight, weights[first]):
        fail(
            f"after {call}, the model passed in still has its float weights ({first} unchanged): "
            "quantize that model, in place (the checks hand you a fresh copy for it)"
        )
    for name, w in weights.items():
        _check_layer(model, name, w, method, 32, call)
    _check_untouched(model, reference, call)


@pytest.mark.task(6)
@pytest.mark.parametrize("method", ["int8", "int4"])
def test_report_model_quantized_in_place(learner, method):
    outcome, _call = _run_report(learner, method)
    if outcome["layers"] is not None:
        raise outcome["layers"]


@pytest.mark.task(6)
@pytest.mark.parametrize("method", ["int8", "int4"])
def test_report_perplexities(learner, method):
    outcome, call = _run_report(learner, method)
    result = outcome["result"]
    if isinstance(outcome["after"], Exception):
        raise outcome["after"]
    before = _as_float(result["float_perplexity"], f"{call}['float_perplexity']")
    after = _as_float(result["quantized_perplexity"], f"{call}['quantized_perplexity']")
    delta = _as_float(result["perplexity_delta"], f"{call}['perplexity_delta']")
    want_before = _reference_ppl(TEXT)
    want_after = float(outcome["after"])
    _assert_number(
        before,
        want_before,
        f"{call}['float_perplexity']",
        rtol=PPL_RTOL,
        mistakes={"the perplexity measured after quantizing: measure before": want_after}
        | _ppl_mistakes(TEXT),
        match_rtol=MATCH_RTOL,
    )
    if outcome["layers"] is not None and abs(after - want_after) > PPL_RTOL * want_after:
        fail(
            f"{call}['quantized_perplexity'] is {after:.6g}, but the model you were given gives "
            f"{want_after:.6g} after the report (the float perplexity is {want_before:.6g}), and "
            "its layers do not hold the checks' quantization (see "
            "test_report_model_quantized_in_place): the quantized perplexity is that of the "
            "model passed in, once quantize_model has changed it in place"
        )
    _assert_number(
        after,
        want_after,
        f"{call}['quantized_perplexity'] (recomputed here on the model after the report)",
        rtol=PPL_RTOL,
        mistakes={"the float perplexity (measured before quantizing)": want_before}
        | {label: value for label, value in _ppl_mistakes(TEXT).items() if "nats" in label},
        match_rtol=MATCH_RTOL,
    )
    want_delta = want_after - want_before
    atol = PPL_RTOL * want_after * 2
    _assert_number(
        delta,
        want_delta,
        f"{call}['perplexity_delta']",
        atol=atol,
        mistakes={
            "float − quantized: the delta is quantized − float (positive when quantizing hurts)": (
                -want_delta
            ),
            "the ratio quantized / float instead of the difference": want_after / want_before,
            "the relative change in percent instead of the difference": (
                100 * want_delta / want_before
            ),
        },
        match_atol=atol,
    )


@pytest.mark.task(6)
@pytest.mark.parametrize("method", ["int8", "int4"])
def test_report_sizes(learner, method):
    outcome, call = _run_report(learner, method)
    result = outcome["result"]
    _tokenizer, reference = smollm2()
    shapes = [tuple(w.shape) for w in _decoder_linears(reference).values()]
    sizes = _sizes(shapes, method, 32)
    mistakes = _float_size_mistakes(sizes)
    embed = reference.get_input_embeddings().weight.numel()
    mistakes["the embedding (or lm_head) counted too"] = sizes["float"] + 4 * embed
    _assert_count(result["float_bytes"], sizes["float"], f"{call}['float_bytes']", mistakes)
    _assert_count(
        result["quantized_bytes"],
        sizes["quantized"],
        f"{call}['quantized_bytes']",
        _quantized_size_mistakes(sizes, method),
    )
    ratio = _as_float(result["size_ratio"], f"{call}['size_ratio']")
    want = sizes["float"] / sizes["quantized"]
    _assert_number(
        ratio,
        want,
        f"{call}['size_ratio']",
        rtol=1e-9,
        mistakes={
            "quantized / float: the ratio is float_bytes / quantized_bytes (how many times "
            "smaller)": 1 / want,
        },
    )


@pytest.mark.task(6)
def test_reference_model_untouched(learner):
    for method in ("int8", "int4"):
        _run_report(learner, method)
    _tokenizer, reference = smollm2()
    now = tuple(float(p.detach().sum(dtype=torch.float64)) for p in reference.parameters())
    changed = [i for i, (a, b) in enumerate(zip(now, _fingerprint(), strict=True)) if a != b]
    if changed:
        fail(
            f"{len(changed)} tensors of the check's own SmolLM2 changed while your code ran. "
            "Your functions get a fresh copy of the model (fresh_smollm2()); change only the "
            "model passed in"
        )
