# expect: it never changes: step the scheduler
# A blind-review mistake; slip: the LambdaLR scheduler is created but never stepped: the learning
# rate stays at lr
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
    """T frame indices (int64, (T,))."""
    if length < num_frames:
        return torch.cat([torch.arange(length), torch.full((num_frames - length,), length - 1)])
    if generator is None:
        offsets = torch.full((num_frames,), 0.5, dtype=torch.float64)
    else:
        offsets = torch.rand(num_frames, generator=generator).double()
    idx = ((torch.arange(num_frames, dtype=torch.float64) + offsets) * length / num_frames).floor()
    return idx.long()


def to_batch(
    videos: list[Tensor], num_frames: int, generator: torch.Generator | None = None
) -> Tensor:
    """Clips (L_i, H, W) -> (N, 1, T, H, W)."""
    frames = [v[sample_indices(v.shape[0], num_frames, generator)] for v in videos]
    return torch.stack(frames).unsqueeze(1)


# ----- task 2: a split by recording --------------------------------------------------------------


def split_by_recording(
    recordings: Tensor, test_fraction: float = 0.25, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """(train, test) sorted int64 indices of the clips."""
    ids = torch.unique(recordings)
    k = round(test_fraction * len(ids))
    g = torch.Generator().manual_seed(seed)
    test_ids = ids[torch.randperm(len(ids), generator=g)[:k]]
    in_test = torch.isin(recordings, test_ids)
    test = torch.nonzero(in_test).flatten()
    train = torch.nonzero(~in_test).flatten()
    return train, test


# ----- task 3: two models ------------------------------------------------------------------------


class FramePooling(nn.Module):
    """A 2-D CNN on every frame, the features averaged over time, a linear head."""

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.frames = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1, stride=2), nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, h, w = x.shape
        f = self.frames(x.transpose(1, 2).reshape(n * t, c, h, w)).reshape(n, t, -1)
        return self.head(f.mean(1))


class Clip3D(nn.Module):
    """A small 3-D CNN."""

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(in_channels, width, 3, padding=1, stride=(1, 2, 2)), nn.BatchNorm3d(width),
            nn.ReLU(),
            nn.Conv3d(width, 2 * width, 3, padding=1), nn.BatchNorm3d(2 * width), nn.ReLU(),
            nn.AdaptiveAvgPool3d(1), nn.Flatten(),
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
    """Adam, linear decay, random batches; returns the loss of every step."""
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 1 - k / steps)  # noqa: F841
    model.train()
    losses = []
    for _ in range(steps):
        batch = torch.randint(len(clips.videos), (batch_size,), generator=g)
        x = to_batch([clips.videos[i] for i in batch.tolist()], num_frames, g)
        loss = F.cross_entropy(model(x), clips.labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def predict(model: nn.Module, videos: list[Tensor], num_frames: int = 8) -> Tensor:
    """The predicted class of each clip."""
    model.eval()
    with torch.no_grad():
        return model(to_batch(videos, num_frames)).argmax(1)


def per_class_accuracy(pred: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """Recall per class; NaN for a class with no clips."""
    out = torch.full((num_classes,), float("nan"))
    for c in range(num_classes):
        mine = labels == c
        if mine.any():
            out[c] = (pred[mine] == c).float().mean()
    return out
