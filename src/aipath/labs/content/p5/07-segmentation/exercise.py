"""p5-segmentation: Dice and IoU, losses for imbalance, a U-Net, evaluation per patient.

Edit this file, then run `aipath check p5-segmentation`. The README states each contract; the
data comes from `scans.py` (read it, do not edit it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F  # noqa: F401
from scans import Scans
from scipy import ndimage  # noqa: F401
from torch import Tensor, nn

# ----- task 1: Dice and IoU ----------------------------------------------------------------------


def predict_masks(logits: Tensor, threshold: float = 0.5) -> Tensor:
    """Logits (N, 1, H, W) → bool masks (N, H, W): True where sigmoid(logit) >= threshold.

    >>> predict_masks(torch.tensor([[[[-2.0, 0.3], [1.0, 4.0]]]]), threshold=0.6)
    tensor([[[False, False],
             [ True,  True]]])
    """
    raise NotImplementedError  # TODO


def dice_per_image(pred: Tensor, target: Tensor) -> Tensor:
    """Bool masks (N, H, W) → float (N,): 2|P∩T| / (|P| + |T|) per image; 1.0 if both are empty.

    >>> p = torch.tensor([[[True, True], [False, False]], [[False, False], [False, False]]])
    >>> t = torch.tensor([[[True, False], [False, False]], [[False, False], [False, False]]])
    >>> dice_per_image(p, t)       # 2·1 / (2 + 1), and an empty pair
    tensor([0.6667, 1.0000])
    """
    raise NotImplementedError  # TODO


def iou_per_image(pred: Tensor, target: Tensor) -> Tensor:
    """Bool masks (N, H, W) → float (N,): |P∩T| / |P∪T| per image; 1.0 if both are empty.

    >>> iou_per_image(p, t)        # the masks above: 1 / 2
    tensor([0.5000, 1.0000])
    """
    raise NotImplementedError  # TODO


def dice_batch(pred: Tensor, target: Tensor) -> float:
    """One Dice over every pixel of the batch together (pooled); 1.0 if both are empty.

    >>> dice_batch(p, t)           # 2·1 / (2 + 1): the empty second image adds nothing
    0.6666666666666666
    """
    raise NotImplementedError  # TODO


def dice_per_class(pred_labels: Tensor, target_labels: Tensor, num_classes: int) -> Tensor:
    """Int label maps (N, H, W) → float (num_classes,): the pooled Dice of each class, NaN for a
    class in neither map.

    >>> dice_per_class(torch.tensor([[[0, 1], [1, 1]]]), torch.tensor([[[0, 1], [1, 0]]]), 3)
    tensor([0.6667, 0.8000,    nan])
    """
    raise NotImplementedError  # TODO


# ----- task 2: the accuracy trap and losses for imbalance ----------------------------------------


def pixel_accuracy(pred: Tensor, target: Tensor) -> float:
    """The fraction of pixels where two bool masks agree, a Python float.

    >>> pixel_accuracy(torch.zeros(1, 2, 2, dtype=torch.bool), torch.tensor([[[True, False],
    ...                                                                       [False, False]]]))
    0.75
    """
    raise NotImplementedError  # TODO


def positive_weight(masks: Tensor, power: float = 0.5) -> float:
    """(background pixels / foreground pixels) ** power over all masks; ValueError if there is
    no foreground pixel.

    >>> masks = torch.zeros(2, 4, 4, dtype=torch.bool); masks[0, 0, :2] = True
    >>> positive_weight(masks, power=1.0), positive_weight(masks)     # 30 / 2
    (15.0, 3.872983346207417)
    """
    raise NotImplementedError  # TODO


def weighted_bce(logits: Tensor, target: Tensor, pos_weight: float) -> Tensor:
    """Logits (N, 1, H, W), bool target (N, H, W) → the mean over pixels of
    −[w·t·log σ(x) + (1 − t)·log(1 − σ(x))], w = pos_weight; a scalar tensor, finite for ±100.

    >>> weighted_bce(torch.zeros(1, 1, 1, 2), torch.tensor([[[True, False]]]), 3.0)  # (3 + 1)·log 2 / 2
    tensor(1.3863)
    """
    raise NotImplementedError  # TODO


def soft_dice_loss(logits: Tensor, target: Tensor, eps: float = 1.0) -> Tensor:
    """1 − the mean over images of (2 Σ p·t + eps) / (Σ p + Σ t + eps), p = sigmoid(logits).

    >>> soft_dice_loss(torch.zeros(1, 1, 1, 2), torch.tensor([[[True, False]]]))  # 1 − 2/3
    tensor(0.3333)
    """
    raise NotImplementedError  # TODO


# ----- task 3: a small U-Net ---------------------------------------------------------------------


class DoubleConv(nn.Module):
    """(Conv2d 3×3, padding 1, no bias → BatchNorm2d → ReLU) twice; keeps H and W.

    >>> DoubleConv(3, 5)(torch.randn(2, 3, 7, 9)).shape
    torch.Size([2, 5, 7, 9])
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        raise NotImplementedError  # TODO

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError  # TODO


class UNet(nn.Module):
    """Encoder (DoubleConv + 2×2 max-pool per level), bottleneck, decoder (ConvTranspose2d ×2,
    concatenate the skip, DoubleConv), 1×1 head. Attributes: encoders, bottleneck, ups,
    decoders (each an nn.ModuleList of depth modules), head. Output (N, out_channels, H, W) for any H, W.

    >>> model = UNet()
    >>> sum(p.numel() for p in model.parameters()), model(torch.randn(2, 1, 33, 27)).shape
    (29481, torch.Size([2, 1, 33, 27]))
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        base: int = 8,
        depth: int = 2,
        skips: bool = True,
    ) -> None:
        super().__init__()
        raise NotImplementedError  # TODO

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError  # TODO


# ----- task 4: evaluation the way a clinic would read it -----------------------------------------


def split_by_case(
    cases: Tensor, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2), seed: int = 0
) -> tuple[Tensor, Tensor, Tensor]:
    """(train, val, test) int64 index tensors into the scans, sorted; every case in one part.

    >>> train, val, test = split_by_case(torch.tensor([7, 7, 3, 3, 5, 5, 9, 9, 1, 1]))
    >>> [len(part) for part in (train, val, test)]        # 5 cases: 3, round(1.0), round(1.0)
    [6, 2, 2]
    """
    raise NotImplementedError  # TODO


def lesion_counts(pred: np.ndarray, target: np.ndarray) -> tuple[int, int, int]:
    """One scan's (lesions, detected lesions, false-positive findings), 4-connected components.

    >>> target = np.zeros((5, 5), bool); target[0, 0] = target[4, 4] = True
    >>> pred = np.zeros((5, 5), bool); pred[0, :2] = pred[2, 2] = True
    >>> lesion_counts(pred, target)
    (2, 1, 1)
    """
    raise NotImplementedError  # TODO


def evaluate_cases(probs: Tensor, masks: Tensor, cases: Tensor, threshold: float) -> dict:
    """{"case_dice": {case: Dice pooled over its slices}, "mean_case_dice": float,
    "sensitivity": float, "fp_per_scan": float} for the masks probs >= threshold."""
    raise NotImplementedError  # TODO


def choose_threshold(
    probs: Tensor, masks: Tensor, cases: Tensor, candidates: Sequence[float]
) -> float:
    """The candidate with the highest mean case Dice on these (validation) scans; first on ties."""
    raise NotImplementedError  # TODO


def medical_report(model: nn.Module, val: Scans, test: Scans, candidates: Sequence[float]) -> dict:
    """{"threshold": chosen on val} | evaluate_cases on test; the model in eval mode, no grad."""
    raise NotImplementedError  # TODO


# ----- task 5: training with scarce labels -------------------------------------------------------


def augment(images: Tensor, masks: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Each scan (B, 1, H, W) and its mask (B, H, W) get the same random symmetry of the square,
    drawn per scan from generator; new tensors, the inputs unchanged."""
    raise NotImplementedError  # TODO


def train_unet(
    model: nn.Module,
    train: Scans,
    *,
    steps: int = 300,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """Adam on weighted_bce + soft_dice_loss over augmented random batches, lr decaying
    linearly to 0; returns the loss of every step as a Python float."""
    raise NotImplementedError  # TODO
