"""An alternative solution (loops, late fusion, a (2+1)-D network): correct, written differently."""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from clips import Clips
from torch import Tensor, nn

# ----- task 1: sampling frames -------------------------------------------------------------------


def sample_indices(
    length: int, num_frames: int, generator: torch.Generator | None = None
) -> Tensor:
    if length < num_frames:
        picks = list(range(length)) + [length - 1] * (num_frames - length)
        return torch.tensor(picks, dtype=torch.int64)
    draws = None if generator is None else torch.rand(num_frames, generator=generator).tolist()
    picks = []
    for i in range(num_frames):
        offset = 0.5 if draws is None else draws[i]
        picks.append(min(length - 1, math.floor((i + offset) * length / num_frames)))
    return torch.tensor(picks, dtype=torch.int64)


def to_batch(
    videos: list[Tensor], num_frames: int, generator: torch.Generator | None = None
) -> Tensor:
    batch = torch.empty(len(videos), 1, num_frames, *videos[0].shape[1:])
    for n, video in enumerate(videos):
        for i, k in enumerate(sample_indices(len(video), num_frames, generator).tolist()):
            batch[n, 0, i] = video[k]
    return batch


# ----- task 2: a split by recording --------------------------------------------------------------


def split_by_recording(
    recordings: Tensor, test_fraction: float = 0.25, seed: int = 0
) -> tuple[Tensor, Tensor]:
    ids = sorted(set(recordings.tolist()))
    test_ids = set(random.Random(seed).sample(ids, round(test_fraction * len(ids))))
    train, test = [], []
    for index, recording in enumerate(recordings.tolist()):
        (test if recording in test_ids else train).append(index)
    return torch.tensor(train, dtype=torch.int64), torch.tensor(test, dtype=torch.int64)


# ----- task 3: two models ------------------------------------------------------------------------


class FramePooling(nn.Module):
    """Late fusion: the head scores every frame and the logits are averaged (the head is linear,
    so this is the same as averaging the features first)."""

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.frames = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        n, _, t = x.shape[:3]
        images = x.permute(0, 2, 1, 3, 4).flatten(0, 1)  # (N·T, C, H, W), clip by clip
        per_frame = self.head(self.frames(images)).unflatten(0, (n, t))  # (N, T, classes)
        return per_frame.mean(dim=1)


class Clip3D(nn.Module):
    """(2+1)-D: each 3-D convolution split into a spatial (1, 3, 3) and a temporal (3, 1, 1) one."""

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for c_out, stride in ((width, (1, 2, 2)), (2 * width, (1, 1, 1))):
            layers += [
                nn.Conv3d(c_in, c_out, (1, 3, 3), stride=stride, padding=(0, 1, 1)),
                nn.Conv3d(c_out, c_out, (3, 1, 1), padding=(1, 0, 0)),
                nn.BatchNorm3d(c_out),
                nn.ReLU(),
            ]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x).mean(dim=(2, 3, 4)))


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
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * (1 - step / steps)
        batch = torch.randint(len(clips.videos), (batch_size,), generator=generator).tolist()
        x = to_batch([clips.videos[i] for i in batch], num_frames, generator)
        loss = F.cross_entropy(model(x), clips.labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    return losses


@torch.no_grad()
def predict(model: nn.Module, videos: list[Tensor], num_frames: int = 8) -> Tensor:
    model.eval()
    return torch.argmax(model(to_batch(videos, num_frames)), dim=1)


def per_class_accuracy(pred: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    right = [0] * num_classes
    total = [0] * num_classes
    for p, y in zip(pred.tolist(), labels.tolist(), strict=True):
        total[y] += 1
        right[y] += int(p == y)
    return torch.tensor([r / n if n else math.nan for r, n in zip(right, total, strict=True)])
