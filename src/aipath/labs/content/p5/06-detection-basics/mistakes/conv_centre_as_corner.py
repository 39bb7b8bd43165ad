# expect: read as the top-left corner
"""Mistake: (cx, cy) taken as the top-left corner."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BACKGROUND = -1
"""match_anchors' label for an anchor that is background (a negative)."""
IGNORED = -2
"""match_anchors' label for an anchor that is neither positive nor negative."""

Detections = Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]
"""Per image: (boxes (D, 4) xyxy, scores (D,), labels (D,) int)."""
GroundTruths = Sequence[tuple[np.ndarray, np.ndarray]]
"""Per image: (boxes (G, 4) xyxy, labels (G,) int)."""


# ----- task 1: boxes and IoU --------------------------------------------------------------------
def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    cx, cy, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    return np.stack([cx, cy, cx + w, cy + h], axis=1)


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    a = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(bottom_right - top_left, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


# ----- task 2: non-maximum suppression ----------------------------------------------------------
def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        overlap = box_iou(boxes[best : best + 1], boxes[rest])[0]
        order = rest[overlap <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float
) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    kept = [
        np.flatnonzero(labels == c)[nms(boxes[labels == c], scores[labels == c], iou_threshold)]
        for c in np.unique(labels)
    ]
    keep = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
    # Scores descending, equal scores by index: the order a stable sort of -scores gives.
    keep = np.sort(keep)
    return keep[np.argsort(-scores[keep], kind="stable")].astype(np.int64)


# ----- task 3: anchor matching and box regression -----------------------------------------------
def match_anchors(
    anchors: np.ndarray,
    gt_boxes: np.ndarray,
    pos_threshold: float = 0.5,
    neg_threshold: float = 0.4,
) -> np.ndarray:
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    labels = np.full(len(anchors), BACKGROUND, dtype=np.int64)
    if len(gt_boxes) == 0:
        return labels
    iou = box_iou(anchors, gt_boxes)  # (A, G)
    best_gt = iou.argmax(axis=1)
    best_iou = iou.max(axis=1)
    labels[best_iou >= neg_threshold] = IGNORED
    positive = best_iou >= pos_threshold
    labels[positive] = best_gt[positive]
    best_anchor = iou.argmax(axis=0)  # (G,)
    for g in range(len(gt_boxes)):  # in order: a later GT takes over a shared best anchor
        if iou[best_anchor[g], g] > 0:
            labels[best_anchor[g]] = g
    return labels


def encode_boxes(
    gt_boxes: np.ndarray,
    anchors: np.ndarray,
    std: tuple[float, float, float, float] = (0.1, 0.1, 0.2, 0.2),
) -> np.ndarray:
    g = xyxy_to_cxcywh(gt_boxes)
    a = xyxy_to_cxcywh(anchors)
    deltas = np.stack(
        [
            (g[:, 0] - a[:, 0]) / a[:, 2],
            (g[:, 1] - a[:, 1]) / a[:, 3],
            np.log(g[:, 2] / a[:, 2]),
            np.log(g[:, 3] / a[:, 3]),
        ],
        axis=1,
    )
    return deltas / np.asarray(std, dtype=np.float64)


def decode_boxes(
    deltas: np.ndarray,
    anchors: np.ndarray,
    std: tuple[float, float, float, float] = (0.1, 0.1, 0.2, 0.2),
) -> np.ndarray:
    d = np.asarray(deltas, dtype=np.float64) * np.asarray(std, dtype=np.float64)
    a = xyxy_to_cxcywh(anchors)
    centres = np.stack(
        [
            a[:, 0] + d[:, 0] * a[:, 2],
            a[:, 1] + d[:, 1] * a[:, 3],
            a[:, 2] * np.exp(d[:, 2]),
            a[:, 3] * np.exp(d[:, 3]),
        ],
        axis=1,
    )
    return cxcywh_to_xyxy(centres)


# ----- task 4: mAP@0.5 --------------------------------------------------------------------------
def match_detections(
    det_boxes: np.ndarray,
    det_scores: np.ndarray,
    gt_boxes: np.ndarray,
    iou_threshold: float = 0.5,
) -> np.ndarray:
    det_boxes = np.asarray(det_boxes, dtype=np.float64).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    tp = np.zeros(len(det_boxes), dtype=bool)
    if len(gt_boxes) == 0:
        return tp
    iou = box_iou(det_boxes, gt_boxes)
    taken = np.zeros(len(gt_boxes), dtype=bool)
    for d in np.argsort(-np.asarray(det_scores, dtype=np.float64), kind="stable"):
        g = int(iou[d].argmax())
        if iou[d, g] >= iou_threshold and not taken[g]:
            tp[d] = True
            taken[g] = True
    return tp


def average_precision(tp: np.ndarray, scores: np.ndarray, n_gt: int) -> float:
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.asarray(tp, dtype=bool)[order]
    if hits.size == 0:
        return 0.0
    ctp = np.cumsum(hits)
    precision = ctp / np.arange(1, hits.size + 1)
    recall = ctp / n_gt
    # The envelope: at each point, the best precision at this recall or any higher one.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(recall, prepend=0.0)
    return float(np.sum(steps * envelope))


def mean_average_precision(
    detections: Detections, ground_truths: GroundTruths, iou_threshold: float = 0.5
) -> tuple[float, dict[int, float]]:
    classes = sorted({int(c) for _, labels in ground_truths for c in np.asarray(labels)})
    per_class: dict[int, float] = {}
    for c in classes:
        tps, scores, n_gt = [], [], 0
        for (d_boxes, d_scores, d_labels), (g_boxes, g_labels) in zip(
            detections, ground_truths, strict=True
        ):
            d_sel = np.asarray(d_labels) == c
            g_sel = np.asarray(g_labels) == c
            d_scores = np.asarray(d_scores, dtype=np.float64)
            tps.append(
                match_detections(
                    np.asarray(d_boxes).reshape(-1, 4)[d_sel],
                    d_scores[d_sel],
                    np.asarray(g_boxes).reshape(-1, 4)[g_sel],
                    iou_threshold,
                )
            )
            scores.append(d_scores[d_sel])
            n_gt += int(g_sel.sum())
        per_class[c] = average_precision(np.concatenate(tps), np.concatenate(scores), n_gt)
    mean = float(np.mean(list(per_class.values()))) if per_class else float("nan")
    return mean, per_class
