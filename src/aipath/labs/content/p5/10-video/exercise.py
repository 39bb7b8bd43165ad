"""p5-video: frame sampling, a split by recording, a per-frame CNN against a 3-D CNN.

Edit this file, then run `aipath check p5-video`. The README states each contract; the data
comes from `clips.py` (read it, do not edit it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: F401
from clips import Clips
from torch import Tensor, nn

# ----- task 1: sampling frames -------------------------------------------------------------------


def sample_indices(
    length: int, num_frames: int, generator: torch.Generator | None = None
) -> Tensor:
    """T = num_frames frame indices (int64, shape (T,)) into a clip of `length` frames.

    Cut the clip into T equal segments [i·L/T, (i+1)·L/T). Without a generator (evaluation) take
    the frame at the middle of each segment, floor((i + 0.5)·L/T); with one (training), the frame
    at floor((i + u_i)·L/T) with u_i uniform in [0, 1), drawn from `generator` for each segment.
    A clip shorter than T: every frame once, then the last one repeated.

    >>> sample_indices(40, 8)
    tensor([ 2,  7, 12, 17, 22, 27, 32, 37])
    >>> sample_indices(3, 5)
    tensor([0, 1, 2, 2, 2])
    """
    raise NotImplementedError  # TODO


def to_batch(
    videos: list[Tensor], num_frames: int, generator: torch.Generator | None = None
) -> Tensor:
    """Clips (L_i, H, W) → one float batch (N, 1, T, H, W): sample_indices of each clip in turn
    (passing the generator on), its frames stacked, and a channel axis of 1.

    >>> to_batch([torch.zeros(12, 16, 16), torch.zeros(5, 16, 16)], 8).shape
    torch.Size([2, 1, 8, 16, 16])
    """
    raise NotImplementedError  # TODO


# ----- task 2: a split by recording --------------------------------------------------------------


def split_by_recording(
    recordings: Tensor, test_fraction: float = 0.25, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """(train, test) sorted int64 indices of the clips; round(test_fraction · n_recordings)
    recordings, drawn with a generator seeded `seed`, go to test with every clip they have.

    >>> recordings = torch.tensor([7, 7, 3, 3, 3, 9, 9, 1])
    >>> train, test = split_by_recording(recordings, 0.5)      # 2 of the 4 recordings in test
    >>> len(set(recordings[test].tolist())), len(set(recordings[train].tolist()))
    (2, 2)
    """
    raise NotImplementedError  # TODO


# ----- task 3: two models ------------------------------------------------------------------------


class FramePooling(nn.Module):
    """A 2-D CNN on every frame, the features averaged over time, a linear head.

    Attributes: `frames` (any nn.Module: (M, C, H, W) → (M, F)) and `head` (nn.Linear(F,
    num_classes)). forward: (N, C, T, H, W) → logits (N, num_classes).

    >>> FramePooling(6)(torch.randn(2, 1, 8, 16, 16)).shape
    torch.Size([2, 6])
    """

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        raise NotImplementedError  # TODO

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError  # TODO


class Clip3D(nn.Module):
    """A small 3-D CNN: Conv3d layers whose kernels span frames as well as pixels, a global
    average pool, a linear head. forward: (N, C, T, H, W) → logits (N, num_classes).

    >>> Clip3D(6)(torch.randn(2, 1, 8, 16, 16)).shape
    torch.Size([2, 6])
    """

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        raise NotImplementedError  # TODO

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError  # TODO


# ----- task 4: training and a per-class evaluation -----------------------------------------------


def train_classifier(
    model: nn.Module,
    clips: Clips,
    *,
    num_frames: int = 8,
    steps: int = 300,
    batch_size: int = 16,
    lr: float = 1e-2,
    seed: int = 0,
) -> list[float]:
    """Adam with the learning rate decaying linearly to 0, cross-entropy on random batches of
    clips with random frames (both from torch.Generator().manual_seed(seed)), the model in train
    mode; returns the loss of every step as a Python float."""
    raise NotImplementedError  # TODO


def predict(model: nn.Module, videos: list[Tensor], num_frames: int = 8) -> Tensor:
    """The predicted class (int64, (N,)) of each clip: segment-middle frames, eval mode, no grad."""
    raise NotImplementedError  # TODO


def per_class_accuracy(pred: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """Float (num_classes,): for each class, the fraction of ITS clips predicted as it (recall);
    NaN for a class with no clips.

    >>> per_class_accuracy(torch.tensor([0, 1, 1, 1]), torch.tensor([0, 0, 1, 1]), 3)
    tensor([0.5000, 1.0000,    nan])
    """
    raise NotImplementedError  # TODO
