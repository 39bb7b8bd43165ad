"""Alternative: columns unpacked with a generator over range(4) in box_iou (a loop over the
coordinates, not the boxes), the offset trick for batched_nms, VOC-devkit AP with sentinels."""

from __future__ import annotations

import numpy as np

BACKGROUND = -1
IGNORED = -2

_TO_XYXY = np.array(
    [[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0], [-0.5, 0.0, 0.5, 0.0], [0.0, -0.5, 0.0, 0.5]]
)


def cxcywh_to_xyxy(boxes):
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4) @ _TO_XYXY


def xyxy_to_cxcywh(boxes):
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], axis=1)


def box_iou(boxes1, boxes2):
    a = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4)
    ax1, ay1, ax2, ay2 = (a[:, k][:, None] for k in range(4))
    bx1, by1, bx2, by2 = (b[:, k][None, :] for k in range(4))
    iw = np.maximum(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0.0)
    ih = np.maximum(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0.0)
    inter = iw * ih
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    safe = np.where(union > 0, union, 1.0)
    return np.where(union > 0, inter / safe, 0.0)


def nms(boxes, scores, iou_threshold):
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    iou = box_iou(boxes, boxes)
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep = []
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= iou[i] > iou_threshold
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes, scores, labels, iou_threshold):
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if boxes.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    labels = np.asarray(labels)
    offset = boxes.max() + 1
    shifted = boxes + (labels.astype(np.float64) * offset)[:, None]
    return nms(shifted, scores, iou_threshold)


def match_anchors(anchors, gt_boxes, pos_threshold=0.5, neg_threshold=0.4):
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    if len(gt) == 0:
        return np.full(len(anchors), BACKGROUND, dtype=np.int64)
    iou = box_iou(anchors, gt)
    best = iou.max(axis=1)
    labels = np.where(
        best >= pos_threshold,
        iou.argmax(axis=1),
        np.where(best < neg_threshold, BACKGROUND, IGNORED),
    ).astype(np.int64)
    best_anchor = iou.argmax(axis=0)
    valid = iou[best_anchor, np.arange(len(gt))] > 0
    for g in np.flatnonzero(valid):
        labels[best_anchor[g]] = g
    return labels


def encode_boxes(gt_boxes, anchors, std=(0.1, 0.1, 0.2, 0.2)):
    g = xyxy_to_cxcywh(gt_boxes)
    a = xyxy_to_cxcywh(anchors)
    out = np.empty_like(g)
    out[:, :2] = (g[:, :2] - a[:, :2]) / a[:, 2:]
    out[:, 2:] = np.log(g[:, 2:] / a[:, 2:])
    return out / np.asarray(std, dtype=np.float64)


def decode_boxes(deltas, anchors, std=(0.1, 0.1, 0.2, 0.2)):
    d = np.asarray(deltas, dtype=np.float64).reshape(-1, 4) * np.asarray(std, dtype=np.float64)
    a = xyxy_to_cxcywh(anchors)
    c = a[:, :2] + d[:, :2] * a[:, 2:]
    s = a[:, 2:] * np.exp(d[:, 2:])
    return np.concatenate([c - s / 2, c + s / 2], axis=1)


def match_detections(det_boxes, det_scores, gt_boxes, iou_threshold=0.5):
    det_boxes = np.asarray(det_boxes, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    out = np.zeros(len(det_boxes), dtype=bool)
    if len(gt) == 0:
        return out
    iou = box_iou(det_boxes, gt)
    best_g = iou.argmax(axis=1) if len(det_boxes) else np.zeros(0, int)
    taken = set()
    for d in np.argsort(-np.asarray(det_scores, dtype=np.float64), kind="stable"):
        g = int(best_g[d])
        if iou[d, g] >= iou_threshold and g not in taken:
            taken.add(g)
            out[d] = True
    return out


def average_precision(tp, scores, n_gt):
    tp = np.asarray(tp, dtype=bool)
    if tp.size == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    t = tp[order].astype(np.float64)
    f = 1.0 - t
    ctp, cfp = np.cumsum(t), np.cumsum(f)
    rec = ctp / n_gt
    prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def mean_average_precision(detections, ground_truths, iou_threshold=0.5):
    gt_labels = [np.asarray(gl).ravel() for _, gl in ground_truths]
    allg = np.concatenate(gt_labels) if gt_labels else np.zeros(0, int)
    classes = np.unique(allg)
    if classes.size == 0:
        return float("nan"), {}
    aps = {}
    for c in classes.tolist():
        tps, scs, n = [], [], 0
        for (db, ds, dl), (gb, gl) in zip(detections, ground_truths, strict=True):
            dm = np.asarray(dl).ravel() == c
            gm = np.asarray(gl).ravel() == c
            n += int(gm.sum())
            db = np.asarray(db, dtype=np.float64).reshape(-1, 4)
            gb = np.asarray(gb, dtype=np.float64).reshape(-1, 4)
            ds = np.asarray(ds, dtype=np.float64).ravel()
            tps.append(match_detections(db[dm], ds[dm], gb[gm], iou_threshold))
            scs.append(ds[dm])
        aps[int(c)] = average_precision(np.concatenate(tps), np.concatenate(scs), n)
    return sum(aps.values()) / len(aps), aps
