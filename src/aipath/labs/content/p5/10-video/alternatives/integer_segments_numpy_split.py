"""An alternative solution (integer segment arithmetic, randint offsets, a NumPy split):
correct, written differently."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from clips import Clips
from torch import Tensor, nn

# ----- task 1: sampling frames -------------------------------------------------------------------


def sample_indices(
    length: int, num_frames: int, generator: torch.Generator | None = None
) -> Tensor:
    if length < num_frames:
        return torch.arange(num_frames).clamp(max=length - 1)  # the last frame repeats
    i = torch.arange(num_frames)
    if generator is None:
        return (2 * i + 1) * length // (2 * num_frames)  # floor((i + 0.5)·L/T), exactly
    starts = i * length // num_frames
    ends = (i + 1) * length // num_frames
    picks = [
        int(torch.randint(int(s), max(int(e), int(s) + 1), (1,), generator=generator))
        for s, e in zip(starts, ends, strict=True)
    ]
    return torch.tensor(picks)


def to_batch(
    videos: list[Tensor], num_frames: int, generator: torch.Generator | None = None
) -> Tensor:
    return torch.stack(
        [v.index_select(0, sample_indices(v.shape[0], num_frames, generator)) for v in videos]
    )[:, None]


# ----- task 2: a split by recording --------------------------------------------------------------


def split_by_recording(
    recordings: Tensor, test_fraction: float = 0.25, seed: int = 0
) -> tuple[Tensor, Tensor]:
    ids = np.unique(recordings.numpy())
    chosen = np.random.default_rng(seed).choice(ids, round(test_fraction * len(ids)), replace=False)
    in_test = torch.from_numpy(np.isin(recordings.numpy(), chosen))
    everything = torch.arange(len(recordings))
    return everything[~in_test], everything[in_test]


# ----- task 3: two models ------------------------------------------------------------------------


class FramePooling(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.frames = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=2, padding=1),
            nn.GroupNorm(4, width),
            nn.GELU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.GroupNorm(4, 2 * width),
            nn.GELU(),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, h, w = x.shape
        features = self.frames(x.movedim(2, 1).reshape(-1, c, h, w))
        return self.head(features.view(n, t, -1).mean(1))


class Clip3D(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(in_channels, width, 3, padding=1)
        self.norm1 = nn.BatchNorm3d(width)
        self.conv2 = nn.Conv3d(width, 2 * width, 3, padding=1)
        self.norm2 = nn.BatchNorm3d(2 * width)
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = F.max_pool3d(F.relu(self.norm1(self.conv1(x))), (1, 2, 2))
        x = F.relu(self.norm2(self.conv2(x)))
        return self.head(F.adaptive_avg_pool3d(x, 1).flatten(1))


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
    schedule = torch.optim.lr_scheduler.LinearLR(optimizer, 1.0, 0.0, total_iters=steps)
    model.train()
    losses = []
    for _ in range(steps):
        batch = torch.randint(len(clips.videos), (batch_size,), generator=generator)
        x = to_batch([clips.videos[int(i)] for i in batch], num_frames, generator)
        loss = F.cross_entropy(model(x), clips.labels[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses


def predict(model: nn.Module, videos: list[Tensor], num_frames: int = 8) -> Tensor:
    model.eval()
    with torch.inference_mode():
        return model(to_batch(videos, num_frames)).argmax(-1)


def per_class_accuracy(pred: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    total = torch.bincount(labels, minlength=num_classes).double()
    right = torch.bincount(labels[pred == labels], minlength=num_classes).double()
    return torch.where(total > 0, right / total.clamp(min=1), torch.full_like(total, float("nan")))
