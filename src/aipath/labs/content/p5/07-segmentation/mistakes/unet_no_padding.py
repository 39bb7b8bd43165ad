# expect: pad the upsampled map
"""A known mistake (unet no padding): the reference with one slip."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scans import Scans
from scipy import ndimage
from torch import Tensor, nn

# ----- task 1: Dice and IoU ----------------------------------------------------------------------


def predict_masks(logits: Tensor, threshold: float = 0.5) -> Tensor:
    return torch.sigmoid(logits)[:, 0] >= threshold


def dice_per_image(pred: Tensor, target: Tensor) -> Tensor:
    p = pred.flatten(1).float()
    t = target.flatten(1).float()
    overlap = (p * t).sum(dim=1)
    total = p.sum(dim=1) + t.sum(dim=1)
    return torch.where(total > 0, 2 * overlap / total.clamp(min=1), torch.ones_like(total))


def iou_per_image(pred: Tensor, target: Tensor) -> Tensor:
    p = pred.flatten(1).bool()
    t = target.flatten(1).bool()
    overlap = (p & t).sum(dim=1).float()
    union = (p | t).sum(dim=1).float()
    return torch.where(union > 0, overlap / union.clamp(min=1), torch.ones_like(union))


def dice_batch(pred: Tensor, target: Tensor) -> float:
    p = pred.bool()
    t = target.bool()
    total = int(p.sum() + t.sum())
    return 1.0 if total == 0 else 2 * int((p & t).sum()) / total


def dice_per_class(pred_labels: Tensor, target_labels: Tensor, num_classes: int) -> Tensor:
    scores = torch.full((num_classes,), float("nan"))
    for c in range(num_classes):
        p = pred_labels == c
        t = target_labels == c
        total = int(p.sum() + t.sum())
        if total > 0:
            scores[c] = 2 * int((p & t).sum()) / total
    return scores


# ----- task 2: the accuracy trap and losses for imbalance ----------------------------------------


def pixel_accuracy(pred: Tensor, target: Tensor) -> float:
    return (pred.bool() == target.bool()).float().mean().item()


def positive_weight(masks: Tensor, power: float = 0.5) -> float:
    foreground = int(masks.sum())
    if foreground == 0:
        raise ValueError("the masks have no foreground pixel: the weight would be infinite")
    return ((masks.numel() - foreground) / foreground) ** power


def weighted_bce(logits: Tensor, target: Tensor, pos_weight: float) -> Tensor:
    return F.binary_cross_entropy_with_logits(
        logits[:, 0], target.float(), pos_weight=torch.tensor(pos_weight, dtype=logits.dtype)
    )


def soft_dice_loss(logits: Tensor, target: Tensor, eps: float = 1.0) -> Tensor:
    p = torch.sigmoid(logits[:, 0]).flatten(1)
    t = target.flatten(1).to(p.dtype)
    dice = (2 * (p * t).sum(dim=1) + eps) / (p.sum(dim=1) + t.sum(dim=1) + eps)
    return 1 - dice.mean()


# ----- task 3: a small U-Net ---------------------------------------------------------------------


class DoubleConv(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


class UNet(nn.Module):
    def __init__(self, in_channels=1, out_channels=1, base=8, depth=2, skips=True):
        super().__init__()
        self.skips = skips
        widths = [base * 2**level for level in range(depth + 1)]
        self.encoders = nn.ModuleList(
            DoubleConv(in_channels if level == 0 else widths[level - 1], widths[level])
            for level in range(depth)
        )
        self.bottleneck = DoubleConv(widths[depth - 1], widths[depth])
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2)
            for level in reversed(range(depth))
        )
        self.decoders = nn.ModuleList(
            DoubleConv(widths[level] * (2 if skips else 1), widths[level])
            for level in reversed(range(depth))
        )
        self.head = nn.Conv2d(base, out_channels, 1)

    def forward(self, x):
        features = []
        for encoder in self.encoders:
            x = encoder(x)
            features.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(features), strict=True):
            x = up(x)
            if self.skips:
                x = torch.cat([skip, x], dim=1)
            x = decoder(x)
        return self.head(x)


# ----- task 4: evaluation the way a clinic would read it -----------------------------------------


def split_by_case(
    cases: Tensor, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2), seed: int = 0
) -> tuple[Tensor, Tensor, Tensor]:
    ids = torch.unique(cases)
    order = ids[torch.randperm(len(ids), generator=torch.Generator().manual_seed(seed))]
    n_val = round(fractions[1] * len(ids))
    n_test = round(fractions[2] * len(ids))
    parts = (order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test])
    return tuple(torch.nonzero(torch.isin(cases, part)).flatten() for part in parts)


def lesion_counts(pred: np.ndarray, target: np.ndarray) -> tuple[int, int, int]:
    lesions, n_lesions = ndimage.label(target)
    found, n_found = ndimage.label(pred)
    detected = len(np.setdiff1d(np.unique(lesions[pred.astype(bool)]), [0]))
    hits = np.unique(found[target.astype(bool)])
    false_positives = n_found - len(np.setdiff1d(hits, [0]))
    return int(n_lesions), int(detected), int(false_positives)


def evaluate_cases(probs: Tensor, masks: Tensor, cases: Tensor, threshold: float) -> dict:
    pred = probs >= threshold
    case_dice = {}
    for case in torch.unique(cases).tolist():
        rows = cases == case
        case_dice[int(case)] = dice_batch(pred[rows], masks[rows])
    lesions = detected = false_positives = 0
    for p, t in zip(pred.numpy(), masks.numpy(), strict=True):
        n, d, f = lesion_counts(p, t)
        lesions, detected, false_positives = lesions + n, detected + d, false_positives + f
    return {
        "case_dice": case_dice,
        "mean_case_dice": float(np.mean(list(case_dice.values()))),
        "sensitivity": detected / lesions if lesions else float("nan"),
        "fp_per_scan": false_positives / len(pred),
    }


def choose_threshold(
    probs: Tensor, masks: Tensor, cases: Tensor, candidates: Sequence[float]
) -> float:
    scores = [evaluate_cases(probs, masks, cases, t)["mean_case_dice"] for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def medical_report(model: nn.Module, val: Scans, test: Scans, candidates: Sequence[float]) -> dict:
    model.eval()
    with torch.no_grad():
        val_probs = torch.sigmoid(model(val.images))[:, 0]
        test_probs = torch.sigmoid(model(test.images))[:, 0]
    threshold = choose_threshold(val_probs, val.masks, val.cases, candidates)
    return {"threshold": threshold} | evaluate_cases(test_probs, test.masks, test.cases, threshold)


# ----- task 5: training with scarce labels -------------------------------------------------------


def augment(images: Tensor, masks: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    flips = torch.rand(len(images), 3, generator=generator) < 0.5
    out_images, out_masks = [], []
    for image, mask, (flip_h, flip_w, swap) in zip(images, masks, flips.tolist(), strict=True):
        if flip_h:
            image, mask = image.flip(-2), mask.flip(-2)
        if flip_w:
            image, mask = image.flip(-1), mask.flip(-1)
        if swap:
            image, mask = image.transpose(-2, -1), mask.transpose(-2, -1)
        out_images.append(image)
        out_masks.append(mask)
    return torch.stack(out_images), torch.stack(out_masks)


def train_unet(
    model: nn.Module,
    train: Scans,
    *,
    steps: int = 300,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    generator = torch.Generator().manual_seed(seed)
    pos_weight = positive_weight(train.masks)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
    model.train()
    losses = []
    for _ in range(steps):
        batch = torch.randint(len(train.images), (batch_size,), generator=generator)
        images, masks = augment(train.images[batch], train.masks[batch], generator)
        logits = model(images)
        loss = weighted_bce(logits, masks, pos_weight) + soft_dice_loss(logits, masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses
