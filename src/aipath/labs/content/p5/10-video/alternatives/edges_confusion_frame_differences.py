"""An alternative solution (segment edges in float64, a confusion matrix, frame differences as a
second input channel of the 3-D network): correct, written differently."""

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
        return torch.cat(
            [torch.arange(length), torch.arange(length)[-1:].repeat(num_frames - length)]
        )
    edges = torch.linspace(0, length, num_frames + 1, dtype=torch.float64)
    left, width = edges[:-1], edges[1:] - edges[:-1]
    if generator is None:
        where = left + 0.5 * width
    else:
        where = left + torch.rand(num_frames, generator=generator, dtype=torch.float64) * width
    return where.floor().to(torch.int64).clamp(0, length - 1)


def to_batch(
    videos: list[Tensor], num_frames: int, generator: torch.Generator | None = None
) -> Tensor:
    picked = [
        torch.index_select(v, 0, sample_indices(len(v), num_frames, generator)) for v in videos
    ]
    return torch.stack(picked, dim=0).unsqueeze(dim=1)


# ----- task 2: a split by recording --------------------------------------------------------------


def split_by_recording(
    recordings: Tensor, test_fraction: float = 0.25, seed: int = 0
) -> tuple[Tensor, Tensor]:
    ids = recordings.unique(sorted=True)
    shuffled = ids[torch.rand(len(ids), generator=torch.Generator().manual_seed(seed)).argsort()]
    test_ids = shuffled[: round(test_fraction * len(ids))]
    is_test = (recordings[:, None] == test_ids[None, :]).any(dim=1)
    positions = torch.arange(len(recordings))
    return positions[~is_test], positions[is_test]


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
        images = x.permute(0, 2, 1, 3, 4).contiguous().view(n * t, c, h, w)
        return self.head(torch.stack(self.frames(images).split(t)).mean(dim=1))


class Clip3D(nn.Module):
    """The frames and their differences (what changed since the previous frame) as input."""

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(2 * in_channels, width, 3, stride=(1, 2, 2), padding=1),
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
        change = F.pad(x.diff(dim=2), (0, 0, 0, 0, 1, 0))  # (N, C, T, H, W), zero at t = 0
        return self.head(self.features(torch.cat([x, change], dim=1)))


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
    rng = torch.Generator()
    rng.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=steps, power=1.0)
    model.train(True)
    history: list[float] = []
    while len(history) < steps:
        chosen = torch.randint(0, len(clips.videos), (batch_size,), generator=rng)
        inputs = to_batch([clips.videos[k] for k in chosen.tolist()], num_frames, generator=rng)
        loss = F.cross_entropy(model(inputs), clips.labels.index_select(0, chosen))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        history.append(float(loss.detach()))
    return history


def predict(model: nn.Module, videos: list[Tensor], num_frames: int = 8) -> Tensor:
    model.train(False)
    with torch.no_grad():
        logits = model(to_batch(videos, num_frames, generator=None))
    return logits.max(dim=1).indices


def per_class_accuracy(pred: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.float64)
    confusion.index_put_(
        (labels, pred), torch.ones(len(labels), dtype=torch.float64), accumulate=True
    )
    return confusion.diagonal() / confusion.sum(dim=1)  # 0 / 0 is NaN for a class with no clips
