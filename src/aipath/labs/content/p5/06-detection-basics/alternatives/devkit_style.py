"""Alternative: the IoU matrix computed once per NMS, the coordinate-offset trick for
class-aware NMS, a vectorised forced match, and the VOC devkit's AP with sentinels."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

BACKGROUND = -1
IGNORED = -2

Detections = Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]
GroundTruths = Sequence[tuple[np.ndarray, np.ndarray]]


def cxcywh_to_xyxy(boxes):
    b = np.array(boxes, dtype=np.float64)
    half = b[:, 2:] / 2
    return np.hstack([b[:, :2] - half, b[:, :2] + half])


def xyxy_to_cxcywh(boxes):
    b = np.array(boxes, dtype=np.float64)
    return np.hstack([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]])


def box_iou(boxes1, boxes2):
    a = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4)
    ax1, ay1, ax2, ay2 = np.split(a, 4, axis=1)  # (N, 1) each
    bx1, by1, bx2, by2 = np.split(b, 4, axis=1)
    iw = np.maximum(np.minimum(ax2, bx2.T) - np.maximum(ax1, bx1.T), 0)
    ih = np.maximum(np.minimum(ay2, by2.T) - np.maximum(ay1, by1.T), 0)
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + ((bx2 - bx1) * (by2 - by1)).T - inter
    safe = np.where(union > 0, union, 1.0)
    return np.where(union > 0, inter / safe, 0.0)


def nms(boxes, scores, iou_threshold):
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    iou = box_iou(boxes, boxes)
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep = []
    for i in order:
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes, scores, labels, iou_threshold):
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if boxes.size == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.asarray(labels, dtype=np.float64) * (boxes.max() - boxes.min() + 1.0)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def match_anchors(anchors, gt_boxes, pos_threshold=0.5, neg_threshold=0.4):
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    if len(gt_boxes) == 0:
        return np.full(len(anchors), BACKGROUND, dtype=np.int64)
    iou = box_iou(anchors, gt_boxes)
    best = iou.max(axis=1)
    labels = np.select(
        [best >= pos_threshold, best >= neg_threshold], [iou.argmax(axis=1), IGNORED], BACKGROUND
    ).astype(np.int64)
    best_anchor = iou.argmax(axis=0)
    g = np.flatnonzero(iou[best_anchor, np.arange(len(gt_boxes))] > 0)
    # Assign in reverse and keep the first write of each anchor: the highest g wins.
    anchor_of = best_anchor[g][::-1]
    _, first = np.unique(anchor_of, return_index=True)
    labels[anchor_of[first]] = g[::-1][first]
    return labels


def encode_boxes(gt_boxes, anchors, std=(0.1, 0.1, 0.2, 0.2)):
    g, a = xyxy_to_cxcywh(gt_boxes), xyxy_to_cxcywh(anchors)
    out = np.empty_like(g)
    out[:, :2] = (g[:, :2] - a[:, :2]) / a[:, 2:]
    out[:, 2:] = np.log(g[:, 2:]) - np.log(a[:, 2:])
    return out / np.array(std)


def decode_boxes(deltas, anchors, std=(0.1, 0.1, 0.2, 0.2)):
    d = np.asarray(deltas, dtype=np.float64) * np.array(std)
    a = xyxy_to_cxcywh(anchors)
    centre = a[:, :2] + d[:, :2] * a[:, 2:]
    size = a[:, 2:] * np.exp(d[:, 2:])
    return np.hstack([centre - size / 2, centre + size / 2])


def match_detections(det_boxes, det_scores, gt_boxes, iou_threshold=0.5):
    det_boxes = np.asarray(det_boxes, dtype=np.float64).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    tp = np.zeros(len(det_boxes), dtype=bool)
    if not len(gt_boxes):
        return tp
    iou = box_iou(det_boxes, gt_boxes)
    detected = [False] * len(gt_boxes)
    for d in sorted(range(len(det_boxes)), key=lambda i: -det_scores[i]):
        j = int(np.argmax(iou[d]))
        if iou[d, j] >= iou_threshold and not detected[j]:
            detected[j] = tp[d] = True
    return tp


def average_precision(tp, scores, n_gt):
    """The VOC devkit's voc_ap(use_07_metric=False), with its sentinels."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    t = np.asarray(tp, dtype=float)[order]
    f = 1.0 - t
    t, f = np.cumsum(t), np.cumsum(f)
    rec = t / n_gt
    prec = t / np.maximum(t + f, np.finfo(np.float64).eps)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def mean_average_precision(detections, ground_truths, iou_threshold=0.5):
    flags = defaultdict(list)
    scores = defaultdict(list)
    n_gt = defaultdict(int)
    for (db, ds, dl), (gb, gl) in zip(detections, ground_truths, strict=True):
        db, gb = np.asarray(db).reshape(-1, 4), np.asarray(gb).reshape(-1, 4)
        ds, dl, gl = np.asarray(ds, dtype=np.float64), np.asarray(dl), np.asarray(gl)
        for c in set(gl.tolist()) | set(dl.tolist()):
            flags[c].append(match_detections(db[dl == c], ds[dl == c], gb[gl == c], iou_threshold))
            scores[c].append(ds[dl == c])
            n_gt[c] += int((gl == c).sum())
    per_class = {
        int(c): average_precision(np.concatenate(flags[c]), np.concatenate(scores[c]), n_gt[c])
        for c in sorted(n_gt)
        if n_gt[c] > 0
    }
    if not per_class:
        return float("nan"), {}
    return float(np.mean(list(per_class.values()))), per_class
