"""Checks for p3-lora: a LoRA layer built by hand, put into the packaged SmolLM2-135M, counted
against peft, merged and unmerged, and trained for a few steps.

Task 1 runs the learner's ``LoRALinear`` on small ``nn.Linear`` layers with a bias (10 → 6, so a
transposed product cannot go unnoticed), with A and B set here to known values, so the output
can be compared with the formula and with what each known mistake computes. Task 2 wraps a
fresh copy of the packaged model and compares it with the check's own copy (output at init,
exactly) and with peft's ``get_peft_model`` (trainable count and outputs with the same A and B,
peft's scaling being ``lora_alpha / r``). Task 3 merges and unmerges, layer by layer and in the
whole model. Task 4 trains a fresh copy for six AdamW steps on one sentence and measures the
loss itself afterwards.

The reference model (``smollm2()``) is never handed to the learner; every model the learner's
code touches is a ``fresh_smollm2()`` copy. peft is imported inside the two checks that use it.
"""

from __future__ import annotations

import math
import numbers
import sys
import traceback
import warnings
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
    fail,
    fresh_smollm2,
    none_message,
    seed_everything,
    smollm2,
    tensor_mistake,
)

# Task 1: a small layer whose in and out differ, with a bias; r and alpha unlike the defaults.
IN, OUT, R, ALPHA = 10, 6, 3, 10.0
# scaling 10/3 = 3.33; the mistakes' alpha 10, r/alpha 0.3, alpha/sqrt(r) 5.77, alpha // r 3 and
# no scaling 1 all differ from it.
SCALING = ALPHA / R
P_DROP = 0.5
SHAPES = (
    f"For base = nn.Linear({IN}, {OUT}) and r={R}: lora_A is (r, in) = ({R}, {IN}), lora_B is "
    f"(out, r) = ({OUT}, {R}), the update B @ A is (out, in) = ({OUT}, {IN}) like base.weight, and "
    "x (..., in) goes x @ A.T → (..., r) → @ B.T → (..., out)"
)

# Task 2-3: the packaged model, wrapped with r=4, alpha=8 (scaling 2).
LAYERS = 30
TARGETS = ("q_proj", "v_proj")
MODEL_R, MODEL_ALPHA = 4, 8.0
PROBE = "LoRA adds a small trainable update to a frozen weight."

# Task 4: six AdamW steps on one sentence.
TRAIN_TEXT = "Quintara is the capital of Zorblax, a planet of violet tea rivers."
TRAIN_R, TRAIN_ALPHA, STEPS, LR = 8, 16.0, 6, 1e-2
# Measured with the reference: 5.58 before, 0.56 after six steps (10 % of the start). The check
# wants at most 60 % of the starting loss: room for any correct loop, none for one that does not
# learn.
TARGET_SHARE = 0.6


# ----- helpers ----------------------------------------------------------------------------------
def _once(func: Callable[..., Any]) -> Callable[..., Any]:
    """Cache a result or the failure that computing it raised (each costs seconds)."""
    store: dict[Any, tuple[Any, BaseException | None]] = {}

    def wrapper(*args: Any) -> Any:
        if args not in store:
            try:
                store[args] = (func(*args), None)
            except NotImplementedError:
                raise
            except Exception as exc:  # a failure or the learner's own error: shown by each check
                store[args] = (None, exc)
        value, error = store[args]
        if error is not None:
            raise error
        return value

    wrapper.release = store.clear  # type: ignore[attr-defined]
    return wrapper


def _assert_tensor(
    got: Any,
    want: torch.Tensor,
    *,
    name: str,
    rtol: float,
    atol: float,
    mistakes: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
) -> None:
    """assert_tensor, with the known mistakes matched at float32 tolerance (they are recomputed
    here, so they agree with the learner's output only to rounding)."""
    try:
        assert_tensor(got, want, name=name, rtol=rtol, atol=atol, check_dtype=False)
    except CheckFailure as exc:
        known = tensor_mistake(got, mistakes, rtol=1e-4, atol=1e-5)
        if known:
            fail(f"{name} looks like {known}. {exc}")
        raise


def _lora_tensor(module: nn.Module, which: str, where: str) -> torch.Tensor:
    """The learner's lora_A or lora_B: an nn.Parameter, or an nn.Linear whose weight it is."""
    value = getattr(module, which, None)
    if isinstance(value, nn.Module) and isinstance(getattr(value, "weight", None), torch.Tensor):
        value = value.weight
    if not isinstance(value, torch.Tensor):
        fail(
            f"{where} has no tensor `{which}` (got {type(value).__name__}): keep the two LoRA "
            "matrices as nn.Parameter attributes named lora_A and lora_B"
        )
    return value


def _base_of(module: nn.Module, where: str) -> nn.Linear:
    base = getattr(module, "base", None)
    if not isinstance(base, nn.Linear):
        fail(
            f"{where}.base is {type(base).__name__}; keep the wrapped layer as self.base (the "
            "nn.Linear you were given)"
        )
    return base


def _set_lora(module: nn.Module, A: torch.Tensor, B: torch.Tensor, where: str) -> None:
    """Give the learner's adapter known values (shapes checked first)."""
    a, b = _lora_tensor(module, "lora_A", where), _lora_tensor(module, "lora_B", where)
    for which, tensor, value in (("lora_A", a, A), ("lora_B", b, B)):
        if tuple(tensor.shape) != tuple(value.shape):
            fail(f"{where}.{which} has shape {tuple(tensor.shape)}; expected {tuple(value.shape)}")
    with torch.no_grad():
        a.copy_(A)
        b.copy_(B)


def _fmt_list(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


# ----- task 1: one layer ------------------------------------------------------------------------
def _base_layer(bias: bool = True) -> nn.Linear:
    generator = torch.Generator().manual_seed(1)
    layer = nn.Linear(IN, OUT, bias=bias)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(OUT, IN, generator=generator) * 0.3)
        if bias:
            layer.bias.copy_(torch.randn(OUT, generator=generator))
    return layer


def _input() -> torch.Tensor:
    return torch.randn(2, 5, IN, generator=torch.Generator().manual_seed(2))


def _known_lora() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return (
        torch.randn(R, IN, generator=generator) * 0.5,
        torch.randn(OUT, R, generator=generator) * 0.5,
    )


def _make(learner: Any, base: nn.Linear, dropout: float = 0.0) -> nn.Module:
    call = f"LoRALinear(nn.Linear({IN}, {OUT}), r={R}, alpha={ALPHA}, dropout={dropout})"
    layer = call_with_inputs(call, learner.LoRALinear, base, r=R, alpha=ALPHA, dropout=dropout)
    if not isinstance(layer, nn.Module):
        fail(f"{call} is a {type(layer).__name__}; LoRALinear must be an nn.Module subclass")
    return layer


def _learner_call(what: str, func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)``; a crash fails naming the call, the learner's line and the shapes."""
    try:
        return func(*args)
    except NotImplementedError:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        if isinstance(exc, CheckFailure):
            raise
        owner = getattr(func, "__self__", func)  # a bound method's object, or the module itself
        path = getattr(sys.modules.get(type(owner).__module__), "__file__", None)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
        line = (
            f" — at line {frames[-1].lineno} of your file: `{(frames[-1].line or '').strip()}`"
            if frames
            else ""
        )
        text = str(exc).strip()
        advice = ""
        if any(word in text for word in ("size", "shape", "mat1")):
            advice = f". {SHAPES}"
        elif "leaf" in text:
            advice = (
                ". Change base.weight in place under torch.no_grad() (it is a frozen "
                "Parameter: += or add_, not a new tensor assigned to it)"
            )
        fail(f"{what} raised {type(exc).__name__}: {text[:300]}{line}{advice}")


def _forward(layer: nn.Module, x: torch.Tensor, what: str) -> torch.Tensor:
    return _learner_call(what, layer, x)


def _lora_forward_mistakes(
    base: nn.Linear, x: torch.Tensor, A: torch.Tensor, B: torch.Tensor
) -> dict[str, Any]:
    """What known wrong forwards give for base, x and the adapter (A, B)."""
    with torch.no_grad():
        plain = base(x)
        no_bias = x @ base.weight.T
        u = x @ A.T @ B.T

    return {
        "the update scaled by alpha instead of alpha/r": plain + ALPHA * u,
        "the update scaled by r/alpha instead of alpha/r": plain + (R / ALPHA) * u,
        "the update scaled by alpha/sqrt(r) (rsLoRA) instead of alpha/r": plain
        + ALPHA / math.sqrt(R) * u,
        "the update added without any scaling (alpha/r forgotten)": plain + u,
        "the update scaled by alpha // r (integer division: 10 // 3 is 3, alpha / r is 3.33)": (
            plain + (ALPHA // R) * u
        ),
        "the base layer without its bias (x @ W.T: base.bias forgotten)": no_bias + SCALING * u,
        "the base bias added twice": plain + base.bias + SCALING * u,
        "the update subtracted instead of added": plain - SCALING * u,
        "the base layer alone: the LoRA path adds nothing": plain,
    }


@pytest.mark.task(1)
def test_lora_linear_has_the_right_parameters_and_a_frozen_base(learner):
    base = _base_layer()
    kept = base.weight.detach().clone(), base.bias.detach().clone()
    layer = _make(learner, base)
    where = "LoRALinear(...)"
    wrapped = _base_of(layer, where)
    A, B = _lora_tensor(layer, "lora_A", where), _lora_tensor(layer, "lora_B", where)
    if tuple(A.shape) == (IN, R) and tuple(B.shape) == (R, OUT):
        fail(
            f"lora_A has shape {tuple(A.shape)} and lora_B {tuple(B.shape)}: both transposed. "
            f"{SHAPES}"
        )
    if tuple(A.shape) != (R, IN) or tuple(B.shape) != (OUT, R):
        fail(
            f"lora_A has shape {tuple(A.shape)} and lora_B {tuple(B.shape)}; expected "
            f"({R}, {IN}) and ({OUT}, {R}). {SHAPES}"
        )
    for which, tensor in (("lora_A", A), ("lora_B", B)):
        if not tensor.requires_grad:
            fail(f"{which} does not require grad: it is what LoRA trains (an nn.Parameter)")
        if tensor.dtype != base.weight.dtype:
            fail(f"{which} has dtype {tensor.dtype}; expected base.weight's {base.weight.dtype}")
    trainable_base = [n for n, p in wrapped.named_parameters() if p.requires_grad]
    if trainable_base:
        fail(
            f"base.{' and base.'.join(trainable_base)} still require grad: base weights left "
            "trainable. Freeze the wrapped layer (requires_grad_(False) on its weight and bias): "
            "only lora_A and lora_B train"
        )
    lora_ids = {id(A), id(B)}
    others = [n for n, p in layer.named_parameters() if p.requires_grad and id(p) not in lora_ids]
    if others:
        fail(f"LoRALinear has trainable parameters besides lora_A and lora_B: {others}")
    if not (torch.equal(wrapped.weight, kept[0]) and torch.equal(wrapped.bias, kept[1])):
        fail(
            "LoRALinear(base, ...) changed base.weight or base.bias: the pre-trained weights "
            "must stay exactly as they were"
        )


@pytest.mark.task(1)
def test_lora_linear_starts_as_the_base_layer(learner):
    base = _base_layer()
    layer = _make(learner, base)
    where = "LoRALinear(...)"
    A, B = _lora_tensor(layer, "lora_A", where), _lora_tensor(layer, "lora_B", where)
    x = _input()
    with torch.no_grad():
        want = base(x)
    if torch.count_nonzero(B) > 0:
        got = _forward(layer, x, "LoRALinear(...)(x)")
        gap = float((got.detach() - want).abs().max())
        if torch.count_nonzero(A) == 0:
            fail(
                f"lora_A is all zeros and lora_B random (max |B| = "
                f"{float(B.detach().abs().max()):.3g}): the two initialisations are swapped. The "
                "layer still starts as base(x) (A = 0), but the contract and peft start B at "
                "zeros and A at random (nn.init.kaiming_uniform_(A, a=math.sqrt(5)) or a normal)"
            )
        fail(
            f"lora_B is not zero at init (max |B| = {float(B.detach().abs().max()):.3g}): B "
            f"initialised randomly, so the adapted layer does not start as the base layer (its "
            f"output differs from base(x) by up to {gap:.3g}). Start B at zeros, A at random"
        )
    if torch.count_nonzero(A) == 0:
        layer.zero_grad()
        out = _forward(layer, x, "LoRALinear(...)(x)")
        out.sum().backward()
        grads = [0.0 if t.grad is None else float(t.grad.abs().max()) for t in (A, B)]
        fail(
            "lora_A is all zeros too, as well as lora_B: then the gradients of both are zero "
            f"(here max |dL/dA| = {grads[0]:.3g} and max |dL/dB| = {grads[1]:.3g} on a test "
            "batch), so training never moves them. Initialise A at random "
            "(nn.init.kaiming_uniform_(A, a=math.sqrt(5)) or a normal) and only B at zeros"
        )
    if float(A.detach().std()) == 0.0:
        fail(
            "every entry of lora_A holds the same value: its r rows are then one direction "
            "repeated. Initialise A at random (kaiming_uniform_ or a normal)"
        )
    layer.eval()
    got = _forward(layer, x, "LoRALinear(...)(x)")
    _assert_tensor(
        got,
        want,
        name="LoRALinear(base, ...)(x) at init (B = 0)",
        rtol=0.0,
        atol=0.0,
        mistakes=lambda: _lora_forward_mistakes(base, x, A.detach(), B.detach()),
    )


@pytest.mark.task(1)
def test_lora_linear_forward_adds_the_scaled_update(learner):
    base = _base_layer()
    layer = _make(learner, base)
    A, B = _known_lora()
    _set_lora(layer, A, B, "LoRALinear(...)")
    layer.eval()
    x = _input()
    got = _forward(layer, x, "LoRALinear(...)(x)")
    with torch.no_grad():
        want = base(x) + SCALING * (x @ A.T @ B.T)
    _assert_tensor(
        got,
        want,
        name=f"LoRALinear(nn.Linear({IN}, {OUT}), r={R}, alpha={ALPHA})(x) with A and B set",
        rtol=1e-5,
        atol=1e-5,
        mistakes=lambda: _lora_forward_mistakes(base, x, A, B),
    )
    if isinstance(got, torch.Tensor) and not got.requires_grad:
        fail(
            "LoRALinear(...)(x) does not require grad: the output must stay connected to "
            "lora_A and lora_B, or backward() cannot train them"
        )


@pytest.mark.task(1)
def test_lora_dropout_acts_on_the_lora_path_only(learner):
    base = _base_layer()
    x = _input()
    with torch.no_grad():
        plain = base(x)
    layer = _make(learner, base, dropout=P_DROP)
    layer.train()
    got = _forward(layer, x, f"LoRALinear(..., dropout={P_DROP})(x) in train mode")
    if not torch.equal(got.detach(), plain):
        layer.eval()
        calm = _forward(layer, x, f"LoRALinear(..., dropout={P_DROP})(x) in eval mode")
        gap = float((got.detach() - plain).abs().max())
        if torch.equal(calm.detach(), plain):
            fail(
                f"with dropout={P_DROP} and B = 0 (so the LoRA path adds nothing) the output "
                f"in train mode differs from base(x) by up to {gap:.3g}, and in eval mode equals "
                "it: dropout applied to the base path. Dropout belongs on the LoRA path only, "
                "to the input of A: base(x) + scaling · dropout(x) @ A.T @ B.T"
            )
        fail(
            f"with dropout={P_DROP} and B = 0 the output differs from base(x) by up to {gap:.3g}; "
            "at init the adapted layer must give exactly base(x)"
        )
    A, B = _known_lora()
    _set_lora(layer, A, B, "LoRALinear(..., dropout=0.5)")
    layer.eval()
    with torch.no_grad():
        no_drop = plain + SCALING * (x @ A.T @ B.T)
    calm = _forward(layer, x, f"LoRALinear(..., dropout={P_DROP})(x) in eval mode")
    again = _forward(layer, x, f"LoRALinear(..., dropout={P_DROP})(x) in eval mode").detach()
    if not torch.equal(calm.detach(), again):
        fail(
            f"LoRALinear(..., dropout={P_DROP})(x) changes from call to call in eval mode (by up "
            f"to {float((calm.detach() - again).abs().max()):.3g}): the dropout is still on "
            "after layer.eval(). nn.Dropout follows the module's mode; F.dropout needs "
            "training=self.training (its default is True)"
        )
    _assert_tensor(
        calm,
        no_drop,
        name=f"LoRALinear(..., dropout={P_DROP})(x) in eval mode (dropout off)",
        rtol=1e-5,
        atol=1e-5,
        mistakes=lambda: _lora_forward_mistakes(base, x, A, B),
    )
    layer.train()
    torch.manual_seed(7)
    noisy = _forward(layer, x, f"LoRALinear(..., dropout={P_DROP})(x) in train mode").detach()
    if torch.allclose(noisy, no_drop, rtol=1e-5, atol=1e-5):
        fail(
            f"LoRALinear(..., dropout={P_DROP})(x) in train mode equals the output without "
            "dropout: the dropout argument was not used. Apply nn.Dropout(dropout) to x on the "
            "LoRA path (it is switched off by model.eval())"
        )
    elsewhere = {
        "on the output of the LoRA path": lambda: F.dropout(
            SCALING * (x @ A.T @ B.T), P_DROP, training=True
        ),
        "on the r-dimensional hidden x @ A.T, between A and B": lambda: (
            SCALING * (F.dropout(x @ A.T, P_DROP, training=True) @ B.T)
        ),
    }
    for where, path in elsewhere.items():
        torch.manual_seed(7)  # the same draws as the learner's call above
        with torch.no_grad():
            wrong = plain + path()
        if torch.allclose(noisy, wrong, rtol=1e-5, atol=1e-5):
            fail(
                f"in train mode the dropout falls {where}; LoRA (and peft) drop entries of the "
                "input of the LoRA path: base(x) + scaling · dropout(x) @ A.T @ B.T"
            )


# ----- task 2: the whole model ------------------------------------------------------------------
def _probe_batch() -> dict[str, torch.Tensor]:
    tokenizer, _model = smollm2()
    return dict(tokenizer(PROBE, return_tensors="pt"))


def _probe_logits(model: nn.Module, what: str) -> torch.Tensor:
    with torch.no_grad():
        out = call_with_inputs(what, model, **_probe_batch())
    return out.logits


_REFERENCE: dict[str, Any] = {}


def _reference_logits() -> torch.Tensor:
    if "logits" not in _REFERENCE:
        _REFERENCE["logits"] = _probe_logits(smollm2()[1], "the reference model")
    return _REFERENCE["logits"]


def _reference_params() -> dict[str, torch.Tensor]:
    return dict(smollm2()[1].named_parameters())


def _wrap(learner: Any, r: int, alpha: float) -> nn.Module:
    _tokenizer, model = fresh_smollm2()
    seed_everything(0)
    call = f"add_lora(model, r={r}, alpha={alpha})"
    result = call_with_inputs(call, learner.add_lora, model, r=r, alpha=alpha)
    if result is None:
        fail(none_message(call, "the model"))
    if not isinstance(result, nn.Module):
        fail(f"{call} returned a {type(result).__name__}; expected the model")
    return result


@_once
def _adapted(learner: Any) -> nn.Module:
    """The learner's add_lora on a fresh copy, r=4, alpha=8: shared, read-only, by task 2."""
    return _wrap(learner, MODEL_R, MODEL_ALPHA)


def _lora_modules(learner: Any, model: nn.Module) -> dict[str, nn.Module]:
    return {n: m for n, m in model.named_modules() if isinstance(m, learner.LoRALinear)}


def _expected_names() -> list[str]:
    return [f"model.layers.{i}.self_attn.{t}" for i in range(LAYERS) for t in TARGETS]


def _name_list(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return f"{len(names)} ({shown}{', …' if len(names) > 3 else ''})"


def _judge_wrapping(learner: Any, model: nn.Module, r: int) -> dict[str, nn.Module]:
    found = _lora_modules(learner, model)
    nested = [
        n
        for n, m in found.items()
        if isinstance(getattr(m, "base", None), nn.Module)
        and isinstance(m.base, learner.LoRALinear)
    ]
    if nested:
        fail(
            f"{_name_list(nested)} LoRALinear layers wrap another LoRALinear: a projection was "
            "wrapped twice (did the loop over named_modules() also match the layers it had just "
            "created?). Wrap each q_proj and v_proj once"
        )
    expected = _expected_names()
    missing = [n for n in expected if n not in found]
    extra = [n for n in found if n not in set(expected)]
    if missing or extra:
        k_proj = [n for n in extra if n.endswith(".k_proj")]
        v_missing = [n for n in missing if n.endswith(".v_proj")]
        if k_proj and v_missing:
            fail(
                f"add_lora put LoRA on k_proj (the key projection) in {len(k_proj)} layers and "
                f"left v_proj (the value projection) without it in {len(v_missing)}: the "
                "targets are q_proj and v_proj, as in the LoRA paper and peft's "
                "target_modules=['q_proj', 'v_proj']"
            )
        if not found:
            fail(
                "the model add_lora returned holds no LoRALinear at all: replace each "
                "layer.self_attn.q_proj and .v_proj by LoRALinear(old layer, r, alpha, dropout) "
                "(setattr(layer.self_attn, name, ...))"
            )
        parts = []
        if missing:
            parts.append(f"missing on {_name_list(missing)}")
        if extra:
            parts.append(f"also on {_name_list(extra)}")
        fail(
            f"add_lora put {len(found)} LoRALinear layers in the model; expected {len(expected)}, "
            f"q_proj and v_proj of each of the {LAYERS} decoder layers: {'; '.join(parts)}"
        )
    reference = _reference_params()
    for name in expected:
        module = found[name]
        base = _base_of(module, name)
        A, B = _lora_tensor(module, "lora_A", name), _lora_tensor(module, "lora_B", name)
        shape_a, shape_b = (r, base.in_features), (base.out_features, r)
        if tuple(A.shape) != shape_a or tuple(B.shape) != shape_b:
            fail(
                f"{name}.lora_A has shape {tuple(A.shape)} and lora_B {tuple(B.shape)}; with "
                f"r={r} expected {shape_a} and {shape_b}: pass r (and alpha) on to LoRALinear"
            )
        if torch.count_nonzero(B) > 0:
            fail(f"{name}.lora_B is not zero after add_lora: B initialised randomly")
        if not torch.equal(base.weight, reference[f"{name}.weight"]):
            fail(f"{name}.base.weight differs from the packaged model's {name}.weight")
    return found


@pytest.mark.task(2)
def test_add_lora_wraps_q_and_v_of_every_layer(learner):
    _judge_wrapping(learner, _adapted(learner), MODEL_R)


def _lora_ids(learner: Any, model: nn.Module) -> dict[int, str]:
    ids = {}
    for name, module in _lora_modules(learner, model).items():
        for which in ("lora_A", "lora_B"):
            ids[id(_lora_tensor(module, which, name))] = f"{name}.{which}"
    return ids


@pytest.mark.task(2)
def test_only_the_lora_matrices_are_trainable(learner):
    model = _adapted(learner)
    lora = _lora_ids(learner, model)
    if not lora:
        fail("the model add_lora returned holds no LoRALinear: nothing would train")
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    strays = [(n, p) for n, p in trainable if id(p) not in lora]
    if strays:
        count = sum(p.numel() for _n, p in strays)
        fail(
            f"{_name_list([n for n, _p in strays])} parameter tensors outside the adapters still "
            f"require grad ({count:,} numbers): base weights left trainable. Freeze every "
            "parameter of the model first (requires_grad_(False)); only lora_A and lora_B train"
        )
    frozen = [label for i, label in lora.items() if not any(id(p) == i for _n, p in trainable)]
    if frozen:
        fail(f"{_name_list(frozen)} LoRA tensors do not require grad: they are what trains")


@pytest.mark.task(2)
def test_the_adapted_model_starts_as_the_base_model(learner):
    model = _adapted(learner)
    got = _probe_logits(model, "the adapted model(**batch)")
    _assert_tensor(
        got,
        _reference_logits(),
        name=f"the logits of the adapted model on {PROBE!r} (B = 0 everywhere)",
        rtol=0.0,
        atol=0.0,
    )


@_once
def _peft_model(r: int, alpha: float) -> nn.Module:
    """peft's LoRA on a fresh copy of the model, with the same r, alpha and targets."""
    from peft import LoraConfig, get_peft_model

    _tokenizer, model = fresh_smollm2()
    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=list(TARGETS), lora_dropout=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_peft_model(model, config)


def _trainable_numbers(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.task(2)
def test_count_trainable_equals_peft(learner):
    model = _adapted(learner)
    peft_model = _peft_model(MODEL_R, MODEL_ALPHA)
    want = _trainable_numbers(peft_model)
    call = f"count_trainable(add_lora(model, r={MODEL_R}, alpha={MODEL_ALPHA}))"
    got = call_with_inputs(call, learner.count_trainable, model)
    if got is None:
        fail(none_message(call, "the count"))
    if isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_floating_point():
        got = got.item()
    if isinstance(got, numbers.Integral) and not isinstance(got, bool):
        got = int(got)
    if not isinstance(got, int) or isinstance(got, bool):
        fail(f"{call} is {type(got).__name__} {got!r}; expected an int (a number of parameters)")
    mine = _trainable_numbers(model)
    if got != want and got == mine:
        fail(
            f"{call} is {got:,}, which is what this model trains (the elements of its parameters "
            f"with requires_grad), but peft's get_peft_model with LoraConfig(r={MODEL_R}, "
            f"lora_alpha={MODEL_ALPHA:g}, target_modules=['q_proj', 'v_proj']) trains {want:,}: "
            "count_trainable is right, add_lora is not — see the other checks of task 2"
        )
    if got != want:
        modules = _lora_modules(learner, model)
        every = {id(p): p for p in model.parameters()}
        trainable = [p for p in model.parameters() if p.requires_grad]
        lora_a = [_lora_tensor(m, "lora_A", n) for n, m in modules.items()]
        lora_b = [_lora_tensor(m, "lora_B", n) for n, m in modules.items()]
        wrapped = sum(_base_of(m, n).weight.numel() for n, m in modules.items())
        known = {
            "every parameter of the model, frozen ones included (counting frozen parameters: "
            "count only those with requires_grad)": sum(p.numel() for p in every.values()),
            "every entry of the state dict, frozen ones and the tied lm_head included "
            "(counting frozen parameters)": sum(t.numel() for t in model.state_dict().values()),
            "the trainable numbers plus the frozen base weights of the wrapped layers "
            "(counting frozen parameters)": _trainable_numbers(model) + wrapped,
            "the number of trainable tensors, not of the numbers in them (use p.numel())": len(
                trainable
            ),
            "the lora_A matrices only": sum(t.numel() for t in lora_a),
            "the lora_B matrices only": sum(t.numel() for t in lora_b),
            "one decoder layer's adapters only": want // LAYERS,
        }
        label = next((k for k, v in known.items() if v == got and v != mine), None)
        prefix = f"{call} is {got:,}, which looks like {label}" if label else f"{call} is {got:,}"
        fail(
            f"{prefix}; peft's get_peft_model with LoraConfig(r={MODEL_R}, "
            f"lora_alpha={MODEL_ALPHA:g}, target_modules=['q_proj', 'v_proj']) trains {want:,} "
            f"numbers: {MODEL_R} · (576 + 576) per q_proj and {MODEL_R} · (576 + 192) per v_proj, "
            f"in {LAYERS} layers"
        )
    theirs = call_with_inputs("count_trainable(peft_model)", learner.count_trainable, peft_model)
    if theirs != want:
        fail(
            f"count_trainable(peft_model) is {theirs!r} for peft's own LoRA model, which trains "
            f"{want:,} numbers: count the parameters with requires_grad of any model "
            "(sum of p.numel()), not a formula of your own layers"
        )
    if mine != want:
        fail(f"the adapted model has {mine:,} trainable numbers; peft's has {want:,}")


def _seeded_adapters(learner: Any, model: nn.Module, seed: int) -> dict[str, tuple[Any, Any]]:
    """Give every adapter of the learner's model known, non-zero A and B; return them."""
    generator = torch.Generator().manual_seed(seed)
    values = {}
    for name, module in _lora_modules(learner, model).items():
        base = _base_of(module, name)
        A = torch.randn(MODEL_R, base.in_features, generator=generator) * 0.02
        B = torch.randn(base.out_features, MODEL_R, generator=generator) * 0.05
        _set_lora(module, A, B, name)
        values[name] = (A, B)
    return values


def _peft_logits(peft_model: nn.Module, values: dict[str, tuple[Any, Any]], scaling: float):
    """peft's logits with the given A and B in every adapter and the given scaling."""
    for name, (A, B) in values.items():
        module = peft_model.base_model.model.get_submodule(name)
        with torch.no_grad():
            module.lora_A["default"].weight.copy_(A)
            module.lora_B["default"].weight.copy_(B)
        module.scaling["default"] = scaling
    return _probe_logits(peft_model, "peft's model")


@pytest.mark.task(2)
def test_the_adapted_model_matches_peft_with_the_same_adapters(learner):
    model = _adapted(learner)
    _judge_wrapping(learner, model, MODEL_R)
    peft_model = _peft_model(MODEL_R, MODEL_ALPHA)
    try:
        values = _seeded_adapters(learner, model, seed=11)
        got = _probe_logits(model, "the adapted model(**batch)")
        want = _peft_logits(peft_model, values, MODEL_ALPHA / MODEL_R)

        def mistakes() -> dict[str, Any]:
            return {
                f"peft with the update scaled by alpha = {MODEL_ALPHA:g} instead of alpha/r": (
                    _peft_logits(peft_model, values, MODEL_ALPHA)
                ),
                "peft with the update added without scaling (alpha/r forgotten)": _peft_logits(
                    peft_model, values, 1.0
                ),
                "peft with the update scaled by r/alpha instead of alpha/r": _peft_logits(
                    peft_model, values, MODEL_R / MODEL_ALPHA
                ),
            }

        _assert_tensor(
            got,
            want,
            name=f"the logits of the adapted model (r={MODEL_R}, alpha={MODEL_ALPHA:g}, A and B "
            "set) compared with peft's with the same A and B",
            rtol=1e-4,
            atol=1e-4,
            mistakes=mistakes,
        )
    finally:
        with torch.no_grad():
            for module in _lora_modules(learner, model).values():
                with_b = getattr(module, "lora_B", None)
                tensor = with_b.weight if isinstance(with_b, nn.Module) else with_b
                if isinstance(tensor, torch.Tensor):
                    tensor.zero_()
        _peft_model.release()  # the last check of task 2: free both copies (540 MB each)
        _adapted.release()


# ----- task 3: merge and unmerge ----------------------------------------------------------------
def _merged_layer(learner: Any) -> tuple[nn.Module, nn.Linear, torch.Tensor, torch.Tensor]:
    base = _base_layer()
    layer = _make(learner, base)
    A, B = _known_lora()
    _set_lora(layer, A, B, "LoRALinear(...)")
    layer.eval()
    return layer, base, A, B


def _weight_mistakes(W0: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> dict[str, Any]:
    BA = B @ A
    return {
        "W + B @ A without the scaling alpha/r": W0 + BA,
        "W + alpha · B @ A (scaled by alpha instead of alpha/r)": W0 + ALPHA * BA,
        "W + (r/alpha) · B @ A (scaled by r/alpha instead of alpha/r)": W0 + (R / ALPHA) * BA,
        "W + (alpha // r) · B @ A (integer division: 10 // 3 is 3, alpha / r is 3.33)": W0
        + (ALPHA // R) * BA,
        "W − scaling · B @ A (the update subtracted)": W0 - SCALING * BA,
        "the merge applied twice (W + 2 · scaling · B @ A)": W0 + 2 * SCALING * BA,
        "the weight unchanged (nothing merged)": W0,
    }


@pytest.mark.task(3)
def test_merge_folds_the_update_into_the_weight(learner):
    layer, base, A, B = _merged_layer(learner)
    x = _input()
    W0 = base.weight.detach().clone()
    adapter = _forward(layer, x, "LoRALinear(...)(x)").detach()
    _learner_call("layer.merge()", layer.merge)
    _assert_tensor(
        base.weight.detach(),
        W0 + SCALING * (B @ A),
        name="base.weight after merge()",
        rtol=1e-5,
        atol=1e-5,
        mistakes=lambda: _weight_mistakes(W0, A, B),
    )
    if base.weight.requires_grad:
        fail("base.weight requires grad after merge(): it must stay frozen (merge under no_grad)")
    merged = _forward(layer, x, "LoRALinear(...)(x) after merge()")
    with torch.no_grad():
        twice = F.linear(x, base.weight, base.bias) + SCALING * (x @ A.T @ B.T)
    _assert_tensor(
        merged,
        adapter,
        name="LoRALinear(...)(x) after merge() compared with the adapter's output before",
        rtol=1e-5,
        atol=1e-5,
        mistakes={
            "the merged weight plus the LoRA path again (after merge() the forward must skip "
            "the LoRA path: the update is in the weight already)": twice,
        },
    )


@pytest.mark.task(3)
def test_merge_twice_changes_nothing(learner):
    layer, base, A, B = _merged_layer(learner)
    W0 = base.weight.detach().clone()
    _learner_call("layer.merge()", layer.merge)
    once = base.weight.detach().clone()
    try:
        layer.merge()
    except NotImplementedError:
        raise
    except (RuntimeError, ValueError):
        pass  # refusing a second merge is fine, as long as the weight stays merged once
    except Exception as exc:
        fail(f"a second layer.merge() raised {type(exc).__name__}: {exc}")
    if torch.allclose(base.weight, W0 + 2 * SCALING * (B @ A), rtol=1e-5, atol=1e-5):
        fail(
            "a second merge() added scaling · B @ A to the weight again: merge applied twice. "
            "Remember that the layer is merged (self.merged = True) and do nothing the second "
            "time (peft warns and skips)"
        )
    _assert_tensor(
        base.weight.detach(),
        once,
        name="base.weight after merge() twice compared with after merge() once",
        rtol=0.0,
        atol=1e-6,
    )


@pytest.mark.task(3)
def test_unmerge_restores_the_base_weight(learner):
    layer, base, A, B = _merged_layer(learner)
    x = _input()
    W0 = base.weight.detach().clone()
    adapter = _forward(layer, x, "LoRALinear(...)(x)").detach()
    _learner_call("layer.merge()", layer.merge)
    merged = base.weight.detach().clone()
    _learner_call("layer.unmerge()", layer.unmerge)
    BA = B @ A
    _assert_tensor(
        base.weight.detach(),
        W0,
        name="base.weight after merge() then unmerge() compared with the weight before",
        rtol=1e-5,
        atol=1e-5,
        mistakes={
            "the merged weight minus B @ A without the scaling (unmerge subtracting wrongly: "
            "take away exactly what merge added, scaling · B @ A)": merged - BA,
            "the merged weight with scaling · B @ A added again (unmerge subtracting wrongly: "
            "it added)": merged + SCALING * BA,
            "the merged weight unchanged (unmerge() did nothing)": merged,
            "the merged weight minus 2 · scaling · B @ A (unmerge subtracting wrongly: twice)": (
                merged - 2 * SCALING * BA
            ),
        },
    )
    after = _forward(layer, x, "LoRALinear(...)(x) after merge() then unmerge()")
    with torch.no_grad():
        plain = base(x)
    _assert_tensor(
        after,
        adapter,
        name="LoRALinear(...)(x) after merge() then unmerge() compared with before the merge",
        rtol=1e-5,
        atol=1e-5,
        mistakes={
            "the base layer alone: after unmerge() the LoRA path must be on again (reset "
            "self.merged to False)": plain,
        },
    )
    _learner_call("a second layer.unmerge()", layer.unmerge)
    _assert_tensor(
        base.weight.detach(),
        W0,
        name="base.weight after merge(), unmerge(), unmerge() (a second unmerge must do nothing)",
        rtol=1e-5,
        atol=1e-5,
        mistakes={
            "W − scaling · B @ A (unmerge subtracting wrongly: an unmerged layer's "
            "update was taken away)": W0 - SCALING * BA
        },
    )


@pytest.mark.task(3)
def test_merging_every_adapter_keeps_the_model_outputs(learner):
    model = _wrap(learner, MODEL_R, MODEL_ALPHA)
    modules = _judge_wrapping(learner, model, MODEL_R)
    values = _seeded_adapters(learner, model, seed=12)
    adapter = _probe_logits(model, "the adapted model(**batch)")
    for name, module in modules.items():
        _learner_call(f"{name}.merge()", module.merge)
    merged = _probe_logits(model, "the merged model(**batch)")
    _assert_tensor(
        merged,
        adapter,
        name="the logits after merge() of every adapter compared with the adapter's logits",
        rtol=1e-4,
        atol=1e-4,
    )
    reference = _reference_params()
    scaling = MODEL_ALPHA / MODEL_R
    name = "model.layers.0.self_attn.v_proj"
    A, B = values[name]
    _assert_tensor(
        _base_of(modules[name], name).weight.detach(),
        reference[f"{name}.weight"] + scaling * (B @ A),
        name=f"{name}.base.weight after merge()",
        rtol=1e-5,
        atol=1e-6,
    )
    for name, module in modules.items():
        _learner_call(f"{name}.unmerge()", module.unmerge)
    for name, module in modules.items():
        _assert_tensor(
            _base_of(module, name).weight.detach(),
            reference[f"{name}.weight"],
            name=f"{name}.base.weight after merge() then unmerge() compared with the packaged "
            "weight",
            rtol=0.0,
            atol=1e-6,
        )
    again = _probe_logits(model, "the unmerged model(**batch)")
    _assert_tensor(
        again,
        adapter,
        name="the logits after unmerge() compared with the adapter's logits before the merge",
        rtol=1e-4,
        atol=1e-4,
    )


# ----- task 4: a few steps of fine-tuning -------------------------------------------------------
def _text_loss(model: nn.Module) -> float:
    tokenizer, _model = smollm2()
    batch = tokenizer(TRAIN_TEXT, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        return float(model(**batch, labels=batch["input_ids"]).loss)


@_once
def _training(learner: Any) -> dict[str, Any]:
    model = _wrap(learner, TRAIN_R, TRAIN_ALPHA)
    modules = _judge_wrapping(learner, model, TRAIN_R)
    before = {
        f"{name}.{which}": _lora_tensor(m, which, name).detach().clone()
        for name, m in modules.items()
        for which in ("lora_A", "lora_B")
    }
    tokenizer = smollm2()[0]
    initial = _text_loss(smollm2()[1])
    seed_everything(0)
    call = f"train_lora(model, tokenizer, text, steps={STEPS}, lr={LR})"
    losses = call_with_inputs(
        call, learner.train_lora, model, _copy_tokenizer(tokenizer), TRAIN_TEXT, steps=STEPS, lr=LR
    )
    # which modules train_lora left in train mode: read before _text_loss calls model.eval()
    in_train_mode = [name for name, m in model.named_modules() if name and m.training]
    total_modules = sum(1 for name, _m in model.named_modules() if name)
    root_training = bool(model.training)
    final = _text_loss(model)
    return {
        "in_train_mode": in_train_mode,
        "root_training": root_training,
        "total_modules": total_modules,
        "call": call,
        "model": model,
        "modules": modules,
        "before": before,
        "initial": initial,
        "losses": losses,
        "final": final,
    }


def _copy_tokenizer(tokenizer: Any) -> Any:
    import copy

    return copy.deepcopy(tokenizer)


def _loss_history(run: dict[str, Any]) -> list[float]:
    call, losses = run["call"], run["losses"]
    if losses is None:
        fail(none_message(call, "the list of losses"))
    try:
        history = [float(v) for v in losses]
    except (TypeError, ValueError):
        fail(f"{call} should return a list of {STEPS} floats (one loss per step); got {losses!r}")
    if len(history) != STEPS:
        fail(f"{call} returned {len(history)} losses; expected {STEPS}, one per step")
    if any(math.isnan(v) or math.isinf(v) for v in history) or math.isnan(run["final"]):
        fail(f"the training diverged: losses {history}, loss after training {run['final']}")
    return history


def _first_loss_clue(history: list[float], initial: float) -> str:
    if abs(history[0] - initial) <= 0.02 * initial:
        return ""
    return (
        f" The first loss train_lora returned is {history[0]:.3f}, but the model's loss on the "
        f"text before any update is {initial:.3f}: return the loss of each step, computed before "
        "that step's update (loss.item()), with the model's own loss for labels = input_ids "
        "(it shifts them itself)"
    )


@pytest.mark.task(4)
def test_train_lora_lowers_the_loss(learner):
    run = _training(learner)
    history = _loss_history(run)
    call, initial, final = run["call"], run["initial"], run["final"]
    target = TARGET_SHARE * initial
    if final > target:
        changes = [
            float(
                (
                    _lora_tensor(
                        run["modules"][key.rsplit(".", 1)[0]], key.rsplit(".", 1)[1], key
                    ).detach()
                    - value
                )
                .abs()
                .max()
            )
            for key, value in run["before"].items()
        ]
        moved = max(changes) if changes else 0.0
        a_zero = all(
            torch.count_nonzero(value) == 0
            for key, value in run["before"].items()
            if key.endswith("lora_A")
        )
        if moved == 0.0:
            clue = f" No lora_A or lora_B changed during the {STEPS} steps" + (
                ": lora_A was all zeros at the start, like lora_B, so both gradients were "
                "zero (A initialised to zero too — only B starts at zero)"
                if a_zero
                else ": are they the parameters given to the optimizer, and does each step "
                "call backward() and optimizer.step()?"
            )
        else:
            clue = f" The LoRA matrices changed by up to {moved:.3g}."
        fail(
            f"the loss on the training text did not reach ≤ {target:.3f} ({TARGET_SHARE:.0%} of "
            f"the starting {initial:.3f}) within {STEPS} steps: it is {final:.3f} after "
            f"{call}, measured by the check in eval mode. Your losses: {_fmt_list(history)}."
            + clue
            + _first_loss_clue(history, initial)
        )
    clue = _first_loss_clue(history, initial)
    if clue:
        fail(clue.strip())


def _replay(before: dict[str, torch.Tensor], zero_grad: bool = True, sgd: bool = False):
    """The same steps with peft, from the learner's own initial A and B: what the losses of a
    plain AdamW loop are (or of a known wrong loop)."""
    from peft import LoraConfig, get_peft_model

    tokenizer = smollm2()[0]
    _tokenizer, model = fresh_smollm2()
    config = LoraConfig(
        r=TRAIN_R, lora_alpha=TRAIN_ALPHA, target_modules=list(TARGETS), lora_dropout=0.0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peft_model = get_peft_model(model, config)
    for key, value in before.items():
        name, which = key.rsplit(".", 1)
        module = peft_model.base_model.model.get_submodule(name)
        with torch.no_grad():
            getattr(module, which)["default"].weight.copy_(value)
    batch = tokenizer(TRAIN_TEXT, return_tensors="pt")
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=LR) if sgd else torch.optim.AdamW(params, lr=LR)
    peft_model.train()
    losses = []
    for _ in range(STEPS):
        loss = peft_model(**batch, labels=batch["input_ids"]).loss
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.task(4)
def test_train_lora_steps_match_peft_from_the_same_start(learner):
    run = _training(learner)
    history = _loss_history(run)
    seed_everything(0)
    want = _replay(run["before"])
    gaps = [abs(a - b) for a, b in zip(history, want, strict=True)]
    if all(g <= 0.02 + 0.01 * abs(b) for g, b in zip(gaps, want, strict=True)):
        return
    step = next(
        i for i, (g, b) in enumerate(zip(gaps, want, strict=True)) if g > 0.02 + 0.01 * abs(b)
    )
    known = {
        "gradients accumulated across steps (optimizer.zero_grad() missing: each backward() "
        "adds to the .grad of the step before)": lambda: _replay(run["before"], zero_grad=False),
        "plain SGD instead of AdamW": lambda: _replay(run["before"], sgd=True),
    }
    label = None
    for description, compute in known.items():
        wrong = compute()
        if all(abs(a - b) <= 0.02 + 0.01 * abs(b) for a, b in zip(history, wrong, strict=True)):
            label = description
            break
    prefix = f"your losses look like {label}. " if label else ""
    fail(
        f"{prefix}{run['call']} returned the losses {_fmt_list(history)}; the same {STEPS} "
        f"steps with peft from your initial A and B (AdamW, lr={LR}, the model's loss with "
        f"labels = input_ids, zero_grad → backward → step) give {_fmt_list(want)}: step {step} "
        f"differs by {gaps[step]:.3f}." + _first_loss_clue(history, run["initial"])
    )


@pytest.mark.task(4)
def test_train_lora_leaves_the_model_in_eval_mode(learner):
    run = _training(learner)
    _loss_history(run)
    left = run["in_train_mode"]
    if left or run["root_training"]:
        where = f"model.training is {run['root_training']}" + (
            f" and {len(left)} of its {run['total_modules']} submodules are in train mode "
            f"(e.g. {', '.join(left[:3])})"
            if left
            else ""
        )
        fail(
            f"after {run['call']} {where}: the model was left in train mode, so every "
            "dropout (the LoRA path's with lora_dropout > 0, and the model's own) would stay "
            "active in whatever evaluates it next. Call model.eval() at the end of train_lora"
        )


@pytest.mark.task(4)
def test_training_leaves_the_base_weights_unchanged(learner):
    run = _training(learner)
    model = run["model"]
    lora = _lora_ids(learner, model)
    reference = _reference_params()
    changed, compared = [], 0
    for name, parameter in model.named_parameters():
        if id(parameter) in lora:
            continue
        key = name.replace(".base.", ".")
        if key not in reference:
            continue
        compared += 1
        if not torch.equal(parameter.detach(), reference[key]):
            gap = float((parameter.detach() - reference[key]).abs().max())
            changed.append((name, gap, parameter.requires_grad))
    if changed:
        name, gap, _grad = changed[0]
        trainable = sum(1 for _n, _g, g in changed if g)
        cause = (
            f" {trainable} of them still require grad: base weights left trainable — freeze "
            "them, and give the optimizer only the parameters with requires_grad"
            if trainable
            else ""
        )
        fail(
            f"{len(changed)} base tensors changed during train_lora, e.g. {name} by up to "
            f"{gap:.3g}: LoRA trains lora_A and lora_B only, the pre-trained weights must stay "
            f"exactly as they were.{cause}"
        )
    if compared < len(reference):
        fail(
            f"only {compared} of the model's {len(reference)} base tensors were found after "
            "training under their usual names (with .base. inside the wrapped layers)"
        )
    moved = [
        key
        for key, value in run["before"].items()
        if key.endswith("lora_B")
        and not torch.equal(
            _lora_tensor(run["modules"][key.rsplit(".", 1)[0]], "lora_B", key).detach(), value
        )
    ]
    if not moved:
        fail(f"no lora_B changed during {run['call']}: the adapters did not train")
