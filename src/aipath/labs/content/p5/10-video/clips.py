"""Synthetic "videos" for the video lab: given to you, do not edit (the checks keep a copy).

A *recording* is one long grayscale sequence of ``size × size`` frames in which one small shape
does one thing, the class of the recording:

    0 left           a filled square sliding left (it wraps around the edge)
    1 right          the same square sliding right
    2 grow           a filled square growing from its centre (back to small once it is large)
    3 shrink         the same square shrinking (back to large once it is small)
    4 plus           a "+" wandering at random
    5 ring           a hollow square wandering at random

Classes 0-3 come in pairs that look identical frame by frame: a clip of "right" played backwards
is a clip of "left". Only the ORDER of the frames tells them apart. Classes 4 and 5 are told apart
by any single frame. Every recording has its own brightness, background, speed, size and path, so
clips cut from one recording are much more alike than clips of two recordings of the same class.

    recordings = make_recordings(10, seed=1)       # 10 recordings per class: 60, labels 0..5
    clips = cut_clips(recordings, per_recording=4, seed=2)
    clips.videos        list of N float32 tensors (L_i, H, W), L_i between 4 and 16 frames
    clips.labels        int64 (N,)   the class of each clip
    clips.recordings    int64 (N,)   the recording each clip was cut from
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["CLASSES", "ORDER_CLASSES", "SHAPE_CLASSES", "Clips", "Recording", "cut_clips",
           "make_recordings"]  # fmt: skip

CLASSES = ("left", "right", "grow", "shrink", "plus", "ring")
ORDER_CLASSES = (0, 1, 2, 3)  # told apart only by the order of the frames
SHAPE_CLASSES = (4, 5)  # told apart by any single frame
NOISE = 0.08


class Recording(NamedTuple):
    frames: Tensor  # float32 (L, H, W)
    label: int


class Clips(NamedTuple):
    videos: list[Tensor]  # N float32 tensors (L_i, H, W)
    labels: Tensor  # int64 (N,)
    recordings: Tensor  # int64 (N,)

    def select(self, index: Tensor) -> Clips:
        """The clips at ``index`` (an int64 index tensor), all three fields."""
        keep = [int(i) for i in index]
        return Clips([self.videos[i] for i in keep], self.labels[index], self.recordings[index])


def _square(side: int) -> np.ndarray:
    return np.ones((side, side))


def _plus() -> np.ndarray:
    out = np.zeros((5, 5))
    out[2, :] = out[:, 2] = 1.0
    return out


def _ring() -> np.ndarray:
    out = np.ones((5, 5))
    out[1:4, 1:4] = 0.0
    return out


def _paste(frame: np.ndarray, sprite: np.ndarray, y: float, x: float, level: float) -> None:
    """Draw ``sprite`` with its top-left corner at (y, x) rounded, wrapping around the edges."""
    h, w = frame.shape
    rows = (round(y) + np.arange(sprite.shape[0])) % h
    cols = (round(x) + np.arange(sprite.shape[1])) % w
    block = frame[np.ix_(rows, cols)]
    frame[np.ix_(rows, cols)] = np.where(sprite > 0, level, block)


def _recording(rng: np.random.Generator, label: int, size: int, length: int) -> np.ndarray:
    background = rng.uniform(0.0, 0.2)
    level = rng.uniform(0.6, 1.0)
    frames = np.full((length, size, size), background)
    if label in (0, 1):
        sprite = _square(int(rng.integers(3, 5)))
        y, x = rng.uniform(1, size - sprite.shape[0] - 1), rng.uniform(0, size)
        vx = rng.uniform(0.8, 1.5) * (-1.0 if label == 0 else 1.0)
        for t in range(length):
            _paste(frames[t], sprite, y, x + vx * t, level)
    elif label in (2, 3):
        cy, cx = size / 2 + rng.uniform(-1.5, 1.5, 2)
        small, large = 3.0, 12.0
        side = rng.uniform(small, large)
        rate = rng.uniform(0.6, 1.0) * (1.0 if label == 2 else -1.0)
        for t in range(length):
            s = small + (side - small + rate * t) % (large - small)
            sprite = _square(round(s))
            _paste(frames[t], sprite, cy - s / 2, cx - s / 2, level)
    else:
        sprite = _plus() if label == 4 else _ring()
        y, x = rng.uniform(0, size, 2)
        for t in range(length):
            y, x = y + rng.normal(0.0, 0.7), x + rng.normal(0.0, 0.7)
            _paste(frames[t], sprite, y, x, level)
    frames += rng.normal(0.0, NOISE, frames.shape)
    return frames.astype(np.float32)


def make_recordings(
    per_class: int, *, size: int = 16, length: tuple[int, int] = (48, 96), seed: int = 0
) -> list[Recording]:
    """``per_class`` recordings of every class (in the order 0, 1, ..., 5, 0, 1, ...), each of a
    random length in ``length`` (inclusive); the same for the same arguments.

    >>> recordings = make_recordings(1, seed=0)
    >>> [r.label for r in recordings], recordings[0].frames.shape[1:]
    ([0, 1, 2, 3, 4, 5], torch.Size([16, 16]))
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(per_class):
        for label in range(len(CLASSES)):
            n = int(rng.integers(length[0], length[1] + 1))
            out.append(Recording(torch.from_numpy(_recording(rng, label, size, n)), label))
    return out


def cut_clips(
    recordings: list[Recording],
    *,
    per_recording: int = 4,
    length: tuple[int, int] = (4, 16),
    seed: int = 0,
) -> Clips:
    """``per_recording`` clips from each recording, each of a random length in ``length``
    (inclusive) starting at a random frame; clip ``k`` comes from recording ``k // per_recording``.

    >>> clips = cut_clips(make_recordings(1, seed=0), per_recording=2, seed=0)
    >>> len(clips.videos), clips.labels.tolist(), clips.recordings.tolist()
    (12, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    """
    rng = np.random.default_rng(seed)
    videos, labels, sources = [], [], []
    for index, recording in enumerate(recordings):
        total = recording.frames.shape[0]
        for _ in range(per_recording):
            n = int(rng.integers(length[0], min(length[1], total) + 1))
            start = int(rng.integers(0, total - n + 1))
            videos.append(recording.frames[start : start + n].clone())
            labels.append(recording.label)
            sources.append(index)
    return Clips(videos, torch.tensor(labels, dtype=torch.int64),
                 torch.tensor(sources, dtype=torch.int64))  # fmt: skip
