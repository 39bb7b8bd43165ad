"""Synthetic "scans" for the segmentation lab: given to you, do not edit (the checks keep a copy).

Each *case* (a patient) is a small volume of ``slices`` adjacent 2-D slices of ``size × size``
pixels: an oval of textured "tissue" on a dark background, bright thin "vessels" that run
through the volume, and, in most cases, one to three small bright round "lesions" (balls in 3-D,
so one lesion shows up in one to four neighbouring slices, smaller at its ends). About a quarter of
the cases are healthy. Pixel noise is added last. The vessels are about as bright as the lesions:
what tells them apart is shape, not intensity.

    scans = make_scans(50, seed=1)       # 50 cases × 4 slices = 200 scans
    scans.images    float32 (N, 1, H, W)    the model's input, mostly between -0.3 and 1.5
    scans.labels    int64   (N, H, W)       0 background (air), 1 tissue, 2 lesion
    scans.masks     bool    (N, H, W)       the lesion mask, labels == 2
    scans.cases     int64   (N,)            the case (patient) of each scan: 0, 0, 0, 0, 1, ...

Slices of one case are strongly correlated (same anatomy, same lesions): never put slices of one
case on both sides of a train / test split.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

__all__ = ["LESION", "TISSUE", "Scans", "make_scans"]

BACKGROUND, TISSUE, LESION = 0, 1, 2
SLICE_SPACING = 2.0  # in pixels: slices are thicker than pixels are wide, as in most CT and MRI
TISSUE_LEVEL, TEXTURE, VESSEL, CONTRAST, NOISE = 0.4, 0.08, 0.4, 0.35, 0.1


class Scans(NamedTuple):
    images: Tensor  # float32 (N, 1, H, W)
    labels: Tensor  # int64 (N, H, W): 0 background, 1 tissue, 2 lesion
    cases: Tensor  # int64 (N,)

    @property
    def masks(self) -> Tensor:
        """The binary lesion masks, bool (N, H, W)."""
        return self.labels == LESION

    def select(self, index: Tensor) -> Scans:
        """The scans at ``index`` (an int64 index tensor or a bool mask), all three fields."""
        return Scans(self.images[index], self.labels[index], self.cases[index])


def _vessel(rng: np.random.Generator, size: int, slices: int) -> np.ndarray:
    """One thin curve per slice, drifting a little from slice to slice, blurred, max 1."""
    start = rng.uniform(0.15, 0.85, 2) * size
    angle = rng.uniform(0.0, 2 * np.pi)
    bend = rng.normal(0.0, 1.5)
    length = rng.uniform(0.5, 1.0) * size
    drift = rng.normal(0.0, 0.8, 2)
    t = np.linspace(0.0, 1.0, 4 * size)
    heading = angle + bend * t
    dy = np.cumsum(np.sin(heading)) * length / len(t)
    dx = np.cumsum(np.cos(heading)) * length / len(t)
    out = np.zeros((slices, size, size))
    for k in range(slices):
        iy = np.round(start[0] + k * drift[0] + dy).astype(int)
        ix = np.round(start[1] + k * drift[1] + dx).astype(int)
        keep = (iy >= 0) & (iy < size) & (ix >= 0) & (ix < size)
        out[k, iy[keep], ix[keep]] = 1.0
    out = ndimage.gaussian_filter(out, (0.0, 0.6, 0.6))
    peak = out.max()
    return out / peak if peak > 0 else out


def _case(rng: np.random.Generator, size: int, slices: int, healthy: float):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    cy, cx = size / 2 + rng.normal(0.0, 1.5, 2)
    ry, rx = rng.uniform(0.36, 0.46, 2) * size
    body = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    texture = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (slices, size, size)), (1.0, 2.0, 2.0))
    texture /= texture.std()
    image = np.where(body, TISSUE_LEVEL + TEXTURE * texture, 0.0)
    for _ in range(int(rng.integers(2, 5))):
        image += VESSEL * _vessel(rng, size, slices) * body
    labels = np.repeat(np.where(body, TISSUE, BACKGROUND)[None], slices, axis=0)
    if rng.random() >= healthy:
        inside = np.argwhere(body & (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 0.6))
        for _ in range(int(rng.integers(1, 4))):
            y0, x0 = inside[rng.integers(len(inside))] + rng.uniform(-0.5, 0.5, 2)
            z0 = rng.uniform(0.0, slices - 1)
            radius = rng.uniform(2.0, 4.0)
            for k in range(slices):
                r2 = radius**2 - ((k - z0) * SLICE_SPACING) ** 2
                if r2 <= 0.25:
                    continue
                r = np.sqrt(r2)
                distance = np.sqrt((yy - y0) ** 2 + (xx - x0) ** 2)
                labels[k][distance <= r] = LESION
                image[k] += CONTRAST * np.clip(r + 0.5 - distance, 0.0, 1.0)
    image += rng.normal(0.0, NOISE, image.shape)
    return image, labels


def make_scans(
    n_cases: int, *, slices: int = 4, size: int = 32, healthy: float = 0.25, seed: int = 0
) -> Scans:
    """``n_cases`` cases of ``slices`` scans each, the same for the same arguments.

    >>> scans = make_scans(2, seed=0)
    >>> scans.images.shape, scans.labels.shape, scans.cases.tolist()
    (torch.Size([8, 1, 32, 32]), torch.Size([8, 32, 32]), [0, 0, 0, 0, 1, 1, 1, 1])
    """
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for _ in range(n_cases):
        image, label = _case(rng, size, slices, healthy)
        images.append(image)
        labels.append(label)
    return Scans(
        images=torch.from_numpy(np.concatenate(images)[:, None].astype(np.float32)),
        labels=torch.from_numpy(np.concatenate(labels).astype(np.int64)),
        cases=torch.arange(n_cases).repeat_interleave(slices),
    )
