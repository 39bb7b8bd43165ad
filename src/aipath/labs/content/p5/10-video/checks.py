"""Checks for p5-video.

Every reference is computed here: the frame indices from the segment formula, the split's
properties from the recording ids, the models' wiring from the learner's own submodules (so any
per-frame CNN or 3-D network passes, and a wrong reshape is named by what it computes on the same
input), and the trained models' accuracy per class by the check's own evaluation on clips of
recordings generated with the check's seeds. The data comes from the lab's ``clips.py`` loaded
from the lab folder (the learner's copy may be edited).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch._dynamo  # (Adam's constructor imports it lazily: preloaded by the worker)
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from aipath.checks import (
    CheckFailure,
    ForwardCalls,
    assert_tensor,
    assert_tuple,
    call_with_inputs,
    fail,
    fmt,
    none_message,
    once_per_run,
    seed_everything,
)

LAB_DIR = Path(__file__).resolve().parent


def _load_clips() -> Any:
    name = "_p5_video_clips"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, LAB_DIR / "clips.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


cl = _load_clips()
NUM_CLASSES = len(cl.CLASSES)


@functools.cache
def _clips(per_class: int, seed: int) -> Any:
    return cl.cut_clips(cl.make_recordings(per_class, seed=seed), per_recording=4, seed=seed + 1)


def clips(per_class: int, seed: int) -> Any:
    """The check's clips, a fresh copy each call (the learner may edit what it is given)."""
    c = _clips(per_class, seed)
    return cl.Clips([v.clone() for v in c.videos], c.labels.clone(), c.recordings.clone())


# ----- references --------------------------------------------------------------------------------


def ref_indices(length: int, t: int) -> torch.Tensor:
    if length < t:
        return torch.cat([torch.arange(length), torch.full((t - length,), length - 1)])
    return torch.tensor([(2 * i + 1) * length // (2 * t) for i in range(t)])


def ref_batch(videos: list[torch.Tensor], t: int) -> torch.Tensor:
    return torch.stack([v[ref_indices(len(v), t)] for v in videos]).unsqueeze(1)


def ref_per_class(pred: torch.Tensor, labels: torch.Tensor, n: int) -> torch.Tensor:
    out = torch.full((n,), float("nan"))
    for c in range(n):
        if int((labels == c).sum()):
            out[c] = float((pred[labels == c] == c).double().mean())
    return out


def segment_frames(length: int, t: int, i: int) -> range:
    """The frames that overlap segment i, [i·L/T, (i+1)·L/T)."""
    return range(i * length // t, -(-(i + 1) * length // t))


def ints(x: Any) -> list[int]:
    return [int(v) for v in x]


# ----- task 1: sampling frames -------------------------------------------------------------------


def index_mistakes(length: int, t: int) -> dict[str, Any]:
    i = torch.arange(t, dtype=torch.float64)
    mid = ((i + 0.5) * length / t).floor().long()
    out: dict[str, Any] = {}
    if length >= t:
        out |= {
            "the start of each segment instead of its middle": (i * length / t).floor().long(),
            "the last frame of each segment instead of its middle": (
                ((i + 1) * length / t).ceil().long() - 1
            ),
            "torch.linspace(0, length - 1, T) rounded (evenly spaced with both endpoints, not "
            "segment middles)": torch.linspace(0, length - 1, t).round().long(),
            "torch.linspace(0, length - 1, T) truncated (evenly spaced with both endpoints, not "
            "segment middles)": torch.linspace(0, length - 1, t).long(),
            "segments of length − 1 frames (an off-by-one in the segment size)": (
                ((i + 0.5) * (length - 1) / t).floor().long()
            ),
            "the middle rounded instead of floored": ((i + 0.5) * length / t).round().long(),
        }
    else:
        out |= {
            "the middle-of-segment formula applied to a short clip (frames repeated here and "
            "there instead of every frame once and then the last one repeated)": mid,
            "loop padding (0, 1, 2, 0, 1, ...) instead of repeating the last frame": (
                torch.arange(t) % length
            ),
            "padding with the first frame instead of the last": torch.cat(
                [torch.arange(length), torch.zeros(t - length, dtype=torch.long)]
            ),
            "padding at the front instead of the end": torch.cat(
                [torch.zeros(t - length, dtype=torch.long), torch.arange(length)]
            ),
            "no padding: only the clip's own frames, fewer than T": torch.arange(length),
        }
    return out


EVAL_CASES = [(40, 8), (8, 8), (17, 8), (9, 4), (100, 16), (30, 7), (5, 8), (1, 4), (3, 8)]


def get_indices(learner, length: int, t: int, generator: Any = None) -> torch.Tensor:
    label = f"sample_indices({length}, {t}" + (", generator)" if generator is not None else ")")
    got = call_with_inputs(label, learner.sample_indices, length, t, generator=generator)
    if got is None:
        fail(none_message(label, "the indices"))
    if not isinstance(got, torch.Tensor):
        fail(f"{label} should return a torch.Tensor of int64 indices; got {type(got).__name__}")
    return got


@pytest.mark.task(1)
def test_sample_indices_for_evaluation(learner):
    for length, t in EVAL_CASES:
        first = get_indices(learner, length, t)
        second = get_indices(learner, length, t)
        if first.shape == second.shape and not torch.equal(first, second):
            fail(
                f"sample_indices({length}, {t}) without a generator gave {ints(first)}, then "
                f"{ints(second)}: without a generator (evaluation) the indices must be the same "
                "every time, the middle of each segment — random offsets are for training only"
            )
        assert_tensor(
            first,
            ref_indices(length, t),
            name=f"sample_indices({length}, {t})",
            mistakes=functools.partial(index_mistakes, length, t),
        )


def draws(learner, length: int, t: int, seed: int, n: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [ints(get_indices(learner, length, t, g)) for _ in range(n)]


@pytest.mark.task(1)
def test_sample_indices_for_training(learner):
    length, t = 40, 8
    runs = draws(learner, length, t, 0, 100)
    for got in runs:
        if len(got) != t:
            fail(f"sample_indices({length}, {t}, generator) gave {len(got)} indices; expected {t}")
        for i, k in enumerate(got):
            frames = segment_frames(length, t, i)
            if k not in frames:
                fail(
                    f"sample_indices({length}, {t}, generator)[{i}] is {k}, outside segment {i} "
                    f"(frames {frames.start}-{frames.stop - 1}): {got}. Draw one frame at random "
                    "inside each of the T equal segments, not anywhere in the clip"
                )
    if all(got == ints(ref_indices(length, t)) for got in runs):
        fail(
            f"sample_indices({length}, {t}, generator) always gave the segment middles "
            f"{runs[0]}: with a generator (training) each segment's frame is drawn at random"
        )
    for i in range(t):
        seen = {got[i] for got in runs}
        if len(seen) < 4:
            fail(
                f"in 100 draws, sample_indices({length}, {t}, generator)[{i}] only took the "
                f"values {sorted(seen)} of segment {i}'s 5 frames: the offset should be uniform "
                "over the whole segment"
            )
    offsets = [tuple(k - 5 * i for i, k in enumerate(got)) for got in runs]
    shared = sum(len(set(o)) == 1 for o in offsets)
    if shared > 30:
        fail(
            f"in {shared} of 100 draws sample_indices({length}, {t}, generator) put every "
            f"segment's frame at the same offset (e.g. {runs[0]}): draw each segment's offset "
            "on its own (torch.rand(T, generator=generator))"
        )
    torch.manual_seed(123)
    again = draws(learner, length, t, 0, 3)
    if again != runs[:3]:
        fail(
            f"sample_indices({length}, {t}, generator) gave {again[0]} the second time with a "
            f"generator seeded 0, and {runs[0]} the first: draw from `generator` (torch.rand(..., "
            "generator=generator)), not from the global random state"
        )
    for length_short in (5, 1):
        got = get_indices(learner, length_short, t, torch.Generator().manual_seed(1))
        assert_tensor(
            got,
            ref_indices(length_short, t),
            name=f"sample_indices({length_short}, {t}, generator) (a clip shorter than T)",
            mistakes=functools.partial(index_mistakes, length_short, t),
        )


def batch_videos() -> list[torch.Tensor]:
    c = clips(1, 7)
    keep = [0, 4, 9, 13, 17, 22]
    videos = [c.videos[i] for i in keep]
    videos[2] = videos[2][:5]  # a clip shorter than T
    return videos


@pytest.mark.task(1)
def test_to_batch(learner):
    videos = batch_videos()
    t = 8
    label = f"to_batch({len(videos)} clips of {[len(v) for v in videos]} frames, {t})"
    got = call_with_inputs(label, learner.to_batch, [v.clone() for v in videos], t)
    want = ref_batch(videos, t)
    assert_tensor(
        got,
        want,
        name=label,
        mistakes={
            "a batch (N, T, 1, H, W): the channel axis after time; Conv3d wants (N, C, T, H, W)": (
                lambda: want.transpose(1, 2)
            ),
            "a batch (N, T, H, W) without the channel axis": lambda: want[:, 0],
            "each clip standardised (mean 0, std 1): to_batch returns the frames as they are": (
                lambda: torch.stack([(b - b.mean()) / b.std() for b in want])
            ),
            "the batch standardised (mean 0, std 1): to_batch returns the frames as they are": (
                lambda: (want - want.mean()) / want.std()
            ),
            "a batch (T, N, H, W) with clips and frames swapped": lambda: want[:, 0].transpose(
                0, 1
            ),
        },
    )
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    sampled = call_with_inputs(
        label.replace(")", ", generator)"), learner.to_batch, [v.clone() for v in videos], t, g1
    )
    own = torch.stack([v[get_indices(learner, len(v), t, g2)] for v in videos]).unsqueeze(1)
    if (
        isinstance(sampled, torch.Tensor)
        and sampled.shape == want.shape
        and torch.equal(sampled, want)
    ):
        fail(
            f"{label.replace(')', ', generator)')} gave the evaluation frames (the segment "
            "middles): pass the generator on to sample_indices, so training sees random frames"
        )
    assert_tensor(
        sampled,
        own,
        name=label.replace(")", ", generator)"),
        mistakes={},
    )


# ----- task 2: a split by recording --------------------------------------------------------------


def get_split(learner, recordings: torch.Tensor, label: str, **kwargs: Any) -> list[torch.Tensor]:
    got = call_with_inputs(label, learner.split_by_recording, recordings.clone(), **kwargs)
    parts = assert_tuple(got, ("train", "test"), label)
    out = []
    for name, part in zip(("train", "test"), parts, strict=True):
        if not isinstance(part, torch.Tensor):
            fail(
                f"{label}'s {name} part should be an int64 index tensor; got {type(part).__name__}"
            )
        if part.dtype == torch.bool:
            fail(
                f"{label}'s {name} part is a bool mask; expected an int64 tensor of clip indices "
                "(torch.nonzero(mask).flatten())"
            )
        if part.dtype != torch.int64:
            fail(f"{label}'s {name} part has dtype {part.dtype}; expected torch.int64")
        out.append(part)
    return out


def recording_ids() -> torch.Tensor:
    """20 recordings with ids that are neither 0..n-1 nor sorted, 2 to 5 clips each."""
    g = np.random.default_rng(3)
    ids = g.permutation(np.arange(100, 300, 10))
    counts = g.integers(2, 6, len(ids))
    return torch.from_numpy(np.repeat(ids, counts).astype(np.int64))


@pytest.mark.task(2)
def test_split_by_recording(learner):
    recordings = recording_ids()
    n = len(recordings)
    label = f"split_by_recording({n} clips of 20 recordings, test_fraction=0.25, seed=0)"
    train, test = get_split(learner, recordings, label, test_fraction=0.25, seed=0)
    for name, part in (("train", train), ("test", test)):
        if len(part) and (part.min() < 0 or part.max() >= n):
            fail(f"{label}'s {name} part has index {int(part.max())}, outside 0..{n - 1}")
        if not torch.equal(part, torch.sort(part).values):
            fail(f"{label}'s {name} indices should be sorted ascending: {ints(part[:8])}...")
    if len(test) == 0:
        fail(
            f"{label} puts no clip in test. The recording ids here are 100, 110, ..., 290 in no "
            "particular order (not 0..n-1): draw the test ids from torch.unique(recordings) and "
            "select their clips with torch.isin"
        )
    both = torch.cat([train, test])
    if len(both) != n or len(torch.unique(both)) != n:
        fail(
            f"{label} should put each of the {n} clips in exactly one part: train has "
            f"{len(train)}, test {len(test)}, {len(torch.unique(both))} distinct clips in all"
        )
    leaked = sorted(set(ints(recordings[train])) & set(ints(recordings[test])))
    if leaked:
        fail(
            f"{label} has clips of recording {leaked[0]} in both train and test ({len(leaked)} "
            "recordings on both sides): that is leakage — clips cut from one recording share the "
            "actor, speed and background, so the test accuracy would measure memory. Split the "
            "recording ids, then take every clip of each"
        )
    n_test = len(set(ints(recordings[test])))
    if n_test != 5:
        clue = ""
        if n_test == round(0.25 * n):
            clue = (
                f" It looks like round(test_fraction · the number of clips) = {n_test}: the "
                "fraction counts recordings, not clips."
            )
        elif n_test == 15:
            clue = " It looks like the two parts swapped: return (train, test), in that order."
        fail(
            f"{label} puts {n_test} of the 20 recordings in test; expected round(0.25 · 20) = 5."
            f"{clue}"
        )
    again = get_split(learner, recordings, label, test_fraction=0.25, seed=0)
    if not torch.equal(again[1], test):
        fail(
            f"{label} gave another test part the second time: draw from a generator seeded "
            "with `seed` (torch.Generator().manual_seed(seed)), not from the global random state"
        )
    other = [get_split(learner, recordings, label, test_fraction=0.25, seed=s)[1] for s in (1, 2)]
    if all(torch.equal(o, test) for o in other):
        fail(f"{label} gives the same test recordings for seeds 0, 1 and 2: use the seed")
    # round(f · 20): 0.28 → 6 (int() gives 5), 0.22 → 4 (ceil gives 5), 0.5 → 10
    counts = {}
    for fraction in (0.28, 0.22, 0.5):
        _, part = get_split(
            learner, recordings, label.replace("0.25", str(fraction)), test_fraction=fraction,
            seed=0,
        )  # fmt: skip
        counts[fraction] = len(set(ints(recordings[part])))
    expected = {f: round(f * 20) for f in counts}
    if counts == expected:
        return
    if all(v == n_test for v in counts.values()):
        fail(
            f"split_by_recording({n} clips of 20 recordings, test_fraction=f, seed=0) puts "
            f"{n_test} recordings in test for every f in 0.25, 0.28, 0.22 and 0.5; expected "
            f"{[5] + list(expected.values())}: test_fraction is ignored — use the argument, not "
            "the default 0.25"
        )
    rounding = {
        "int(), which rounds down": {f: math.floor(f * 20) for f in counts},
        "math.ceil(), which rounds up": {f: math.ceil(f * 20) for f in counts},
    }
    clue = next((f" It looks like {k}." for k, v in rounding.items() if counts == v), "")
    fraction = next(f for f in counts if counts[f] != expected[f])
    fail(
        f"{label.replace('0.25', str(fraction))} puts {counts[fraction]} recordings in test; "
        f"expected round({fraction} · 20) = {expected[fraction]}.{clue}"
    )


# ----- task 3: two models ------------------------------------------------------------------------


def build(learner, name: str, **kwargs: Any) -> nn.Module:
    label = f"{name}({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
    model = call_with_inputs(label, getattr(learner, name), **kwargs)
    if not isinstance(model, nn.Module):
        fail(f"{label} should be an nn.Module; got {type(model).__name__}")
    return model


def video_input(n: int, c: int, t: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, c, t, size, size, generator=torch.Generator().manual_seed(seed))


def first_conv(model: nn.Module, kind: type[nn.Module]) -> Any:
    return next((m for m in model.modules() if isinstance(m, kind)), None)


def check_width(model: nn.Module, kind: type[nn.Module], label: str, width: int) -> None:
    """The README: `width` is the number of channels of the first convolution."""
    conv = first_conv(model, kind)
    if conv is not None and conv.out_channels != width:
        fail(
            f"{label}'s first {kind.__name__} has {conv.out_channels} output channels; expected "
            f"width = {width}: build it from the `width` argument (the number of channels of "
            "the first convolution), not a fixed number"
        )


def run_model(
    model: nn.Module, x: torch.Tensor, label: str, conv: type[nn.Module] | None = None
) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        try:
            out = call_with_inputs(f"{label} on a batch {tuple(x.shape)}", model, x.clone())
        except CheckFailure as error:
            first = first_conv(model, conv) if conv is not None else None
            if first is not None and first.in_channels == 1 and x.shape[1] != 1:
                fail(
                    f"{error}. Its first {conv.__name__} takes {first.in_channels} input "
                    f"channel, but this batch has C = {x.shape[1]} (the model was built with "
                    f"in_channels={x.shape[1]}): build the first convolution from the "
                    "`in_channels` argument"
                )
            raise
    if out is None:
        fail(none_message(f"{label}.forward(x)", "the logits"))
    if not isinstance(out, torch.Tensor):
        fail(f"{label}(x) should return a tensor of logits; got {type(out).__name__}")
    return out


def check_batch_independence(model: nn.Module, x: torch.Tensor, label: str) -> None:
    """In eval mode, permuting the clips of a batch must permute the logits the same way."""
    out = run_model(model, x, label)
    perm = torch.tensor([2, 0, 3, 1])
    shuffled = run_model(model, x[perm], label)
    if out.shape == shuffled.shape and not torch.allclose(shuffled, out[perm], atol=1e-5):
        fail(
            f"{label}: after shuffling the clips of a batch {tuple(x.shape)}, the logits of a clip "
            f"changed (largest change {float((shuffled - out[perm]).abs().max()):.3g}): frames "
            "are mixed between clips. A reshape never moves data between axes: (N, C, T, H, W) → "
            "(N·T, C, H, W) needs x.transpose(1, 2) first, and the (N·T, F) features go back with "
            ".reshape(N, T, F)"
        )


def pooled(model: nn.Module, frames: torch.Tensor, n: int, t: int) -> torch.Tensor:
    return model.frames(frames).flatten(1).reshape(n, t, -1)


def frame_pooling_mistakes(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    n, c, t, h, w = x.shape
    right = x.transpose(1, 2).reshape(n * t, c, h, w)
    head = model.head
    return {
        "x.reshape(N·T, C, H, W) without moving T next to N first (x.transpose(1, 2)): channels "
        "and frames are mixed": lambda: head(
            pooled(model, x.reshape(n * t, c, h, w), n, t).mean(1)
        ),
        "the features regrouped as (T, N, F) — frames of different clips averaged together": (
            lambda: head(model.frames(right).flatten(1).reshape(t, n, -1).mean(0))
        ),
        "a max over time instead of the mean": lambda: head(pooled(model, right, n, t).amax(1)),
        "a sum over time instead of the mean": lambda: head(pooled(model, right, n, t).sum(1)),
        "the first frame only (no pooling over time)": lambda: head(
            pooled(model, right, n, t)[:, 0]
        ),
        "the last frame only (no pooling over time)": lambda: head(
            pooled(model, right, n, t)[:, -1]
        ),
        "a mean over the batch instead of over time": lambda: head(
            pooled(model, right, n, t).mean(0)
        ),
        "a mean over the features instead of over time (one number per frame)": lambda: head(
            pooled(model, right, n, t).mean(2)
        ),
    }


@pytest.mark.task(3)
def test_frame_pooling(learner):
    seed_everything(0)
    model = build(learner, "FramePooling", num_classes=5, in_channels=3, width=8)
    for attr in ("frames", "head"):
        if not isinstance(getattr(model, attr, None), nn.Module):
            fail(f"FramePooling should have a submodule `self.{attr}` (the README's contract)")
    if not isinstance(model.head, nn.Linear):
        fail(f"FramePooling's `head` should be an nn.Linear; got {type(model.head).__name__}")
    label = "FramePooling(5, in_channels=3, width=8)"
    check_width(model, nn.Conv2d, label, 8)
    for t in (6, 4):
        x = video_input(4, 3, t)
        got = run_model(model, x, label, nn.Conv2d)
        n, c, _, h, w = x.shape
        with torch.no_grad():
            right = x.transpose(1, 2).reshape(n * t, c, h, w)
            features = call_with_inputs(f"{label}.frames(images)", model.frames, right)
            if not isinstance(features, torch.Tensor) or features.dim() != 2:
                shape = tuple(features.shape) if isinstance(features, torch.Tensor) else None
                fail(
                    f"{label}.frames(images) for images {tuple(right.shape)} has shape {shape}; "
                    f"expected (M, F) = ({n * t}, F), one feature vector per image (the README's "
                    "contract: the checks call `frames` and `head` themselves). End `frames` "
                    "with nn.Flatten() after the pooling"
                )
            want = model.head(pooled(model, right, n, t).mean(1))
            assert_tensor(
                got,
                want,
                name=f"{label}(x)",
                rtol=1e-4,
                atol=1e-5,
                mistakes=functools.partial(frame_pooling_mistakes, model, x),
            )
    check_batch_independence(model, video_input(4, 3, 6, seed=1), label)


def conv3d_layers(model: nn.Module) -> list[nn.Conv3d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv3d)]


@pytest.mark.task(3)
def test_clip3d(learner):
    seed_everything(0)
    model = build(learner, "Clip3D", num_classes=5, in_channels=3, width=8)
    label = "Clip3D(5, in_channels=3, width=8)"
    convs = conv3d_layers(model)
    if not convs:
        fail(f"{label} has no nn.Conv3d: the task is a network of 3-D convolutions")
    check_width(model, nn.Conv3d, label, 8)
    for t, size in ((8, 16), (6, 12)):
        x = video_input(4, 3, t, size)
        try:
            out = run_model(model, x, label, nn.Conv3d)
        except CheckFailure as error:
            if (t, size) == (8, 16):
                raise
            fail(
                f"{error}. The same model ran on a batch (4, 3, 8, 16, 16): its output size "
                "depends on the number of frames or pixels. Pool globally "
                "(nn.AdaptiveAvgPool3d(1), then Flatten) before the head, so that it gets the "
                "same number of features for any T, H and W"
            )
        if tuple(out.shape) != (4, 5):
            fail(f"{label}(x) for x {tuple(x.shape)} has shape {tuple(out.shape)}; expected (4, 5)")
    check_batch_independence(model, video_input(4, 3, 8, seed=1), label)
    x = video_input(4, 3, 8, seed=2)
    out = run_model(model, x, label)
    backwards = run_model(model, x.flip(2), label)
    change = float((out - backwards).abs().max())
    if change < 1e-4 * max(1.0, float(out.abs().max())):
        kernels = [tuple(c.kernel_size) for c in convs]
        if all(k[0] == 1 for k in kernels):
            fail(
                f"{label}'s logits do not change when the frames of a clip are played backwards "
                f"(largest change {change:.2g}): every Conv3d has a time kernel of 1 (kernel "
                f"sizes {kernels}), so no layer sees two frames together and the network cannot "
                "tell left from right. Use kernel_size=3 (3 frames × 3 × 3 pixels)"
            )
        fail(
            f"{label}'s logits do not change when the frames of a clip are played backwards "
            f"(largest change {change:.2g}): something pools or averages over time before any "
            "3-D convolution has seen neighbouring frames together, so the order is lost"
        )


# ----- task 4: training and a per-class evaluation -----------------------------------------------


@pytest.mark.task(4)
def test_per_class_accuracy(learner):
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 4])
    pred = torch.tensor([0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 0, 4, 4])
    label = "per_class_accuracy(pred, labels, 5)"
    got = call_with_inputs(label, learner.per_class_accuracy, pred.clone(), labels.clone(), 5)
    want = ref_per_class(pred, labels, 5)
    overall = float((pred == labels).double().mean())

    def precision() -> torch.Tensor:
        out = torch.full((5,), float("nan"))
        for c in range(5):
            if int((pred == c).sum()):
                out[c] = float((labels[pred == c] == c).double().mean())
        return out

    assert_tensor(
        got,
        want,
        name=label,
        check_dtype=False,
        mistakes={
            "the overall accuracy over all clips, repeated for every class": torch.full(
                (5,), overall
            ),
            "the overall accuracy over all clips, repeated for every class present": lambda: (
                torch.where(want.isnan(), want, torch.full((5,), overall))
            ),
            "precision per class (divided by the clips predicted as c, not the clips of class c)": (
                precision
            ),
            "0 for a class with no clips instead of NaN": lambda: torch.nan_to_num(want, nan=0.0),
            "counts of correct clips instead of fractions": lambda: torch.tensor(
                [float(((pred == c) & (labels == c)).sum()) for c in range(5)]
            ),
        },
    )
    if got.dtype not in (torch.float32, torch.float64):
        fail(f"{label} has dtype {got.dtype}; expected a float tensor (NaN needs a float)")
    label_7 = "per_class_accuracy(pred, labels, 7) (no clip of classes 5 and 6)"
    got = call_with_inputs(label_7, learner.per_class_accuracy, pred.clone(), labels.clone(), 7)
    assert_tensor(
        got,
        ref_per_class(pred, labels, 7),
        name=label_7,
        check_dtype=False,
        mistakes={
            "one entry per class up to labels.max() (num_classes ignored): a class with no clips "
            "still gets its entry, NaN, up to num_classes - 1": want,
        },
    )


class Tiny(nn.Module):
    """The check's own small video model, with a batch norm (so train mode changes the output)."""

    def __init__(self, classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.conv = nn.Conv3d(1, 4, 3, stride=(1, 2, 2), padding=1)
        self.norm = nn.BatchNorm3d(4)
        self.head = nn.Linear(4, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.norm(self.conv(x))).mean((2, 3, 4)))


def tiny(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = Tiny()
    model.norm.running_mean.normal_(0, 0.5)  # eval and train mode then disagree clearly
    model.norm.running_var.uniform_(0.5, 2.0)
    return model


@pytest.mark.task(4)
def test_predict(learner):
    c = clips(2, 11)
    model = tiny(3)
    label = f"predict(model, {len(c.videos)} clips, 8)"
    seen: list[torch.Tensor] = []
    hook = model.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    try:
        with ForwardCalls(model) as log:
            got = call_with_inputs(label, learner.predict, model, [v.clone() for v in c.videos], 8)
    finally:
        hook.remove()
    if any(call.training for call in log.calls):
        fail(
            f"{label} ran the model in training mode: call model.eval() first (batch norm would "
            "use the test batch's statistics, and dropout would drop features)"
        )
    if any(call.grad_enabled for call in log.calls):
        fail(f"{label} ran the model with gradients on: wrap it in torch.no_grad()")
    batch = ref_batch(c.videos, 8)
    fed = torch.cat(seen) if seen and all(x.shape[1:] == batch.shape[1:] for x in seen) else None
    if fed is not None and fed.shape == batch.shape and not torch.equal(fed, batch):
        differ = int((fed != batch).flatten(1).any(1).sum())
        in_segments = all(
            any(torch.equal(fed[n, 0, i], video[k]) for k in segment_frames(len(video), 8, i))
            for n, video in enumerate(c.videos)
            for i in range(8)
            if len(video) >= 8
        )
        cause = (
            "they look like frames drawn at random within each segment, as in training. "
            if in_segments
            else ""
        )
        fail(
            f"{label} fed the model other frames than the segment middles for {differ} of "
            f"{len(c.videos)} clips: {cause}At test time use to_batch(videos, num_frames) with no "
            "generator — random frames at test time make the accuracy change from run to run"
        )
    model.eval()
    with torch.no_grad():
        logits = model(batch)
    want = logits.argmax(1)
    if isinstance(got, torch.Tensor) and got.shape == logits.shape:
        fail(f"{label} returned the logits {tuple(got.shape)}; expected the class of each clip")
    assert_tensor(got, want, name=label)
    label_4 = label.replace(", 8)", ", num_frames=4)")
    with ForwardCalls(model) as log:
        got = call_with_inputs(
            label_4, learner.predict, model, [v.clone() for v in c.videos], num_frames=4
        )
    frames = sorted({(call.input_shape or (0, 0, 0))[2] for call in log.calls})
    if frames != [4]:
        fail(
            f"{label_4} fed the model clips of {frames} frames; expected 4: pass num_frames on "
            "to to_batch instead of a fixed number"
        )
    with torch.no_grad():
        want = model(ref_batch(c.videos, 4)).argmax(1)
    assert_tensor(got, want, name=label_4)


def check_losses(losses: Any, outputs: list[torch.Tensor], label: str) -> None:
    """Each step's loss must be a cross-entropy of that step's logits for SOME labels: between
    the mean of logsumexp − max and of logsumexp − min over the rows."""
    for k, (loss, out) in enumerate(zip(losses, outputs, strict=False)):
        if out.dim() != 2:
            return
        out = out.double()
        lse = out.logsumexp(1)
        low, high = float((lse - out.amax(1)).mean()), float((lse - out.amin(1)).mean())
        if low - 1e-4 <= float(loss) <= high + 1e-4:
            continue
        nll_low, nll_high = float((-out.amax(1)).mean()), float((-out.amin(1)).mean())
        nll = nll_low - 1e-4 <= float(loss) <= nll_high + 1e-4
        cause = (
            " It lies where −mean(logit of the label) would: it looks like F.nll_loss on the raw "
            "logits, which expects log-probabilities (a log_softmax first)."
            if nll
            else ""
        )
        fail(
            f"{label}: the loss of step {k} is {float(loss):.4g}, but the cross-entropy of that "
            f"step's logits lies between {low:.4g} and {high:.4g} whatever the labels (and is "
            f"never negative).{cause} Use F.cross_entropy(logits, labels)"
        )


def check_rates(rates: list[float], label: str, *, lr: float, steps: int) -> None:
    """The learning rate of optimizer step k must be lr · (1 − k / steps)."""
    if len(rates) != steps:
        return  # a hand-written update: the parameters changed, nothing more to see here
    want = [lr * (1 - k / steps) for k in range(steps)]

    def like(values: list[float]) -> bool:
        pairs = zip(rates, values, strict=True)
        return all(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-12) for a, b in pairs)

    if like(want):
        return
    shown = ", ".join(f"{r:.4g}" for r in rates)
    wanted = ", ".join(f"{r:.4g}" for r in want)
    if like([lr * (1 - (k + 1) / steps) for k in range(steps)]):
        cause = (
            "one step ahead, lr · (1 − (k + 1) / steps): the factor of step k is 1 − k / steps "
            "(step 0 uses the full rate), and scheduler.step() comes after optimizer.step()"
        )
    elif all(math.isclose(r, rates[0], rel_tol=1e-9) for r in rates):
        cause = (
            "it never changes: step the scheduler (LambdaLR(optimizer, lambda k: 1 - k / steps)) "
            "once after every optimizer.step()"
        )
        if math.isclose(rates[0], 1e-3, rel_tol=1e-9):
            cause += f", and 0.001 is Adam's default: pass lr=lr ({lr:g}) to the optimizer"
    elif math.isclose(rates[0], 1e-3, rel_tol=1e-9):
        cause = f"0.001 at the first step is Adam's default: pass lr=lr ({lr:g}) to Adam"
    else:
        cause = "expected lr · (1 − k / steps) at step k, a linear decay from lr to 0"
    fail(
        f"{label} ran its {steps} optimizer steps with the learning rates {shown}; expected "
        f"{wanted}: {cause}"
    )


@pytest.mark.task(4)
def test_train_classifier_mechanics(learner):
    c = clips(1, 13)
    results = []
    models = [tiny(4), tiny(4)]  # built first: tiny() seeds the global random state
    for model in models:
        before = [p.detach().clone() for p in model.parameters()]
        label = f"train_classifier(model, {len(c.videos)} clips, steps=4, batch_size=6, seed=0)"
        seen: list[torch.Tensor] = []
        outputs: list[torch.Tensor] = []
        rates: list[float] = []
        hook = model.register_forward_pre_hook(
            lambda _m, args, seen=seen: seen.append(args[0].detach().clone())
        )
        out_hook = model.register_forward_hook(
            lambda _m, _args, out, outputs=outputs: outputs.append(out.detach().clone())
        )
        step_hook = register_optimizer_step_pre_hook(
            lambda opt, _args, _kwargs, rates=rates: rates.append(float(opt.param_groups[0]["lr"]))
        )
        try:
            with ForwardCalls(model) as log:
                losses = call_with_inputs(
                    label, learner.train_classifier, model, c, num_frames=8, steps=4,
                    batch_size=6, lr=1e-2, seed=0,
                )  # fmt: skip
        finally:
            out_hook.remove()
            step_hook.remove()
        if losses is None:
            fail(none_message(label, "the list of losses"))
        if not isinstance(losses, list | tuple) or len(losses) != 4:
            fail(f"{label} should return 4 losses, one per step; got {fmt(losses)}")
        if not all(isinstance(v, float) for v in losses):
            fail(f"{label} should return Python floats (loss.item()); got {fmt(losses[:2])}")
        if len(log.calls) != 4:
            fail(f"{label} called the model {len(log.calls)} times; expected 4, one per step")
        if not all(call.training for call in log.calls):
            fail(f"{label} ran the model in eval mode: call model.train() before training")
        shapes = {tuple(call.input_shape or ()) for call in log.calls}
        if shapes != {(6, 1, 8, 16, 16)}:
            fail(
                f"{label} fed the model batches of shape {sorted(shapes)}; expected (6, 1, 8, 16, "
                "16): batch_size clips from to_batch(..., num_frames, generator)"
            )
        hook.remove()
        middles = ref_batch(c.videos, 8)[:, 0]
        fed = [clip for x in seen for clip in x[:, 0]]
        if all(any(torch.equal(clip, m) for m in middles) for clip in fed):
            fail(
                f"{label} fed the model only segment-middle frames: each of its {len(fed)} "
                "training clips equals a clip of to_batch(videos, num_frames) without a "
                "generator. Pass the generator to to_batch, so that every step sees other "
                "frames (augmentation along time)"
            )
        if all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)):
            fail(f"{label} did not change the model's parameters: optimizer.step() is missing")
        if all(torch.equal(seen[0], x) for x in seen[1:]):
            fail(
                f"{label} fed the model the same batch, the same frames, at all 4 steps: the "
                "generator is seeded again at every step. Create it once, before the loop, so "
                "that each step draws new clips and frames"
            )
        check_losses(losses, outputs, label)
        check_rates(rates, label, lr=1e-2, steps=4)
        results.append([float(v) for v in losses])
    if results[0] != results[1]:
        fail(
            f"two runs of train_classifier(..., seed=0) from the same model gave the losses "
            f"{fmt(results[0][:2])} and {fmt(results[1][:2])}: draw the batches and frames from "
            "torch.Generator().manual_seed(seed), not from the global random state"
        )


TRAIN_STEPS = 300
ORDER_3D_FLOOR = 0.85  # the reference: 0.97-0.99 over three seeds
MARGIN = 0.3  # 3-D over pooling on the order classes; the reference: 0.41-0.49
POOL_ORDER_BAND = (0.3, 0.7)  # pooling cannot tell a pair apart: the reference 0.48-0.56
SHAPE_FLOOR = 0.8  # the reference: 0.95-0.98 for both models


@once_per_run
def trained(learner) -> dict[str, Any]:
    train = clips(12, 1)
    out = {}
    for name in ("FramePooling", "Clip3D"):
        seed_everything(0)
        model = build(learner, name, num_classes=NUM_CLASSES)
        label = (
            f"train_classifier({name}(6), {len(train.videos)} clips, steps={TRAIN_STEPS}, "
            "batch_size=16, lr=0.01, seed=0)"
        )
        losses = call_with_inputs(
            label, learner.train_classifier, model, train, num_frames=8, steps=TRAIN_STEPS,
            batch_size=16, lr=1e-2, seed=0,
        )  # fmt: skip
        if not isinstance(losses, list | tuple) or len(losses) != TRAIN_STEPS:
            fail(f"{label} should return {TRAIN_STEPS} losses, one per step")
        values = [float(v) for v in losses]
        bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
        if bad is not None:
            fail(f"{label}: the loss became {values[bad]} at step {bad}: training diverged")
        out[name] = (model, values)
    return out


def evaluate(model: nn.Module, test: Any) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        pred = model(ref_batch(test.videos, 8)).argmax(1)
    return ref_per_class(pred, test.labels, NUM_CLASSES)


@pytest.mark.task(4)
def test_time_matters(learner):
    outcome, error = trained(learner)
    if error is not None:
        raise error
    test = clips(8, 21)
    scores = {}
    for name, (model, losses) in outcome.items():
        acc = evaluate(model, test)
        scores[name] = {
            "order": float(acc[list(cl.ORDER_CLASSES)].mean()),
            "shape": float(acc[list(cl.SHAPE_CLASSES)].mean()),
            "per_class": [round(float(a), 2) for a in acc],
            "loss": (np.mean(losses[:10]), np.mean(losses[-10:])),
        }
    summary = "; ".join(
        f"{name}: accuracy per class {s['per_class']} (classes {list(cl.CLASSES)}), loss "
        f"{s['loss'][0]:.2f} over the first 10 steps, {s['loss'][1]:.2f} over the last 10"
        for name, s in scores.items()
    )
    summary = (
        f"(the check's evaluation on {len(test.videos)} clips of 48 new recordings: {summary})"
    )
    pool, c3d = scores["FramePooling"], scores["Clip3D"]
    first, last = c3d["loss"]
    if c3d["order"] < ORDER_3D_FLOOR and last > 0.8 * first:
        fail(
            f"the trained Clip3D did not reach a mean accuracy of {ORDER_3D_FLOOR} on the classes "
            f"only order tells apart within {TRAIN_STEPS} steps: {c3d['order']:.3f}, and its "
            f"training loss barely fell ({first:.2f} → {last:.2f}) {summary}. The model learned "
            "almost nothing: check that each clip in a batch is scored against its own label "
            "(one index tensor for both), optimizer.zero_grad() before every backward(), and "
            "the learning rate"
        )
    if c3d["order"] < ORDER_3D_FLOOR:
        fail(
            f"the trained Clip3D did not reach a mean accuracy of {ORDER_3D_FLOOR} on the classes "
            f"only order tells apart (left, right, grow, shrink) within {TRAIN_STEPS} steps: "
            f"{c3d['order']:.3f} {summary}. Check that Clip3D's convolutions span several frames "
            "and that train_classifier follows the recipe: random frames from the generator, "
            "Adam, and the learning rate decaying linearly to 0 over the steps (a rate still "
            "high at the end leaves the weights wherever the last noisy batches pushed them)"
        )
    if c3d["order"] < pool["order"] + MARGIN:
        fail(
            f"Clip3D's mean accuracy on the order classes is {c3d['order']:.3f}, FramePooling's "
            f"{pool['order']:.3f}: the 3-D model should beat mean pooling there by at least "
            f"{MARGIN} {summary}"
        )
    low, high = POOL_ORDER_BAND
    if not low <= pool["order"] <= high:
        fail(
            f"FramePooling's mean accuracy on the order classes is {pool['order']:.3f}; expected "
            f"between {low} and {high} (a mean over time cannot tell a clip from the same clip "
            f"played backwards, so it guesses within each pair: about 0.5) {summary}"
        )
    for name, s in scores.items():
        if s["shape"] < SHAPE_FLOOR:
            fail(
                f"the trained {name} did not reach a mean accuracy of {SHAPE_FLOOR} on the shape "
                f"classes (plus, ring) within {TRAIN_STEPS} steps: {s['shape']:.3f} {summary}"
            )
