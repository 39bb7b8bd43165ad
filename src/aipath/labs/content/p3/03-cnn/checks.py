"""Checks for p3-cnn.

Every reference is computed here from inputs the check keeps to itself (the learner gets clones):
``F.unfold`` for im2col, ``F.conv2d`` (a cross-correlation) for the convolution and its
gradients, ``F.max_pool2d`` for pooling, and the learner's own block parameters run through
``F.conv2d``/``F.batch_norm`` in the order the task states for the residual block. Whenever a
comparison fails, the outputs of the known mistakes are computed on the same input and a match is
named. The trained CNN is judged against an MLP that the check trains on the same seeded split
with the same budget (epochs, batch size, Adam's learning rate), and evaluated by the check.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import functools
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sklearn.datasets  # noqa: F401  (digits() loads from it; imported so the worker preloads it)
import torch
import torch._dynamo  # Adam's constructor imports it lazily (seconds): preloaded by the worker
import torch.nn.functional as F
from torch import nn

from aipath.checks import (
    CheckFailure,
    assert_tensor,
    assert_unchanged,
    call_with_inputs,
    copied,
    digits,
    fail,
    forbid_calls,
    run_on_copies,
    seed_everything,
    tensor_mistake,
    to_numpy,
)

RTOL, ATOL = 1e-4, 1e-5  # float32, and a matrix product summed in another order than F.conv2d's

# The training budget of task 5, the same for the learner's CNN and the check's MLP baseline.
N_TRAIN, EPOCHS, BATCH, LR = 500, 6, 64, 3e-3
MARGIN = 0.03  # measured: the reference CNN beats the MLP by 0.047–0.073 over 16 seeds

CONV_NAMES = [
    "conv2d",
    "Conv2d",
    "conv1d",
    "conv3d",
    "convolution",
    "_convolution",
    "conv_transpose2d",
    "mkldnn_convolution",
    "_conv_forward",
]
POOL_NAMES = [
    "max_pool2d",
    "MaxPool2d",
    "max_pool2d_with_indices",
    "adaptive_max_pool2d",
    "AdaptiveMaxPool2d",
    "fractional_max_pool2d",
    "max_pool1d",
    "max_pool3d",
]
UNFOLD_QUALIFIED = [
    "torch.nn.functional.unfold",
    "torch.nn.Unfold",
    "torch.nn.modules.Unfold",
    "torch.nn.modules.fold.Unfold",
    "torch._C._nn.im2col",
]


# --- candidate for aipath.checks -----------------------------------------------------------------


def forbid_qualified(
    learner_file: Path | str, banned: Iterable[str], why: str, *, within: str | None = None
) -> None:
    """Fail when the learner's code uses a qualified name such as ``torch.nn.functional.unfold``.

    Unlike :func:`aipath.checks.forbid_calls` (which bans a last name part anywhere), import
    aliases are resolved — ``import torch.nn.functional as F``, ``from torch.nn import functional``,
    ``from torch.nn.functional import unfold as u``, ``u = F.unfold`` — so ``F.unfold(x, 3)`` is
    caught while the tensor method ``x.unfold(2, 3, 1)`` (another function) stays allowed.
    """
    banned = set(banned)
    tree = ast.parse(Path(learner_file).read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}

    def dotted(node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = dotted(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in tree.body:  # module-level `u = F.unfold`
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], dotted(node.value)
            if isinstance(target, ast.Name) and value in banned:
                aliases[target.id] = value
    scope: ast.AST = tree
    if within is not None:
        found = next(
            (
                n
                for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == within
            ),
            None,
        )
        if found is None:
            return
        scope = found
    for node in ast.walk(scope):
        if isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
            name = dotted(node)
            if name in banned:
                where = f" in {within}" if within else ""
                fail(f"your code uses `{name}`{where} (line {node.lineno}); {why}")


# --- shared helpers ------------------------------------------------------------------------------


def _assert_output(got: Any, want: torch.Tensor, label: str, mistakes: dict[str, Any]) -> None:
    """assert_tensor at this lab's float32 tolerances (a mistake is named only if it matches)."""
    assert_tensor(got, want, name=label, rtol=RTOL, atol=ATOL, mistakes=mistakes)


def args_text(**kwargs: Any) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def run_probing_padding(
    func: Callable[..., Any],
    label: str,
    reference: Callable[..., torch.Tensor],
    **inputs: Any,
) -> Any:
    """``run(func, label, **inputs)``; when it crashes on a padding that differs between H and W,
    try the same call with (pH, pH) and with (pW, pW): if both of those match ``reference``, say
    so, as the crash then comes from how the two paddings are applied."""
    try:
        return run_on_copies(label, func, **inputs)
    except CheckFailure as exc:
        ph, pw = pair(inputs["padding"])
        if ph == pw or " raised " not in str(exc):
            raise
        for same in ((ph, ph), (pw, pw)):
            probe = copied(dict(**inputs | {"padding": same}))
            try:
                got = func(**probe)
                want = reference(**(inputs | {"padding": same}))
                ok = (
                    isinstance(got, torch.Tensor)
                    and tuple(got.shape) == tuple(want.shape)
                    and torch.allclose(got.detach().to(want.dtype), want, rtol=RTOL, atol=ATOL)
                )
            except Exception:  # the probe itself failed: say nothing more
                ok = False
            if not ok:
                raise
        fail(
            f"{exc}. The same call works with padding {(ph, ph)} and with padding {(pw, pw)}: "
            "it breaks only when H and W get different paddings, so look at how the pair "
            f"reaches F.pad — F.pad(x, (pw, pw, ph, ph)) pads W by pw and H by ph (its pairs "
            "start from the last dim)"
        )


def pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def out_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    return (size + 2 * padding - kernel) // stride + 1


# float64 in, float64 out (tasks 1 to 3) ----------------------------------------------------
def assert_keeps_float64(got: Any, label: str) -> None:
    if isinstance(got, torch.Tensor) and got.dtype != torch.float64:
        fail(
            f"{label} returned {got.dtype} for float64 inputs: keep the input's dtype (a tensor "
            "you create yourself, with torch.zeros, torch.full, torch.empty or torch.tensor, is "
            "float32 unless you pass dtype=x.dtype)"
        )


def float64_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(300)
    x = torch.randn(2, 3, 7, 6, generator=generator, dtype=torch.float64)
    weight = torch.randn(4, 3, 3, 2, generator=generator, dtype=torch.float64)
    bias = torch.randn(4, generator=generator, dtype=torch.float64)
    return x, weight, bias


# ----- task 1: output size and im2col ------------------------------------------------------------
SIZE_CASES = [
    (8, 3, 1, 1),
    (7, 3, 2, 0),
    (8, 5, 3, 2),
    (10, 4, 3, 1),
    (5, 2, 2, 0),
    (28, 3, 1, 0),
    (6, 1, 2, 0),
    (9, 3, 2, 1),
]


# Description → a wrong formula for the output size; one is named only when the learner's function
# agrees with it on every case of SIZE_CASES, so one coincidence does not name the wrong cause.
SIZE_MISTAKES: dict[str, Callable[[int, int, int, int], int]] = {
    "the +1 left out (off by one: the first position counts too, so it is "
    "(size + 2·padding − kernel) // stride + 1)": lambda n, k, s, p: (n + 2 * p - k) // s,
    "rounded up instead of down: a window that would run past the padded edge is "
    "dropped, so floor (//), not ceil": lambda n, k, s, p: -(-(n + 2 * p - k) // s) + 1,
    "the padding counted on one side only; it is added on both sides, + 2·padding": (
        lambda n, k, s, p: (n + p - k) // s + 1
    ),
    "the +1 inside the division, (size + 2·padding − kernel + 1) // stride; add 1 after "
    "dividing": lambda n, k, s, p: (n + 2 * p - k + 1) // s,
    "the stride ignored: with stride s only every s-th position is kept": (
        lambda n, k, s, p: n + 2 * p - k + 1
    ),
    "the padding ignored: p zeros are added on each side, so it is size + 2·padding": (
        lambda n, k, s, p: (n - k) // s + 1
    ),
}


@pytest.mark.task(1)
def test_conv_output_size(learner):
    results: list[tuple[tuple[int, int, int, int], str, int]] = []
    for size, kernel, stride, padding in SIZE_CASES:
        label = f"conv_output_size({size}, {kernel}, stride={stride}, padding={padding})"
        got = call_with_inputs(
            label, learner.conv_output_size, size, kernel, stride=stride, padding=padding
        )
        want = out_size(size, kernel, stride, padding)
        span = size + 2 * padding - kernel
        if got is None:
            fail(f"{label} returned None: did you forget to `return` it?")
        if isinstance(got, bool) or not isinstance(got, int | np.integer | float | np.floating):
            fail(f"{label} should return an int; got {type(got).__name__} {got!r}")
        if isinstance(got, float | np.floating):
            if math.isclose(float(got), span / stride + 1):
                fail(
                    f"{label} is {got!r}, a float: the division was not floored. Use // — a "
                    f"window that would run past the padded edge is dropped; expected {want}"
                )
            if float(got) != want:
                fail(f"{label} is {got!r}; expected the int {want}")
            fail(f"{label} is the float {got!r}; return the int {want} (use //)")
        results.append(((size, kernel, stride, padding), label, int(got)))
    wrong = [(case, label, got) for case, label, got in results if got != out_size(*case)]
    if not wrong:
        return
    case, label, got = wrong[0]
    clue = next(
        (
            text
            for text, formula in SIZE_MISTAKES.items()
            if all(value == formula(*args) for args, _label, value in results)
        ),
        None,
    )
    fail(
        f"{label} is {got}; expected {out_size(*case)}"
        + (f" — it looks like {clue}" if clue else "")
        + (f" ({len(wrong)} of the {len(results)} cases are wrong)" if len(wrong) > 1 else "")
    )


# (label, x shape, weight shape, stride, padding, bias?)
CONV_CASES = [
    ("3x3 kernel, padding 1", (2, 3, 7, 7), (4, 3, 3, 3), 1, 1, True),
    ("non-square 3x2 kernel, stride 2", (3, 2, 9, 8), (5, 2, 3, 2), 2, 1, False),
    (
        "1x3 kernel, stride (1, 2), padding (0, 2)",
        (1, 4, 6, 10),
        (2, 4, 1, 3),
        (1, 2),
        (0, 2),
        True,
    ),
    ("5x5 kernel, stride 3 that does not divide evenly", (2, 1, 8, 8), (3, 1, 5, 5), 3, 2, True),
    ("2x2 kernel, stride 2, no padding", (2, 3, 5, 6), (6, 3, 2, 2), 2, 0, True),
    ("padding (2, 1) on a non-square image", (2, 2, 5, 7), (3, 2, 3, 3), 1, (2, 1), True),
    ("as many output columns as channels", (2, 3, 6, 5), (5, 3, 3, 3), 1, 1, True),
]
CASE_IDS = [case[0] for case in CONV_CASES]


def case_inputs(index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    _label, x_shape, w_shape, _s, _p, with_bias = CONV_CASES[index]
    generator = torch.Generator().manual_seed(100 + index)
    x = torch.randn(x_shape, generator=generator)
    weight = torch.randn(w_shape, generator=generator)
    bias = torch.randn(w_shape[0], generator=generator) if with_bias else None
    return x, weight, bias


def im2col_mistakes(x: torch.Tensor, kernel: Any, stride: Any, padding: Any) -> dict[str, Any]:
    """Description → the columns that mistake gives on (x, kernel, stride, padding)."""
    (kh, kw), (ph, pw), (sh, sw) = pair(kernel), pair(padding), pair(stride)
    n, c = x.shape[:2]
    ref = F.unfold(x, kernel, stride=stride, padding=padding)
    rows, length = ref.shape[1:]
    h_out = out_size(x.shape[2], kh, pair(stride)[0], ph)
    w_out = out_size(x.shape[3], kw, pair(stride)[1], pw)

    def unfold_padded(pad: tuple[int, ...]) -> torch.Tensor:
        return F.unfold(F.pad(x, pad), kernel, stride=stride)

    found: dict[str, Any] = {
        "padding applied to the batch and channel dims instead of H and W: F.pad's pairs run "
        "from the last dim backwards, so F.pad(x, (pw, pw, ph, ph)) pads W, then H": lambda: (
            unfold_padded((0, 0, 0, 0, ph, ph, pw, pw))
        ),
        "padding applied to the channel dim as well as H and W: give F.pad only the two pairs "
        "(pw, pw, ph, ph)": lambda: unfold_padded((pw, pw, ph, ph, ph, ph)),
        "the padding applied to the height only: F.pad's first pair pads the last dim (W), the "
        "second pair H — F.pad(x, (pw, pw, ph, ph))": lambda: unfold_padded((0, 0, ph, ph)),
        "the padding applied to the width only: F.pad(x, (pw, pw, ph, ph)) pads both W and H": (
            lambda: unfold_padded((pw, pw, 0, 0))
        ),
        "H and W padded by each other's amount (the pair read as (pW, pH)): F.pad takes the "
        "last dim first, F.pad(x, (pw, pw, ph, ph))": lambda: unfold_padded((ph, ph, pw, pw)),
        "the padding ignored": lambda: F.unfold(x, kernel, stride=stride),
        "the stride ignored (a patch at every position)": lambda: F.unfold(
            x, kernel, padding=padding
        ),
        "rows in (kH, kW, C) order — channel last within a patch — instead of F.unfold's "
        "(C, kH, kW): row c·kH·kW + i·kW + j holds channel c at offset (i, j)": lambda: (
            ref.reshape(n, c, kh * kw, length).transpose(1, 2).reshape(n, rows, length)
        ),
        "columns in column-major order (ow·H_out + oh); they go row by row, oh·W_out + ow": (
            lambda: ref.reshape(n, rows, h_out, w_out).transpose(2, 3).reshape(n, rows, length)
        ),
        "(N, L, C·kH·kW): rows and columns swapped; one column per patch, (N, C·kH·kW, L)": (
            lambda: ref.transpose(1, 2)
        ),
        "each patch flipped (offset (kH−1−i, kW−1−j) where (i, j) belongs)": lambda: (
            ref.reshape(n, c, kh, kw, length).flip(2, 3).reshape(n, rows, length)
        ),
        "the kernel offsets taken column by column, offset (i, j) at row c·kH·kW + j·kH + i; "
        "F.unfold goes row by row within a patch, c·kH·kW + i·kW + j (loop over i outside, j "
        "inside)": lambda: (
            ref.reshape(n, c, kh, kw, length).transpose(2, 3).reshape(n, rows, length)
        ),
        "one position short along H and W: the output size lacks its +1": lambda: ref.reshape(
            n, rows, h_out, w_out
        )[:, :, : h_out - 1, : w_out - 1].reshape(n, rows, -1),
    }
    if sh != sw:
        found["the stride pair read backwards, (sW, sH): a pair is (for H, for W)"] = lambda: (
            F.unfold(x, kernel, stride=(sw, sh), padding=padding)
        )
    if kh != kw:
        found["the kernel pair read backwards, (kW, kH): a pair is (for H, for W)"] = lambda: (
            F.unfold(x, (kw, kh), stride=stride, padding=padding)
        )
    return found


@pytest.mark.task(1)
@pytest.mark.parametrize("index", range(len(CONV_CASES)), ids=CASE_IDS)
def test_im2col_matches_unfold(learner, learner_file, index):
    seed_everything(0)
    forbid_qualified(
        learner_file,
        UNFOLD_QUALIFIED,
        "task 1 asks you to gather the patches yourself (slices, F.pad, torch.stack, "
        "Tensor.unfold or as_strided); the checks compare your im2col with F.unfold",
        within="im2col",
    )
    _label, _xs, w_shape, stride, padding, _b = CONV_CASES[index]
    x, _w, _bias = case_inputs(index)
    kernel = (w_shape[2], w_shape[3]) if w_shape[2] != w_shape[3] else w_shape[2]
    settings = args_text(kernel_size=kernel, stride=stride, padding=padding)
    label = f"im2col(x {tuple(x.shape)}, {settings})"
    got = run_probing_padding(
        learner.im2col,
        label,
        lambda x, kernel_size, stride, padding: F.unfold(
            x, kernel_size, stride=stride, padding=padding
        ),
        x=x,
        kernel_size=kernel,
        stride=stride,
        padding=padding,
    )
    want = F.unfold(x, kernel, stride=stride, padding=padding)
    _assert_output(got, want, label, im2col_mistakes(x, kernel, stride, padding))


@pytest.mark.task(1)
def test_im2col_keeps_float64(learner):
    seed_everything(0)
    x, _weight, _bias = float64_inputs()
    label = "im2col(x (2, 3, 7, 6) float64, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))"
    got = run_on_copies(
        label, learner.im2col, x=x, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)
    )
    assert_keeps_float64(got, label)
    want = F.unfold(x, (3, 2), stride=(2, 1), padding=(1, 0))
    _assert_output(got, want, label, im2col_mistakes(x, (3, 2), (2, 1), (1, 0)))


# ----- task 2: conv2d ----------------------------------------------------------------------------
def conv_mistakes(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: Any, padding: Any
) -> dict[str, Any]:
    """Description → the output that mistake gives on (x, weight, bias, stride, padding)."""
    (ph, pw), (sh, sw) = pair(padding), pair(stride)
    c_out, c_in, kh, kw = weight.shape
    ref = F.conv2d(x, weight, bias, stride, padding)
    h_out, w_out = ref.shape[2:]

    def padded(pad: tuple[int, ...]) -> torch.Tensor:
        return F.conv2d(F.pad(x, pad), weight, bias, stride)

    found: dict[str, Any] = {
        "a true convolution, with the kernel flipped: PyTorch's conv2d is a cross-correlation — "
        "weight[o, c, i, j] multiplies x_pad[n, c, y·sH + i, x·sW + j], no flip": lambda: F.conv2d(
            x, weight.flip(-2, -1), bias, stride, padding
        ),
        "a channels-last result read as NCHW: the product came out as (N, H_out·W_out, C_out) "
        "(NHWC order) and was reshaped straight to (N, C_out, H_out, W_out); move the channel "
        "axis first (transpose/permute — reshape never moves data between axes)": lambda: (
            ref.permute(0, 2, 3, 1).reshape(ref.shape)
        ),
        "the weight flattened channels-last, as (C_out, kH, kW, C_in), while the patch rows "
        "are (C_in, kH, kW): flatten it as it is, weight.reshape(C_out, -1)": lambda: F.conv2d(
            x, weight.permute(0, 2, 3, 1).reshape(c_out, c_in, kh, kw), bias, stride, padding
        ),
        "the padding applied to the height only: F.pad's first pair pads the last dim (W), the "
        "second pair H — F.pad(x, (pw, pw, ph, ph))": lambda: padded((0, 0, ph, ph)),
        "the padding applied to the width only: F.pad(x, (pw, pw, ph, ph)) pads both W and H": (
            lambda: padded((pw, pw, 0, 0))
        ),
        "H and W padded by each other's amount (the pair read as (pW, pH)): F.pad takes the "
        "last dim first, F.pad(x, (pw, pw, ph, ph))": lambda: padded((ph, ph, pw, pw)),
        "the padding ignored": lambda: F.conv2d(x, weight, bias, stride),
        "the stride ignored": lambda: F.conv2d(x, weight, bias, 1, padding),
        "one position short along H and W: the output size lacks its +1": lambda: ref[
            :, :, : h_out - 1, : w_out - 1
        ],
        "the kernel offsets of the patch rows taken column by column (j·kH + i) while the "
        "weight is flattened row by row (i·kW + j): im2col's row c·kH·kW + i·kW + j holds offset "
        "(i, j), as in F.unfold": lambda: F.conv2d(
            x, weight.reshape(c_out, c_in, kw, kh).transpose(2, 3), bias, stride, padding
        ),
        "the weight flattened column by column (weight.transpose(2, 3).reshape(C_out, -1)) "
        "while the patch rows go row by row, i·kW + j: flatten it as it is, "
        "weight.reshape(C_out, -1)": lambda: F.conv2d(
            x, weight.transpose(2, 3).reshape(c_out, c_in, kh, kw), bias, stride, padding
        ),
    }
    if sh != sw:
        found["the stride pair read backwards, (sW, sH): a pair is (for H, for W)"] = lambda: (
            F.conv2d(x, weight, bias, (sw, sh), padding)
        )
    if bias is not None:
        found["the bias left out"] = lambda: F.conv2d(x, weight, None, stride, padding)
        found[
            "the bias added along the width axis (broadcast as (1, 1, 1, C_out)); it belongs to "
            "the channel axis: bias.reshape(1, -1, 1, 1)"
        ] = lambda: F.conv2d(x, weight, None, stride, padding) + bias.reshape(1, 1, 1, -1)
    return found


BUILD_CONV = (
    "task 2 asks you to build the convolution from im2col (or F.unfold) and a matrix product; "
    "the checks compare your conv2d with F.conv2d"
)


@pytest.mark.task(2)
@pytest.mark.parametrize("index", range(len(CONV_CASES)), ids=CASE_IDS)
def test_conv2d_matches_torch(learner, learner_file, index):
    seed_everything(0)
    forbid_calls(learner_file, CONV_NAMES, BUILD_CONV, within="conv2d")
    _label, _xs, _ws, stride, padding, _b = CONV_CASES[index]
    x, weight, bias = case_inputs(index)
    label = (
        f"conv2d(x {tuple(x.shape)}, weight {tuple(weight.shape)}, "
        f"bias {None if bias is None else tuple(bias.shape)}, "
        f"{args_text(stride=stride, padding=padding)})"
    )
    got = run_probing_padding(
        learner.conv2d,
        label,
        lambda x, weight, bias, stride, padding: F.conv2d(x, weight, bias, stride, padding),
        x=x,
        weight=weight,
        bias=bias,
        stride=stride,
        padding=padding,
    )
    want = F.conv2d(x, weight, bias, stride, padding)
    _assert_output(got, want, label, conv_mistakes(x, weight, bias, stride, padding))


@pytest.mark.task(2)
def test_conv2d_gradients_match_torch(learner, learner_file):
    seed_everything(0)
    forbid_calls(learner_file, CONV_NAMES, BUILD_CONV, within="conv2d")
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(2, 3, 7, 6, generator=generator)
    weight = torch.randn(4, 3, 3, 2, generator=generator)
    bias = torch.randn(4, generator=generator)
    stride, padding = (2, 1), (1, 0)
    want = F.conv2d(x, weight, bias, stride, padding)
    upstream = torch.randn(want.shape, generator=generator)
    leaves = {
        k: v.clone().requires_grad_(True) for k, v in (("x", x), ("weight", weight), ("bias", bias))
    }
    label = "conv2d(x (2, 3, 7, 6), weight (4, 3, 3, 2), bias (4,), stride=(2, 1), padding=(1, 0))"
    got = call_with_inputs(label, learner.conv2d, **leaves, stride=stride, padding=padding)
    _assert_output(got, want, label, conv_mistakes(x, weight, bias, stride, padding))
    if not got.requires_grad:
        fail(
            f"{label} returns a tensor that does not require grad although its inputs do: "
            "gradients cannot flow back through it. Build it from torch operations only (no "
            ".numpy(), .item(), .tolist() or torch.tensor(...) of computed values, no .detach())"
        )
    (got * upstream).sum().backward()
    reference = {
        k: v.clone().requires_grad_(True) for k, v in (("x", x), ("weight", weight), ("bias", bias))
    }
    (
        F.conv2d(reference["x"], reference["weight"], reference["bias"], stride, padding) * upstream
    ).sum().backward()
    for key in ("x", "weight", "bias"):
        grad = leaves[key].grad
        if grad is None:
            fail(
                f"after backward() through your conv2d, {key}.grad is None: {key} is not "
                "connected to the output by torch operations"
            )
        assert_tensor(
            grad,
            reference[key].grad,
            name=f"d(loss)/d({key}) through {label}",
            rtol=RTOL,
            atol=ATOL,
        )


@pytest.mark.task(2)
def test_conv2d_keeps_float64(learner):
    seed_everything(0)
    x, weight, bias = float64_inputs()
    label = (
        "conv2d(x (2, 3, 7, 6) float64, weight (4, 3, 3, 2) float64, bias (4,) float64, "
        "stride=(2, 1), padding=(1, 0))"
    )
    got = run_on_copies(
        label, learner.conv2d, x=x, weight=weight, bias=bias, stride=(2, 1), padding=(1, 0)
    )
    assert_keeps_float64(got, label)
    want = F.conv2d(x, weight, bias, (2, 1), (1, 0))
    _assert_output(got, want, label, conv_mistakes(x, weight, bias, (2, 1), (1, 0)))


# ----- task 3: max pooling -----------------------------------------------------------------------
# (label, x shape, kernel_size, stride)
POOL_CASES = [
    ("2x2, default stride", (2, 3, 8, 8), 2, None),
    ("3x3, stride 2, odd sizes", (1, 2, 7, 9), 3, 2),
    ("2x2, stride 1 (overlapping)", (2, 2, 6, 5), 2, 1),
    ("2x3 kernel, default stride", (1, 3, 7, 8), (2, 3), None),
    ("2x2, default stride, odd sizes (the last row is dropped)", (2, 2, 7, 5), 2, None),
]


def pool_mistakes(x: torch.Tensor, kernel: Any, stride: Any) -> dict[str, Any]:
    kh, kw = pair(kernel)
    ref = F.max_pool2d(x, kernel, stride)
    found: dict[str, Any] = {}
    if stride is None:
        found[
            "stride 1 when no stride is given: F.max_pool2d's default stride is the kernel "
            "size, so the windows sit side by side without overlapping"
        ] = lambda: F.max_pool2d(x, kernel, 1)
    found.update(
        {
            "average pooling: the mean of each window, not its max": lambda: F.avg_pool2d(
                x, kernel, stride
            ),
            "a running max started at 0, so a window of negative numbers gives 0: start from "
            "the window's own values (or -inf)": lambda: ref.clamp(min=0),
            "the max taken over the channels as well as the window; each channel is pooled on "
            "its own (fold C into the batch, or keep it as its own axis)": lambda: ref.amax(1),
            "the max taken over the channels as well as the window (kept as one channel); each "
            "channel is pooled on its own": lambda: ref.amax(1, keepdim=True),
            "the max taken over the channels as well as the window, then repeated; each "
            "channel is pooled on its own": lambda: ref.amax(1, keepdim=True).expand_as(ref),
            "the last partial window kept (rounded up, like ceil_mode=True); a window that "
            "runs past the edge is dropped": lambda: F.max_pool2d(
                x, kernel, stride, ceil_mode=True
            ),
            "one position short along H and W: the output size lacks its +1": lambda: ref[
                :, :, :-1, :-1
            ],
            "the minimum of each window": lambda: -F.max_pool2d(-x, kernel, stride),
        }
    )
    sh, sw = pair(kernel if stride is None else stride)
    n, c = x.shape[:2]
    found[
        "windows that mix channels: im2col's rows are channel first, c·kH·kW + offset, so "
        "reading them as (N, kH·kW, C, L) puts values of different channels in one window; "
        "reshape them as (N, C, kH·kW, L), or fold C into the batch first"
    ] = lambda: (
        F.unfold(x, kernel, stride=(sh, sw)).reshape(n, kh * kw, c, -1).amax(1).reshape(ref.shape)
    )
    if kh != kw:
        found["the kernel read as (kW, kH); a pair is (for H, for W)"] = lambda: F.max_pool2d(
            x, (kw, kh), stride if stride is not None else (kw, kh)
        )
        for side, size in (("kH×kH", kh), ("kW×kW", kw)):
            square = (size, size)
            text = (
                f"a square {side} window for a {kh}×{kw} kernel: use both sizes of the pair, "
                "kH for the height and kW for the width"
            )
            found[text] = lambda sq=square: F.max_pool2d(
                x, sq, stride if stride is not None else sq
            )
            found[text + " (the stride was read from the pair)"] = lambda sq=square: F.max_pool2d(
                x, sq, (sh, sw)
            )
    if sh != sw:
        found["the stride pair read backwards, (sW, sH): a pair is (for H, for W)"] = lambda: (
            F.max_pool2d(x, kernel, (sw, sh))
        )
    return found


@pytest.mark.task(3)
@pytest.mark.parametrize("index", range(len(POOL_CASES)), ids=[c[0] for c in POOL_CASES])
def test_max_pool2d_matches_torch(learner, learner_file, index):
    seed_everything(0)
    forbid_calls(
        learner_file,
        POOL_NAMES,
        "task 3 asks you to pool the windows yourself; the checks compare your max_pool2d with "
        "F.max_pool2d",
        within="max_pool2d",
    )
    _label, shape, kernel, stride = POOL_CASES[index]
    generator = torch.Generator().manual_seed(200 + index)
    x = torch.randn(shape, generator=generator) - 0.8  # many windows are all negative
    call = f"max_pool2d(x {tuple(x.shape)}, {args_text(kernel_size=kernel)}"
    if stride is None:
        label = call + ")"
        got = run_on_copies(label, learner.max_pool2d, x=x, kernel_size=kernel)
    else:
        label = call + f", stride={stride!r})"
        got = run_on_copies(label, learner.max_pool2d, x=x, kernel_size=kernel, stride=stride)
    want = F.max_pool2d(x, kernel, stride)
    _assert_output(got, want, label, pool_mistakes(x, kernel, stride))


@pytest.mark.task(3)
def test_max_pool2d_keeps_float64(learner):
    seed_everything(0)
    x = float64_inputs()[0] - 0.8
    label = "max_pool2d(x (2, 3, 7, 6) float64, kernel_size=(3, 2), stride=(2, 1))"
    got = run_on_copies(label, learner.max_pool2d, x=x, kernel_size=(3, 2), stride=(2, 1))
    assert_keeps_float64(got, label)
    _assert_output(got, F.max_pool2d(x, (3, 2), (2, 1)), label, pool_mistakes(x, (3, 2), (2, 1)))


# ----- task 4: the residual block ----------------------------------------------------------------
def make_block(learner: Any, channels: int) -> nn.Module:
    label = f"ResidualBlock({channels})"
    block = call_with_inputs(label, learner.ResidualBlock, channels)
    if not isinstance(block, nn.Module):
        fail(f"{label} should be an nn.Module; got {type(block).__name__}")
    missing = [name for name in ("conv1", "bn1", "conv2", "bn2") if not hasattr(block, name)]
    if missing:
        fail(
            f"{label} has no attribute {', '.join(missing)}: name the layers conv1, bn1, conv2, "
            "bn2 (the checks reach them by these names)"
        )
    for name in ("conv1", "conv2"):
        conv = getattr(block, name)
        if not isinstance(conv, nn.Conv2d):
            fail(f"{label}.{name} should be an nn.Conv2d; got {type(conv).__name__}")
        got = (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding)
        want = (channels, channels, (3, 3), (1, 1), (1, 1))
        if got != want:
            clue = ""
            if conv.padding != (1, 1):
                clue = (
                    " — without padding=1 a 3×3 convolution shrinks H and W by 2, and the "
                    "output can no longer be added to x"
                )
            fail(
                f"{label}.{name} is Conv2d(in={conv.in_channels}, out={conv.out_channels}, "
                f"kernel_size={conv.kernel_size}, stride={conv.stride}, padding={conv.padding}); "
                f"expected Conv2d({channels}, {channels}, kernel_size=3, stride=1, padding=1){clue}"
            )
        if conv.groups != 1 or conv.dilation != (1, 1) or conv.padding_mode != "zeros":
            fail(f"{label}.{name} should be a plain Conv2d (groups=1, dilation=1, zero padding)")
        if conv.bias is not None:
            fail(
                f"{label}.{name} has a bias: the task asks for bias=False — the batch norm right "
                "after it has its own shift (β), which makes a bias redundant"
            )
    for name in ("bn1", "bn2"):
        bn = getattr(block, name)
        if not isinstance(bn, nn.BatchNorm2d):
            fail(f"{label}.{name} should be an nn.BatchNorm2d; got {type(bn).__name__}")
        if bn.num_features != channels or not bn.affine or not bn.track_running_stats:
            fail(
                f"{label}.{name} is BatchNorm2d({bn.num_features}, affine={bn.affine}, "
                f"track_running_stats={bn.track_running_stats}); expected "
                f"nn.BatchNorm2d({channels})"
            )
    return block


def forward(block: nn.Module, x: torch.Tensor, label: str) -> torch.Tensor:
    passed = x.clone()
    got = call_with_inputs(label, block, passed)
    assert_unchanged(label, {"x": passed}, {"x": x})
    if not isinstance(got, torch.Tensor):
        fail(f"{label} should return a torch.Tensor; got {type(got).__name__}")
    return got


def bn(x: torch.Tensor, layer: nn.BatchNorm2d, training: bool) -> torch.Tensor:
    if training:
        return F.batch_norm(x, None, None, layer.weight, layer.bias, True, 0.0, layer.eps)
    return F.batch_norm(
        x, layer.running_mean, layer.running_var, layer.weight, layer.bias, False, 0.0, layer.eps
    )


def block_reference(
    block: nn.Module, x: torch.Tensor, training: bool
) -> tuple[torch.Tensor, dict[str, Any]]:
    """The block's output in the task's order from its own parameters, and the known mistakes."""
    w1, b1 = block.conv1.weight, block.conv1.bias
    w2, b2 = block.conv2.weight, block.conv2.bias

    def conv(t: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        return F.conv2d(t, w, b, 1, 1)

    def norm(t: torch.Tensor, layer: nn.BatchNorm2d) -> torch.Tensor:
        return bn(t, layer, training)

    with torch.no_grad():
        h = F.relu(norm(conv(x, w1, b1), block.bn1))
        branch = norm(conv(h, w2, b2), block.bn2)
        want = F.relu(branch + x)
        mistakes = {
            "the identity added before the second batch norm, ReLU(bn2(conv2(out) + x)); the "
            "task adds x after bn2: ReLU(bn2(conv2(out)) + x)": lambda: F.relu(
                norm(conv(h, w2, b2) + x, block.bn2)
            ),
            "no ReLU after adding the identity: return ReLU(out + x), not out + x": lambda: (
                branch + x
            ),
            "the ReLU applied before adding the identity, ReLU(bn2(...)) + x; the task adds "
            "first, then applies the ReLU: ReLU(bn2(...) + x)": lambda: F.relu(branch) + x,
            "no ReLU between bn1 and conv2": lambda: F.relu(
                norm(conv(norm(conv(x, w1, b1), block.bn1), w2, b2), block.bn2) + x
            ),
            "the identity added twice (ReLU(out + x) + x, or out + 2x)": lambda: F.relu(
                branch + 2 * x
            ),
            "nothing added: the identity (the block's input x) is missing": lambda: F.relu(branch),
            "bn1 used in both places (bn2 never used)": lambda: F.relu(
                norm(conv(h, w2, b2), block.bn1) + x
            ),
            "conv1 used in both places (conv2 never used)": lambda: F.relu(
                norm(conv(h, w1, b1), block.bn2) + x
            ),
            "the ReLU before bn1 (conv1 → ReLU → bn1); the order is conv1 → bn1 → ReLU": lambda: (
                F.relu(norm(conv(norm(F.relu(conv(x, w1, b1)), block.bn1), w2, b2), block.bn2) + x)
            ),
            "a ReLU between conv2 and bn2; the second convolution goes straight into bn2, and the "
            "only ReLU after it comes after adding x": lambda: F.relu(
                norm(F.relu(conv(h, w2, b2)), block.bn2) + x
            ),
            "a ReLU after bn2 as well as after the addition, ReLU(ReLU(bn2(...)) + x); the "
            "branch ends with bn2, then x is added, then the one last ReLU": lambda: F.relu(
                F.relu(branch) + x
            ),
            "batch norm before each convolution (bn → conv) instead of after it (conv → bn)": (
                lambda: F.relu(
                    conv(norm(F.relu(conv(norm(x, block.bn1), w1, b1)), block.bn2), w2, b2) + x
                )
            ),
        }
    return want, mistakes


@pytest.mark.task(4)
def test_residual_block_layers(learner):
    seed_everything(0)
    for channels in (6, 16):
        make_block(learner, channels)


@pytest.mark.task(4)
def test_residual_block_keeps_the_shape(learner):
    seed_everything(0)
    for channels, shape in ((6, (4, 6, 5, 7)), (3, (2, 3, 8, 8)), (16, (3, 16, 4, 4))):
        block = make_block(learner, channels)
        x = torch.randn(shape)
        for mode in ("train", "eval"):
            block.train(mode == "train")
            label = f"in {mode} mode, on x {shape}: ResidualBlock({channels})(x)"
            got = forward(block, x, label)
            if tuple(got.shape) != shape:
                fail(
                    f"{label} returned shape {tuple(got.shape)}; a residual block keeps the "
                    f"shape {shape}"
                )


@pytest.mark.task(4)
def test_residual_block_with_zero_convolutions_is_relu_of_identity(learner):
    seed_everything(0)
    block = make_block(learner, 6)
    with torch.no_grad():
        for conv in (block.conv1, block.conv2):
            conv.weight.zero_()
            if conv.bias is not None:
                conv.bias.zero_()
    x = torch.randn(4, 6, 5, 7)
    block.train()
    label = (
        "on x (4, 6, 5, 7), with every convolution weight set to 0, in train mode: "
        "ResidualBlock(6)(x)"
    )
    got = forward(block, x, label)
    want = F.relu(x)
    bn2 = block.bn2
    mistakes = {
        "x itself: no ReLU after adding the identity (with zero convolutions the branch is 0, so "
        "the block must give ReLU(0 + x)); a ReLU before the addition does not count": x,
        "ReLU(bn2(x)): the identity was added before the second batch norm, which then "
        "normalized x; the task adds it after bn2": lambda: F.relu(
            F.batch_norm(x, None, None, bn2.weight, bn2.bias, True, 0.0, bn2.eps)
        ),
        "all zeros: the identity that was added is not the block's input x": torch.zeros_like(x),
    }
    _assert_output(got.detach(), want, label, mistakes)


@pytest.mark.task(4)
def test_residual_block_order(learner):
    seed_everything(0)
    channels = 5
    block = make_block(learner, channels)
    generator = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for conv in (block.conv1, block.conv2):
            conv.weight.copy_(0.3 * torch.randn(conv.weight.shape, generator=generator))
            if conv.bias is not None:
                conv.bias.copy_(0.3 * torch.randn(conv.bias.shape, generator=generator))
        for layer in (block.bn1, block.bn2):
            layer.weight.copy_(1 + 0.3 * torch.randn(channels, generator=generator))
            layer.bias.copy_(0.5 * torch.randn(channels, generator=generator))
            layer.running_mean.copy_(0.5 * torch.randn(channels, generator=generator))
            layer.running_var.copy_(0.5 + torch.rand(channels, generator=generator))
    x = torch.randn(4, channels, 6, 5, generator=generator)
    for mode in (
        "eval",
        "train",
    ):  # eval first: a forward pass in train mode moves the running stats
        block.train(mode == "train")
        want, mistakes = block_reference(block, x, training=mode == "train")
        label = (
            f"on x (4, 5, 6, 5), with random weights, in {mode} mode: ResidualBlock({channels})(x)"
        )
        got = forward(block, x, label)
        _assert_output(got.detach(), want, label, mistakes)


# ----- task 5: a small CNN on the digits ---------------------------------------------------------
def reference_images(X: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(X / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)


@functools.lru_cache(maxsize=1)
def digit_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The seeded split of task 5: 500 training images, the other 1,297 for testing."""
    X, y = digits()
    order = np.random.default_rng(0).permutation(len(y))
    images, labels = reference_images(X), torch.as_tensor(y)
    train_idx, test_idx = order[:N_TRAIN], order[N_TRAIN:]
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]


def check_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(images).argmax(dim=1) == labels).double().mean())


def fit(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> None:
    """The check's own loop (for the MLP baseline), with the budget the learner's train() gets."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    for _epoch in range(EPOCHS):
        model.train()
        order = torch.randperm(len(images))
        for start in range(0, len(images), BATCH):
            batch = order[start : start + BATCH]
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


@functools.lru_cache(maxsize=1)
def mlp_baseline() -> float:
    """Test accuracy of an MLP (64 → 128 → 10, about the CNN's parameter count) on the split."""
    seed_everything(0)
    train_x, train_y, test_x, test_y = digit_split()
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    fit(mlp, train_x, train_y)
    return check_accuracy(mlp, test_x, test_y)


def build(learner: Any) -> nn.Module:
    model = call_with_inputs("build_model()", learner.build_model)
    if not isinstance(model, nn.Module):
        fail(f"build_model() should return an nn.Module; got {type(model).__name__}")
    return model


# --- candidate for aipath.checks ---------------------------------------------------------------
class TrainingRecord:
    """What a learner's training loop did, seen from outside: the optimizers it created (class
    name and learning rate), every forward pass of the model (training mode, grad enabled, the
    input batch) and every cross-entropy it computed (value, batch size, reduction)."""

    def __init__(self) -> None:
        self.optimizers: list[tuple[str, Any]] = []
        self.forwards: list[tuple[bool, bool, torch.Tensor]] = []
        self.losses: list[tuple[float, int, str | None, bool]] = []

    @contextlib.contextmanager
    def watching(self, model: nn.Module) -> Iterator[None]:
        record = self
        original_init = torch.optim.Optimizer.__init__
        original_ce = F.cross_entropy

        def init(opt: Any, params: Any, defaults: dict[str, Any], *args: Any, **kw: Any) -> None:
            record.optimizers.append((type(opt).__name__, dict(defaults).get("lr")))
            original_init(opt, params, defaults, *args, **kw)

        def cross_entropy(input: Any, target: Any, *args: Any, **kw: Any) -> Any:
            loss = original_ce(input, target, *args, **kw)
            reduction = None if args else kw.get("reduction", "mean")
            with contextlib.suppress(Exception):  # an unusual loss: record nothing
                record.losses.append(
                    (
                        float(loss.detach().double().sum() if reduction == "none" else loss),
                        len(target),
                        reduction,
                        torch.is_grad_enabled(),
                    )
                )
            return loss

        def pre_hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            if args and isinstance(args[0], torch.Tensor):
                batch = args[0].detach().clone()
                record.forwards.append((module.training, torch.is_grad_enabled(), batch))

        handle = model.register_forward_pre_hook(pre_hook)
        torch.optim.Optimizer.__init__ = init  # type: ignore[method-assign]
        F.cross_entropy = cross_entropy
        try:
            yield
        finally:
            torch.optim.Optimizer.__init__ = original_init  # type: ignore[method-assign]
            F.cross_entropy = original_ce
            handle.remove()

    def epochs_of(self, items: list[Any], rows: Callable[[Any], int], n: int) -> list[list[Any]]:
        """``items`` cut into consecutive groups of exactly ``n`` rows; [] when they do not cut."""
        groups: list[list[Any]] = [[]]
        seen = 0
        for item in items:
            groups[-1].append(item)
            seen += rows(item)
            if seen == n:
                groups.append([])
                seen = 0
            elif seen > n:
                return []
        return groups[:-1] if seen == 0 else []


@functools.lru_cache(maxsize=1)
def trained(learner: Any) -> tuple[nn.Module, Any, TrainingRecord]:
    """The learner's model after the learner's train() on the split, with the returned losses.

    The model is handed over in evaluation mode, as accuracy() leaves it: train() must switch it
    to training mode itself (model.train() at the start of each epoch)."""
    seed_everything(0)
    train_x, train_y, _test_x, _test_y = digit_split()
    model = build(learner)
    model.eval()
    label = (
        f"train(model, images (500, 1, 8, 8), labels (500,), epochs={EPOCHS}, "
        f"batch_size={BATCH}, lr={LR})"
    )
    record = TrainingRecord()
    with record.watching(model):
        losses = call_with_inputs(
            label,
            learner.train,
            model,
            train_x.clone(),
            train_y.clone(),
            epochs=EPOCHS,
            batch_size=BATCH,
            lr=LR,
        )
    return model, losses, record


@pytest.mark.task(5)
def test_to_images(learner):
    seed_everything(0)
    X = digits()[0][:40]
    label = "to_images(X (40, 64))"
    got = call_with_inputs(label, learner.to_images, X.copy())
    want = reference_images(X)
    mistakes = {
        "channels-last images (N, 8, 8, 1), NHWC; PyTorch's layers want NCHW, (N, 1, 8, 8)": (
            want.reshape(-1, 8, 8, 1)
        ),
        "images without a channel axis, (N, 8, 8); a grey image has one channel: (N, 1, 8, 8)": (
            want.reshape(-1, 8, 8)
        ),
        "pixels not scaled: these values go from 0 to 16, divide them by 16": want * 16,
        "pixels divided by 255, as for 8-bit photos; these go only up to 16, divide by 16": (
            want * 16 / 255
        ),
        "each image transposed (rows and columns swapped); a row of X is the image read row "
        "by row, so reshape(-1, 1, 8, 8) as it is": want.transpose(-2, -1),
    }
    if isinstance(got, torch.Tensor) and got.dtype != torch.float32:
        known = tensor_mistake(got, mistakes, rtol=RTOL, atol=ATOL)
        if known is None and tuple(got.shape) == tuple(want.shape):
            close = np.allclose(
                to_numpy(got).astype(np.float64), to_numpy(want), rtol=RTOL, atol=ATOL
            )
            if close:
                fail(
                    f"{label} has dtype {got.dtype}; the model's weights are float32, so the "
                    "images must be float32 too (dtype=torch.float32 or .float())"
                )
    _assert_output(got, want, label, mistakes)


@pytest.mark.task(5)
def test_build_model(learner):
    seed_everything(0)
    model = build(learner)
    blocks = [m for m in model.modules() if isinstance(m, learner.ResidualBlock)]
    if not blocks:
        fail(
            "build_model() contains no ResidualBlock: put your block from task 4 after the "
            "first conv → bn → ReLU"
        )
    count = sum(p.numel() for p in model.parameters())
    if count > 60_000:
        fail(
            f"build_model() has {count:,} parameters; the task's network has about 7,400 — keep "
            "it under 60,000 so it trains in a few seconds"
        )
    x = torch.randn(5, 1, 8, 8)
    model.train()
    inside = {id(m) for block in blocks for m in block.modules() if m is not block}
    called: list[nn.Module] = []
    kinds = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.Linear, learner.ResidualBlock)
    handles = [
        m.register_forward_pre_hook(lambda module, _args: called.append(module))
        for m in model.modules()
        if isinstance(m, kinds) and id(m) not in inside
    ]
    try:
        logits = call_with_inputs("build_model()(x (5, 1, 8, 8))", model, x)
    finally:
        for handle in handles:
            handle.remove()
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (5, 10):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        fail(
            f"build_model() maps images (5, 1, 8, 8) to {shape}; expected logits (5, 10), one "
            "row per image"
        )
    check_layer_order(called, learner.ResidualBlock)


def check_layer_order(called: list[nn.Module], block_type: type) -> None:
    """The layers a forward pass of build_model() ran, in order, against the task's network."""

    def kind(module: nn.Module) -> str:
        return "ResidualBlock" if isinstance(module, block_type) else type(module).__name__

    got = [kind(m) for m in called]
    want = ["Conv2d", "BatchNorm2d", "ResidualBlock", "MaxPool2d", "Linear"]
    if got != want:
        seen = " → ".join(got) or "none of them"
        clue = ""
        both = "MaxPool2d" in got and "ResidualBlock" in got
        if both and got.index("MaxPool2d") < got.index("ResidualBlock"):
            clue = (
                " — the MaxPool2d runs before the ResidualBlock; the task pools after it, "
                "so the block works on the full 8×8 maps"
            )
        if not clue and got[:1] == ["Conv2d"] and got[1:2] != ["BatchNorm2d"]:
            clue = (
                " — no BatchNorm2d right after the first Conv2d: the network starts with "
                "Conv2d → BatchNorm2d → ReLU"
            )
        if not clue and "MaxPool2d" not in got:
            clue = " — no nn.MaxPool2d ran: use nn.MaxPool2d(2) after the block"
        fail(
            f"a forward pass of build_model() runs the layers {seen}; expected "
            "Conv2d → BatchNorm2d → (ReLU) → ResidualBlock → MaxPool2d → (Flatten) → Linear" + clue
        )
    stem, _bn, _block, pool, head = called
    shape = (stem.in_channels, stem.out_channels, stem.kernel_size, stem.padding)
    if shape != (1, 16, (3, 3), (1, 1)) or stem.stride != (1, 1):
        fail(
            f"the first layer of build_model() is Conv2d({stem.in_channels}, {stem.out_channels}, "
            f"kernel_size={stem.kernel_size}, stride={stem.stride}, padding={stem.padding}); "
            "expected Conv2d(1, 16, 3, padding=1, bias=False)"
        )
    if stem.bias is not None:
        fail(
            "the first Conv2d of build_model() has a bias: the task asks for bias=False — the "
            "BatchNorm2d right after it has its own shift, which makes a bias redundant"
        )
    if pair(pool.kernel_size) != (2, 2) or pair(pool.stride) != (2, 2):
        fail(
            f"build_model()'s pooling is MaxPool2d(kernel_size={pool.kernel_size}, "
            f"stride={pool.stride}); expected MaxPool2d(2), which halves 8×8 to 4×4"
        )
    if (head.in_features, head.out_features) != (16 * 4 * 4, 10):
        fail(
            f"build_model()'s last layer is Linear({head.in_features}, {head.out_features}); "
            "expected Linear(16·4·4 = 256, 10)"
        )


def bn_model() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A check-made CNN whose batch-norm running statistics differ from any batch's, and labels
    that agree with its evaluation-mode predictions on exactly 3 images in 5."""
    seed_everything(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 64, 10),
    )
    with torch.no_grad():
        model[1].running_mean.copy_(torch.linspace(-1.0, 1.0, 8))
        model[1].running_var.copy_(torch.linspace(0.05, 3.0, 8))
    images = digit_split()[2][:100]
    with torch.no_grad():
        predicted = copy.deepcopy(model).eval()(images).argmax(dim=1)
    labels = predicted.clone()
    labels[60:] = (predicted[60:] + 1) % 10
    return model, images, labels


@pytest.mark.task(5)
def test_accuracy_in_evaluation_mode(learner):
    model, images, labels = bn_model()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    label = "accuracy(model, images (100, 1, 8, 8), labels (100,))"
    got = call_with_inputs(label, learner.accuracy, model, images.clone(), labels.clone())
    if got is None:
        fail(f"{label} returned None: did you forget to `return` it?")
    try:
        value = float(got)
    except (TypeError, ValueError, RuntimeError):
        fail(f"{label} should return a float; got {type(got).__name__}")
    want = 0.6
    if math.isclose(value, want, abs_tol=1e-6):
        changed = [k for k, v in model.state_dict().items() if not torch.equal(v, state[k])]
        if changed:
            fail(
                f"{label} changed the model's {', '.join(changed[:3])}: a forward pass in "
                "training mode updates the batch-norm running statistics. Call model.eval() "
                "before evaluating, and compute under torch.no_grad()"
            )
        return
    train_copy = copy.deepcopy(model)
    train_copy.load_state_dict(state)
    train_copy.train()
    with torch.no_grad():
        in_train_mode = float((train_copy(images).argmax(dim=1) == labels).double().mean())
    mistakes = {
        "the accuracy of the model in training mode: batch norm normalized with this batch's "
        "own statistics instead of its running ones — call model.eval() first": in_train_mode,
        "a percentage; return a fraction between 0 and 1": want * 100,
        "the error rate (the fraction wrong), not the fraction right": 1 - want,
        "the number of correct images, not the fraction": want * len(labels),
    }
    for text, wrong in mistakes.items():
        close = math.isclose(value, wrong, rel_tol=1e-5, abs_tol=1e-6)
        if close and not math.isclose(wrong, want, abs_tol=1e-6):
            fail(f"{label} is {value:.4g}, which looks like {text}; expected {want:.4g}")
    fail(
        f"{label} is {value:.4g}; expected {want:.4g} (60 of the 100 labels are the model's "
        "predictions)"
    )


@pytest.mark.task(5)
def test_train_returns_a_loss_per_epoch(learner):
    _model, losses, record = trained(learner)
    if losses is None:
        fail("train() returned None: return the list of the mean training loss of each epoch")
    if isinstance(losses, list | tuple) and any(isinstance(v, torch.Tensor) for v in losses):
        fail(
            "train() returned torch.Tensor losses; return plain floats (loss.item()): a tensor "
            "loss keeps its whole autograd graph alive, and adding them up builds an ever longer "
            "one"
        )
    try:
        values = [float(v) for v in losses]
    except (TypeError, ValueError, RuntimeError):
        fail(f"train() should return a list of floats, one per epoch; got {type(losses).__name__}")
    if len(values) != EPOCHS:
        fail(
            f"train(..., epochs={EPOCHS}) returned {len(values)} losses; expected one per "
            f"epoch, {EPOCHS}"
        )
    if not all(math.isfinite(v) for v in values):
        fail(f"train() returned losses {values}: training diverged (NaN or inf)")
    if values[-1] >= values[0]:
        fail(
            f"the training loss did not go down within {EPOCHS} epochs: {values[0]:.4g} in the "
            f"first, {values[-1]:.4g} in the last. Is optimizer.step() called after "
            "loss.backward(), and optimizer.zero_grad() before it?"
        )
    check_epoch_means(values, record)


def check_epoch_means(values: list[float], record: TrainingRecord) -> None:
    """Each returned value must be its epoch's mean batch loss (plain or weighted by batch size).

    Judged only when every cross-entropy train() computed could be read (with gradients, a known
    reduction) and they cut into epochs of exactly the 500 training images."""
    if not record.losses or any(r is None or not g for _v, _n, r, g in record.losses):
        return
    epochs = record.epochs_of(record.losses, lambda item: item[1], N_TRAIN)
    if len(epochs) != len(values):
        return
    epoch_means = [[v / n if r in ("sum", "none") else v for v, n, r, _g in b] for b in epochs]
    for number, (value, batches) in enumerate(zip(values, epochs, strict=True), start=1):
        means = epoch_means[number - 1]
        sizes = [n for _v, n, _r, _g in batches]
        plain = sum(means) / len(means)
        weighted = sum(m * n for m, n in zip(means, sizes, strict=True)) / sum(sizes)

        def near(a: float, b: float) -> bool:
            return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)

        if near(value, plain) or near(value, weighted):
            continue
        clues = {
            "the loss of the epoch's last batch only": means[-1],
            "the loss of the epoch's first batch only": means[0],
            "the sum of the batch losses, not their mean": sum(means),
        }
        if number > 1:
            previous = [m for earlier in epoch_means[:number] for m in earlier]
            clues["a running mean over every batch so far, not over this epoch's"] = sum(
                previous
            ) / len(previous)
        clue = next((text for text, wrong in clues.items() if near(value, wrong)), None)
        fail(
            f"train() returned {value:.6g} as the loss of epoch {number}"
            + (f", which is {clue}" if clue else "")
            + f"; the mean of that epoch's {len(means)} batch losses is {weighted:.6g} "
            f"(weighted by batch size; {plain:.6g} unweighted). Return the mean training loss "
            "of each epoch"
        )


@pytest.mark.task(5)
def test_train_follows_the_recipe(learner):
    """Adam with the given lr, training mode for every step, a new order every epoch."""
    _model, _losses, record = trained(learner)
    if record.optimizers:
        names = [name for name, _lr in record.optimizers]
        adams = [(name, lr) for name, lr in record.optimizers if name in ("Adam", "AdamW")]
        if not adams:
            fail(
                f"train() created torch.optim.{names[0]}; the task asks for Adam: "
                "torch.optim.Adam(model.parameters(), lr=lr)"
            )
        name, lr = adams[0]
        try:
            used = float(lr)
        except (TypeError, ValueError, RuntimeError):
            used = None
        if used is not None and not math.isclose(used, LR, rel_tol=1e-6):
            fail(
                f"train(..., lr={LR}) created {name} with lr={used:g}: pass train's lr argument "
                "on to the optimizer"
            )
    stepping = [(mode, batch) for mode, grad, batch in record.forwards if grad]
    in_eval = sum(1 for mode, _batch in stepping if not mode)
    if in_eval:
        fail(
            f"{in_eval} of the {len(stepping)} forward passes that train() ran with gradients "
            "were in evaluation mode (the check handed train() a model in eval mode, as "
            "accuracy() leaves it), so batch norm did not use the batch statistics nor update "
            "its running ones: call model.train() at the start of each epoch"
        )
    epochs = record.epochs_of(stepping, lambda item: len(item[1]), N_TRAIN)
    if len(epochs) == EPOCHS:
        seen = [torch.cat([batch for _mode, batch in epoch]) for epoch in epochs]
        if all(torch.equal(seen[0], other) for other in seen[1:]):
            fail(
                f"all {EPOCHS} epochs of train() fed the model the same images in the same "
                "order: shuffle them every epoch, order = torch.randperm(N), and take the "
                "batches from order"
            )


@pytest.mark.task(5)
def test_cnn_beats_an_mlp_with_the_same_budget(learner):
    model, _losses, _record = trained(learner)
    _train_x, _train_y, test_x, test_y = digit_split()
    seed_everything(0)
    model.eval()
    with torch.no_grad():
        logits = call_with_inputs(
            "the trained model on the test images (1297, 1, 8, 8)", model, test_x
        )
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (len(test_y), 10):
        fail("the trained model does not map the test images (1297, 1, 8, 8) to logits (1297, 10)")
    score = float((logits.argmax(dim=1) == test_y).double().mean())
    baseline = mlp_baseline()
    target = baseline + MARGIN
    if score < target:
        fail(
            f"the CNN's test accuracy did not reach {target:.4f} within {EPOCHS} epochs: it "
            f"reached {score:.4f} (evaluated by the check in eval mode on the 1,297 held-out "
            f"images). An MLP (64 → 128 → 10) trained by the check on the same 500 images with "
            f"the same budget ({EPOCHS} epochs, batches of {BATCH}, Adam lr={LR}) reaches "
            f"{baseline:.4f}, and the CNN must beat it by {MARGIN}. Check the architecture of "
            "build_model() and that train() shuffles, zeroes the gradients and steps every batch"
        )
