"""Convolutions from scratch, max pooling, a residual block, and a small CNN on 8×8 digits.

Every tensor is NCHW: (batch N, channels C, height H, width W). The helper `pair` is given; the
functions and the class that raise NotImplementedError are yours.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F  # noqa: F401  (F.pad, F.cross_entropy, ... are allowed)
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
    """How many positions a kernel takes along one dimension.

    Args:
        size: the length of the input along that dimension (H or W).
        kernel: the kernel's length along it (kH or kW).
        stride: the step between two positions.
        padding: zeros added on *each* side of that dimension.

    Returns:
        An int: the output length (H_out or W_out); a window that would run past the padded
        edge is dropped.

    >>> conv_output_size(8, 3, stride=1, padding=1)
    8
    >>> conv_output_size(7, 3, stride=2)
    3
    """
    # TODO: count how many windows of length `kernel`, `stride` apart, fit in size + both paddings
    raise NotImplementedError


def im2col(
    x: torch.Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """Every kernel-sized patch of ``x`` as one column, in exactly the layout of ``F.unfold``.

    Build it yourself (``F.unfold`` / ``nn.Unfold`` are what the checks compare it with; slicing,
    ``F.pad``, ``torch.stack``, ``Tensor.unfold`` or ``as_strided`` are all fine).

    Args:
        x: (N, C, H, W).
        kernel_size, stride, padding: an int (the same for H and W) or a pair (for H, for W);
            use ``pair(...)``. Zero padding goes on both sides of H and of W only.

    Returns:
        (N, C·kH·kW, H_out·W_out), same dtype as ``x``. Row ``c·kH·kW + i·kW + j`` holds the
        value at kernel offset (i, j) of channel c; column ``oh·W_out + ow`` is the patch whose
        top-left corner sits at row ``oh·sH`` and column ``ow·sW`` of the padded input.

    >>> x = torch.arange(9.0).reshape(1, 1, 3, 3)
    >>> im2col(x, 2)
    tensor([[[0., 1., 3., 4.],
             [1., 2., 4., 5.],
             [3., 4., 6., 7.],
             [4., 5., 7., 8.]]])
    """
    # TODO: pad H and W, then gather the patches (one strided slice per kernel offset is enough)
    raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """The same result as ``F.conv2d(x, weight, bias, stride, padding)``, as one matrix product.

    ``F.conv2d`` computes a cross-correlation (the kernel is *not* flipped):
    ``out[n, o, y, x] = bias[o] + Σ_c Σ_i Σ_j weight[o, c, i, j] · x_pad[n, c, y·sH+i, x·sW+j]``.
    Do not call ``F.conv2d``, ``nn.Conv2d`` or any other ready-made convolution; ``im2col`` (yours,
    or ``F.unfold``) and a matrix product are all you need. Build it from torch operations, so
    that gradients flow through it.

    Args:
        x: (N, C_in, H, W).
        weight: (C_out, C_in, kH, kW).
        bias: (C_out,) or None.
        stride, padding: an int or a pair (for H, for W).

    Returns:
        (N, C_out, H_out, W_out).

    >>> conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2)).shape
    torch.Size([1, 1, 2, 2])
    """
    # TODO: columns (N, C_in·kH·kW, L), weights as a (C_out, C_in·kH·kW) matrix, multiply, reshape
    raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
def max_pool2d(
    x: torch.Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
) -> torch.Tensor:
    """The same result as ``F.max_pool2d(x, kernel_size, stride)`` (no padding), built yourself.

    Args:
        x: (N, C, H, W).
        kernel_size: an int or a pair (kH, kW).
        stride: an int, a pair, or None — None means the kernel size (windows side by side).

    Returns:
        (N, C, H_out, W_out): the largest value of each window, each channel pooled on its own.
        A window that would run past the edge is dropped, as in ``conv_output_size``.

    >>> max_pool2d(torch.arange(16.0).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    # TODO: gather each channel's windows (your im2col works), take the max over each window
    raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
class ResidualBlock(nn.Module):
    """The basic block of a ResNet; it keeps the shape (N, channels, H, W).

    Attributes (the checks use these names):
        conv1, conv2: ``nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)``.
        bn1, bn2: ``nn.BatchNorm2d(channels)``.

    forward(x), in this order:
        out = ReLU(bn1(conv1(x)))
        out = bn2(conv2(out))
        return ReLU(out + x)        # add the identity *after* bn2, then the last ReLU
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        # TODO: the two convolutions and the two batch norms, named conv1, bn1, conv2, bn2
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: conv1 → bn1 → ReLU → conv2 → bn2 → + x → ReLU
        raise NotImplementedError


# ----- task 5 -----------------------------------------------------------------------------------
def to_images(X: np.ndarray) -> torch.Tensor:
    """sklearn digits rows → images.

    Args:
        X: (N, 64) float array of pixel values 0..16, each row an 8×8 image read row by row
            (``sklearn.datasets.load_digits().data``).

    Returns:
        (N, 1, 8, 8) float32 tensor with values in [0, 1] (divide by 16).
    """
    # TODO: scale, then reshape into NCHW with one channel
    raise NotImplementedError


def build_model(num_classes: int = 10) -> nn.Module:
    """A small ResNet-style CNN: (N, 1, 8, 8) images → (N, num_classes) logits.

    Conv2d(1 → 16, 3×3, padding=1, bias=False) → BatchNorm2d(16) → ReLU → ResidualBlock(16) →
    MaxPool2d(2) → Flatten → Linear(16·4·4 → num_classes). Use ``nn.Conv2d`` and
    ``nn.MaxPool2d`` here: they are the fast versions of what you built above.
    """
    # TODO: nn.Sequential(...) of the layers above
    raise NotImplementedError


def train(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int = 6,
    batch_size: int = 64,
    lr: float = 3e-3,
) -> list[float]:
    """Train ``model`` in place with Adam on the cross-entropy, in shuffled mini-batches.

    Args:
        model: from ``build_model()``.
        images: (N, 1, 8, 8) float32; labels: (N,) int64 class ids.
        epochs: passes over the data; batch_size: images per step; lr: Adam's learning rate.

    Returns:
        The mean training loss of each epoch: a list of ``epochs`` floats.
    """
    # TODO: Adam; each epoch: model.train(), torch.randperm(N); each batch: zero_grad → loss →
    #       backward → step
    raise NotImplementedError


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction (0..1) of ``images`` whose highest logit is the label, in evaluation mode.

    Batch norm must use its running statistics here, and nothing may be learned.
    """
    # TODO: model.eval(), torch.no_grad(), argmax over the classes
    raise NotImplementedError
