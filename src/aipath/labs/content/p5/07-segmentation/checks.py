"""Checks for p5-segmentation.

Every reference is computed here, on inputs the check keeps to itself (the learner gets copies):
the metrics from pixel counts, the losses from ``F.binary_cross_entropy_with_logits`` and plain
sums, the U-Net's parameter counts from a reference network built by the check, its wiring from
forward hooks on the learner's own modules, components from ``scipy.ndimage.label``. The data
comes from the lab's ``scans.py`` loaded from the lab folder (the learner's copy may be edited).
When a comparison fails, the outputs of the known mistakes are computed on the same input and a
match is named. The trained U-Net is evaluated by the check on cases generated with its own seeds,
and compared with two baselines the check computes on the same test set.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.util
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch._dynamo  # (Adam's constructor imports it lazily: preloaded by the worker)
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from aipath.checks import (
    ForwardCalls,
    assert_close,
    assert_tensor,
    assert_tuple,
    call_with_inputs,
    fail,
    fmt,
    matching_mistake,
    none_message,
    once_per_run,
    raised,
    run_on_copies,
    seed_everything,
    to_numpy,
)

LAB_DIR = Path(__file__).resolve().parent
RTOL, ATOL = 1e-5, 1e-6  # float32


def _load_scans() -> Any:
    name = "_p5_segmentation_scans"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, LAB_DIR / "scans.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


sc = _load_scans()


@functools.cache
def _generated(n_cases: int, seed: int) -> Any:
    return sc.make_scans(n_cases, seed=seed)


def scans(n_cases: int, seed: int) -> Any:
    """The check's scans, a fresh copy each call (the learner may edit what it is given)."""
    s = _generated(n_cases, seed)
    return sc.Scans(s.images.clone(), s.labels.clone(), s.cases.clone())


# ----- references --------------------------------------------------------------------------------


def ref_dice_rows(pred: torch.Tensor, target: torch.Tensor, empty: float = 1.0) -> torch.Tensor:
    p = pred.flatten(1).double()
    t = target.flatten(1).double()
    overlap = (p * t).sum(1)
    total = p.sum(1) + t.sum(1)
    return torch.where(total > 0, 2 * overlap / total.clamp(min=1), torch.full_like(total, empty))


def ref_iou_rows(pred: torch.Tensor, target: torch.Tensor, empty: float = 1.0) -> torch.Tensor:
    p = pred.flatten(1).bool()
    t = target.flatten(1).bool()
    overlap = (p & t).sum(1).double()
    union = (p | t).sum(1).double()
    return torch.where(union > 0, overlap / union.clamp(min=1), torch.full_like(union, empty))


def ref_dice(pred: Any, target: Any, empty: float = 1.0) -> float:
    p = np.asarray(to_numpy(pred), bool)
    t = np.asarray(to_numpy(target), bool)
    total = int(p.sum() + t.sum())
    return empty if total == 0 else 2 * int((p & t).sum()) / total


def ref_dice_per_class(pred: torch.Tensor, target: torch.Tensor, n: int) -> torch.Tensor:
    out = torch.full((n,), float("nan"), dtype=torch.float64)
    for c in range(n):
        if int((pred == c).sum() + (target == c).sum()):
            out[c] = ref_dice(pred == c, target == c)
    return out


def ref_weighted_bce(logits: torch.Tensor, target: torch.Tensor, w: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(
        logits[:, 0], target.to(logits.dtype), pos_weight=torch.tensor(w, dtype=logits.dtype)
    )


def ref_soft_dice(
    logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0, *, pooled: bool = False
) -> torch.Tensor:
    p = torch.sigmoid(logits[:, 0]).flatten(1)
    t = target.flatten(1).to(p.dtype)
    if pooled:
        return 1 - (2 * (p * t).sum() + eps) / (p.sum() + t.sum() + eps)
    return 1 - ((2 * (p * t).sum(1) + eps) / (p.sum(1) + t.sum(1) + eps)).mean()


def ref_positive_weight(masks: torch.Tensor, power: float = 0.5) -> float:
    fg = int(masks.sum())
    return ((masks.numel() - fg) / fg) ** power


def ref_lesion_counts(pred: np.ndarray, target: np.ndarray, structure: Any = None) -> tuple:
    lesions, n_lesions = ndimage.label(target, structure=structure)
    found, n_found = ndimage.label(pred, structure=structure)
    detected = len(set(np.unique(lesions[pred.astype(bool)]).tolist()) - {0})
    hits = len(set(np.unique(found[target.astype(bool)]).tolist()) - {0})
    return n_lesions, detected, n_found - hits


def ref_evaluate(probs: torch.Tensor, masks: torch.Tensor, cases: torch.Tensor, t: float) -> dict:
    pred = probs >= t
    case_dice = {
        int(c): ref_dice(pred[cases == c], masks[cases == c]) for c in torch.unique(cases).tolist()
    }
    counts = np.array(
        [ref_lesion_counts(p, m) for p, m in zip(pred.numpy(), masks.numpy(), strict=True)]
    ).reshape(-1, 3)
    lesions, detected, false_positives = counts.sum(axis=0)
    return {
        "case_dice": case_dice,
        "mean_case_dice": float(np.mean(list(case_dice.values()))),
        "sensitivity": float(detected / lesions) if lesions else math.nan,
        "fp_per_scan": float(false_positives / len(pred)),
    }


def ref_choose(probs, masks, cases, candidates, score: Callable[..., float] | None = None) -> float:
    score = score or (lambda t: ref_evaluate(probs, masks, cases, t)["mean_case_dice"])
    values = [score(t) for t in candidates]
    return float(candidates[int(np.argmax(values))])


class RefDoubleConv(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
        )


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def double_conv_count(c_in: int, c_out: int) -> int:
    return 9 * c_in * c_out + 9 * c_out * c_out + 4 * c_out


def unet_counts(c_in: int, c_out: int, base: int, depth: int, skips: bool) -> dict[str, int]:
    """Parameters of each attribute of the task's U-Net, as the learner would index it."""
    w = [base * 2**level for level in range(depth + 1)]
    counts: dict[str, int] = {}
    for level in range(depth):
        counts[f"encoders[{level}]"] = double_conv_count(
            c_in if level == 0 else w[level - 1], w[level]
        )
    counts["bottleneck"] = double_conv_count(w[depth - 1], w[depth])
    for i, level in enumerate(reversed(range(depth))):
        counts[f"ups[{i}]"] = w[level + 1] * w[level] * 4 + w[level]
        counts[f"decoders[{i}]"] = double_conv_count(w[level] * (2 if skips else 1), w[level])
    counts["head"] = base * c_out + c_out
    return counts


# ----- shared helpers ----------------------------------------------------------------------------


def float_scores(got: Any, want: torch.Tensor, label: str, mistakes: Any = None) -> None:
    """A float tensor of per-item scores (any float dtype) equal to ``want``."""
    if got is None:
        fail(none_message(label))
    if not isinstance(got, torch.Tensor):
        fail(f"{label} should be a torch.Tensor; got {type(got).__name__}")
    if not got.is_floating_point():
        fail(
            f"{label} has dtype {got.dtype}; expected a float tensor (an integer division of "
            "counts truncates: convert the counts with .float() first)"
        )
    assert_tensor(
        got.detach(),
        want.to(got.dtype),
        name=label,
        rtol=RTOL,
        atol=ATOL,
        mistakes=mistakes,
    )


def python_float(got: Any, label: str) -> float:
    if got is None:
        fail(none_message(label))
    if isinstance(got, torch.Tensor | np.ndarray):
        fail(
            f"{label} returned a {type(got).__module__.split('.')[0]} {type(got).__name__}; "
            "return a Python float (.item() or float(...))"
        )
    if isinstance(got, bool) or not isinstance(got, int | float | np.integer | np.floating):
        fail(f"{label} should return a float; got {type(got).__name__} {got!r}")
    return float(got)


def masks_from(rows: list[str]) -> torch.Tensor:
    """A bool mask from rows of '.' and '#'."""
    return torch.tensor([[ch == "#" for ch in row] for row in rows])


# ----- task 1: Dice and IoU ----------------------------------------------------------------------


@pytest.mark.task(1)
def test_predict_masks(learner):
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 1, 5, 6, generator=generator) * 3
    probs = torch.sigmoid(logits)
    for threshold in (0.5, 0.3, 0.85):  # nudged so no probability is within 1e-3 of a threshold
        logits = torch.where((probs - threshold).abs() < 1e-3, logits + 0.05, logits)
        probs = torch.sigmoid(logits)
    for threshold in (0.5, 0.3, 0.85):
        label = f"predict_masks(logits (3, 1, 5, 6), threshold={threshold})"
        got = run_on_copies(label, learner.predict_masks, logits=logits, threshold=threshold)
        want = probs[:, 0] >= threshold
        mistakes = {
            "the threshold compared with the logits, not with sigmoid(logits): a logit of 0.3 "
            "is a probability of 0.57": logits[:, 0] >= threshold,
            "the channel axis kept: the mask is (N, H, W), so index it away with [:, 0] (or "
            ".squeeze(1))": probs >= threshold,
            "the mask inverted: True where the probability is *below* the threshold": (
                probs[:, 0] < threshold
            ),
            "the threshold argument ignored (always 0.5)": probs[:, 0] >= 0.5,
            "every pixel True: a softmax over a single channel is always 1.0; with one output "
            "channel the probability is the sigmoid": torch.ones_like(want),
        }
        if threshold == 0.5:
            mistakes.pop("the threshold argument ignored (always 0.5)")
        wrong_kind = isinstance(got, torch.Tensor) and got.dtype != torch.bool
        if wrong_kind and got.shape == want.shape and torch.equal(got.detach() != 0, want):
            fail(
                f"{label} has dtype {got.dtype}; expected a bool mask (the comparison "
                "`>=` already gives bool: no .float())"
            )
        assert_tensor(got, want, name=label, mistakes=mistakes)
    one = logits[:1]
    label = "predict_masks(logits (1, 1, 5, 6)), a batch of one scan"
    got = run_on_copies(label, learner.predict_masks, logits=one)
    want = torch.sigmoid(one)[:, 0] >= 0.5
    mistakes = {
        "squeezed with .squeeze(), which drops every axis of size 1, the batch axis too when N "
        "is 1: use .squeeze(1) or [:, 0]": want[0],
    }
    assert_tensor(got, want, name=label, mistakes=mistakes)


def crafted_pairs() -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Seven 5 × 5 pairs: overlap, both empty, one empty each way, equal, disjoint, nested."""
    blank = ["....."] * 5
    pairs = [
        (
            ["##...", "##...", "##...", ".....", "....."],
            [".....", "##...", "##...", ".....", "....."],
        ),
        (blank, blank),
        (blank, ["...#.", "...#.", ".....", ".....", "....."]),
        (["#....", ".....", ".....", ".....", "....."], blank),
        (
            [".....", ".###.", ".###.", ".....", "....."],
            [".....", ".###.", ".###.", ".....", "....."],
        ),
        (
            ["##...", ".....", ".....", ".....", "....."],
            [".....", ".....", ".....", "...##", "...##"],
        ),
        (
            [".....", ".#...", ".#...", ".....", "....."],
            ["###..", "###..", "###..", ".....", "....."],
        ),
    ]
    names = [
        "a partial overlap",
        "two empty masks",
        "an empty prediction",
        "an empty target",
        "equal masks",
        "disjoint masks",
        "a prediction inside the target",
    ]
    pred = torch.stack([masks_from(p) for p, _ in pairs])
    target = torch.stack([masks_from(t) for _, t in pairs])
    return pred, target, names


def _union_dice(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """2|P∩T| / |P∪T|: what (pred + target).sum() on bool tensors gives."""
    p, t = pred.flatten(1), target.flatten(1)
    union = (p | t).sum(1).double()
    return torch.where(union > 0, 2 * (p & t).sum(1) / union.clamp(min=1), torch.ones_like(union))


def _smoothed_dice(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    p, t = pred.flatten(1).double(), target.flatten(1).double()
    return (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)


@pytest.mark.task(1)
def test_dice_per_image(learner):
    pred, target, _names = crafted_pairs()
    label = "dice_per_image(pred (7, 5, 5), target (7, 5, 5))"
    got = run_on_copies(label, learner.dice_per_image, pred=pred, target=target)
    want = ref_dice_rows(pred, target)
    mistakes = {
        "a pair of empty masks scored 0 (what a `+ eps` in the denominator gives); by the "
        "convention here a healthy scan predicted healthy scores 1.0": ref_dice_rows(
            pred, target, empty=0.0
        ),
        "NaN for a pair of empty masks (0 / 0); the convention is 1.0": ref_dice_rows(
            pred, target, empty=math.nan
        ),
        "the IoU, |P∩T| / |P∪T|, not the Dice": ref_iou_rows(pred, target),
        "2|P∩T| / |P∪T|: on bool tensors `+` is a logical OR, so (pred + target).sum() counts "
        "the union, not |P| + |T|; sum each mask on its own": _union_dice(pred, target),
        "|P∩T| / (|P| + |T|): the factor 2 is missing": torch.where(
            (pred | target).flatten(1).any(1), ref_dice_rows(pred, target) / 2, 1.0
        ),
        "a smoothed Dice, (2|P∩T| + 1) / (|P| + |T| + 1): smoothing belongs in the loss, the "
        "metric is an exact count": _smoothed_dice(pred, target),
        "one pooled Dice for the whole batch, not one score per image": torch.tensor(
            ref_dice(pred, target)
        ),
        "the mean over the images, not one score per image": want.mean(),
    }
    float_scores(got, want, label, mistakes)


@pytest.mark.task(1)
def test_iou_per_image(learner):
    pred, target, _names = crafted_pairs()
    label = "iou_per_image(pred (7, 5, 5), target (7, 5, 5))"
    got = run_on_copies(label, learner.iou_per_image, pred=pred, target=target)
    want = ref_iou_rows(pred, target)
    p, t = pred.flatten(1).double(), target.flatten(1).double()
    total = p.sum(1) + t.sum(1)
    mistakes = {
        "a pair of empty masks scored 0; the convention is 1.0": ref_iou_rows(
            pred, target, empty=0.0
        ),
        "NaN for a pair of empty masks (0 / 0); the convention is 1.0": ref_iou_rows(
            pred, target, empty=math.nan
        ),
        "the Dice, 2|P∩T| / (|P| + |T|), not the IoU": ref_dice_rows(pred, target),
        "|P∩T| / (|P| + |T| − 2|P∩T|): the union is |P| + |T| − |P∩T|, the overlap "
        "subtracted once (it was counted twice in |P| + |T|)": (
            torch.where(
                total - 2 * (p * t).sum(1) > 0,
                (p * t).sum(1) / (total - 2 * (p * t).sum(1)).clamp(min=1),
                torch.ones_like(total),
            )
        ),
        "|P∩T| / (|P| + |T|): the union is |P| + |T| − |P∩T|, the overlap counted once": (
            torch.where(total > 0, (p * t).sum(1) / total.clamp(min=1), torch.ones_like(total))
        ),
        "one pooled IoU for the whole batch, not one score per image": torch.tensor(
            float((pred & target).sum() / (pred | target).sum())
        ),
        "the mean over the images, not one score per image": want.mean(),
    }
    float_scores(got, want, label, mistakes)


@pytest.mark.task(1)
def test_dice_batch(learner):
    pred, target, _names = crafted_pairs()
    label = "dice_batch(pred (7, 5, 5), target (7, 5, 5))"
    got = python_float(run_on_copies(label, learner.dice_batch, pred=pred, target=target), label)
    want = ref_dice(pred, target)
    per_image = ref_dice_rows(pred, target)
    assert_close(
        got,
        want,
        name=label,
        rtol=1e-6,
        mistakes={
            "the mean of the per-image Dice scores: pooled means every pixel of the batch "
            "counted together, one 2 ΣP∩T / (ΣP + ΣT)": float(per_image.mean()),
            "the mean of the per-image Dice scores with empty pairs left out: pooled means "
            "every pixel of the batch counted together": float(
                per_image[(pred | target).flatten(1).any(1)].mean()
            ),
            "the pooled IoU, not the Dice": float((pred & target).sum() / (pred | target).sum()),
            "2 ΣP∩T / ΣP∪T: on bool tensors `+` is a logical OR": float(
                2 * (pred & target).sum() / (pred | target).sum()
            ),
        },
    )
    empty = torch.zeros(3, 4, 4, dtype=torch.bool)
    label = "dice_batch(pred, target), both all-empty (3, 4, 4)"
    got = python_float(
        call_with_inputs(label, learner.dice_batch, empty.clone(), empty.clone()), label
    )
    if math.isnan(got) or not math.isclose(got, 1.0):
        fail(
            f"{label} is {fmt(got)}; expected 1.0: a batch of healthy scans predicted healthy is "
            "perfect (the empty-mask convention; no `+ eps` in the metric)"
        )


@pytest.mark.task(1)
def test_dice_per_class(learner):
    generator = torch.Generator().manual_seed(5)
    target = torch.randint(0, 3, (3, 6, 6), generator=generator)
    target[0, :2, :2] = 3  # class 3 only in the target, in one image
    pred = target.clone()
    flip = torch.rand(3, 6, 6, generator=generator) < 0.3
    pred[flip] = torch.randint(0, 3, (int(flip.sum()),), generator=generator)
    pred[2, 5, 5] = 3
    pred[0, :2, :2] = 1  # class 3 never predicted where it is: Dice 0 for class 3
    n = 5  # class 4 in neither: NaN
    label = "dice_per_class(pred_labels (3, 6, 6), target_labels (3, 6, 6), num_classes=5)"
    got = run_on_copies(
        label, learner.dice_per_class, pred_labels=pred, target_labels=target, num_classes=n
    )
    want = ref_dice_per_class(pred, target, n)

    def per_image() -> torch.Tensor:
        rows = torch.stack(
            [ref_dice_per_class(pred[i : i + 1], target[i : i + 1], n) for i in range(3)]
        )
        return torch.nanmean(rows, dim=0)

    mistakes = {
        "0 for a class in neither map; it has nothing to score: NaN, so nanmean leaves it out": (
            torch.nan_to_num(want, nan=0.0)
        ),
        "1.0 for a class in neither map; it has nothing to score: NaN, so nanmean leaves it out": (
            torch.nan_to_num(want, nan=1.0)
        ),
        "each class's Dice per image, averaged over the images; here it is pooled over the "
        "batch": per_image,
        "the background (class 0) left out; the tensor has one entry per class, 0 included": (
            want[1:]
        ),
        "one entry per class that appears, not num_classes entries": want[:4],
    }
    float_scores(got, want, label, mistakes)


# ----- task 2: the accuracy trap and losses for imbalance ----------------------------------------


@pytest.mark.task(2)
def test_pixel_accuracy(learner):
    pred, target, _names = crafted_pairs()
    label = "pixel_accuracy(pred (7, 5, 5), target (7, 5, 5))"
    got = python_float(
        run_on_copies(label, learner.pixel_accuracy, pred=pred, target=target), label
    )
    want = float((pred == target).double().mean())
    assert_close(
        got,
        want,
        name=label,
        rtol=1e-6,
        mistakes={
            "the number of agreeing pixels, not their fraction": float((pred == target).sum()),
            "the fraction of pixels that disagree": 1 - want,
            "the fraction of lesion pixels found (the sensitivity), not of all pixels": float(
                (pred & target).sum() / target.sum()
            ),
            "the fraction of the predicted pixels that are right (the precision)": float(
                (pred & target).sum() / pred.sum()
            ),
        },
    )
    test = scans(50, 103)
    nothing = torch.zeros_like(test.masks)
    label = "pixel_accuracy(nothing predicted, the lesion masks of 200 scans)"
    got = python_float(call_with_inputs(label, learner.pixel_accuracy, nothing, test.masks), label)
    assert_close(got, float((~test.masks).double().mean()), name=label, rtol=1e-6)


@pytest.mark.task(2)
def test_positive_weight(learner):
    masks = torch.zeros(3, 4, 5, dtype=torch.bool)
    masks[0, 0, :3] = True
    masks[1, 2:, 4] = True
    masks[2, 3, 0] = True  # 6 lesion pixels of 60: background / foreground = 9
    per_image = [(20 - int(m.sum())) / int(m.sum()) for m in masks]
    for power in (1.0, 0.25, None):
        label = "positive_weight(masks (3, 4, 5) with 6 lesion pixels" + (
            ")" if power is None else f", power={power})"
        )
        kwargs = {} if power is None else {"power": power}
        got = python_float(
            run_on_copies(label, learner.positive_weight, masks=masks, **kwargs), label
        )
        p = 0.5 if power is None else power
        want = 9.0**p
        mistakes = {
            "foreground / background, upside down: the weight of the rare class is > 1": (1 / 9)
            ** p,
            "all pixels / foreground, (60 / 6); the ratio is background / foreground, (54 / 6)": (
                10.0**p
            ),
            "the power left out": 9.0,
            "the per-image ratios averaged; count the pixels of all the masks together": (
                float(np.mean(per_image)) ** p
            ),
        }
        if power is None:  # the calls with a power passed: the power is not ignored
            mistakes.pop("the power left out")
            mistakes["a default power of 1; the default is 0.5, the square root"] = 9.0
        assert_close(got, want, name=label, rtol=1e-6, mistakes=mistakes)
    empty = torch.zeros(2, 4, 4, dtype=torch.bool)
    label = "positive_weight(masks with no lesion pixel)"
    error = raised(learner.positive_weight, empty)
    if error is None:
        fail(
            f"{label} returned instead of raising; raise ValueError: with no foreground pixel "
            "the weight is infinite"
        )
    if not isinstance(error, ValueError):
        fail(
            f"{label} raised {type(error).__name__}: {error}; raise ValueError with a message "
            "that says the masks have no foreground pixel"
        )


def bce_inputs(scale: float = 2.0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    logits = torch.randn(4, 1, 6, 6, generator=generator) * scale
    target = torch.rand(4, 6, 6, generator=generator) < 0.2
    return logits, target


def bce_mistakes(logits: torch.Tensor, target: torch.Tensor, w: float) -> dict[str, Any]:
    x = logits.detach()[:, 0]
    t = target.double()
    xd = x.double()
    pos = -F.logsigmoid(xd)
    neg = -F.logsigmoid(-xd)
    weights = torch.where(
        target, torch.tensor(w, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)
    )
    per_pixel = weights * t * pos + (1 - t) * neg
    broadcast = -(
        w * t * F.logsigmoid(logits.detach().double())
        + (1 - t) * F.logsigmoid(-logits.detach().double())
    )
    return {
        "the weight on the background pixels instead of the lesion pixels": (
            t * pos + w * (1 - t) * neg
        ).mean(),
        "the pos_weight left out (a plain BCE)": (t * pos + (1 - t) * neg).mean(),
        "a weighted mean, Σ w·loss / Σ w; the task asks for the plain mean over pixels, as "
        "PyTorch's pos_weight does": (per_pixel.sum() / weights.sum()),
        "the sum over the pixels, not the mean": per_pixel.sum(),
        "every pixel's loss multiplied by pos_weight, not only the lesion pixels'": (
            w * (t * pos + (1 - t) * neg).mean()
        ),
        "logits (N, 1, H, W) against the target (N, H, W), broadcast to (N, N, H, W) and "
        "averaged: index the channel away, logits[:, 0]": broadcast.mean(),
    }


@pytest.mark.task(2)
def test_weighted_bce(learner):
    for w in (3.5, 1.0):
        logits, target = bce_inputs()
        mine = logits.clone().requires_grad_(True)
        label = f"weighted_bce(logits (4, 1, 6, 6), target (4, 6, 6), pos_weight={w})"
        got = call_with_inputs(label, learner.weighted_bce, mine, target.clone(), w)
        want_input = logits.clone().requires_grad_(True)
        want = ref_weighted_bce(want_input, target, w)
        assert_tensor(
            got if not isinstance(got, torch.Tensor) else got.detach(),
            want.detach(),
            name=label,
            rtol=1e-5,
            atol=1e-6,
            mistakes=functools.partial(bce_mistakes, logits, target, w),
        )
        if not got.requires_grad:
            fail(
                f"{label} does not require grad: backward() cannot reach the model. Was it "
                "computed under no_grad, detached, or rebuilt from .item() or NumPy values?"
            )
        got.backward()
        want.backward()
        assert_tensor(
            mine.grad,
            want_input.grad,
            name=f"the gradient of {label} with respect to the logits",
            rtol=1e-4,
            atol=1e-7,
        )
    logits, target = bce_inputs()
    logits[0, 0, :3, :3] = 100.0
    logits[1, 0, :3, :3] = -100.0
    target[0, :3, :3] = False
    target[1, :3, :3] = True
    label = "weighted_bce(logits with values of ±100, target, pos_weight=3.5)"
    got = call_with_inputs(label, learner.weighted_bce, logits.clone(), target.clone(), 3.5)
    value = float(got) if isinstance(got, torch.Tensor) and got.numel() == 1 else None
    if value is not None and not math.isfinite(value):
        fail(
            f"{label} is {value}: log(sigmoid(x)) overflows to log(0) = −inf for large |x|. Use "
            "F.logsigmoid(x) and F.logsigmoid(-x) (log(1 − σ(x)) = logsigmoid(−x)), or "
            "F.binary_cross_entropy_with_logits"
        )

    def capped(eps: float, dtype: torch.dtype, clamp: bool) -> torch.Tensor:
        p = torch.sigmoid(logits[:, 0].to(dtype))
        t = target.to(dtype)
        if clamp:  # in float32 1 − eps rounds, so the capped loss depends on the dtype
            q = p.clamp(eps, 1 - eps)
            pos, neg = torch.log(q), torch.log(1 - q)
        else:
            pos, neg = torch.log(p + eps), torch.log(1 - p + eps)
        return -(3.5 * t * pos + (1 - t) * neg).mean()

    fix = (
        " where the exact loss is about |logit| = 100; use F.logsigmoid(x) and "
        "F.logsigmoid(−x), or F.binary_cross_entropy_with_logits"
    )
    mistakes = {}
    for eps in (1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10, 1e-12, 1e-15):
        for dtype in (torch.float32, torch.float64):
            text = (
                f"probabilities clamped to [{eps:g}, 1 − {eps:g}] before the log: that caps a "
                f"pixel's loss at −log({eps:g})" + fix
            )
            mistakes[text + " " * (dtype == torch.float64)] = functools.partial(  # distinct keys
                capped, eps, dtype, True
            )
            text = f"log(p + {eps:g}): the eps caps a pixel's loss at −log({eps:g})" + fix
            mistakes[text + " " * (dtype == torch.float64)] = functools.partial(
                capped, eps, dtype, False
            )
    assert_tensor(
        got if not isinstance(got, torch.Tensor) else got.detach(),
        ref_weighted_bce(logits, target, 3.5),
        name=label,
        rtol=1e-5,
        atol=1e-5,
        mistakes=mistakes,
    )


def dice_mistakes(logits: torch.Tensor, target: torch.Tensor, eps: float) -> dict[str, Any]:
    x = logits.detach()
    p = torch.sigmoid(x[:, 0]).flatten(1)
    t = target.flatten(1).float()
    inter, sp, st = (p * t).sum(1), p.sum(1), t.sum(1)
    hard = (p >= 0.5).float()
    broadcast = torch.sigmoid(x) * target.float()  # (N, N, H, W)
    return {
        "the Dice pooled over the whole batch, not the mean of the per-image Dice": ref_soft_dice(
            x, target, eps, pooled=True
        ),
        "the logits used as probabilities: apply sigmoid first": 1
        - (
            (2 * (x[:, 0].flatten(1) * t).sum(1) + eps) / (x[:, 0].flatten(1).sum(1) + st + eps)
        ).mean(),
        "the mean Dice, not 1 − Dice: a loss must fall as the overlap grows": 1
        - ref_soft_dice(x, target, eps),
        "eps in the numerator only": 1 - ((2 * inter + eps) / (sp + st)).mean(),
        "eps in the denominator only": 1 - ((2 * inter) / (sp + st + eps)).mean(),
        "squared terms in the denominator, Σp² + Σt² (V-Net's variant); this lab uses plain sums": 1
        - ((2 * inter + eps) / ((p**2).sum(1) + (t**2).sum(1) + eps)).mean(),
        "the eps argument ignored (always 1.0)": ref_soft_dice(x, target, 1.0),
        "one loss per image: the loss is 1 − the *mean* over images, a scalar": 1
        - (2 * inter + eps) / (sp + st + eps),
        "probabilities thresholded at 0.5 (a hard Dice has no gradient)": 1
        - ((2 * (hard * t).sum(1) + eps) / (hard.sum(1) + st + eps)).mean(),
        "probabilities (N, 1, H, W) times the target (N, H, W), broadcast to (N, N, H, W): "
        "index the channel away, [:, 0]": 1
        - (
            (2 * broadcast.flatten(2).sum(2) + eps)
            / (torch.sigmoid(x).flatten(2).sum(2) + target.float().flatten(1).sum(1) + eps)
        ).mean(),
    }


@pytest.mark.task(2)
def test_soft_dice_loss(learner):
    logits, target = bce_inputs(scale=1.5)
    target[3] = False  # one image with an empty target: eps keeps it finite
    for eps in (None, 0.5):
        mine = logits.clone().requires_grad_(True)
        kwargs = {} if eps is None else {"eps": eps}
        label = "soft_dice_loss(logits (4, 1, 6, 6), target (4, 6, 6)" + (
            ")" if eps is None else f", eps={eps})"
        )
        got = call_with_inputs(label, learner.soft_dice_loss, mine, target.clone(), **kwargs)
        e = 1.0 if eps is None else eps
        want_input = logits.clone().requires_grad_(True)
        want = ref_soft_dice(want_input, target, e)
        table = dice_mistakes(logits, target, e)
        if eps is None:
            table.pop("the eps argument ignored (always 1.0)")
        assert_tensor(
            got if not isinstance(got, torch.Tensor) else got.detach(),
            want.detach(),
            name=label,
            rtol=1e-5,
            atol=1e-6,
            mistakes=table,
        )
        if not got.requires_grad:
            fail(
                f"{label} does not require grad: backward() cannot reach the model. A threshold "
                "(>=), .item(), NumPy or no_grad cuts the graph: use sigmoid(logits) as it is"
            )
        got.backward()
        want.backward()
        assert_tensor(
            mine.grad,
            want_input.grad,
            name=f"the gradient of {label} with respect to the logits",
            rtol=1e-4,
            atol=1e-7,
        )


# ----- task 3: a small U-Net ---------------------------------------------------------------------


@contextlib.contextmanager
def calls_of(modules: dict[str, nn.Module]) -> Iterator[list[tuple[str, Any, Any]]]:
    """(name, input, output) of every call of the named modules, in call order."""
    log: list[tuple[str, Any, Any]] = []
    handles = []
    for name, module in modules.items():

        def hook(_m: nn.Module, args: tuple[Any, ...], out: Any, name: str = name) -> None:
            x = args[0] if args else None
            log.append(
                (
                    name,
                    x.detach().clone() if isinstance(x, torch.Tensor) else x,
                    out.detach().clone() if isinstance(out, torch.Tensor) else out,
                )
            )

        handles.append(module.register_forward_hook(hook))
    try:
        yield log
    finally:
        for handle in handles:
            handle.remove()


def randomise_batch_norms(model: nn.Module, seed: int) -> None:
    """Batch norms with statistics and affine parameters far from the identity (eval mode)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=generator) * 0.5)
                m.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                if m.weight is not None:
                    m.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                    m.bias.copy_(torch.randn(n, generator=generator) * 0.5)


@pytest.mark.task(3)
def test_double_conv(learner):
    seed_everything(0)
    block = call_with_inputs("DoubleConv(3, 5)", learner.DoubleConv, 3, 5)
    if not isinstance(block, nn.Module):
        fail(f"DoubleConv(3, 5) should be an nn.Module; got {type(block).__name__}")
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]
    if len(convs) != 2 or len(norms) != 2:
        fail(
            f"DoubleConv(3, 5) holds {len(convs)} nn.Conv2d and {len(norms)} nn.BatchNorm2d; "
            "expected 2 of each: (Conv2d → BatchNorm2d → ReLU) twice"
        )
    for i, conv in enumerate(convs):
        if conv.kernel_size != (3, 3) or conv.padding != (1, 1) or conv.stride != (1, 1):
            fail(
                f"convolution {i + 1} of DoubleConv(3, 5) is Conv2d(kernel_size="
                f"{conv.kernel_size}, stride={conv.stride}, padding={conv.padding}); expected "
                "kernel_size=3, padding=1 (3×3 with padding 1 keeps H and W)"
            )
        if conv.bias is not None:
            fail(
                f"convolution {i + 1} of DoubleConv(3, 5) has a bias: use bias=False — the "
                "batch norm right after it has its own shift, which makes a bias redundant"
            )
    shapes = [(c.in_channels, c.out_channels) for c in convs]
    if shapes != [(3, 5), (5, 5)]:
        fail(
            f"the convolutions of DoubleConv(3, 5) map channels {shapes[0][0]} → {shapes[0][1]} "
            f"and {shapes[1][0]} → {shapes[1][1]}; expected 3 → 5, then 5 → 5"
        )
    total = count(block)
    if total != double_conv_count(3, 5):
        fail(
            f"DoubleConv(3, 5) has {total} parameters; expected {double_conv_count(3, 5)} "
            "(9·3·5 + 9·5·5 for the two convolutions, 2·5 for each batch norm)"
        )
    x = torch.randn(2, 3, 7, 9, generator=torch.Generator().manual_seed(2))
    randomise_batch_norms(block, 3)
    block.eval()
    modules = {
        f"m{i}": m
        for i, m in enumerate(block.modules())
        if isinstance(m, nn.Conv2d | nn.BatchNorm2d)
    }
    with torch.no_grad(), calls_of(modules) as log:
        got = call_with_inputs("DoubleConv(3, 5)(x (2, 3, 7, 9))", block, x.clone())
    order = [modules[name] for name, _x, _y in log]
    kinds = ["Conv2d" if isinstance(m, nn.Conv2d) else "BatchNorm2d" for m in order]
    if kinds != ["Conv2d", "BatchNorm2d", "Conv2d", "BatchNorm2d"]:
        fail(
            "a forward pass of DoubleConv(3, 5) ran " + " → ".join(kinds) + "; expected "
            "Conv2d → BatchNorm2d → (ReLU) → Conv2d → BatchNorm2d → (ReLU)"
        )
    c1, b1, c2, b2 = order
    with torch.no_grad():
        want = F.relu(b2(c2(F.relu(b1(c1(x))))))
        mistakes = {
            "ReLU before each batch norm (Conv → ReLU → BN); the order is Conv → BN → ReLU": (
                lambda: b2(F.relu(c2(b1(F.relu(c1(x))))))
            ),
            "no ReLU after the second batch norm": lambda: b2(c2(F.relu(b1(c1(x))))),
            "no ReLU after the first batch norm": lambda: F.relu(b2(c2(b1(c1(x))))),
        }
        assert_tensor(
            got,
            want,
            name="DoubleConv(3, 5)(x (2, 3, 7, 9)), in eval mode",
            rtol=1e-4,
            atol=1e-5,
            mistakes=mistakes,
        )


UNET_CONFIGS = [
    ("UNet()", {}),
    (
        "UNet(in_channels=2, out_channels=3, base=4, depth=3, skips=False)",
        {"in_channels": 2, "out_channels": 3, "base": 4, "depth": 3, "skips": False},
    ),
    ("UNet(base=4, depth=3)", {"base": 4, "depth": 3}),
]


def build_unet(learner, label: str, kwargs: dict[str, Any]) -> nn.Module:
    seed_everything(0)
    model = call_with_inputs(label, learner.UNet, **kwargs)
    if not isinstance(model, nn.Module):
        fail(f"{label} should be an nn.Module; got {type(model).__name__}")
    depth = kwargs.get("depth", 2)
    for name in ("encoders", "bottleneck", "ups", "decoders", "head"):
        if isinstance(getattr(model, name, None), list | tuple):
            fail(
                f"{label}.{name} is a plain Python {type(getattr(model, name)).__name__}: wrap "
                "it in nn.ModuleList, or PyTorch does not register its modules — their "
                "parameters would be missing from model.parameters(), never trained, never "
                "saved in the state_dict"
            )
        if not isinstance(getattr(model, name, None), nn.Module):
            fail(
                f"{label} has no module attribute `{name}`: the checks hook into "
                "self.encoders, self.bottleneck, self.ups, self.decoders and self.head"
            )
    for name in ("encoders", "ups", "decoders"):
        part = getattr(model, name)
        if not hasattr(part, "__getitem__") or len(part) != depth:
            size = len(part) if hasattr(part, "__len__") else "no"
            fail(
                f"{label}.{name} holds {size} modules; expected an nn.ModuleList of depth = "
                f"{depth} modules, indexed from the top level (encoders) or from the deepest "
                "level up (ups, decoders)"
            )
    return model


def part(model: nn.Module, key: str) -> nn.Module:
    if "[" in key:
        name, index = key[:-1].split("[")
        return getattr(model, name)[int(index)]
    return getattr(model, key)


@pytest.mark.task(3)
def test_unet_parameters(learner):
    for label, kwargs in UNET_CONFIGS:
        model = build_unet(learner, label, kwargs)
        settings = {"in_channels": 1, "out_channels": 1, "base": 8, "depth": 2, "skips": True}
        settings |= kwargs
        want = unet_counts(
            settings["in_channels"],
            settings["out_channels"],
            settings["base"],
            settings["depth"],
            settings["skips"],
        )
        base, depth = settings["base"], settings["depth"]
        for key, expected in want.items():
            got = count(part(model, key))
            if got == expected:
                continue
            clue = ""
            if key.startswith("decoders"):
                level = depth - 1 - int(key[-2])
                w = base * 2**level
                if settings["skips"] and got == double_conv_count(w, w):
                    clue = (
                        f" — that is DoubleConv({w}, {w}): the skip is not concatenated (added, "
                        f"or left out); with skips its input is {w} upsampled + {w} skip "
                        f"channels = {2 * w}"
                    )
                elif not settings["skips"] and got == double_conv_count(2 * w, w):
                    clue = (
                        f" — that is DoubleConv({2 * w}, {w}): with skips=False the decoder gets "
                        f"the {w} upsampled channels alone"
                    )
            if key.startswith("decoders") and not clue:
                level = depth - 1 - int(key[-2])
                w = base * 2**level
                width = 2 * w if settings["skips"] else w
                clue = (
                    f" — the task's is DoubleConv({width}, {w}): its first convolution takes {width} "
                    "channels"
                    + (
                        f", the {w} upsampled ones and the {w} of encoders[{level}]'s output"
                        if settings["skips"]
                        else ""
                    )
                )
            if key.startswith("ups") and not clue:
                level = depth - 1 - int(key[-2])
                clue = (
                    f" — the task's is nn.ConvTranspose2d({base * 2 ** (level + 1)}, {base * 2**level}, "
                    "kernel_size=2, stride=2) (with its bias)"
                )
            if key == "head" and not clue:
                clue = f" — the task's is nn.Conv2d({base}, {settings['out_channels']}, 1)"
            fail(f"{label}.{key} has {got:,} parameters; expected {expected:,}{clue}")
        total = count(model)
        if total != sum(want.values()):
            fail(
                f"{label} has {total:,} parameters; expected {sum(want.values()):,}: the modules "
                "outside encoders, bottleneck, ups, decoders and head add "
                f"{total - sum(want.values()):,} (only max-pooling and the concatenation are "
                "left, and they have none)"
            )
    with_skips = count(build_unet(learner, "UNet()", {}))
    without = count(build_unet(learner, "UNet(skips=False)", {"skips": False}))
    expected = sum(unet_counts(1, 1, 8, 2, False).values())
    if without != expected:
        fail(
            f"UNet(skips=False) has {without:,} parameters; expected {expected:,} (UNet() has "
            f"{with_skips:,}: without skips each decoder's first convolution takes half the "
            "channels)"
        )


@pytest.mark.task(3)
@pytest.mark.parametrize(
    ("label", "kwargs", "shape"),
    [
        ("UNet()", {}, (2, 1, 32, 32)),
        ("UNet()", {}, (1, 1, 33, 27)),
        (
            "UNet(out_channels=3, base=4, depth=3)",
            {"out_channels": 3, "base": 4, "depth": 3},
            (2, 1, 17, 18),
        ),
        (
            "UNet(base=4, depth=3, skips=False)",
            {"base": 4, "depth": 3, "skips": False},
            (1, 1, 21, 19),
        ),
    ],
)
def test_unet_keeps_the_size(learner, label, kwargs, shape):
    model = build_unet(learner, label, kwargs)
    model.eval()
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(4))
    call = f"{label}(x {shape})"
    odd = any(s % 2 ** kwargs.get("depth", 2) for s in shape[2:])
    with torch.no_grad():
        try:
            out = model(x)
        except NotImplementedError:
            raise
        except Exception as exc:
            text = str(exc)
            hint = ""
            if odd:
                hint = (
                    " — an odd size loses a pixel to each pooling: pad the upsampled map to the "
                    "skip's H and W, F.pad(x, (0, dw, 0, dh)), before concatenating"
                )
            elif "channels" in text:
                hint = (
                    " — a decoder got another number of channels than its first convolution "
                    "takes: check which encoder output each level concatenates (encoders[l] for "
                    "the decoder at level l, so the deepest encoder first on the way up)"
                )
            elif "Sizes of tensors must match" in text:
                hint = (
                    " — the skip and the upsampled map differ in H and W although the size "
                    "divides by 2**depth: is the skip the encoder's output *before* pooling?"
                )
            fail(f"{call} raised {type(exc).__name__}: {str(exc)[:300]}{hint}")
    want = (shape[0], kwargs.get("out_channels", 1), shape[2], shape[3])
    if not isinstance(out, torch.Tensor):
        fail(f"{call} returned {type(out).__name__}; expected the logits, a tensor {want}")
    if tuple(out.shape) != want:
        clue = (
            " — for sizes that do not divide by 2**depth, pad the upsampled map to the size of "
            "the encoder's map at that level, so the output keeps the input's H and W"
            if odd
            else ""
        )
        fail(f"{call} has shape {tuple(out.shape)}; expected {want}{clue}")
    if out.dtype != torch.float32:
        fail(f"{call} has dtype {out.dtype}; expected float32 logits")


def same(a: Any, b: torch.Tensor) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    )


@pytest.mark.task(3)
@pytest.mark.parametrize("skips", [True, False])
def test_unet_wiring(learner, skips):
    """Every module gets what the U-Net diagram says: checked on its own recorded inputs."""
    depth = 3
    label = f"UNet(base=4, depth=3, skips={skips})"
    model = build_unet(learner, label, {"base": 4, "depth": depth, "skips": skips})
    randomise_batch_norms(model, 5)
    model.eval()
    names = (
        [f"encoders[{i}]" for i in range(depth)]
        + ["bottleneck"]
        + [name for i in range(depth) for name in (f"ups[{i}]", f"decoders[{i}]")]
        + ["head"]
    )
    modules = {name: part(model, name) for name in names}
    x = torch.randn(2, 1, 16, 24, generator=torch.Generator().manual_seed(6))
    with torch.no_grad(), calls_of(modules) as log:
        out = call_with_inputs(f"{label}(x (2, 1, 16, 24))", model, x.clone())
    seen: dict[str, tuple[Any, Any]] = {}
    for name, given, result in log:
        if name in seen:
            fail(f"a forward pass of {label} called {name} more than once; each module runs once")
        seen[name] = (given, result)
    missing = [n for n in names if n not in seen]
    if missing:
        fail(f"a forward pass of {label} never called {', '.join(missing)}")
    run = [name for name, _g, _r in log]
    if run != names:
        fail(
            f"a forward pass of {label} ran " + " → ".join(run) + "; expected " + " → ".join(names)
        )
    where = f"in {label}(x (2, 1, 16, 24))"
    if not same(seen["encoders[0]"][0], x):
        fail(f"encoders[0] did not get the input image {where}")
    feeds = [f"encoders[{i}]" for i in range(1, depth)] + ["bottleneck"]
    for i, name in enumerate(feeds):
        previous = seen[f"encoders[{i}]"][1]
        given = seen[name][0]
        if same(given, F.max_pool2d(previous, 2)):
            continue
        clue = ""
        if same(given, F.avg_pool2d(previous, 2)):
            clue = ": it is average-pooled; the task max-pools (F.max_pool2d(x, 2))"
        elif same(given, previous):
            clue = ": it was not pooled, so H and W never halve"
        fail(f"{name}'s input is not max_pool2d(encoders[{i}]'s output, 2) {where}{clue}")
    for i in range(depth):
        source = "bottleneck" if i == 0 else f"decoders[{i - 1}]"
        if not same(seen[f"ups[{i}]"][0], seen[source][1]):
            fail(f"ups[{i}]'s input is not {source}'s output {where}")
        up = seen[f"ups[{i}]"][1]
        skip = seen[f"encoders[{depth - 1 - i}]"][1]
        given = seen[f"decoders[{i}]"][0]
        if skips:
            if same(given, torch.cat([skip, up], 1)) or same(given, torch.cat([up, skip], 1)):
                continue
            clue = ""
            if same(given, up + skip):
                clue = ": it is upsampled + skip added; the U-Net concatenates them (torch.cat)"
            elif same(given, up):
                clue = ": it is the upsampled map alone, without the skip"
            fail(
                f"decoders[{i}]'s input is not torch.cat([encoders[{depth - 1 - i}]'s output, "
                f"ups[{i}]'s output], dim=1) {where}{clue}"
            )
        elif not same(given, up):
            fail(
                f"decoders[{i}]'s input is not ups[{i}]'s output {where}: with skips=False the "
                "decoder gets the upsampled features alone"
            )
    if not same(seen["head"][0], seen[f"decoders[{depth - 1}]"][1]):
        fail(f"head's input is not decoders[{depth - 1}]'s output {where}")
    logits = seen["head"][1]
    if not same(out, logits):
        clue = ""
        if same(out, torch.sigmoid(logits)):
            clue = (
                ": it is sigmoid(head(...)). Return the logits: the losses and predict_masks "
                "apply the sigmoid themselves, and the logit form is the numerically stable one"
            )
        fail(f"{label}(x) does not return head's output (the logits) {where}{clue}")


# ----- task 4: evaluation the way a clinic would read it -----------------------------------------


def case_ids() -> torch.Tensor:
    ids = torch.tensor([12, 3, 7, 40, 5, 9, 21, 33, 18, 2])
    cases = ids.repeat_interleave(3)
    order = torch.randperm(len(cases), generator=torch.Generator().manual_seed(8))
    return cases[order]  # scans of a case scattered through the list


def get_split(learner, cases: torch.Tensor, label: str, **kwargs: Any) -> list[torch.Tensor]:
    got = run_on_copies(label, learner.split_by_case, cases=cases, **kwargs)
    parts = assert_tuple(got, ("train", "val", "test"), label, allow_list=True)
    for name, p in zip(("train", "val", "test"), parts, strict=True):
        if not isinstance(p, torch.Tensor):
            fail(f"{label}: {name} should be a torch.Tensor of indices; got {type(p).__name__}")
        if p.dtype != torch.int64:
            clue = (
                " (a bool mask? return the indices: torch.nonzero(mask).flatten())"
                if p.dtype == torch.bool
                else ""
            )
            fail(
                f"{label}: {name} has dtype {p.dtype}; expected int64 indices into the scans{clue}"
            )
        if p.dim() != 1:
            fail(f"{label}: {name} has shape {tuple(p.shape)}; expected a 1-D tensor of indices")
    return list(parts)


@pytest.mark.task(4)
def test_split_by_case(learner):
    cases = case_ids()
    label = "split_by_case(cases (30 scans of 10 cases), fractions=(0.5, 0.3, 0.2), seed=4)"
    parts = get_split(learner, cases, label, fractions=(0.5, 0.3, 0.2), seed=4)
    names = ("train", "val", "test")
    for name, p in zip(names, parts, strict=True):
        if len(p) and not bool((p[1:] > p[:-1]).all()):
            fail(f"{label}: {name} is not sorted ascending (or repeats an index): {p.tolist()}")
    every = torch.cat(parts)
    if sorted(every.tolist()) != list(range(len(cases))):
        fail(
            f"{label} does not give every scan exactly once: the three parts hold "
            f"{len(every)} indices, {len(set(every.tolist()))} distinct, of the 30 scans"
        )
    owner: dict[int, str] = {}
    for name, p in zip(names, parts, strict=True):
        for case in sorted(set(cases[p].tolist())):
            if case in owner:
                fail(
                    f"{label}: case {case} has scans in {owner[case]} and in {name}. Slices of "
                    "one patient are nearly copies of each other: a model tested on them has "
                    "seen that patient. Split the case ids, then take every scan of each case"
                )
            owner[case] = name
    n_cases = [len(set(cases[p].tolist())) for p in parts]
    if n_cases != [5, 3, 2]:
        fail(
            f"{label} puts {n_cases[0]}, {n_cases[1]} and {n_cases[2]} cases in train, val and "
            "test; expected 5, 3 and 2 of the 10 distinct case ids (val round(0.3 · 10), test "
            "round(0.2 · 10), train the rest)"
        )
    torch.manual_seed(1)
    first = get_split(learner, cases, label, fractions=(0.5, 0.3, 0.2), seed=4)
    torch.manual_seed(2)
    second = get_split(learner, cases, label, fractions=(0.5, 0.3, 0.2), seed=4)
    if any(not torch.equal(a, b) for a, b in zip(first, second, strict=True)):
        fail(
            f"{label} gives another split when only the global torch seed changes: draw the "
            "permutation from torch.Generator().manual_seed(seed), not from the global RNG"
        )
    if any(not torch.equal(a, b) for a, b in zip(first, parts, strict=True)):
        fail(f"{label} gives another split on a second call with the same seed")
    others = [
        get_split(
            learner, cases, f"split_by_case(cases, seed={s})", fractions=(0.5, 0.3, 0.2), seed=s
        )
        for s in (5, 6, 7)
    ]
    if all(all(torch.equal(a, b) for a, b in zip(o, parts, strict=True)) for o in others):
        fail(
            "split_by_case gives the same split for seeds 4, 5, 6 and 7: the seed must choose "
            "which cases go where"
        )
    label = "split_by_case(cases (30 scans of 10 cases)) with the default fractions"
    parts = get_split(learner, cases, label)
    n_cases = [len(set(cases[p].tolist())) for p in parts]
    if n_cases != [6, 2, 2]:
        fail(
            f"{label} puts {n_cases} cases in train, val and test; expected [6, 2, 2] (0.6, 0.2, 0.2)"
        )
    nine = cases[cases != 40]
    label = "split_by_case(cases (27 scans of 9 cases), fractions=(0.5, 0.3, 0.2), seed=4)"
    parts = get_split(learner, nine, label, fractions=(0.5, 0.3, 0.2), seed=4)
    n_cases = [len(set(nine[p].tolist())) for p in parts]
    if n_cases != [4, 3, 2]:
        clue = (
            ": 0.3 · 9 = 2.7 and 0.2 · 9 = 1.8 were rounded down (int() or //); round them to "
            "the nearest, round(2.7) = 3 and round(1.8) = 2"
            if n_cases[1:] == [2, 1]
            else ""
        )
        fail(f"{label} puts {n_cases} cases in train, val and test; expected [4, 3, 2]{clue}")


def grid(rows: list[str]) -> np.ndarray:
    return np.array([[ch == "#" for ch in row] for row in rows])


LESION_CASES = [
    (
        "the README's example",
        ["##...", ".....", "..#..", ".....", "....."],
        ["#....", ".....", ".....", ".....", "....#"],
    ),
    (
        "two lesions that touch only at a corner, one of them found",
        ["##...", "##...", ".....", ".....", "....."],
        ["#....", ".#...", ".....", ".....", "....."],
    ),
    (
        "one finding that covers two lesions",
        [".....", "#####", ".....", ".....", "....."],
        [".....", "#...#", ".....", ".....", "....."],
    ),
    (
        "nothing predicted, three lesions",
        [".....", ".....", ".....", ".....", "....."],
        ["#....", "..#..", ".....", "....#", "....."],
    ),
    (
        "three findings on a healthy scan, one of four pixels",
        ["##..#", "##...", ".....", "..#..", "....."],
        [".....", ".....", ".....", ".....", "....."],
    ),
    (
        "two findings on one lesion",
        [".....", "#.#..", ".....", ".....", "....."],
        [".....", "###..", ".....", ".....", "....."],
    ),
    (
        "a finding that touches a lesion only at a corner",
        [".....", ".....", "..#..", ".....", "....."],
        [".....", ".#...", ".....", ".....", "....."],
    ),
]


def lesion_mistakes(pred: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    eight = np.ones((3, 3), int)
    lesions, n_lesions = ndimage.label(target)
    found, n_found = ndimage.label(pred)
    hitting = len(set(np.unique(found[target]).tolist()) - {0})
    detected = len(set(np.unique(lesions[pred]).tolist()) - {0})
    return {
        "8-connectivity (pixels touching at a corner joined); the task uses ndimage.label's "
        "default 4-connectivity": ref_lesion_counts(pred, target, eight),
        "detected = the findings that touch a lesion; it is the lesions that some finding "
        "touches (one finding can detect two lesions, two findings one lesion)": (
            n_lesions,
            hitting,
            n_found - hitting,
        ),
        "false positives = findings − detected lesions; a false positive is a finding that "
        "touches no lesion": (n_lesions, detected, n_found - detected),
        "false positives counted in pixels; count findings (connected components)": (
            n_lesions,
            detected,
            int((pred & ~target).sum()),
        ),
        "false positives = predicted pixels outside the lesions, counted as components of "
        "pred & ~target": (n_lesions, detected, ndimage.label(pred & ~target)[1]),
    }


@pytest.mark.task(4)
def test_lesion_counts(learner):
    for name, pred_rows, target_rows in LESION_CASES:
        pred, target = grid(pred_rows), grid(target_rows)
        label = f"lesion_counts(pred, target) on {name}"
        got = run_on_copies(label, learner.lesion_counts, pred=pred, target=target)
        values = assert_tuple(
            got, ("lesions", "detected", "false_positives"), label, allow_list=True
        )
        for part_name, v in zip(("lesions", "detected", "false_positives"), values, strict=True):
            if isinstance(v, bool) or not isinstance(v, int | np.integer):
                fail(f"{label}: {part_name} is {type(v).__name__} {v!r}; expected an int")
        got_t = tuple(int(v) for v in values)
        want = tuple(int(v) for v in ref_lesion_counts(pred, target))
        if got_t == want:
            continue
        picture = "\n".join(
            "    "
            + " ".join(
                "X" if p and t else "P" if p else "T" if t else "."
                for p, t in zip(pr, tr, strict=True)
            )
            for pr, tr in zip(pred, target, strict=True)
        )
        table = lesion_mistakes(pred, target)
        known = " or ".join(text for text, wrong in table.items() if tuple(wrong) == got_t) or None
        fail(
            f"{label} is {got_t}; expected {want} (lesions, detected, false positives)"
            + (f", which looks like {known}" if known else "")
            + f". The scan (P predicted only, T lesion only, X both):\n{picture}"
        )


def pseudo_probs(images: torch.Tensor) -> torch.Tensor:
    """A stand-in for a model: the smoothed intensity squashed to (0, 1)."""
    smooth = ndimage.gaussian_filter(images[:, 0].numpy().astype(np.float64), (0, 1, 1))
    return torch.sigmoid(torch.from_numpy((smooth - 0.6) / 0.05)).float()


@functools.cache
def _eval_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    data = scans(8, 22)
    probs = pseudo_probs(data.images)
    masks = data.masks
    cases = data.cases * 3 + 2  # ids 2, 5, 8, ...: not 0 … n − 1
    healthy = [int(c) for c in torch.unique(cases) if not masks[cases == c].any()]
    assert len(healthy) >= 2, "the evaluation data needs two healthy cases"
    probs[cases == healthy[0]] = 0.0  # one healthy case predicted healthy: Dice 1.0
    return probs, masks, cases


def eval_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return tuple(t.clone() for t in _eval_data())


def eval_mistakes(probs, masks, cases, t) -> dict[str, dict[str, Any]]:
    pred = probs >= t
    ids = torch.unique(cases).tolist()
    per_slice = {
        int(c): float(ref_dice_rows(pred[cases == c], masks[cases == c]).mean()) for c in ids
    }
    counts = np.array(
        [ref_lesion_counts(p, m) for p, m in zip(pred.numpy(), masks.numpy(), strict=True)]
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        per_scan_sens = counts[:, 1] / counts[:, 0]
    fps = counts[:, 2].sum()
    return {
        "case_dice": {
            "each case's per-slice Dice averaged; a case's Dice is pooled over all its slices, "
            "as a 3-D volume would be scored": per_slice,
        },
        "mean_case_dice": {
            "the mean of the per-scan Dice, one vote per slice; here each case (patient) votes "
            "once": float(ref_dice_rows(pred, masks).mean()),
            "one Dice pooled over every scan; here it is the mean of the cases' Dice": ref_dice(
                pred, masks
            ),
        },
        "sensitivity": {
            "the per-scan sensitivity averaged over the scans with lesions; count the lesions of "
            "all scans together": float(np.nanmean(per_scan_sens)),
            "detected lesions over findings (a precision); it is over lesions": float(
                counts[:, 1].sum() / max(1, counts[:, 1].sum() + counts[:, 2].sum())
            ),
        },
        "fp_per_scan": {
            "the total number of false positives, not divided by the number of scans": float(fps),
            "false positives per case, not per scan": float(fps / len(ids)),
            "false-positive pixels per scan; count findings (components)": float(
                (pred & ~masks).sum() / len(pred)
            ),
            "false positives per healthy scan; divide by every scan, healthy or not": float(
                fps / max(1, int((~masks.flatten(1).any(1)).sum()))
            ),
            "false positives per scan with a lesion; divide by every scan, healthy or not": float(
                fps / max(1, int(masks.flatten(1).any(1).sum()))
            ),
        },
    }


def check_report(
    got: Any,
    want: dict[str, Any],
    label: str,
    mistakes: dict[str, dict[str, Any]],
    extra: tuple[str, ...] = (),
) -> None:
    if got is None:
        fail(none_message(label, "the dict of results"))
    if not isinstance(got, dict):
        fail(f"{label} should return a dict; got {type(got).__name__}")
    keys = {"case_dice", "mean_case_dice", "sensitivity", "fp_per_scan", *extra}
    missing = sorted(keys - set(got))
    if missing:
        fail(
            f"{label} has no key {', '.join(repr(k) for k in missing)}; expected the keys {sorted(keys)}"
        )
    case_dice = got["case_dice"]
    if not isinstance(case_dice, dict):
        fail(
            f"{label}['case_dice'] should be a dict {{case id: Dice}}; got {type(case_dice).__name__}"
        )
    bad_keys = [k for k in case_dice if isinstance(k, bool) or not isinstance(k, int)]
    if bad_keys:
        fail(
            f"{label}['case_dice'] has the key {bad_keys[0]!r} ({type(bad_keys[0]).__name__}); "
            "use the case ids as Python ints (int(case) or .tolist())"
        )
    if sorted(case_dice) != sorted(want["case_dice"]):
        fail(
            f"{label}['case_dice'] has the cases {sorted(case_dice)}; expected "
            f"{sorted(want['case_dice'])}, one entry per distinct id in `cases`"
        )
    for case, value in want["case_dice"].items():
        g = case_dice[case]
        if isinstance(g, torch.Tensor):
            g = float(g)
        if not math.isclose(float(g), value, rel_tol=1e-5, abs_tol=1e-6):
            known = matching_mistake(
                [float(case_dice[c]) for c in sorted(want["case_dice"])],
                {k: [v[c] for c in sorted(v)] for k, v in mistakes["case_dice"].items()},
                rtol=1e-5,
                atol=1e-6,
            )
            fail(
                f"{label}['case_dice'][{case}] is {fmt(float(g))}; expected {fmt(value)}"
                + (f": the per-case scores look like {known}" if known else "")
            )
    for key in ("mean_case_dice", "sensitivity", "fp_per_scan"):
        value = got[key]
        if isinstance(value, torch.Tensor):
            value = float(value)
        assert_close(
            value, want[key], name=f"{label}[{key!r}]", rtol=1e-5, atol=1e-7, mistakes=mistakes[key]
        )


@pytest.mark.task(4)
def test_evaluate_cases(learner):
    probs, masks, cases = eval_data()
    for threshold in (0.5, 0.8):
        label = f"evaluate_cases(probs (32, 32, 32), masks, cases, threshold={threshold})"
        got = run_on_copies(
            label,
            learner.evaluate_cases,
            probs=probs,
            masks=masks,
            cases=cases,
            threshold=threshold,
        )
        want = ref_evaluate(probs, masks, cases, threshold)
        check_report(got, want, label, eval_mistakes(probs, masks, cases, threshold))
    healthy = masks.flatten(1).any(1).logical_not()
    label = "evaluate_cases(...) on healthy scans only"
    got = call_with_inputs(
        label, learner.evaluate_cases, probs[healthy], masks[healthy], cases[healthy], 0.5
    )
    value = got.get("sensitivity") if isinstance(got, dict) else None
    if value is None or not math.isnan(float(value)):
        fail(
            f"{label}['sensitivity'] is {value!r}; expected NaN: with no lesion there is no "
            "sensitivity to report (0 would read as 'every lesion missed')"
        )


@pytest.mark.task(4)
def test_choose_threshold(learner):
    probs, masks, cases = eval_data()
    candidates = [0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.95]
    label = f"choose_threshold(probs, masks, cases, candidates={candidates})"
    got = python_float(
        run_on_copies(
            label,
            learner.choose_threshold,
            probs=probs,
            masks=masks,
            cases=cases,
            candidates=candidates,
        ),
        label,
    )
    want = ref_choose(probs, masks, cases, candidates)
    scores = {t: ref_evaluate(probs, masks, cases, t)["mean_case_dice"] for t in candidates}
    pred_at = {t: probs >= t for t in candidates}
    mistakes = {
        "the best pooled Dice over all scans; the task maximises the mean case Dice": ref_choose(
            probs, masks, cases, candidates, lambda t: ref_dice(pred_at[t], masks)
        ),
        "the best mean per-scan Dice; the task maximises the mean case Dice": ref_choose(
            probs,
            masks,
            cases,
            candidates,
            lambda t: float(ref_dice_rows(pred_at[t], masks).mean()),
        ),
        "the best sensitivity (the lowest threshold finds the most lesions, and the most "
        "false positives)": ref_choose(
            probs,
            masks,
            cases,
            candidates,
            lambda t: ref_evaluate(probs, masks, cases, t)["sensitivity"],
        ),
        "the index of the best candidate, not the candidate itself": float(candidates.index(want)),
        "the best mean case Dice itself, not the threshold that gives it": scores[want],
        "the worst candidate (argmin)": min(candidates, key=lambda t: scores[t]),
    }
    if not math.isclose(got, want):
        table = ", ".join(f"{t}: {scores[t]:.4f}" for t in candidates)
        matches = [k for k, v in mistakes.items() if math.isclose(got, v, rel_tol=1e-6)]
        known = " or ".join(matches) if matches else None
        fail(
            f"{label} is {fmt(got)}; expected {want}"
            + (f", which looks like {known}" if known else "")
            + f". The mean case Dice of each candidate: {table}"
        )
    tied = [0.5, 0.5 + 1e-9, 0.2]
    label = f"choose_threshold(..., candidates={tied}) (the first two give the same masks)"
    got = python_float(
        call_with_inputs(label, learner.choose_threshold, probs, masks, cases, tied), label
    )
    want = ref_choose(probs, masks, cases, tied)
    if got != want:
        fail(
            f"{label} is {got!r}; expected {want!r}: on a tie, keep the first candidate (as argmax does)"
        )


class Smoother(nn.Module):
    """A stand-in model: a 3×3 mean filter and a batch norm whose running statistics turn the
    smoothed intensity into logits. In training mode the batch norm uses the batch's own
    statistics instead, and the logits change completely."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(1)
        with torch.no_grad():
            self.conv.weight.fill_(1 / 9)
            self.norm.running_mean.fill_(0.6)
            self.norm.running_var.fill_(0.05**2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


REPORT_CANDIDATES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


@functools.cache
def _report_reference() -> tuple[float, float, dict[str, Any]]:
    val, test = scans(12, 31), scans(12, 32)
    model = Smoother().eval()
    with torch.no_grad():
        pv = torch.sigmoid(model(val.images))[:, 0]
        pt = torch.sigmoid(model(test.images))[:, 0]
    t_val = ref_choose(pv, val.masks, val.cases, REPORT_CANDIDATES)
    t_test = ref_choose(pt, test.masks, test.cases, REPORT_CANDIDATES)
    assert t_val != t_test, "the report data must have different best thresholds on val and test"
    return t_val, t_test, ref_evaluate(pt, test.masks, test.cases, t_val)


@pytest.mark.task(4)
def test_medical_report(learner):
    val, test = scans(12, 31), scans(12, 32)
    model = Smoother().eval()
    model.train()  # handed over in training mode, as train_unet leaves it
    label = "medical_report(model, val (48 scans), test (48 scans), candidates=[0.1, …, 0.9])"
    with ForwardCalls(model) as log:
        got = call_with_inputs(
            label, learner.medical_report, model, val, test, list(REPORT_CANDIDATES)
        )
    if not log.calls:
        fail(f"{label} never called the model as model(images)")
    if any(c.training for c in log.calls):
        fail(
            f"{label} ran the model in training mode: batch norm then normalises with each "
            "batch's own statistics, not the ones learned in training. Call model.eval() first"
        )
    if any(c.grad_enabled for c in log.calls):
        fail(
            f"{label} ran the model with autograd recording: evaluate under torch.no_grad() "
            "(it keeps every activation in memory for a backward pass that never comes)"
        )
    t_val, t_test, want = _report_reference()
    if not isinstance(got, dict):
        fail(f"{label} should return a dict; got {type(got).__name__}")
    if "threshold" not in got:
        fail(f"{label} has no key 'threshold': return {{'threshold': t}} | evaluate_cases(...)")
    threshold = python_float(got["threshold"], f"{label}['threshold']")
    test_probs = torch.sigmoid(Smoother().eval()(test.images))[:, 0].detach()
    on_test = ref_evaluate(test_probs, test.masks, test.cases, t_test)["mean_case_dice"]
    reported = got.get("mean_case_dice")
    tuned_on_test = (
        math.isclose(threshold, t_test)
        and isinstance(reported, int | float | np.floating)
        and math.isclose(float(reported), on_test, rel_tol=1e-5)
    )
    if tuned_on_test and not math.isclose(threshold, t_val):
        fail(
            f"{label}['threshold'] is {threshold}, the best threshold on the *test* scans; "
            f"choose it on validation ({t_val}). A threshold tuned on test makes the reported "
            "Dice a best case that new patients will not see"
        )
    if not math.isclose(threshold, t_val):
        fail(f"{label}['threshold'] is {threshold}; expected {t_val}, the best on validation")
    mistakes = eval_mistakes(test_probs, test.masks, test.cases, t_val)
    val_metrics = ref_evaluate(
        torch.sigmoid(Smoother().eval()(val.images))[:, 0].detach(), val.masks, val.cases, t_val
    )
    for key in ("case_dice", "mean_case_dice", "sensitivity", "fp_per_scan"):
        mistakes[key]["the validation scans' result; report the test scans'"] = val_metrics[key]
    check_report(got, want, label, mistakes, extra=("threshold",))


# ----- task 5: training with scarce labels -------------------------------------------------------


def symmetries(x: torch.Tensor) -> list[torch.Tensor]:
    """The 8 symmetries of the square on the last two axes: (flip rows, flip columns, transpose)."""
    out = []
    for swap in (False, True):
        for flip_h in (False, True):
            for flip_w in (False, True):
                y = x
                if flip_h:
                    y = y.flip(-2)
                if flip_w:
                    y = y.flip(-1)
                if swap:
                    y = y.transpose(-2, -1)
                out.append(y)
    return out


def augment_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(9)
    images = torch.randn(64, 1, 7, 7, generator=generator)
    masks = torch.rand(64, 7, 7, generator=generator) < 0.4
    return images, masks


def run_augment(learner, seed: int, label: str, generator: torch.Generator | None = None):
    images, masks = augment_inputs()
    generator = generator or torch.Generator().manual_seed(seed)
    got = run_on_copies(label, learner.augment, images=images, masks=masks, generator=generator)
    out_images, out_masks = assert_tuple(got, ("images", "masks"), label, allow_list=True)
    for name, value, ref in (("images", out_images, images), ("masks", out_masks, masks)):
        if not isinstance(value, torch.Tensor):
            fail(f"{label}: the {name} should be a torch.Tensor; got {type(value).__name__}")
        if tuple(value.shape) != tuple(ref.shape):
            fail(
                f"{label}: the {name} have shape {tuple(value.shape)}; expected {tuple(ref.shape)}"
            )
        if value.dtype != ref.dtype:
            fail(f"{label}: the {name} have dtype {value.dtype}; expected {ref.dtype}, as given")
    return images, masks, out_images, out_masks


@pytest.mark.task(5)
def test_augment(learner):
    label = "augment(images (64, 1, 7, 7), masks (64, 7, 7), generator)"
    images, masks, out_images, out_masks = run_augment(learner, 3, label)
    used = []
    for b in range(len(images)):
        options = symmetries(images[b])
        which = next((i for i, y in enumerate(options) if torch.equal(y, out_images[b])), None)
        if which is None:
            other = next(
                (
                    j
                    for j in range(len(images))
                    if j != b and any(torch.equal(y, out_images[b]) for y in symmetries(images[j]))
                ),
                None,
            )
            clue = (
                f": it is a symmetry of scan {other}'s image — was the batch axis flipped or "
                "shuffled? flip only the last two axes (-2, -1)"
                if other is not None
                else ": flip only the last two axes (H, W), and transpose H with W, never the "
                "channel or batch axis"
            )
            fail(
                f"{label}: output image {b} is not one of the 8 symmetries of input image {b}{clue}"
            )
        want_mask = symmetries(masks[b])[which]
        if not torch.equal(out_masks[b], want_mask):
            mask_which = next(
                (i for i, y in enumerate(symmetries(masks[b])) if torch.equal(y, out_masks[b])),
                None,
            )
            clue = ""
            if mask_which == 0 and which != 0:
                clue = (
                    ": it came back unchanged while its image was flipped or transposed — "
                    "apply every flip and transpose to the mask too"
                )
            elif mask_which is not None:
                clue = (
                    ": it got another symmetry than its image — draw the random choices once "
                    "per scan and apply the same ones to the image and to the mask"
                )
            fail(f"{label}: mask {b} was not transformed like image {b}{clue}")
        used.append(which)
    distinct = len(set(used))
    if distinct == 1:
        fail(
            f"{label} gave all 64 scans the same symmetry: draw one for each scan, not one for "
            "the batch" + (" (every scan came back unchanged)" if used[0] == 0 else "")
        )
    if distinct <= 4:
        flips_only = set(used) <= {0, 1, 2, 3}
        fail(
            f"{label} used only {distinct} of the 8 symmetries over 64 scans"
            + (
                ": never a transpose, so no 90° rotation; add a transpose of H and W with "
                "probability ½"
                if flips_only
                else ""
            )
        )
    torch.manual_seed(1)
    a = run_augment(learner, 3, label)[2]
    torch.manual_seed(2)
    b = run_augment(learner, 3, label)[2]
    if not torch.equal(a, b):
        fail(
            f"{label} changes with the global torch seed: draw every random number from the "
            "generator you are given (generator=generator), so a run can be repeated"
        )
    if not torch.equal(a, out_images):
        fail(f"{label} gives another result for a generator with the same seed")
    generator = torch.Generator().manual_seed(3)
    first = run_augment(learner, 3, label, generator)[2]
    second = run_augment(learner, 3, label, generator)[2]
    if torch.equal(first, second):
        fail(
            f"two calls of {label} with the same generator gave the same symmetries: use the "
            "generator you are given (a new torch.Generator inside augment repeats itself "
            "at every step)"
        )


class Replay:
    """The recipe of task 5, run by the check with the learner's augment, and its variants."""

    def __init__(self, learner, model, train, steps, batch_size, lr, seed) -> None:
        self.learner = learner
        self.model = model
        self.train = train
        self.steps, self.batch_size, self.lr, self.seed = steps, batch_size, lr, seed

    def run(self, **change: Any) -> list[float]:
        o = {
            "decay": "linear",
            "zero_grad": True,
            "augment": True,
            "power": 0.5,
            "loss": "both",
            "train_mode": True,
            "optimizer": "adam",
            "lr": self.lr,
            "seed": self.seed,
            "global_batches": False,
        } | change
        model = copy.deepcopy(self.model)
        generator = torch.Generator().manual_seed(o["seed"])
        w = ref_positive_weight(self.train.masks, o["power"])
        params = list(model.parameters())
        if o["optimizer"] == "adam":
            opt = torch.optim.Adam(params, lr=o["lr"])
        else:
            opt = torch.optim.SGD(params, lr=o["lr"])
        model.train(o["train_mode"])
        losses = []
        n = len(self.train.images)
        for k in range(self.steps):
            factor = {"linear": 1 - k / self.steps, "none": 1.0, "late": 1 - (k + 1) / self.steps}[
                o["decay"]
            ]
            for group in opt.param_groups:
                group["lr"] = o["lr"] * factor
            if o["global_batches"]:
                batch = torch.randint(n, (self.batch_size,))
            else:
                batch = torch.randint(n, (self.batch_size,), generator=generator)
            x, y = self.train.images[batch], self.train.masks[batch]
            if o["augment"]:
                x, y = self.learner.augment(x, y, generator)
            logits = model(x)
            if o["loss"] == "bce":
                loss = ref_weighted_bce(logits, y, w)
            elif o["loss"] == "dice":
                loss = ref_soft_dice(logits, y)
            else:
                loss = ref_weighted_bce(logits, y, w) + ref_soft_dice(logits, y)
            if o["zero_grad"]:
                opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses


def replay_mistakes(replay: Replay) -> dict[str, Any]:
    return {
        "no learning-rate decay: the rate stays at lr; it should be lr · (1 − k / steps) at "
        "step k": lambda: replay.run(decay="none"),
        "the decay one step early, lr · (1 − (k + 1) / steps): step the schedule after the "
        "optimizer, not before": lambda: replay.run(decay="late"),
        "gradients never zeroed, so they add up over the steps: optimizer.zero_grad() before "
        "backward()": lambda: replay.run(zero_grad=False),
        "no augmentation": lambda: replay.run(augment=False),
        "positive_weight with power=1 (the full ratio); the training uses the default, 0.5": (
            lambda: replay.run(power=1.0)
        ),
        "the weighted BCE alone; the loss is weighted_bce + soft_dice_loss": lambda: replay.run(
            loss="bce"
        ),
        "the soft Dice loss alone; the loss is weighted_bce + soft_dice_loss": lambda: replay.run(
            loss="dice"
        ),
        "training in evaluation mode (batch norm with running statistics): call model.train() "
        "first": lambda: replay.run(train_mode=False),
        "plain SGD instead of Adam": lambda: replay.run(optimizer="sgd"),
        "Adam's default lr of 0.001, not the lr argument": lambda: replay.run(lr=1e-3),
        "the seed argument ignored (seed 0 used)": lambda: replay.run(seed=0),
        "batches drawn from the global RNG (torch.randint without generator=)": lambda: replay.run(
            global_batches=True
        ),
        "no pos_weight (a plain BCE); the recipe weighs the lesion pixels by "
        "positive_weight(train.masks)": lambda: replay.run(power=0.0),
        "a running mean of the losses so far; return each step's own loss": lambda: [
            float(v) for v in np.cumsum(replay.run()) / np.arange(1, replay.steps + 1)
        ],
        "the running sum of the losses; return each step's own loss": lambda: [
            float(v) for v in np.cumsum(replay.run())
        ],
    }


@pytest.mark.task(5)
def test_train_unet_follows_the_recipe(learner):
    seed_everything(0)
    train = scans(4, 41)
    model = build_unet(learner, "UNet(base=4)", {"base": 4})
    model.eval()  # handed over in eval mode, as medical_report leaves it
    start = copy.deepcopy(model)
    steps, batch_size, lr, seed = 5, 4, 0.01, 3
    label = f"train_unet(UNet(base=4), 16 scans, steps={steps}, batch_size={batch_size}, lr={lr}, seed={seed})"
    torch.manual_seed(11)
    got = call_with_inputs(
        label,
        learner.train_unet,
        model,
        train,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
    )
    if got is None:
        fail(none_message(label, "the list of the losses of every step"))
    if not isinstance(got, list | tuple):
        fail(f"{label} should return a list of floats, one per step; got {type(got).__name__}")
    if any(isinstance(v, torch.Tensor) for v in got):
        fail(
            f"{label} returned torch.Tensor losses; return Python floats (loss.item()): a tensor "
            "loss keeps its whole graph alive"
        )
    if len(got) != steps:
        fail(f"{label} returned {len(got)} losses; expected one per step, {steps}")
    values = [float(v) for v in got]
    replay = Replay(learner, start, train, steps, batch_size, lr, seed)
    torch.manual_seed(11)
    want = replay.run()
    close = [
        math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-5) for a, b in zip(values, want, strict=True)
    ]
    if all(close):
        return
    first = close.index(False)
    known = None
    for text, variant in replay_mistakes(replay).items():
        torch.manual_seed(11)
        try:
            other = variant()
        except Exception:
            continue
        if all(
            math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-5)
            for a, b in zip(values, other, strict=True)
        ):
            known = text
            break
    fail(
        f"the losses of {label} differ from the recipe's from step {first} on: "
        f"{fmt(values[first])} where the recipe gives {fmt(want[first])} (yours "
        f"{[round(v, 4) for v in values]}, the recipe {[round(v, 4) for v in want]})"
        + (
            f". It looks like {known}"
            if known
            else ". Check the order of the random draws "
            "(torch.randint for the batch, then augment, both from the one generator), the loss, "
            "and the learning-rate schedule"
        )
    )


TRAIN_STEPS = 300
DICE_FLOOR = 0.5
MARGIN = 0.12  # over the thresholded smoothed image; the reference beats it by 0.24-0.34
MIN_SENSITIVITY, MAX_FP = 0.7, 1.0
CANDIDATES = [round(0.05 * i, 2) for i in range(1, 20)]


@once_per_run
def trained(learner) -> tuple[nn.Module, Any]:
    seed_everything(0)
    model = build_unet(learner, "UNet()", {})
    train = scans(50, 101)
    label = f"train_unet(UNet(), 200 scans, steps={TRAIN_STEPS}, batch_size=16, lr=0.003, seed=0)"
    losses = call_with_inputs(
        label, learner.train_unet, model, train, steps=TRAIN_STEPS, batch_size=16, lr=3e-3, seed=0
    )
    return model, losses


@functools.cache
def baselines() -> dict[str, Any]:
    val, test = scans(25, 102), scans(50, 103)
    intensity = [round(0.3 + 0.02 * i, 2) for i in range(45)]
    t = ref_choose(pseudo_probs_raw(val.images), val.masks, val.cases, intensity)
    smooth = ref_evaluate(pseudo_probs_raw(test.images), test.masks, test.cases, t)
    nothing = ref_evaluate(torch.zeros(test.masks.shape), test.masks, test.cases, 0.5)
    accuracy = float((~test.masks).double().mean())
    return {"smooth": smooth, "smooth_t": t, "nothing": nothing, "accuracy": accuracy}


def pseudo_probs_raw(images: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(
        ndimage.gaussian_filter(images[:, 0].numpy().astype(np.float64), (0, 1, 1))
    )


@pytest.mark.task(5)
def test_trained_unet_beats_the_baselines(learner):
    outcome, error = trained(learner)
    if error is not None:
        raise error
    model, losses = outcome
    if not isinstance(losses, list | tuple) or len(losses) != TRAIN_STEPS:
        fail(f"train_unet(...) should return {TRAIN_STEPS} losses, one per step")
    values = [float(v) for v in losses]
    if not all(math.isfinite(v) for v in values):
        step = next(i for i, v in enumerate(values) if not math.isfinite(v))
        fail(f"the training loss became {values[step]} at step {step}: training diverged")
    val, test = scans(25, 102), scans(50, 103)
    model.eval()
    with torch.no_grad():
        pv = torch.sigmoid(
            call_with_inputs("the trained UNet on 100 validation scans", model, val.images)
        )[:, 0]
        pt = torch.sigmoid(model(test.images))[:, 0]
    threshold = ref_choose(pv, val.masks, val.cases, CANDIDATES)
    result = ref_evaluate(pt, test.masks, test.cases, threshold)
    base = baselines()
    target = max(DICE_FLOOR, base["smooth"]["mean_case_dice"] + MARGIN)
    summary = (
        f"(threshold {threshold} chosen by the check on 25 validation cases; on the 50 test "
        f"cases: mean case Dice {result['mean_case_dice']:.3f}, sensitivity "
        f"{result['sensitivity']:.3f}, {result['fp_per_scan']:.2f} false positives per scan; "
        f"training loss {np.mean(values[:10]):.3f} over the first 10 steps, "
        f"{np.mean(values[-10:]):.3f} over the last 10)"
    )
    baseline_text = (
        f"Predicting nothing scores a pixel accuracy of {base['accuracy']:.3f} and a mean case "
        f"Dice of {base['nothing']['mean_case_dice']:.3f} (the healthy cases); thresholding the "
        f"smoothed image at its best validation intensity ({base['smooth_t']}) scores "
        f"{base['smooth']['mean_case_dice']:.3f}, with {base['smooth']['fp_per_scan']:.2f} false "
        "positives per scan"
    )
    advice = (
        "Check that train_unet follows the recipe (the previous check), that the model is the "
        "task-3 U-Net with its skips, and that the loss falls"
    )
    if result["mean_case_dice"] < target:
        fail(
            f"the trained U-Net did not reach a mean case Dice of {target:.3f} within "
            f"{TRAIN_STEPS} steps {summary}. {baseline_text}; the U-Net must beat it by "
            f"{MARGIN}. {advice}"
        )
    if result["sensitivity"] < MIN_SENSITIVITY:
        fail(
            f"the trained U-Net found too few lesions: sensitivity {result['sensitivity']:.3f}, "
            f"expected at least {MIN_SENSITIVITY} within {TRAIN_STEPS} steps {summary}. {advice}"
        )
    if result["fp_per_scan"] > MAX_FP:
        fail(
            f"the trained U-Net raises too many false alarms: {result['fp_per_scan']:.2f} per "
            f"scan, expected at most {MAX_FP} within {TRAIN_STEPS} steps {summary}. "
            f"{baseline_text}. {advice}"
        )
