# expect: must be the same every time
"""A known mistake (random offsets at evaluation too): the reference with one slip."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from clips import Clips
from torch import Tensor, nn

# ----- task 1: sampling frames -------------------------------------------------------------------


def sample_indices(
    length: int, num_frames: int, generator: torch.Generator | None = None
) -> Tensor:
    if length < num_frames:
        return torch.cat([torch.arange(length), torch.full((num_frames - length,), length - 1)])
    offsets = torch.rand(num_frames, generator=generator)
    positions = (torch.arange(num_frames) + offsets) * length / num_frames
    return positions.floor().long().clamp(max=length - 1)


def to_batch(
    videos: list[Tensor], num_frames: int, generator: torch.Generator | None = None
) -> Tensor:
    frames = [video[sample_indices(len(video), num_frames, generator)] for video in videos]
    return torch.stack(frames).unsqueeze(1)


# ----- task 2: a split by recording --------------------------------------------------------------


def split_by_recording(
    recordings: Tensor, test_fraction: float = 0.25, seed: int = 0
) -> tuple[Tensor, Tensor]:
    ids = torch.unique(recordings)
    n_test = round(test_fraction * len(ids))
    order = torch.randperm(len(ids), generator=torch.Generator().manual_seed(seed))
    test_ids = ids[order[:n_test]]
    in_test = torch.isin(recordings, test_ids)
    return torch.nonzero(~in_test).flatten(), torch.nonzero(in_test).flatten()


# ----- task 3: two models ------------------------------------------------------------------------


class FramePooling(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.frames = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=2, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(n * t, c, h, w)
        features = self.frames(frames).reshape(n, t, -1)
        return self.head(features.mean(dim=1))


class Clip3D(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(in_channels, width, 3, stride=(1, 2, 2), padding=1),
            nn.BatchNorm3d(width),
            nn.ReLU(),
            nn.Conv3d(width, 2 * width, 3, padding=1),
            nn.BatchNorm3d(2 * width),
            nn.ReLU(),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


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
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 1 - k / steps)
    model.train()
    losses = []
    for _ in range(steps):
        batch = torch.randint(len(clips.videos), (batch_size,), generator=generator)
        x = to_batch([clips.videos[i] for i in batch.tolist()], num_frames, generator)
        loss = F.cross_entropy(model(x), clips.labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses


def predict(model: nn.Module, videos: list[Tensor], num_frames: int = 8) -> Tensor:
    model.eval()
    with torch.no_grad():
        return model(to_batch(videos, num_frames)).argmax(dim=1)


def per_class_accuracy(pred: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    scores = torch.full((num_classes,), float("nan"))
    for c in range(num_classes):
        mine = labels == c
        if mine.any():
            scores[c] = (pred[mine] == c).float().mean()
    return scores
