# expect: stride pair read backwards
"""Mistake: im2col unpacks the stride pair as (sW, sH)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# ----- given helper (do not change it) ----------------------------------------------------------
def pair(value: int | tuple[int, int]) -> tuple[int, int]:
    """``3`` → ``(3, 3)``; ``(3, 2)`` stays ``(3, 2)``: (for the height, for the width)."""
    if isinstance(value, int):
        return (value, value)
    height, width = value
    return (int(height), int(width))


# ----- task 1 -----------------------------------------------------------------------------------
def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Positions a kernel takes along one dimension of length ``size``."""
    return (size + 2 * padding - kernel) // stride + 1


def im2col(
    x: torch.Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """Every kernel-sized patch of ``x`` as a column: (N, C, H, W) → (N, C·kH·kW, H_out·W_out)."""
    kh, kw = pair(kernel_size)
    sw, sh = pair(stride)
    ph, pw = pair(padding)
    n, c, h, w = x.shape
    h_out = conv_output_size(h, kh, sh, ph)
    w_out = conv_output_size(w, kw, sw, pw)
    padded = F.pad(x, (pw, pw, ph, ph))  # the last dim (W) first, then H; N and C untouched
    # One strided slice per kernel offset (i, j): the values that offset sees at every position.
    slices = [
        padded[:, :, i : i + sh * (h_out - 1) + 1 : sh, j : j + sw * (w_out - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]
    cols = torch.stack(slices, dim=2)  # (N, C, kH·kW, H_out, W_out)
    return cols.reshape(n, c * kh * kw, h_out * w_out)


# ----- task 2 -----------------------------------------------------------------------------------
def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """A 2-D cross-correlation, as ``F.conv2d``: (N, C_in, H, W) → (N, C_out, H_out, W_out)."""
    n, _c, h, w = x.shape
    c_out, _c_in, kh, kw = weight.shape
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    h_out = conv_output_size(h, kh, sh, ph)
    w_out = conv_output_size(w, kw, sw, pw)
    cols = im2col(x, (kh, kw), (sh, sw), (ph, pw))  # (N, C_in·kH·kW, L)
    # (C_out, C_in·kH·kW) @ (N, C_in·kH·kW, L) → (N, C_out, L)
    out = weight.reshape(c_out, -1) @ cols
    if bias is not None:
        out = out + bias.reshape(1, c_out, 1)
    return out.reshape(n, c_out, h_out, w_out)


# ----- task 3 -----------------------------------------------------------------------------------
def max_pool2d(
    x: torch.Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
) -> torch.Tensor:
    """Max pooling, as ``F.max_pool2d`` (no padding): (N, C, H, W) → (N, C, H_out, W_out)."""
    kh, kw = pair(kernel_size)
    sh, sw = pair(stride if stride is not None else (kh, kw))
    n, c, h, w = x.shape
    h_out = conv_output_size(h, kh, sh)
    w_out = conv_output_size(w, kw, sw)
    # Each channel pooled on its own: fold C into the batch, so a patch never mixes channels.
    cols = im2col(x.reshape(n * c, 1, h, w), (kh, kw), (sh, sw))  # (N·C, kH·kW, L)
    return cols.amax(dim=1).reshape(n, c, h_out, w_out)


# ----- task 4 -----------------------------------------------------------------------------------
class ResidualBlock(nn.Module):
    """conv1 → bn1 → ReLU → conv2 → bn2, then add the input x, then ReLU. Shapes are kept."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + x)


# ----- task 5 -----------------------------------------------------------------------------------
def to_images(X: np.ndarray) -> torch.Tensor:
    """sklearn digits rows (N, 64) with values 0..16 → float32 images (N, 1, 8, 8) in [0, 1]."""
    return torch.as_tensor(np.asarray(X, dtype=np.float64) / 16.0, dtype=torch.float32).reshape(
        -1, 1, 8, 8
    )


def build_model(num_classes: int = 10) -> nn.Module:
    """A small ResNet-style CNN: (N, 1, 8, 8) images → (N, num_classes) logits."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        ResidualBlock(16),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, num_classes),
    )


def train(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int = 6,
    batch_size: int = 64,
    lr: float = 3e-3,
) -> list[float]:
    """Adam on the cross-entropy, shuffled mini-batches; the mean training loss of each epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(images)
    history = []
    for _epoch in range(epochs):
        model.train()
        order = torch.randperm(n)
        total = 0.0
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        history.append(total / n)
    return history


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of images whose highest logit is the true label, in evaluation mode."""
    model.eval()
    with torch.no_grad():
        predictions = model(images).argmax(dim=1)
    return float((predictions == labels).float().mean())
