# expect: BACKGROUND and IGNORED swapped
"""Mistake: BACKGROUND and IGNORED swapped in match_anchors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BACKGROUND = -1
IGNORED = -2

Detections = Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]
GroundTruths = Sequence[tuple[np.ndarray, np.ndarray]]


def cxcywh_to_xyxy(boxes):
    b = np.asarray(boxes, dtype=np.float64)
    cx, cy, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def xyxy_to_cxcywh(boxes):
    b = np.asarray(boxes, dtype=np.float64)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)


def box_iou(boxes1, boxes2):
    a = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(br - tl, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(boxes, scores, iou_threshold):
    boxes = np.asarray(boxes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        ious = box_iou(boxes[i : i + 1], boxes[rest])[0]
        order = rest[ious <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def batched_nms(boxes, scores, labels, iou_threshold):
    boxes = np.asarray(boxes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    kept = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        kept.append(idx[nms(boxes[idx], scores[idx], iou_threshold)])
    if not kept:
        return np.zeros(0, dtype=np.int64)
    kept = np.concatenate(kept)
    kept = np.sort(kept)
    kept = kept[np.argsort(-scores[kept], kind="stable")]
    return kept.astype(np.int64)


def match_anchors(anchors, gt_boxes, pos_threshold=0.5, neg_threshold=0.4):
    anchors = np.asarray(anchors, dtype=np.float64)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    A, G = len(anchors), len(gt_boxes)
    labels = np.full(A, BACKGROUND, dtype=np.int64)
    if G == 0 or A == 0:
        return labels
    labels[:] = IGNORED
    iou = box_iou(anchors, gt_boxes)
    best_gt = iou.argmax(axis=1)
    best = iou.max(axis=1)
    labels[best >= pos_threshold] = best_gt[best >= pos_threshold]
    labels[(best >= neg_threshold) & (best < pos_threshold)] = BACKGROUND
    for g in range(G):
        a = iou[:, g].argmax()
        if iou[a, g] > 0:
            labels[a] = g
    return labels


def encode_boxes(gt_boxes, anchors, std=(0.1, 0.1, 0.2, 0.2)):
    g = xyxy_to_cxcywh(gt_boxes)
    a = xyxy_to_cxcywh(anchors)
    d = np.stack(
        [
            (g[:, 0] - a[:, 0]) / a[:, 2],
            (g[:, 1] - a[:, 1]) / a[:, 3],
            np.log(g[:, 2] / a[:, 2]),
            np.log(g[:, 3] / a[:, 3]),
        ],
        axis=1,
    )
    return d / np.asarray(std, dtype=np.float64)


def decode_boxes(deltas, anchors, std=(0.1, 0.1, 0.2, 0.2)):
    d = np.asarray(deltas, dtype=np.float64) * np.asarray(std, dtype=np.float64)
    a = xyxy_to_cxcywh(anchors)
    cx = a[:, 0] + d[:, 0] * a[:, 2]
    cy = a[:, 1] + d[:, 1] * a[:, 3]
    w = a[:, 2] * np.exp(d[:, 2])
    h = a[:, 3] * np.exp(d[:, 3])
    return cxcywh_to_xyxy(np.stack([cx, cy, w, h], axis=1))


def match_detections(det_boxes, det_scores, gt_boxes, iou_threshold=0.5):
    det_boxes = np.asarray(det_boxes, dtype=np.float64).reshape(-1, 4)
    det_scores = np.asarray(det_scores, dtype=np.float64)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    D, G = len(det_boxes), len(gt_boxes)
    tp = np.zeros(D, dtype=bool)
    if G == 0 or D == 0:
        return tp
    iou = box_iou(det_boxes, gt_boxes)
    taken = np.zeros(G, dtype=bool)
    for d in np.argsort(-det_scores, kind="stable"):
        g = iou[d].argmax()
        if iou[d, g] >= iou_threshold and not taken[g]:
            tp[d] = True
            taken[g] = True
    return tp


def average_precision(tp, scores, n_gt):
    tp = np.asarray(tp, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    if tp.size == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    hits = tp[order]
    ctp = np.cumsum(hits)
    precision = ctp / np.arange(1, len(hits) + 1)
    recall = ctp / n_gt
    env = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * env))


def mean_average_precision(detections, ground_truths, iou_threshold=0.5):
    classes = set()
    for _, gl in ground_truths:
        classes.update(int(c) for c in np.asarray(gl).ravel())
    if not classes:
        return float("nan"), {}
    aps = {}
    for c in sorted(classes):
        all_tp, all_sc = [], []
        n_gt = 0
        for (db, ds, dl), (gb, gl) in zip(detections, ground_truths, strict=True):
            db = np.asarray(db, dtype=np.float64).reshape(-1, 4)
            gb = np.asarray(gb, dtype=np.float64).reshape(-1, 4)
            dm = np.asarray(dl) == c
            gm = np.asarray(gl) == c
            n_gt += int(gm.sum())
            all_tp.append(match_detections(db[dm], np.asarray(ds)[dm], gb[gm], iou_threshold))
            all_sc.append(np.asarray(ds, dtype=np.float64)[dm])
        aps[c] = average_precision(np.concatenate(all_tp), np.concatenate(all_sc), n_gt)
    return float(np.mean(list(aps.values()))), aps
