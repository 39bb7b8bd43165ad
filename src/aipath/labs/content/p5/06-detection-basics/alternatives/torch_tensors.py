"""Alternative: the same contract computed with torch tensors, converted back to NumPy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

BACKGROUND = -1
IGNORED = -2

Detections = Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]
GroundTruths = Sequence[tuple[np.ndarray, np.ndarray]]


def _t(x) -> torch.Tensor:
    return torch.as_tensor(np.array(x, dtype=np.float64, copy=True)).reshape(-1, 4)


def cxcywh_to_xyxy(boxes):
    cx, cy, w, h = _t(boxes).unbind(dim=1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=1).numpy()


def xyxy_to_cxcywh(boxes):
    x1, y1, x2, y2 = _t(boxes).unbind(dim=1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dim=1).numpy()


def _iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-300), torch.zeros_like(inter))


def box_iou(boxes1, boxes2):
    return _iou(_t(boxes1), _t(boxes2)).numpy()


def nms(boxes, scores, iou_threshold):
    b = _t(boxes)
    s = torch.as_tensor(np.asarray(scores, dtype=np.float64))
    order = torch.sort(-s, stable=True).indices
    iou = _iou(b, b)
    alive = torch.ones(len(b), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if alive[i]:
            keep.append(i)
            alive &= ~(iou[i] > iou_threshold)
    return np.array(keep, dtype=np.int64)


def batched_nms(boxes, scores, labels, iou_threshold):
    b = _t(boxes)
    if len(b) == 0:
        return np.zeros(0, dtype=np.int64)
    lab = torch.as_tensor(np.asarray(labels)).to(torch.float64)
    shift = (b.max() - b.min() + 1) * lab
    return nms((b + shift[:, None]).numpy(), scores, iou_threshold)


def match_anchors(anchors, gt_boxes, pos_threshold=0.5, neg_threshold=0.4):
    a, g = _t(anchors), _t(gt_boxes)
    labels = torch.full((len(a),), BACKGROUND, dtype=torch.int64)
    if len(g) == 0:
        return labels.numpy()
    iou = _iou(a, g)
    best_iou, best_gt = iou.max(dim=1)
    labels = torch.where(best_iou >= neg_threshold, torch.tensor(IGNORED), labels)
    labels = torch.where(best_iou >= pos_threshold, best_gt, labels)
    top, best_anchor = iou.max(dim=0)
    for j in range(len(g)):
        if top[j] > 0:
            labels[best_anchor[j]] = j
    return labels.numpy()


def encode_boxes(gt_boxes, anchors, std=(0.1, 0.1, 0.2, 0.2)):
    g = torch.as_tensor(xyxy_to_cxcywh(gt_boxes))
    a = torch.as_tensor(xyxy_to_cxcywh(anchors))
    d = torch.cat([(g[:, :2] - a[:, :2]) / a[:, 2:], torch.log(g[:, 2:] / a[:, 2:])], dim=1)
    return (d / torch.tensor(std, dtype=torch.float64)).numpy()


def decode_boxes(deltas, anchors, std=(0.1, 0.1, 0.2, 0.2)):
    d = _t(deltas) * torch.tensor(std, dtype=torch.float64)
    a = torch.as_tensor(xyxy_to_cxcywh(anchors))
    c = torch.cat([a[:, :2] + d[:, :2] * a[:, 2:], a[:, 2:] * torch.exp(d[:, 2:])], dim=1)
    return cxcywh_to_xyxy(c.numpy())


def match_detections(det_boxes, det_scores, gt_boxes, iou_threshold=0.5):
    d, g = _t(det_boxes), _t(gt_boxes)
    tp = np.zeros(len(d), dtype=bool)
    if len(g) == 0 or len(d) == 0:
        return tp
    iou = _iou(d, g)
    best_iou, best_gt = iou.max(dim=1)
    taken: set[int] = set()
    scores = torch.as_tensor(np.asarray(det_scores, dtype=np.float64))
    for i in torch.sort(-scores, stable=True).indices.tolist():
        j = int(best_gt[i])
        if best_iou[i] >= iou_threshold and j not in taken:
            taken.add(j)
            tp[i] = True
    return tp


def average_precision(tp, scores, n_gt):
    s = torch.as_tensor(np.asarray(scores, dtype=np.float64))
    if s.numel() == 0:
        return 0.0
    hits = torch.as_tensor(np.asarray(tp, dtype=bool))[torch.sort(-s, stable=True).indices]
    ctp = torch.cumsum(hits.to(torch.float64), dim=0)
    precision = ctp / torch.arange(1, len(hits) + 1, dtype=torch.float64)
    recall = ctp / n_gt
    env = torch.flip(torch.cummax(torch.flip(precision, [0]), dim=0).values, [0])
    steps = torch.diff(recall, prepend=torch.zeros(1, dtype=torch.float64))
    return float((steps * env).sum())


def mean_average_precision(detections, ground_truths, iou_threshold=0.5):
    per_class: dict[int, float] = {}
    classes = sorted({int(c) for _, labels in ground_truths for c in np.asarray(labels)})
    for c in classes:
        flags, scores, n_gt = [], [], 0
        for (db, ds, dl), (gb, gl) in zip(detections, ground_truths, strict=True):
            dm, gm = np.asarray(dl) == c, np.asarray(gl) == c
            db, gb = np.asarray(db).reshape(-1, 4), np.asarray(gb).reshape(-1, 4)
            ds = np.asarray(ds, dtype=np.float64)
            flags.append(match_detections(db[dm], ds[dm], gb[gm], iou_threshold))
            scores.append(ds[dm])
            n_gt += int(gm.sum())
        per_class[c] = average_precision(np.concatenate(flags), np.concatenate(scores), n_gt)
    if not per_class:
        return float("nan"), {}
    return sum(per_class.values()) / len(per_class), per_class
