"""Checks for p5-advanced-finetuning.

Every reference is the check's own: the optimizer's groups are read parameter by parameter and
compared with the rates the task asks for (and with what each known slip would give); which
parameters are trainable is read from ``requires_grad``; what the learner's training loops did is
recorded by a forward pre-hook on the check's model (training mode, the rows that went in, which
blocks were trainable at that moment); whether frozen weights stayed frozen is measured against a
copy taken before. The learning rate is read off the head's first AdamW step (which moves every
weight by about lr, whatever the loss's scale), stale gradients off the head weight's gradient
hooks, and the returned losses are recomputed from the logits the model gave. Early stopping is
judged on scripted scores and on the learner's own history, replayed by a reference stopper. The
data and the classifier come from the lab's ``reviews.py``
loaded from the lab folder (the learner's copy may be edited); the encoder is a copy of the
packaged MiniLM the check keeps to itself.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch._dynamo
import torch.nn.functional as F
from torch import nn

from aipath.checks import (
    call_with_inputs,
    fail,
    fmt,
    matching_mistake,
    minilm,
    none_message,
    once_per_run,
    seed_everything,
)

LAB_DIR = Path(__file__).resolve().parent


def _load_reviews() -> Any:
    name = "_p5_advft_reviews"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, LAB_DIR / "reviews.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


rv = _load_reviews()
N_LAYERS = rv.N_LAYERS


@functools.cache
def _splits() -> tuple[Any, Any, Any]:
    return rv.load_reviews(minilm()[0], n_train=160, n_val=80, n_test=80, max_length=24)


def splits() -> tuple[Any, Any, Any]:
    """(train, val, test), fresh copies (the learner may edit what it is given)."""
    return tuple(
        rv.Split(s.input_ids.clone(), s.attention_mask.clone(), s.labels.clone()) for s in _splits()
    )


@functools.cache
def _encoder() -> nn.Module:
    encoder = copy.deepcopy(minilm()[1])
    encoder.pooler = None  # the classifier mean-pools: the pooler would get no gradient
    return encoder.eval()


def classifier(seed: int = 0) -> Any:
    return rv.make_classifier(_encoder(), seed=seed)


# ----- blocks: the head, the six layers, the embeddings ------------------------------------------

BLOCKS = ["head"] + [f"layer {i}" for i in reversed(range(N_LAYERS))] + ["embeddings"]
DEPTH = {name: depth for depth, name in enumerate(BLOCKS)}  # head 0, layer 5: 1, …, embeddings 7


def block_of(name: str) -> str | None:
    if name.startswith("head."):
        return "head"
    if ".embeddings." in f".{name}":
        return "embeddings"
    parts = name.split(".")
    if "layer" in parts:
        at = parts.index("layer")
        if at + 1 < len(parts) and parts[at + 1].isdigit():
            return f"layer {parts[at + 1]}"
    return None


def blocks_of(model: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    out: dict[str, list[tuple[str, nn.Parameter]]] = {b: [] for b in BLOCKS}
    for name, p in model.named_parameters():
        block = block_of(name)
        if block is not None:
            out[block].append((name, p))
    return out


def trainable_pattern(model: nn.Module) -> tuple[str, ...]:
    """The blocks whose every parameter requires grad ('part of' when only some do)."""
    pattern = []
    for block, params in blocks_of(model).items():
        flags = {p.requires_grad for _, p in params}
        if flags == {True}:
            pattern.append(block)
        elif flags == {True, False}:
            pattern.append(f"part of {block}")
    return tuple(pattern)


def want_pattern(k: int) -> tuple[str, ...]:
    k = max(k, 0)
    layers = [f"layer {i}" for i in reversed(range(N_LAYERS - min(k, N_LAYERS), N_LAYERS))]
    return ("head", *layers, *(["embeddings"] if k > N_LAYERS else []))


def describe(pattern: tuple[str, ...]) -> str:
    return "[" + ", ".join(pattern) + "]" if pattern else "nothing"


def count(model: nn.Module, *, trainable: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def changed_blocks(model: nn.Module, before: dict[str, torch.Tensor]) -> dict[str, float]:
    """Block → the largest change of any of its parameters since ``before``."""
    out = {}
    for block, params in blocks_of(model).items():
        deltas = [
            float((p.detach() - before[name]).abs().max())
            for name, p in params
            if name in before and p.shape == before[name].shape
        ]
        out[block] = max(deltas) if deltas else 0.0
    return out


class Recorder:
    """Every call of the watched model: training mode, the input rows, the trainable blocks."""

    def __init__(self, model: nn.Module, watch: nn.Module | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.watch = watch or model
        self.handle = model.register_forward_pre_hook(self.hook, with_kwargs=True)

    def hook(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        head = getattr(getattr(self.watch, "head", None), "weight", None)
        self.calls.append(
            {
                "training": module.training,
                "ids": ids.detach().clone() if isinstance(ids, torch.Tensor) else None,
                "pattern": trainable_pattern(self.watch),
                "head": head.detach().clone() if isinstance(head, torch.Tensor) else None,
            }
        )

    def close(self) -> None:
        self.handle.remove()


def row_keys(split: Any) -> list[bytes]:
    return [row.numpy().tobytes() for row in split.input_ids]


def which_split(ids: torch.Tensor | None, named: dict[str, set[bytes]]) -> str:
    if ids is None:
        return "?"
    keys = {row.numpy().tobytes() for row in ids}
    for name, rows in named.items():
        if keys <= rows:
            return name
    return "?"


def first_step(calls: list[dict[str, Any]]) -> float | None:
    """How far the first optimizer step moved the head: max |w| change between training calls 0 and 1."""
    train_calls = [c for c in calls if c["training"]]
    if len(train_calls) < 2 or train_calls[0]["head"] is None or train_calls[1]["head"] is None:
        return None
    before, after = train_calls[0]["head"], train_calls[1]["head"]
    if before.shape != after.shape:
        return None
    return float((after - before).abs().max())


def lr_cause(moved: float | None, lr: float, others: dict[str, float]) -> str | None:
    """None when the head's first step is AdamW's at ``lr``; else what it measured and, when it
    matches one of ``others`` (label → rate) too, that rate's name.

    AdamW's first step moves every weight with a gradient by lr * g / (|g| + eps) ≈ lr (plus
    lr * weight_decay * |w|, under 0.1 % here), whatever the scale of the loss."""
    if moved is None or 0.9 * lr <= moved <= 1.1 * lr:
        return None
    near = next((name for name, o in others.items() if 0.9 * o <= moved <= 1.1 * o), None)
    return (
        f"its first optimizer step moved the head's weights by up to {fmt(moved)}; one AdamW "
        f"step at lr={fmt(lr)} moves each by about lr" + (f". It looks like {near}" if near else "")
    )


def batch_cause(
    got: list[torch.Tensor | None], split: Any, batch_size: int, seed: int, *, period: int = 0
) -> str:
    """The cause (': …') when a known slip explains every batch the learner drew, else ''."""

    def equal(want: list[Any]) -> bool:
        return len(got) == len(want) and all(
            g is not None and g.shape == w.input_ids.shape and torch.equal(g, w.input_ids)
            for g, w in zip(got, want, strict=True)
        )

    if seed != 0 and equal(list(rv.batches(split, batch_size, len(got), 0))):
        return f": they are the batches of seed 0, not of seed={seed}: the seed argument is not passed on"
    if period and len(got) > period:
        stream = list(rv.batches(split, batch_size, period, seed))
        if equal([stream[i % period] for i in range(len(got))]):
            return (
                f": every {period} steps the batches start over from the first one (a fresh "
                "batches(...), or fine_tune(...), for each stretch between evaluations, which "
                "also restarts AdamW); draw every step from one batches(train, batch_size, "
                "max_steps, seed) and keep one optimizer"
            )
    return ""


def same_batches(got: list[torch.Tensor | None], split: Any, batch_size: int, seed: int) -> int:
    """The first training call whose rows differ from reviews.batches(...), or -1."""
    for i, (ids, want) in enumerate(
        zip(got, rv.batches(split, batch_size, len(got), seed), strict=True)
    ):
        if ids is None or ids.shape != want.input_ids.shape or not torch.equal(ids, want.input_ids):
            return i
    return -1


# ----- task 1: layer-wise learning-rate decay ----------------------------------------------------


def lr_table(base: float, decay: float, depths: dict[str, int]) -> list[float]:
    return [base * decay ** depths[b] for b in BLOCKS]


def llrd_mistakes(base: float, decay: float) -> dict[str, list[float]]:
    top = len(BLOCKS) - 1
    reversed_all = {b: top - d for b, d in DEPTH.items()}
    layers_up = dict(DEPTH) | {f"layer {i}": i + 1 for i in range(N_LAYERS)}
    return {
        "decay applied bottom-up (reversed): the embeddings at base_lr and the head at the "
        "smallest rate; the depth counts from the top, where the head is": lr_table(
            base, decay, reversed_all
        ),
        "the layers numbered bottom-up: layer 0 decayed least and layer 5 most; layer i "
        "is at depth 6 - i (layer 5, the top, at depth 1)": lr_table(base, decay, layers_up),
        "the head in the decayed groups (at layer 5's rate, base_lr * decay); the head is new, "
        "it learns at base_lr": lr_table(base, decay, DEPTH | {"head": 1}),
        "every depth one too large (decay ** (depth + 1)): the head's depth is 0": lr_table(
            base, decay, {b: d + 1 for b, d in DEPTH.items()}
        ),
        "the embeddings at layer 0's rate (depth 6); they sit below layer 0, at depth 7": (
            lr_table(base, decay, DEPTH | {"embeddings": N_LAYERS})
        ),
        "no decay at all: every group at base_lr": lr_table(base, 1.0, DEPTH),
        "a rate that falls linearly, base_lr * decay * depth, not geometrically": [
            base * decay * d if d else base for d in DEPTH.values()
        ],
    }


def read_groups(optimizer: Any, model: nn.Module, label: str) -> dict[str, float]:
    """Parameter name → its group's lr; fails on a parameter missing, doubled or foreign."""
    if optimizer is None:
        fail(none_message(label, "the optimizer"))
    if not isinstance(optimizer, torch.optim.AdamW):
        fail(f"{label} should return a torch.optim.AdamW; got {type(optimizer).__name__}")
    names = {id(p): n for n, p in model.named_parameters()}
    seen: dict[str, list[int]] = {}
    for gi, group in enumerate(optimizer.param_groups):
        for p in group["params"]:
            if id(p) not in names:
                fail(
                    f"group {gi} of {label} holds a tensor of shape {tuple(p.shape)} that is not "
                    "a parameter of the model it was given (a copy?): pass the model's own "
                    "parameters"
                )
            seen.setdefault(names[id(p)], []).append(gi)
    doubled = [n for n, groups in seen.items() if len(groups) > 1]
    if doubled:
        fail(
            f"{label}: {len(doubled)} parameters are in more than one group, e.g. {doubled[0]} "
            f"in groups {seen[doubled[0]]}; every parameter must be in exactly one group (a "
            "catch-all group of model.parameters() repeats the ones already grouped)"
        )
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad and n in seen]
    if frozen:
        fail(
            f"{label}: {len(frozen)} frozen parameters (requires_grad=False) are in the "
            f"optimizer, e.g. {frozen[0]} ({block_of(frozen[0])}); the groups hold the "
            "trainable parameters only"
        )
    missing = [n for n, p in model.named_parameters() if p.requires_grad and n not in seen]
    if missing:
        where = sorted({block_of(n) or n for n in missing}, key=lambda b: DEPTH.get(b, 99))
        fail(
            f"{label}: {len(missing)} trainable parameters are in no group, e.g. {missing[0]} "
            f"(missing from: {', '.join(where)}); every trainable parameter must be in exactly "
            "one group, or the optimizer never updates it"
        )
    lrs = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            lrs[names[id(p)]] = float(group["lr"])
    return lrs


@pytest.mark.task(1)
def test_llrd_optimizer_groups(learner):
    base, decay, wd = 2e-4, 0.8, 0.05
    model = classifier()
    label = f"llrd_optimizer(model, base_lr={base}, decay={decay}, weight_decay={wd})"
    optimizer = call_with_inputs(
        label, learner.llrd_optimizer, model, base_lr=base, decay=decay, weight_decay=wd
    )
    lrs = read_groups(optimizer, model, label)
    per_block: dict[str, set[float]] = {}
    for name, lr in lrs.items():
        per_block.setdefault(block_of(name) or name, set()).add(lr)
    for block, values in per_block.items():
        if len(values) > 1:
            fail(
                f"{label}: the parameters of {block} are at {len(values)} different rates "
                f"({', '.join(fmt(v) for v in sorted(values))}); one block, one rate"
            )
    group_of = {id(p): gi for gi, g in enumerate(optimizer.param_groups) for p in g["params"]}
    for block, params in blocks_of(model).items():
        groups = sorted({group_of[id(p)] for _, p in params})
        decays = {float(optimizer.param_groups[gi]["weight_decay"]) for gi in groups}
        # one group per block; a second one at weight_decay 0.0 (its biases, LayerNorm) is fine
        if len(groups) > 2 or (len(groups) == 2 and len(decays) < 2):
            fail(
                f"{label}: the {len(params)} parameters of {block} are spread over "
                f"{len(groups)} groups ({', '.join(map(str, groups[:4]))}"
                + (", …" if len(groups) > 4 else "")
                + "); expected one group per block, {'params': [all of its trainable "
                "parameters], 'lr': its rate} (a second one with weight_decay 0.0 for its "
                "biases and LayerNorm weights is fine)"
            )
    got = [next(iter(per_block[b])) for b in BLOCKS]
    want = lr_table(base, decay, DEPTH)
    close = [math.isclose(g, w, rel_tol=1e-6) for g, w in zip(got, want, strict=True)]
    if not all(close):
        first = close.index(False)
        table = {k: v for k, v in llrd_mistakes(base, decay).items() if v != want}
        known = next(
            (
                k
                for k, v in table.items()
                if all(math.isclose(g, w, rel_tol=1e-6) for g, w in zip(got, v, strict=True))
            ),
            None,
        )
        listing = ", ".join(f"{b} {g:.3g}" for b, g in zip(BLOCKS, got, strict=True))
        fail(
            f"{label}: {BLOCKS[first]} is at lr {fmt(got[first])}; expected "
            f"{fmt(want[first])} = base_lr * decay ** {DEPTH[BLOCKS[first]]}"
            + (f". It looks like {known}" if known else "")
            + f" (your rates: {listing})"
        )
    for gi, group in enumerate(optimizer.param_groups):
        one_dim = all(p.dim() == 1 for p in group["params"])
        if not math.isclose(group["weight_decay"], wd) and not (
            one_dim and group["weight_decay"] == 0.0
        ):
            fail(
                f"{label}: group {gi} has weight_decay {fmt(group['weight_decay'])}; expected "
                f"{wd}, the weight_decay argument (0.0 is fine for a group of biases and "
                "LayerNorm weights only)"
                + (" — AdamW's default is 0.01" if group["weight_decay"] == 0.01 else "")
            )


@pytest.mark.task(1)
def test_llrd_optimizer_skips_frozen(learner):
    model = classifier()
    model.encoder.embeddings.requires_grad_(False)
    model.encoder.encoder.layer[0].requires_grad_(False)
    label = "llrd_optimizer(model, base_lr=0.001, decay=0.5) with the embeddings and layer 0 frozen"
    optimizer = call_with_inputs(label, learner.llrd_optimizer, model, base_lr=1e-3, decay=0.5)
    lrs = read_groups(optimizer, model, label)
    for name, lr in lrs.items():
        want = 1e-3 * 0.5 ** DEPTH[block_of(name) or "head"]
        if not math.isclose(lr, want, rel_tol=1e-6):
            fail(
                f"{label}: {name} is at lr {fmt(lr)}; expected {fmt(want)}: freezing a block "
                "must not shift the depths of the others"
            )


# ----- task 2: gradual unfreezing ----------------------------------------------------------------


# the pattern test_unfreeze_top sets before every call: all but the head and layer 2 trainable
ODD_START = tuple(b for b in BLOCKS if b not in {"head", "layer 2"})


def unfreeze_mistakes(k: int) -> dict[str, tuple[str, ...] | None]:
    layers = lambda ids: [f"layer {i}" for i in ids]  # noqa: E731
    top = list(reversed(range(N_LAYERS)))
    kept = set(ODD_START) | set(want_pattern(k))
    return {
        "bottom layers unfrozen first (layer 0 at k=1); the top layers, next to the head, "
        "come first": (
            "head",
            *layers(range(min(k, N_LAYERS))),
            *(["embeddings"] if k > N_LAYERS else []),
        ),
        "the head left frozen; it is trainable at every stage": want_pattern(k)[1:],
        "the embeddings unfrozen together with layer 0 (at k=6); they come one stage later, "
        "at k=7": (*want_pattern(k), "embeddings") if k == N_LAYERS else None,
        "one layer too many (k + 1 top layers)": want_pattern(k + 1),
        # past the layers, k - 1 differs from k by the embeddings only: named below instead
        "one layer too few (k - 1 top layers)": want_pattern(k - 1) if k <= N_LAYERS else None,
        "the embeddings never unfrozen (k=7 unfreezes everything)": want_pattern(k)[: N_LAYERS + 1]
        if k > N_LAYERS
        else None,
        "only the k-th layer from the top unfrozen, not the k top layers": (
            "head",
            *layers(top[k - 1 : k]),
        )
        if 1 < k <= N_LAYERS
        else None,
        # at k = 0 the odd start shows through; from k = 3 on it covers every block, and
        # "left trainable" could no longer be told from the other slips
        "the blocks that were trainable before the call left trainable: unfreeze_top only "
        "switched blocks on. Freeze everything first (model.requires_grad_(False)), then "
        "unfreeze the head and the top k layers": tuple(b for b in BLOCKS if b in kept)
        if k == 0
        else None,
    }


UNFREEZE_KS = (0, 1, 3, 6, 7, 9)


@pytest.mark.task(2)
def test_unfreeze_top(learner):
    model = classifier()
    got: dict[int, tuple[str, ...]] = {}
    for k in UNFREEZE_KS:
        # start from an odd pattern: the function must set every block, not only add some
        model.requires_grad_(True)
        model.head.requires_grad_(False)
        model.encoder.encoder.layer[2].requires_grad_(False)
        label = f"unfreeze_top(model, {k})"
        call_with_inputs(label, learner.unfreeze_top, model, k)
        set_attribute = [
            name or "model" for name, m in model.named_modules() if "requires_grad" in vars(m)
        ]
        if set_attribute:
            fail(
                f"{label} set an attribute `requires_grad` on the module {set_attribute[0]}: on a "
                "module that is a plain Python attribute and freezes nothing. Use "
                "module.requires_grad_(False) (with the underscore), or set p.requires_grad on "
                "each of its parameters"
            )
        got[k] = trainable_pattern(model)
        if any(p.requires_grad for n, p in model.named_parameters() if block_of(n) is None):
            fail(f"after {label} a parameter outside the blocks is trainable")
    right = {k for k in UNFREEZE_KS if got[k] == want_pattern(k)}
    for k in UNFREEZE_KS:
        want = want_pattern(k)
        if got[k] == want:
            continue
        known = matching_mistake(got[k], unfreeze_mistakes(k), exact=True)
        if k == 0 and got[k] == want_pattern(N_LAYERS) and right >= {1, 3, 6}:
            known = (
                "the slice layers[-k:]: right for k = 1 … 6, but with k = 0 it is layers[-0:] "
                "= layers[0:], every layer. Slice layers[len(layers) - k:] (or skip k = 0)"
            )
        if k == N_LAYERS + 1 and got[k] == want[:-1] and 9 in right:
            known = (
                "the embeddings left frozen at k = 7 yet unfrozen at k = 9: their test is off "
                "by one; they join at k >= 7, i.e. k > len(layers)"
            )
        fail(
            f"after unfreeze_top(model, {k}) the trainable blocks are {describe(got[k])}; "
            f"expected {describe(want)} (the head, then the {min(k, N_LAYERS)} top layers"
            + (", then the embeddings" if k > N_LAYERS else "")
            + ")"
            + (f". It looks like {known}" if known else "")
        )


@once_per_run
def gradual_run(learner) -> dict[str, Any]:
    seed_everything(0)
    train = splits()[0]
    model = classifier()
    before = snapshot(model)
    steps, stage_steps, batch_size, lr, seed = 6, 2, 4, 3e-3, 3  # lr: not AdamW's default
    label = (
        f"fine_tune(model, train, steps={steps}, batch_size={batch_size}, lr={lr}, "
        f"seed={seed}, stage_steps={stage_steps})"
    )
    recorder = Recorder(model)
    outputs: list[torch.Tensor | None] = []
    fresh: list[torch.Tensor] = []  # the head weight's gradient of each backward pass
    stored: list[torch.Tensor] = []  # its .grad once that backward pass accumulated it
    weight = model.head.weight
    handles = [
        model.register_forward_hook(
            lambda m, a, out: (
                outputs.append(out.detach().clone() if isinstance(out, torch.Tensor) else None)
                if m.training
                else None
            )
        ),
        weight.register_hook(lambda g: fresh.append(g.detach().clone())),
        weight.register_post_accumulate_grad_hook(lambda w: stored.append(w.grad.detach().clone())),
    ]
    try:
        losses = call_with_inputs(
            label,
            learner.fine_tune,
            model,
            train,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            stage_steps=stage_steps,
        )
    finally:
        recorder.close()
        for handle in handles:
            handle.remove()
    return {
        "label": label,
        "losses": losses,
        "outputs": outputs,
        "grads": list(zip(fresh, stored, strict=False)),
        "lr": lr,
        "calls": recorder.calls,
        "changes": changed_blocks(model, before),
        "steps": steps,
        "stage_steps": stage_steps,
        "batch_size": batch_size,
        "seed": seed,
        "train": train,
    }


def training_calls(calls: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    return [c for c in calls if c["training"]]


@pytest.mark.task(2)
def test_fine_tune_unfreezes_on_schedule(learner):
    run, error = gradual_run(learner)
    if error is not None:
        raise error
    label, steps, stage_steps = run["label"], run["steps"], run["stage_steps"]
    losses = run["losses"]
    if losses is None:
        fail(none_message(label, "the list of the losses of every step"))
    if not isinstance(losses, list | tuple) or len(losses) != steps:
        fail(f"{label} should return a list of {steps} losses, one per step")
    if any(isinstance(v, torch.Tensor) for v in losses):
        fail(f"{label} returned tensor losses; return Python floats (loss.item())")
    calls = run["calls"]
    train_calls = training_calls(calls, label)
    if len(train_calls) != steps:
        eval_only = len(calls) - len(train_calls)
        fail(
            f"{label} ran the model {len(train_calls)} times in training mode (and {eval_only} "
            f"in evaluation mode); expected one training forward per step, {steps}"
            + (": call model.train() before training" if not train_calls else "")
        )
    got_ids = [c["ids"] for c in train_calls]
    first = same_batches(got_ids, run["train"], run["batch_size"], run["seed"])
    if first >= 0:
        fail(
            f"the batch of step {first} of {label} differs from reviews.batches(train, "
            f"batch_size, steps, seed)'s"
            + (
                batch_cause(got_ids, run["train"], run["batch_size"], run["seed"])
                or ": draw every batch from it, so that every method sees the same examples"
            )
        )
    for step, call in enumerate(train_calls):
        want = want_pattern(step // stage_steps)
        if call["pattern"] != want:
            variants = {
                "a stage one step early: stage = (step + 1) // stage_steps": want_pattern(
                    (step + 1) // stage_steps
                ),
                "a stage too far: stage = step // stage_steps + 1": want_pattern(
                    step // stage_steps + 1
                ),
                "the stage_steps argument ignored (one stage per step)": want_pattern(step),
                "unfreeze_top never called: nothing frozen": tuple(BLOCKS),
            }
            known = matching_mistake(call["pattern"], variants, exact=True)
            fail(
                f"at step {step} of {label} the trainable blocks were {describe(call['pattern'])}; "
                f"expected {describe(want)}, stage {step // stage_steps} = step // stage_steps, "
                "set before the step's forward pass" + (f". It looks like {known}" if known else "")
            )


@pytest.mark.task(2)
def test_fine_tune_steps(learner):
    """Each step: AdamW at lr (the head's first move), fresh gradients, the mean cross-entropy."""
    run, error = gradual_run(learner)
    if error is not None:
        raise error
    label, lr = run["label"], run["lr"]
    train_calls = training_calls(run["calls"], label)
    if len(train_calls) != run["steps"]:
        return  # test_fine_tune_unfreezes_on_schedule says why
    cause = lr_cause(
        first_step(run["calls"]),
        lr,
        {f"the lr argument ignored: AdamW's default lr is {fmt(1e-3)}": 1e-3},
    )
    if cause:
        fail(f"{label}: {cause}; build the optimizer as torch.optim.AdamW(..., lr=lr)")
    for step, (fresh, stored) in enumerate(run["grads"]):
        if fresh.shape == stored.shape and not torch.allclose(stored, fresh, rtol=1e-4, atol=1e-7):
            fail(
                f"in backward pass {step} of {label} the head's .grad became "
                f"{float(stored.abs().max()):.3g} at most while that pass's own gradient is "
                f"{float(fresh.abs().max()):.3g} at most: backward() adds to the .grad left "
                "by the earlier steps. Clear the gradients every step (optimizer.zero_grad())"
            )
    batches = list(rv.batches(run["train"], run["batch_size"], run["steps"], run["seed"]))
    losses, outputs = run["losses"], run["outputs"]
    if len(outputs) != len(batches) or any(o is None for o in outputs):
        return
    for step, (out, batch) in enumerate(zip(outputs, batches, strict=True)):
        want = float(F.cross_entropy(out, batch.labels))
        value = float(losses[step])
        if not math.isclose(value, want, rel_tol=1e-4, abs_tol=1e-6):
            known = matching_mistake(
                value,
                {
                    f"reduction='sum': the sum over the batch of {run['batch_size']}, not the "
                    "mean (F.cross_entropy's default reduction)": want * run["batch_size"],
                },
                rtol=1e-4,
            )
            fail(
                f"{label} returned {fmt(value)} as the loss of step {step}; the cross-entropy "
                f"of the logits your model gave for that batch is {fmt(want)} (the batch "
                "mean, measured by the check)" + (f". It looks like {known}" if known else "")
            )


@pytest.mark.task(2)
def test_fine_tune_frozen_stay_frozen(learner):
    run, error = gradual_run(learner)
    if error is not None:
        raise error
    label, steps, stage_steps = run["label"], run["steps"], run["stage_steps"]
    last_stage = (steps - 1) // stage_steps
    ever = set(want_pattern(last_stage))
    for block in BLOCKS:
        change = run["changes"][block]
        if block not in ever and change > 0:
            fail(
                f"{block} changed by up to {change:.3g} during {label} though it was frozen at "
                "every step: a parameter without a gradient (grad None) is skipped by the "
                "optimizer; look for gradients kept as zeros (zero_grad(set_to_none=False), "
                "p.grad.zero_()) or a freeze that is not requires_grad, which leave weight decay "
                "and momentum free to move it"
            )
    for block in want_pattern(last_stage):
        if run["changes"][block] == 0:
            since = next(s for s in range(steps) if block in want_pattern(s // stage_steps))
            fail(
                f"{block} was trainable from step {since} of {label} on but never changed: the "
                "optimizer did not update it. An optimizer built at the start over "
                "[p for p in model.parameters() if p.requires_grad] never holds the layers "
                "unfrozen later: give it every parameter (AdamW skips those with no gradient), "
                "or add each stage's parameters with optimizer.add_param_group"
            )


# ----- task 3: early stopping --------------------------------------------------------------------


def ref_stopping(
    scores: list[float], patience: int, min_delta: float, *, slip: str = ""
) -> tuple[int | None, int]:
    """(the update that returns True or None, the best index) as the task defines them."""
    best, best_i, bad = None, 0, 0
    for i, s in enumerate(scores):
        better = (
            best is None
            or (s >= best + min_delta if slip == ">=" else False)
            or (s > best if slip == "no_delta" else False)
            or (s > best - min_delta if slip == "minus" else False)
            or (slip not in {">=", "no_delta", "minus"} and s > best + min_delta)
        )
        if better:
            best, best_i = s, i
            bad = bad if slip == "no_reset" else 0
        else:
            if slip == "creep" and best is not None and s > best:
                best, best_i = s, i  # a gain within min_delta still raises the bar
            bad += 1
        limit = {"plus1": patience + 1, "minus1": patience - 1}.get(slip, patience)
        if bad >= limit:
            return i, best_i
    return None, best_i


STOP_SLIPS = {
    "plus1": "patience off by one: it stops after patience + 1 evaluations without improvement",
    "minus1": "patience off by one: it stops after patience - 1 evaluations without improvement",
    "no_delta": "min_delta ignored: any gain counts as an improvement; it must beat the best by "
    "more than min_delta",
    ">=": "a tie counts as an improvement (>= instead of >): the score must beat best + min_delta",
    "minus": "min_delta with the wrong sign (score > best - min_delta)",
    "creep": "a gain of min_delta or less still replaced best_score (and the weights kept), "
    "so each small gain raised the bar the next score had to beat; only a score above "
    "best_score + min_delta may become the best",
    "no_reset": "the count of evaluations without improvement never reset by an improvement: "
    "it counts them in total, not in a row (set it back to 0 when the score improves)",
}

SCRIPTS = [
    ([0.5, 0.6, 0.55, 0.58, 0.61, 0.6, 0.59, 0.7], 2, 0.0),
    ([0.5, 0.6, 0.55, 0.58, 0.61, 0.6, 0.59, 0.7], 3, 0.0),
    ([0.6, 0.605, 0.608, 0.615, 0.62, 0.612, 0.618], 3, 0.01),
    ([0.7, 0.7, 0.7, 0.7], 2, 0.0),
    ([0.3, 0.4, 0.2, 0.25], 1, 0.0),
]


def run_script(learner, scores, patience, min_delta, *, in_place: bool = True) -> dict[str, Any]:
    model = nn.Linear(1, 1, bias=False)
    label = f"EarlyStopping(patience={patience}, min_delta={min_delta})"
    stopper = call_with_inputs(label, learner.EarlyStopping, patience, min_delta=min_delta)
    stopped = None
    for i, score in enumerate(scores):
        with torch.no_grad():  # the "training" between evaluations: weight i at evaluation i
            if in_place:
                model.weight.fill_(float(i))
            else:
                model.weight.data = torch.full_like(model.weight, float(i))
        answer = call_with_inputs(f"{label}.update({score}, model)", stopper.update, score, model)
        if not isinstance(answer, bool | int) or answer is None:
            fail(f"{label}.update(...) should return True (stop) or False; got {answer!r}")
        if answer:
            stopped = i
            break
    call_with_inputs(f"{label}.restore(model)", stopper.restore, model)
    return {
        "label": label,
        "stopped": stopped,
        "weight": float(model.weight.detach()[0, 0]),
        "best_score": getattr(stopper, "best_score", None),
        "best_index": getattr(stopper, "best_index", None),
        "last": i,
    }


@pytest.mark.task(3)
def test_early_stopping_scripted(learner):
    runs = [run_script(learner, *script) for script in SCRIPTS]
    # A slip is named only when it explains the learner's stops on every script: on one
    # script alone "min_delta ignored" and "patience + 1" can stop at the same update.
    consistent = {
        slip
        for slip in STOP_SLIPS
        if all(
            ref_stopping(scores, patience, min_delta, slip=slip)[0] == got["stopped"]
            for (scores, patience, min_delta), got in zip(SCRIPTS, runs, strict=True)
        )
    }
    for (scores, patience, min_delta), got in zip(SCRIPTS, runs, strict=True):
        label, shown = got["label"], f"scores {scores}"
        want_stop, want_best = ref_stopping(scores, patience, min_delta)
        if got["stopped"] != want_stop:
            known = next(
                (text for slip, text in STOP_SLIPS.items() if slip in consistent),
                None,
            )
            when = lambda s: "never stopped" if s is None else f"stopped at update {s}"  # noqa: E731
            fail(
                f"{label} on {shown} {when(got['stopped'])} (counting from 0); expected it "
                f"{when(want_stop)}" + (f". It looks like {known}" if known else "")
            )
        if got["best_index"] != want_best:
            from_one = isinstance(got["best_index"], int) and got["best_index"] == want_best + 1
            fail(
                f"{label} on {shown}: best_index is {got['best_index']!r}; expected {want_best}, "
                f"the update whose score {scores[want_best]} last beat the best by more than "
                "min_delta"
                + (
                    " — one more: the updates count from 0 (the first update is 0), not from 1"
                    if from_one
                    else ""
                )
            )
        if got["best_score"] is None or not math.isclose(
            float(got["best_score"]), scores[want_best]
        ):
            fail(
                f"{label} on {shown}: best_score is {got['best_score']!r}; expected {scores[want_best]}"
            )
        if got["weight"] != float(want_best):
            aside = run_script(learner, scores, patience, min_delta, in_place=False)
            if got["weight"] == float(got["last"]) and aside["weight"] == float(want_best):
                cause = (
                    ": the saved state shares its tensors with the model. model.state_dict() "
                    "returns the live weights, which every optimizer step changes in place; "
                    "save copy.deepcopy(model.state_dict()) (with the weights replaced rather "
                    "than changed in place, your restore does bring the best back)"
                )
            elif got["weight"] == float(got["last"]):
                cause = ": the last weights were kept, restore brought nothing back"
            else:
                cause = ""
            fail(
                f"after {label}.restore(model) on {shown} the model holds the weights of update "
                f"{fmt(got['weight'])}; expected those of the best, update {want_best}{cause}"
            )


class BagModel(nn.Module):
    """A small bag-of-embeddings classifier: (B, T) ids → (B, 2), quick to train and overfit."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(30522, 16)
        self.head = nn.Linear(16, 2)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.unsqueeze(-1).float()
        return self.head((self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1))


ES = {
    "max_steps": 120,
    "eval_every": 4,
    "patience": 3,
    "min_delta": 0.01,
    "batch_size": 16,
    "lr": 0.01,
    "seed": 0,
}


@once_per_run
def early_run(learner) -> dict[str, Any]:
    seed_everything(0)
    train, val, test = splits()
    model = BagModel()
    label = (
        "train_early_stopping(model, train, val, test, "
        + ", ".join(f"{k}={v}" for k, v in ES.items())
        + ")"
    )
    recorder = Recorder(model)
    try:
        result = call_with_inputs(
            label, learner.train_early_stopping, model, train, val, test, **ES
        )
    finally:
        recorder.close()
    return {"label": label, "result": result, "calls": recorder.calls, "model": model}


@pytest.mark.task(3)
def test_train_early_stopping(learner):
    run, error = early_run(learner)
    if error is not None:
        raise error
    label, result, model = run["label"], run["result"], run["model"]
    train, val, test = splits()
    if result is None:
        fail(none_message(label, "the result dict"))
    if not isinstance(result, dict):
        fail(f"{label} should return a dict; got {type(result).__name__}")
    keys = {"history", "best_index", "steps", "val_accuracy", "test_accuracy"}
    if keys - set(result):
        fail(f"{label} returned a dict without {sorted(keys - set(result))}")
    history = [float(v) for v in result["history"]]
    named = {"train": set(row_keys(train)), "val": set(row_keys(val)), "test": set(row_keys(test))}
    calls = [(which_split(c["ids"], named), c) for c in run["calls"]]
    train_steps = [i for i, (s, c) in enumerate(calls) if c["training"]]
    if any(s != "train" for s, c in calls if c["training"]):
        fail(f"{label} trained on rows that are not the training split")
    test_calls = [i for i, (s, c) in enumerate(calls) if s == "test"]
    if test_calls and train_steps and test_calls[0] < train_steps[-1]:
        before = sum(1 for i in test_calls if i < train_steps[-1])
        fail(
            f"{label} ran the model on the test split {before} times during training: the test "
            "split must play no part in choosing when to stop or which weights to keep; select "
            "on val, and measure test once, at the end"
        )
    test_rows = sum(len(calls[i][1]["ids"]) for i in test_calls)
    if test_rows != len(test):
        fail(
            f"{label} ran {test_rows} test reviews through the model; expected the {len(test)} test reviews once, at the end"
        )
    wrong_mode = [i for i, (s, c) in enumerate(calls) if s == "train" and not c["training"]]
    if wrong_mode:
        fail(
            f"{label} ran {len(wrong_mode)} training steps in evaluation mode: accuracy() "
            "leaves the model in eval mode, so call model.train() before each training step"
        )
    steps = len(train_steps)
    if result["steps"] != steps:
        fail(f"result['steps'] is {result['steps']!r}; the model took {steps} training steps")
    got_ids = [c["ids"] for _, c in calls if c["training"]]
    first = same_batches(got_ids, train, ES["batch_size"], ES["seed"])
    if first >= 0:
        fail(
            f"the batch of step {first} of {label} differs from reviews.batches(train, "
            "batch_size, max_steps, seed)'s"
            + batch_cause(got_ids, train, ES["batch_size"], ES["seed"], period=ES["eval_every"])
        )
    cause = lr_cause(
        first_step(run["calls"]),
        ES["lr"],
        {f"the lr argument ignored: AdamW's default lr is {fmt(1e-3)}": 1e-3},
    )
    if cause:
        fail(f"{label}: {cause}; build the optimizer as torch.optim.AdamW(..., lr=lr)")
    # the evaluations: runs of validation calls, each after eval_every training steps
    evals, rows, done = [], 0, 0
    for s, c in calls:
        if c["training"]:
            done += 1
        elif s == "val":
            rows += len(c["ids"])
            if rows >= len(val):
                evals.append(done)
                rows = 0
    want_at = [ES["eval_every"] * (i + 1) for i in range(len(evals))]
    if evals != want_at:
        fail(
            f"{label} evaluated on validation after training steps {evals[:8]}; expected after "
            f"every {ES['eval_every']} steps: {want_at[:8]}"
        )
    if len(history) != len(evals):
        fail(
            f"result['history'] has {len(history)} scores; the model was evaluated on val {len(evals)} times"
        )
    want_stop, best = ref_stopping(history, ES["patience"], ES["min_delta"])
    if (want_stop is None and steps != ES["max_steps"]) or (
        want_stop is not None and len(history) != want_stop + 1
    ):
        known = next(
            (
                text
                for slip, text in STOP_SLIPS.items()
                if (stop := ref_stopping(history, ES["patience"], ES["min_delta"], slip=slip)[0])
                is not None
                and stop + 1 == len(history)
            ),
            None,
        )
        fail(
            f"{label} stopped after {len(history)} evaluations (history {history}); with patience "
            f"{ES['patience']} and min_delta {ES['min_delta']} it should "
            + (
                f"stop after {want_stop + 1}"
                if want_stop is not None
                else "not stop before max_steps"
            )
            + (f". It looks like {known}" if known else "")
        )
    measured = rv.accuracy(model, val)
    if not math.isclose(measured, history[best]):
        last = (
            " — the last evaluation's, not the best's: restore the best weights"
            if math.isclose(measured, history[-1])
            else ""
        )
        fail(
            f"the model {label} leaves scores {measured:.4f} on val (measured by the check); "
            f"expected the best evaluation's {history[best]:.4f} (evaluation {best}){last}"
        )
    if result["best_index"] != best:
        fail(
            f"result['best_index'] is {result['best_index']!r}; expected {best}"
            + (
                " — one more: the evaluations count from 0, not from 1"
                if isinstance(result["best_index"], int) and result["best_index"] == best + 1
                else ""
            )
        )
    if not math.isclose(float(result["val_accuracy"]), history[best]):
        fail(
            f"result['val_accuracy'] is {result['val_accuracy']!r}; expected the best, {history[best]}"
        )
    test_acc = rv.accuracy(model, test)
    if not math.isclose(float(result["test_accuracy"]), test_acc):
        fail(
            f"result['test_accuracy'] is {result['test_accuracy']!r}; the returned model scores "
            f"{test_acc} on test (measured by the check): measure it after restoring the best weights"
        )


# ----- task 4: the same budget, three ways -------------------------------------------------------

HEAD = rv.HIDDEN * 2 + 2
R = 4


def lora_count(r: int, targets: int = 2) -> int:
    return N_LAYERS * targets * r * (rv.HIDDEN + rv.HIDDEN)


def expected_counts(full: int, embeddings: int, r: int = R) -> dict[str, int]:
    return {"head": HEAD, "lora": lora_count(r) + HEAD, "full": full}


def count_mistakes(method: str, full: int, embeddings: int, r: int = R) -> dict[str, int]:
    all_linear = N_LAYERS * r * (4 * 2 * rv.HIDDEN + 2 * (rv.HIDDEN + 4 * rv.HIDDEN))
    rank = (
        {"rank 8, not r=4": lora_count(8) + HEAD}
        if r == R
        else {
            f"the rank r={r} not passed on: rank {R} (the default), not r={r}": lora_count(R) + HEAD
        }
    )
    table = {
        "head": {"the head frozen too: nothing trains": 0, "nothing frozen": full},
        "lora": {
            "the head frozen: only the adapters train, yet the head is new and must learn": (
                lora_count(r)
            ),
            "the base model left trainable next to the adapters": full + lora_count(r),
            "adapters on query only (the task puts them on query and value)": lora_count(r, 1)
            + HEAD,
            "adapters on every linear layer (the task puts them on query and value)": all_linear
            + HEAD,
            **rank,
            "the encoder left frozen and no adapters: the head alone": HEAD,
        },
        "full": {
            "the embeddings left frozen": full - embeddings,
            "the head alone": HEAD,
            "'full' left requires_grad as it found it (this model came in frozen, and stayed "
            "so): 'full' must make every parameter trainable": 0,
        },
    }
    return table[method]


def lora_settings(model: nn.Module, label: str, r: int) -> None:
    """peft's LoRA layers of ``model``: the scale lora_alpha / r must be 2, the dropout off."""
    layers = [m for m in model.modules() if isinstance(getattr(m, "scaling", None), dict)]
    scales = sorted({float(v) for m in layers for v in m.scaling.values()})
    if scales and scales != [2.0]:
        fail(
            f"{label}: the LoRA layers scale their update B A x by {', '.join(map(fmt, scales))} "
            f"(peft's lora_alpha / r); expected 2.0, from lora_alpha = 2 * r = {2 * r}"
            + (". It looks like lora_alpha = r" if scales == [1.0] else "")
        )
    drops = [
        d
        for m in layers
        if isinstance(getattr(m, "lora_dropout", None), nn.ModuleDict)
        for d in m.lora_dropout.values()
    ]
    rates = sorted({float(d.p) for d in drops if isinstance(d, nn.Dropout) and d.p > 0})
    if rates:
        fail(
            f"{label}: the LoRA layers drop their input with p={', '.join(map(fmt, rates))}; "
            "the task asks lora_dropout=0.0"
        )


@pytest.mark.task(4)
def test_prepare_counts(learner):
    reference = classifier()
    full = count(reference, trainable=False)
    embeddings = count(reference.encoder.embeddings, trainable=False)
    _, val, _ = splits()
    sample = val.select(torch.arange(6))
    with torch.no_grad():
        start_logits = reference.eval()(sample.input_ids, sample.attention_mask)
    for method in ("head", "lora", "full"):
        label = f"prepare(model, {method!r}, r={R})"
        model = classifier()
        if method == "head":
            model.requires_grad_(True)
        if method == "full":  # from a frozen model: 'full' must switch everything on
            model.requires_grad_(False)
        got = call_with_inputs(label, learner.prepare, model, method, r=R)
        if got is None:
            fail(none_message(label, "the prepared model"))
        n = count(got)
        want = expected_counts(full, embeddings)[method]
        if n != want:
            known = matching_mistake(n, count_mistakes(method, full, embeddings), exact=True)
            fail(
                f"{label} has {n:,} trainable parameters (counted by the check); expected "
                f"{want:,}" + (f". It looks like {known}" if known else "")
            )
        if method == "lora":
            base = [
                name
                for name, p in got.named_parameters()
                if p.requires_grad
                and "lora" not in name
                and name.split(".")[-2:-1] != ["head"]
                and ".head." not in f".{name}"
            ]
            if base:
                fail(
                    f"{label}: {base[0]} is trainable; with LoRA only the adapters and the head train"
                )
            lora_settings(got, label, R)
        got.eval()
        with torch.no_grad():
            logits = call_with_inputs(
                f"{label}(input_ids, attention_mask)", got, sample.input_ids, sample.attention_mask
            )
        if not torch.allclose(logits, start_logits, atol=1e-4):
            fail(
                f"{label} changed what the model computes before any training (logits differ by "
                f"{float((logits - start_logits).abs().max()):.3g}): LoRA's B starts at zero, so "
                "the adapted model must give the base model's outputs"
            )
    label = "prepare(model, 'lora', r=2)"
    got = call_with_inputs(label, learner.prepare, classifier(), "lora", r=2)
    if got is None:
        fail(none_message(label, "the prepared model"))
    n, want = count(got), expected_counts(full, embeddings, r=2)["lora"]
    if n != want:
        known = matching_mistake(n, count_mistakes("lora", full, embeddings, r=2), exact=True)
        fail(
            f"{label} has {n:,} trainable parameters (counted by the check); expected {want:,}"
            + (f". It looks like {known}" if known else "")
        )
    lora_settings(got, label, 2)
    error = None
    try:
        learner.prepare(classifier(), "adapter")
    except ValueError as exc:
        error = exc
    except NotImplementedError:
        raise
    except Exception as exc:
        fail(
            f"prepare(model, 'adapter') raised {type(exc).__name__}; expected ValueError for an unknown method"
        )
    if error is None:
        fail("prepare(model, 'adapter') returned; expected a ValueError for an unknown method")


@pytest.mark.task(4)
def test_count_trainable(learner):
    model = classifier()
    model.requires_grad_(False)
    model.head.requires_grad_(True)
    model.encoder.encoder.layer[5].requires_grad_(True)
    model.encoder.encoder.layer[4].attention.requires_grad_(True)
    want = count(model)
    got = call_with_inputs("count_trainable(model)", learner.count_trainable, model)
    if got != want:
        mistakes = {
            "every parameter counted, frozen ones too": count(model, trainable=False),
            "the frozen parameters counted, not the trainable ones": count(model, trainable=False)
            - want,
            "the number of trainable tensors, not of their elements (use p.numel())": sum(
                1 for p in model.parameters() if p.requires_grad
            ),
            "the first dimension of each trainable tensor summed (p.shape[0], len(p)), not its "
            "number of elements (p.numel())": sum(
                p.shape[0] for p in model.parameters() if p.requires_grad and p.dim()
            ),
        }
        known = matching_mistake(got, mistakes, exact=True)
        fail(
            f"count_trainable(model) is {got!r} with the head, layer 5 and layer 4's attention "
            f"trainable; expected {want:,}" + (f". It looks like {known}" if known else "")
        )


COMPARE = {
    "steps": 8,
    "batch_size": 8,
    "lrs": {"head": 1e-2, "lora": 3e-3, "full": 3e-4},
    "seed": 1,
    "r": 2,  # not prepare's default: r must be passed on
}


@once_per_run
def compared(learner) -> dict[str, Any]:
    seed_everything(0)
    train, val, _ = splits()
    built: list[tuple[Any, Recorder, dict[str, torch.Tensor]]] = []

    def make_model() -> Any:
        model = classifier()
        built.append((model, Recorder(model), snapshot(model)))
        return model

    label = (
        "compare_methods(make_model, train, val, "
        + ", ".join(f"{k}={v}" for k, v in COMPARE.items())
        + ")"
    )
    try:
        result = call_with_inputs(label, learner.compare_methods, make_model, train, val, **COMPARE)
    finally:
        for _, recorder, _ in built:
            recorder.close()
    return {"label": label, "result": result, "built": built}


def owner(model: Any, built: list) -> int | None:
    """The index of the factory's model that ``model`` is (or wraps)."""
    ids = {id(m) for m in model.modules()} if isinstance(model, nn.Module) else set()
    return next((i for i, (m, _, _) in enumerate(built) if id(m) in ids), None)


@pytest.mark.task(4)
def test_compare_methods_same_budget(learner):
    run, error = compared(learner)
    if error is not None:
        raise error
    label, result, built = run["label"], run["result"], run["built"]
    if result is None:
        fail(none_message(label, "the dict of results"))
    if not isinstance(result, dict) or set(result) != {"head", "lora", "full"}:
        fail(
            f"{label} should return a dict with the keys 'head', 'lora' and 'full'; got {result!r:.120}"
        )
    train = splits()[0]
    owners = {
        method: owner(entry.get("model"), built)
        for method, entry in result.items()
        if isinstance(entry, dict)
    }
    if len(owners) == 3 and None not in owners.values() and len(set(owners.values())) < 3:
        fail(
            f"{label} trained one model for every method: make_model() was called "
            f"{len(built)} time(s) and result[...]['model'] is the same model for "
            f"{sorted(m for m in owners if list(owners.values()).count(owners[m]) > 1)}; "
            "build a fresh make_model() for each method, or each one starts from the last one's "
            "weights"
        )
    seen = {}
    for method, entry in result.items():
        if not isinstance(entry, dict) or {"model", "trainable", "val_accuracy"} - set(entry):
            fail(
                f"result[{method!r}] should be a dict with 'model', 'trainable' and 'val_accuracy'"
            )
        at = owner(entry["model"], built)
        if at is None:
            fail(
                f"result[{method!r}]['model'] is not a model built by make_model(): build each with it"
            )
        calls = [c for c in built[at][1].calls if c["training"]]
        seen[method] = sum(len(c["ids"]) for c in calls)
        got_ids = [c["ids"] for c in calls]
        first = same_batches(got_ids, train, COMPARE["batch_size"], COMPARE["seed"])
        if len(calls) != COMPARE["steps"] or first >= 0:
            fail(
                f"the {method} model took {len(calls)} training steps"
                + (f", its batch {first} not reviews.batches(...)'s" if first >= 0 else "")
                + f"; every method gets the same budget: {COMPARE['steps']} steps of "
                f"{COMPARE['batch_size']} reviews from reviews.batches(train, batch_size, steps, seed)"
                + batch_cause(got_ids, train, COMPARE["batch_size"], COMPARE["seed"])
            )
        lrs = COMPARE["lrs"]
        others = {
            f"the {other} rate, lrs[{other!r}]; each method trains at its own, lrs[method]": rate
            for other, rate in lrs.items()
            if other != method
        } | {f"lrs ignored: AdamW's default lr is {fmt(1e-3)}": 1e-3}
        cause = lr_cause(first_step(built[at][1].calls), lrs[method], others)
        if cause:
            fail(f"the {method} model of {label}: {cause}")
    if len(set(seen.values())) > 1:
        fail(f"the methods saw different numbers of training examples: {seen}")


@pytest.mark.task(4)
def test_compare_methods_reports(learner):
    run, error = compared(learner)
    if error is not None:
        raise error
    result, built = run["result"], run["built"]
    train, val, _ = splits()
    reference = classifier()
    full = count(reference, trainable=False)
    want_counts = expected_counts(
        full, count(reference.encoder.embeddings, trainable=False), r=COMPARE["r"]
    )
    seen_rows = next(rv.batches(train, COMPARE["steps"] * COMPARE["batch_size"], 1, 99))
    rows = torch.cat(
        [
            b.input_ids
            for b in rv.batches(train, COMPARE["batch_size"], COMPARE["steps"], COMPARE["seed"])
        ]
    )
    masks = torch.cat(
        [
            b.attention_mask
            for b in rv.batches(train, COMPARE["batch_size"], COMPARE["steps"], COMPARE["seed"])
        ]
    )
    labels = torch.cat(
        [
            b.labels
            for b in rv.batches(train, COMPARE["batch_size"], COMPARE["steps"], COMPARE["seed"])
        ]
    )
    del seen_rows
    with torch.no_grad():
        start_loss = float(F.cross_entropy(reference.eval()(rows, masks), labels))
    for method in ("head", "lora", "full"):
        entry = result[method]
        model = entry["model"]
        start, _, before = built[owner(model, built)]
        n = count(model)
        if n != want_counts[method]:
            known = matching_mistake(n, count_mistakes(method, full, 0, r=COMPARE["r"]), exact=True)
            fail(
                f"the {method} model has {n:,} trainable parameters; expected {want_counts[method]:,}"
                + (f". It looks like {known}" if known else "")
            )
        if entry["trainable"] != n:
            known = matching_mistake(
                entry["trainable"],
                {"every parameter counted, frozen ones too": count(model, trainable=False)},
                exact=True,
            )
            fail(
                f"result[{method!r}]['trainable'] is {entry['trainable']!r}; the check counts {n:,} trainable parameters in its model"
                + (f". It looks like {known}" if known else "")
            )
        measured = rv.accuracy(model, val)
        if not math.isclose(float(entry["val_accuracy"]), measured):
            on_train = math.isclose(float(entry["val_accuracy"]), rv.accuracy(model, train))
            fail(
                f"result[{method!r}]['val_accuracy'] is {entry['val_accuracy']!r}; the check measures {measured} on val with the returned model (in eval mode)"
                + (
                    ": that is its accuracy on the train split; report accuracy(model, val)"
                    if on_train
                    else ""
                )
            )
        changes = changed_blocks(start, before)
        if method == "head":
            moved = [b for b in BLOCKS[1:] if changes[b] > 0]
            if moved:
                fail(
                    f"the head-only run changed {moved[0]} (by up to {changes[moved[0]]:.3g}): the encoder must stay frozen"
                )
        if method == "lora":
            base_moved = [
                name
                for name, p in start.named_parameters()
                if "lora" not in name
                and name in before
                and not torch.equal(p.detach(), before[name])
                and not name.startswith("head.")
            ]
            if base_moved:
                fail(
                    f"the LoRA run changed the base weight {base_moved[0]}: only the adapters and the head train"
                )
        if method == "full":
            still = [b for b in BLOCKS if changes[b] == 0]
            if still:
                fail(f"full fine-tuning left {still[0]} unchanged: every parameter trains")
        model.eval()
        with torch.no_grad():
            loss = float(F.cross_entropy(model(rows, masks), labels))
        if not loss < start_loss - 0.02:
            fail(
                f"the {method} model did not reach a training loss below {start_loss - 0.02:.3f} "
                f"within {COMPARE['steps']} steps: on the {len(labels)} reviews it trained on, the "
                f"cross-entropy went from {start_loss:.3f} (the untrained classifier, measured by "
                f"the check) to {loss:.3f}"
            )
