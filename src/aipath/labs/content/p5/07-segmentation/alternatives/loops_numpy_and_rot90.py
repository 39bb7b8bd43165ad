"""An alternative solution (loops numpy and rot90): correct, written differently."""

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


def dice_per_image(pred, target):
    scores = []
    for p, t in zip(pred, target, strict=True):
        total = int(p.sum()) + int(t.sum())
        scores.append(1.0 if total == 0 else 2 * int((p & t).sum()) / total)
    return torch.tensor(scores, dtype=torch.float64)


def iou_per_image(pred, target):
    scores = []
    for p, t in zip(pred.numpy(), target.numpy(), strict=True):
        union = np.logical_or(p, t).sum()
        scores.append(1.0 if union == 0 else np.logical_and(p, t).sum() / union)
    return torch.tensor(scores, dtype=torch.float64)


def dice_batch(pred: Tensor, target: Tensor) -> float:
    p = pred.bool()
    t = target.bool()
    total = int(p.sum() + t.sum())
    return 1.0 if total == 0 else 2 * int((p & t).sum()) / total


def dice_per_class(pred_labels, target_labels, num_classes):
    p = F.one_hot(pred_labels.flatten(), num_classes).float()
    t = F.one_hot(target_labels.flatten(), num_classes).float()
    total = p.sum(0) + t.sum(0)
    return torch.where(total > 0, 2 * (p * t).sum(0) / total, torch.tensor(float("nan")))


# ----- task 2: the accuracy trap and losses for imbalance ----------------------------------------


def pixel_accuracy(pred: Tensor, target: Tensor) -> float:
    return (pred.bool() == target.bool()).float().mean().item()


def positive_weight(masks: Tensor, power: float = 0.5) -> float:
    foreground = int(masks.sum())
    if foreground == 0:
        raise ValueError("the masks have no foreground pixel: the weight would be infinite")
    return ((masks.numel() - foreground) / foreground) ** power


def weighted_bce(logits, target, pos_weight):
    x = logits.squeeze(1)
    t = target.to(x.dtype)
    return -(pos_weight * t * F.logsigmoid(x) + (1 - t) * F.logsigmoid(-x)).mean()


def soft_dice_loss(logits, target, eps=1.0):
    p = torch.sigmoid(logits).squeeze(1)
    t = target.to(p.dtype)
    overlap = torch.einsum("nhw,nhw->n", p, t)
    return (1 - (2 * overlap + eps) / (p.sum((1, 2)) + t.sum((1, 2)) + eps)).mean()


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
    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        base: int = 8,
        depth: int = 2,
        skips: bool = True,
    ) -> None:
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

    def forward(self, x: Tensor) -> Tensor:
        features = []
        for encoder in self.encoders:
            x = encoder(x)
            features.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(features), strict=True):
            x = up(x)
            x = F.pad(x, (0, skip.shape[-1] - x.shape[-1], 0, skip.shape[-2] - x.shape[-2]))
            if self.skips:
                x = torch.cat([skip, x], dim=1)
            x = decoder(x)
        return self.head(x)


# ----- task 4: evaluation the way a clinic would read it -----------------------------------------


def split_by_case(cases, fractions=(0.6, 0.2, 0.2), seed=0):
    ids = np.unique(cases.numpy())
    np.random.default_rng(seed).shuffle(ids)
    n_val, n_test = round(fractions[1] * len(ids)), round(fractions[2] * len(ids))
    groups = (ids[n_val + n_test :], ids[:n_val], ids[n_val : n_val + n_test])
    c = cases.numpy()
    return tuple(torch.from_numpy(np.flatnonzero(np.isin(c, g))).long() for g in groups)


def lesion_counts(pred, target):
    lesions, n_lesions = ndimage.label(target)
    found, n_found = ndimage.label(pred)
    per_lesion = np.bincount(lesions[pred], minlength=n_lesions + 1)[1:]
    per_finding = np.bincount(found[target], minlength=n_found + 1)[1:]
    return n_lesions, int((per_lesion > 0).sum()), int((per_finding == 0).sum())


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


def choose_threshold(probs, masks, cases, candidates):
    best = max(
        range(len(candidates)),
        key=lambda i: (evaluate_cases(probs, masks, cases, candidates[i])["mean_case_dice"], -i),
    )
    return float(candidates[best])


def medical_report(model: nn.Module, val: Scans, test: Scans, candidates: Sequence[float]) -> dict:
    model.eval()
    with torch.no_grad():
        val_probs = torch.sigmoid(model(val.images))[:, 0]
        test_probs = torch.sigmoid(model(test.images))[:, 0]
    threshold = choose_threshold(val_probs, val.masks, val.cases, candidates)
    return {"threshold": threshold} | evaluate_cases(test_probs, test.masks, test.cases, threshold)


# ----- task 5: training with scarce labels -------------------------------------------------------


def augment(images, masks, generator):
    turns = torch.randint(0, 4, (len(images),), generator=generator).tolist()
    mirror = (torch.rand(len(images), generator=generator) < 0.5).tolist()
    out_images, out_masks = [], []
    for image, mask, k, m in zip(images, masks, turns, mirror, strict=True):
        image, mask = torch.rot90(image, k, dims=(-2, -1)), torch.rot90(mask, k, dims=(-2, -1))
        if m:
            image, mask = image.flip(-1), mask.flip(-1)
        out_images.append(image)
        out_masks.append(mask)
    return torch.stack(out_images), torch.stack(out_masks)


def train_unet(model, train, *, steps=300, batch_size=16, lr=3e-3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    pos_weight = positive_weight(train.masks)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * (1 - step / steps)
        batch = torch.randint(len(train.images), (batch_size,), generator=generator)
        images, masks = augment(train.images[batch], train.masks[batch], generator)
        logits = model(images)
        loss = weighted_bce(logits, masks, pos_weight) + soft_dice_loss(logits, masks)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss))
    return losses
