"""Checks for p5-detection-basics: box conversions, IoU, greedy NMS, SSD-style anchor matching,
box regression targets and VOC mAP@0.5 (all-points area under the precision envelope).

torchvision is not installed, so every reference is written here, independently of the lab's
solution: plain loops over boxes where the solution broadcasts, with a switch for each known
mistake, so that a wrong answer is named by the mistake whose output it equals on the same input.
The references were checked against hand-computed cases, and the simplest of those cases are
checks of their own (`test_*_by_hand`). Scenes are generated with a seed: random ground-truth
boxes over a few images and classes, and a synthetic "detector" that finds most of them with a
jittered box, sometimes twice, sometimes with the wrong class, plus false positives (some of a
class that has no ground truth at all).
"""

from __future__ import annotations

import ast
import inspect
import math
import textwrap
from typing import Any

import numpy as np
import pytest

from aipath.checks import (
    assert_array,
    assert_close,
    assert_returned,
    call_with_inputs,
    fail,
    fmt,
    matching_mistake,
)

BACKGROUND = -1
IGNORED = -2
STD = (0.1, 0.1, 0.2, 0.2)


# ----- references: boxes and IoU ----------------------------------------------------------------
def ref_to_xyxy(b: np.ndarray, *, half: bool = True, corner: bool = False) -> np.ndarray:
    out = np.empty((len(b), 4))
    for i, (cx, cy, w, h) in enumerate(np.asarray(b, dtype=float)):
        if corner:  # (x, y, w, h) read as the top-left corner and the size
            out[i] = (cx, cy, cx + w, cy + h)
        elif half:
            out[i] = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        else:
            out[i] = (cx - w, cy - h, cx + w, cy + h)
    return out


def ref_to_cxcywh(b: np.ndarray, *, variant: str = "right") -> np.ndarray:
    out = np.empty((len(b), 4))
    for i, (x1, y1, x2, y2) in enumerate(np.asarray(b, dtype=float)):
        if variant == "corner":
            out[i] = (x1, y1, x2 - x1, y2 - y1)
        elif variant == "precedence":
            out[i] = (x2 - x1 / 2, y2 - y1 / 2, x2 - x1, y2 - y1)
        elif variant == "sum":
            out[i] = ((x1 + x2) / 2, (y1 + y2) / 2, x2 + x1, y2 + y1)
        elif variant == "plus_one":
            out[i] = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1 + 1, y2 - y1 + 1)
        else:
            out[i] = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
    return out


def ref_iou_pair(
    a: Any,
    b: Any,
    *,
    clamp: bool = True,
    plus_one: bool = False,
    union: str = "union",
    xywh: bool = False,
    zero: float = 0.0,
) -> float:
    ax1, ay1, ax2, ay2 = (float(v) for v in a)
    bx1, by1, bx2, by2 = (float(v) for v in b)
    if xywh:  # x2, y2 read as a width and a height
        ax2, ay2, bx2, by2 = ax1 + ax2, ay1 + ay2, bx1 + bx2, by1 + by2
    one = 1.0 if plus_one else 0.0
    iw = min(ax2, bx2) - max(ax1, bx1) + one
    ih = min(ay2, by2) - max(ay1, by1) + one
    if clamp:
        iw, ih = max(iw, 0.0), max(ih, 0.0)
    elif iw < 0 and ih < 0:
        pass  # the product of two negative sides is a positive "intersection"
    inter = iw * ih
    area_a = (ax2 - ax1 + one) * (ay2 - ay1 + one)
    area_b = (bx2 - bx1 + one) * (by2 - by1 + one)
    if union == "sum":
        denom = area_a + area_b
    elif union == "min":
        denom = min(area_a, area_b)
    elif union == "a":
        denom = area_a
    else:
        denom = area_a + area_b - inter
    if denom <= 0:  # only without the clamp can it be negative; the solution's `where=` gives 0
        return zero
    return inter / denom


def ref_iou(a: np.ndarray, b: np.ndarray, **variant: Any) -> np.ndarray:
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        for j in range(len(b)):
            out[i, j] = ref_iou_pair(a[i], b[j], **variant)
    return out


def iou_mistakes(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    return {
        "the intersection's width and height not clamped at 0: two boxes apart in x and in y "
        "give two negative sides, whose product is a positive area. Clip each side with "
        "np.clip(..., 0, None) (or np.maximum(..., 0)) before multiplying": lambda: ref_iou(
            a, b, clamp=False
        ),
        "the +1 pixel convention (width = x2 - x1 + 1), from integer pixel indices: this lab's "
        "coordinates are continuous, width = x2 - x1": lambda: ref_iou(a, b, plus_one=True),
        "the boxes read as (x, y, w, h): columns 2 and 3 are x2 and y2, corners, not a width "
        "and a height": lambda: ref_iou(a, b, xywh=True),
        "intersection / (area1 + area2): the union counts the overlap once, so subtract the "
        "intersection": lambda: ref_iou(a, b, union="sum"),
        "intersection / the smaller area (the overlap coefficient), not / the union": lambda: (
            ref_iou(a, b, union="min")
        ),
        "intersection / the area of the first box, not / the union": lambda: ref_iou(
            a, b, union="a"
        ),
        "IoU transposed, shape (M, N): row i must be boxes1[i], column j boxes2[j]": lambda: (
            ref_iou(b, a)
        ),
    }


# ----- references: NMS --------------------------------------------------------------------------
def ref_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    t: float,
    *,
    ge: bool = False,
    order: str = "score",
    output: str = "score",
    by_visited: bool = False,
) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    scores = np.asarray(scores, dtype=float)
    n = len(scores)
    if order == "score":
        # descending score, equal scores by index (selection sort, no argsort)
        todo = list(range(n))
        visit = []
        while todo:
            best = todo[0]
            for i in todo:
                if scores[i] > scores[best]:
                    best = i
            visit.append(best)
            todo.remove(best)
    elif order == "reverse_ties":
        visit = [int(i) for i in np.argsort(scores)[::-1]]
    elif order == "ascending":
        visit = [int(i) for i in np.argsort(scores, kind="stable")]
    else:
        visit = list(range(n))
    keep: list[int] = []
    for r, i in enumerate(visit):
        suppressed = False
        # by_visited: every box visited before suppresses, even one that was itself suppressed
        for k in visit[:r] if by_visited else keep:
            v = ref_iou_pair(boxes[k], boxes[i])
            if (v >= t) if ge else (v > t):
                suppressed = True
                break
        if not suppressed:
            keep.append(i)
    if output == "index":
        keep = sorted(keep)
    return np.array(keep, dtype=np.int64)


def ref_batched_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    t: float,
    *,
    aware: bool = True,
    output: str = "score",
    **variant: Any,
) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels)
    if not aware:
        kept = list(ref_nms(boxes, scores, t, **variant))
    else:
        kept = []
        for c in sorted(set(labels.tolist())):
            idx = np.flatnonzero(labels == c)
            kept.extend(int(idx[k]) for k in ref_nms(boxes[idx], scores[idx], t, **variant))
    if output == "index":
        kept = sorted(kept)
    elif output == "score":
        kept = sorted(kept, key=lambda i: (-scores[i], i))
    return np.array(kept, dtype=np.int64)


# ----- references: anchors and box regression ---------------------------------------------------
def ref_match_anchors(
    anchors: np.ndarray,
    gt: np.ndarray,
    pos: float = 0.5,
    neg: float = 0.4,
    *,
    forced: str = "ssd",
    pos_gt: bool = False,
    neg_le: bool = False,
    ignored_as: int = IGNORED,
    background_as: int = BACKGROUND,
) -> np.ndarray:
    """SSD's matching: thresholds on each anchor's best IoU, then every GT takes its best anchor
    (GTs in order, so a later GT wins a shared anchor). The switches are the known mistakes."""
    anchors = np.asarray(anchors, dtype=float).reshape(-1, 4)
    gt = np.asarray(gt, dtype=float).reshape(-1, 4)
    A, G = len(anchors), len(gt)
    out = np.full(A, BACKGROUND, dtype=np.int64)
    if G == 0:
        return out
    iou = ref_iou(anchors, gt)
    for i in range(A):
        j = 0
        for k in range(G):
            if iou[i, k] > iou[i, j]:
                j = k
        v = iou[i, j]
        is_pos = v > pos if pos_gt else v >= pos
        is_neg = v <= neg if neg_le else v < neg
        if is_pos:
            out[i] = j
        elif is_neg:
            out[i] = background_as
        else:
            out[i] = ignored_as
    if forced == "none":
        return out
    gts = range(G - 1, -1, -1) if forced == "first_wins" else range(G)
    for j in gts:
        best = 0
        for i in range(A):
            if iou[i, j] > iou[best, j]:
                best = i
        if iou[best, j] <= 0 and forced != "zero_too":
            continue
        if forced == "skip_positive" and out[best] >= 0:
            continue  # the forced match given only to anchors that step 1 left unmatched
        if forced == "torchvision":  # every tied anchor, matched to its own best GT
            for i in range(A):
                if iou[i, j] == iou[best, j]:
                    out[i] = int(np.argmax(iou[i]))
        else:
            out[best] = j
    return out


def ref_encode(gt: np.ndarray, anchors: np.ndarray, std: Any = STD, *, variant: str = "right"):
    g = ref_to_cxcywh(gt)
    a = ref_to_cxcywh(anchors)
    gc = ref_to_cxcywh(gt, variant="corner")
    ac = ref_to_cxcywh(anchors, variant="corner")
    s = np.asarray(std, dtype=float)
    out = np.empty((len(g), 4))
    for i in range(len(g)):
        (gx, gy, gw, gh), (ax, ay, aw, ah) = g[i], a[i]
        if variant == "no_log":
            row = ((gx - ax) / aw, (gy - ay) / ah, (gw - aw) / aw, (gh - ah) / ah)
        elif variant == "ratio":
            row = ((gx - ax) / aw, (gy - ay) / ah, gw / aw, gh / ah)
        elif variant == "by_gt":
            row = ((gx - ax) / gw, (gy - ay) / gh, math.log(gw / aw), math.log(gh / ah))
        elif variant == "swapped":
            row = ((gx - ax) / ah, (gy - ay) / aw, math.log(gw / aw), math.log(gh / ah))
        elif variant == "corners":
            row = (
                (gc[i, 0] - ac[i, 0]) / aw,
                (gc[i, 1] - ac[i, 1]) / ah,
                math.log(gw / aw),
                math.log(gh / ah),
            )
        elif variant == "inverted":
            row = ((ax - gx) / aw, (ay - gy) / ah, math.log(aw / gw), math.log(ah / gh))
        else:
            row = ((gx - ax) / aw, (gy - ay) / ah, math.log(gw / aw), math.log(gh / ah))
        out[i] = row
    if variant == "times_std":
        return ref_encode(gt, anchors, std) * s * s
    if variant == "no_std":
        return ref_encode(gt, anchors, std) * s
    return out / s


def ref_decode(deltas: np.ndarray, anchors: np.ndarray, std: Any = STD, *, variant: str = "right"):
    s = np.asarray(std, dtype=float)
    d = np.asarray(deltas, dtype=float) * s
    if variant == "divide_std":
        d = np.asarray(deltas, dtype=float) / s
    elif variant == "no_std":
        d = np.asarray(deltas, dtype=float)
    a = ref_to_cxcywh(anchors)
    out = np.empty((len(d), 4))
    for i in range(len(d)):
        dx, dy, dw, dh = d[i]
        ax, ay, aw, ah = a[i]
        if variant == "no_exp":
            w, h = aw * (1 + dw), ah * (1 + dh)
        else:
            w, h = aw * math.exp(dw), ah * math.exp(dh)
        out[i] = (ax + dx * aw, ay + dy * ah, w, h)
    if variant == "cxcywh":
        return out
    return ref_to_xyxy(out)


# ----- references: VOC mAP@0.5 ------------------------------------------------------------------
def ref_match_detections(
    det_boxes: np.ndarray,
    det_scores: np.ndarray,
    gt_boxes: np.ndarray,
    t: float = 0.5,
    *,
    rule: str = "voc",
    strict: bool = False,
    order: str = "score",
) -> np.ndarray:
    det_boxes = np.asarray(det_boxes, dtype=float).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, dtype=float).reshape(-1, 4)
    scores = np.asarray(det_scores, dtype=float)
    D, G = len(det_boxes), len(gt_boxes)
    tp = np.zeros(D, dtype=bool)
    if G == 0:
        return tp
    if order == "score":
        visit = sorted(range(D), key=lambda i: (-scores[i], i))
    elif order == "ascending":
        visit = sorted(range(D), key=lambda i: (scores[i], i))
    else:
        visit = list(range(D))
    taken = [False] * G
    for d in visit:
        ious = [ref_iou_pair(det_boxes[d], gt_boxes[g]) for g in range(G)]
        if rule == "coco":  # the best GT not taken yet
            free = [g for g in range(G) if not taken[g]]
            if not free:
                continue
            g = max(free, key=lambda k: (ious[k], -k))
        else:
            g = max(range(G), key=lambda k: (ious[k], -k))
        hit = ious[g] > t if strict else ious[g] >= t
        if hit and (rule == "duplicates" or not taken[g]):
            tp[d] = True
            taken[g] = True
    return tp


def ref_ap(
    tp: Any,
    scores: Any,
    n_gt: int,
    *,
    sort: str = "desc",
    envelope: bool = True,
    interp: str = "all",
    precision_over: str = "ranked",
    recall_over: str = "n_gt",
    running_max: str = "right",
    step: str = "diff",
) -> float:
    tp = np.asarray(tp, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    if sort == "desc":
        order = sorted(range(len(tp)), key=lambda i: (-scores[i], i))
    elif sort == "asc":
        order = sorted(range(len(tp)), key=lambda i: (scores[i], i))
    else:
        order = list(range(len(tp)))
    hits, cum, recall, precision = 0, [], [], []
    for k, i in enumerate(order, start=1):
        hits += bool(tp[i])
        cum.append(hits)
        recall.append(hits / (n_gt if recall_over == "n_gt" else max(int(tp.sum()), 1)))
        if precision_over == "n_gt":
            precision.append(hits / n_gt)
        elif precision_over == "all":
            precision.append(hits / len(tp))
        else:
            precision.append(hits / k)
    if not order:
        return 0.0
    if interp == "trapz":
        r = np.concatenate([[0.0], recall])
        p = np.concatenate([[1.0], precision])
        return float(np.sum((r[1:] - r[:-1]) * (p[1:] + p[:-1]) / 2))
    env = list(precision)
    if envelope and running_max == "left":
        for k in range(1, len(env)):
            env[k] = max(env[k], env[k - 1])
    elif envelope:
        for k in range(len(env) - 2, -1, -1):
            env[k] = max(env[k], env[k + 1])
    if interp in ("11", "101"):
        levels = np.linspace(0, 1, 11 if interp == "11" else 101)
        total = 0.0
        for r in levels:
            ok = [env[k] for k in range(len(env)) if recall[k] >= r - 1e-12]
            total += max(ok) if ok else 0.0
        return total / len(levels)
    if step == "none":  # recall_k itself instead of the step recall_k - recall_{k-1}
        return float(sum(r * e for r, e in zip(recall, env, strict=True)))
    if step == "mean":
        return float(sum(r * e for r, e in zip(recall, env, strict=True)) / len(env))
    ap, prev = 0.0, 0.0
    for k in range(len(env)):
        if step != "no_first" or k > 0:  # no_first: np.diff(recall) without recall_0 = 0
            ap += (recall[k] - prev) * env[k]
        prev = recall[k]
    return ap


def ref_map(
    detections: Any,
    ground_truths: Any,
    t: float = 0.5,
    *,
    average: str = "classes",
    empty_classes: bool = False,
    aware: bool = True,
    match: dict[str, Any] | None = None,
    ap: dict[str, Any] | None = None,
) -> tuple[float, dict[int, float]]:
    match = match or {}
    ap = ap or {}
    if average == "images":  # the mAP of each image alone, then their mean
        values = []
        for det, gts in zip(detections, ground_truths, strict=True):
            if len(gts[1]):
                values.append(ref_map([det], [gts], t)[0])
        return float(np.mean(values)), {}
    classes = {int(c) for _, labels in ground_truths for c in labels}
    if average == "class_images":  # per class, the AP of each image alone, then their mean
        per_class = {}
        for c in sorted(classes):
            values = []
            for (db, ds, dl), (gb, gl) in zip(detections, ground_truths, strict=True):
                db, ds, dl = np.asarray(db, float), np.asarray(ds, float), np.asarray(dl)
                gb, gl = np.asarray(gb, float), np.asarray(gl)
                if (gl == c).any():
                    flags = ref_match_detections(db[dl == c], ds[dl == c], gb[gl == c], t)
                    values.append(ref_ap(flags, ds[dl == c], int((gl == c).sum())))
            per_class[c] = float(np.mean(values))
        return float(np.mean(list(per_class.values()))), per_class
    if empty_classes:
        classes |= {int(c) for _, _, labels in detections for c in labels}
    per_class = {}
    for c in sorted(classes):
        tps, scores, n_gt = [], [], 0
        for (db, ds, dl), (gb, gl) in zip(detections, ground_truths, strict=True):
            db, ds, dl = np.asarray(db, float), np.asarray(ds, float), np.asarray(dl)
            gb, gl = np.asarray(gb, float), np.asarray(gl)
            d_sel = dl == c
            g_sel = (gl == c) if aware else np.ones(len(gl), dtype=bool)
            tps.append(ref_match_detections(db[d_sel], ds[d_sel], gb[g_sel], t, **match))
            scores.append(ds[d_sel])
            n_gt += int((gl == c).sum())
        if n_gt == 0:
            per_class[c] = 0.0
            continue
        per_class[c] = ref_ap(np.concatenate(tps), np.concatenate(scores), n_gt, **ap)
    return float(np.mean(list(per_class.values()))), per_class


# ----- scenes -----------------------------------------------------------------------------------
def random_boxes(rng: np.random.Generator, n: int, size: float = 100.0) -> np.ndarray:
    centre = rng.uniform(10, size - 10, size=(n, 2))
    wh = rng.uniform(4, 40, size=(n, 2))
    return np.concatenate([centre - wh / 2, centre + wh / 2], axis=1)


def jitter(rng: np.random.Generator, box: np.ndarray, scale: float) -> np.ndarray:
    cx, cy, w, h = ref_to_cxcywh(box[None])[0]
    cx += rng.normal(0, scale * w)
    cy += rng.normal(0, scale * h)
    w *= math.exp(rng.normal(0, scale))
    h *= math.exp(rng.normal(0, scale))
    return ref_to_xyxy(np.array([[cx, cy, w, h]]))[0]


def make_scene(seed: int, n_images: int = 6, n_classes: int = 3) -> tuple[list, list]:
    """(detections, ground_truths): class ``n_classes`` appears only among the false positives,
    and the last image has no ground truth at all."""
    rng = np.random.default_rng(seed)
    detections, ground_truths = [], []
    for image in range(n_images):
        n_gt = 0 if image == n_images - 1 else int(rng.integers(1, 6))
        gt_boxes = random_boxes(rng, n_gt)
        gt_labels = rng.integers(0, n_classes, size=n_gt)
        boxes, scores, labels = [], [], []
        for box, label in zip(gt_boxes, gt_labels, strict=True):
            if rng.random() < 0.85:
                boxes.append(jitter(rng, box, 0.12))
                scores.append(rng.uniform(0.3, 1.0))
                labels.append(label if rng.random() > 0.1 else (label + 1) % n_classes)
                if rng.random() < 0.3:  # a duplicate, usually scored lower
                    boxes.append(jitter(rng, box, 0.1))
                    scores.append(rng.uniform(0.1, 0.9))
                    labels.append(label)
        for _ in range(int(rng.poisson(1.5))):
            boxes.append(random_boxes(rng, 1)[0])
            scores.append(rng.uniform(0.05, 0.8))
            labels.append(int(rng.integers(0, n_classes + 1)))
        detections.append(
            (
                np.array(boxes, dtype=float).reshape(-1, 4),
                np.array(scores, dtype=float),
                np.array(labels, dtype=np.int64),
            )
        )
        ground_truths.append((gt_boxes, gt_labels.astype(np.int64)))
    return detections, ground_truths


def copy_scene(scene: list) -> list:
    return [tuple(np.array(part, copy=True) for part in image) for image in scene]


def nms_scene(seed: int, n_clusters: int = 5, per: int = 5, n_labels: int = 3):
    rng = np.random.default_rng(seed)
    boxes, labels = [], []
    for centre in random_boxes(rng, n_clusters):
        for _ in range(per):
            boxes.append(jitter(rng, centre, 0.15))
            labels.append(int(rng.integers(0, n_labels)))
    order = rng.permutation(len(boxes))
    boxes = np.array(boxes)[order]
    return boxes, rng.uniform(0.05, 1.0, size=len(boxes)), np.array(labels, dtype=np.int64)[order]


def anchor_grid(size: float = 64.0, stride: float = 8.0, sizes=(12.0, 24.0), ratios=(0.5, 1, 2)):
    anchors = []
    for cy in np.arange(stride / 2, size, stride):
        for cx in np.arange(stride / 2, size, stride):
            for s in sizes:
                for r in ratios:
                    w, h = s * math.sqrt(r), s / math.sqrt(r)
                    anchors.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    return np.array(anchors)


# ----- helpers ----------------------------------------------------------------------------------
def as_array(value: Any, name: str, what: str = "an array") -> np.ndarray:
    assert_returned(value, name, what=what)
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError):
        fail(f"{name} should be a NumPy array; got {type(value).__name__}")


def as_boxes(value: Any, name: str, n: int) -> np.ndarray:
    arr = as_array(value, name, "the boxes")
    if arr.dtype.kind not in "biuf":
        fail(f"{name} has dtype {arr.dtype}; expected float64 coordinates")
    if arr.shape != (n, 4):
        hint = (
            ": the four coordinates came out as rows; stack them as columns, "
            "np.stack([...], axis=1)"
            if arr.shape == (4, n)
            else ""
        )
        fail(f"{name} has shape {arr.shape}; expected {(n, 4)}, one row of 4 numbers per box{hint}")
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 8:
        fail(f"{name} has dtype {arr.dtype}; expected float64 (compute in float64 throughout)")
    return arr.astype(np.float64)


def as_indices(value: Any, name: str, mistakes: dict[str, Any] | None = None) -> np.ndarray:
    arr = as_array(value, name, "the kept indices")
    if arr.dtype.kind == "b":
        fail(
            f"{name} is a boolean mask of shape {arr.shape}; expected the kept *indices*, an "
            "integer array (np.flatnonzero(mask) turns a mask into indices, but they must come "
            "out sorted by score)"
        )
    if arr.ndim != 1:
        fail(f"{name} has shape {arr.shape}; expected a 1-D array of indices")
    if arr.size and arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            fail(f"{name} has dtype {arr.dtype}; expected integer indices (np.int64)")
        fail(f"{name} has dtype {arr.dtype}; expected integer indices")
    return arr.astype(np.int64)


def unchanged(name: str, before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> None:
    for key, original in before.items():
        if not np.array_equal(original, after[key]):
            fail(
                f"{name} changed its input `{key}` in place: the caller's arrays must stay as they were"
            )


def _over_coordinates(iterable: ast.expr) -> bool:
    """A loop over at most the four coordinates: range(k) with a literal k ≤ 4, or a literal
    tuple or list of at most four items. Anything else may be a loop over the boxes."""
    if isinstance(iterable, ast.Tuple | ast.List):
        return len(iterable.elts) <= 4
    if (
        isinstance(iterable, ast.Call)
        and isinstance(iterable.func, ast.Name)
        and iterable.func.id == "range"
        and iterable.args
        and all(isinstance(a, ast.Constant) and isinstance(a.value, int) for a in iterable.args)
    ):
        return len(range(*(a.value for a in iterable.args))) <= 4
    return False


def no_box_loops(func: Any, name: str) -> None:
    """The README's "no Python loops" is about the boxes: a loop (or comprehension) over the four
    coordinates, e.g. ``x1, y1, x2, y2 = (a[:, k] for k in range(4))``, is allowed; any other
    ``for``, ``while`` or comprehension is not. (A lab-local variant of aipath.checks.no_loops,
    which has no such allowance.)"""
    try:
        source = textwrap.dedent(inspect.getsource(func))
        first_line = inspect.getsourcelines(func)[1]
    except (OSError, TypeError):
        return
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.For | ast.AsyncFor):
            allowed, kind = _over_coordinates(node.iter), "a `for` loop"
        elif isinstance(node, ast.While):
            allowed, kind = False, "a `while` loop"
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            allowed = all(_over_coordinates(g.iter) for g in node.generators)
            kind = "a comprehension"
        else:
            continue
        if not allowed:
            line = first_line + getattr(node, "lineno", 1) - 1
            fail(
                f"{name} uses {kind} at line {line}; this task asks for whole-array operations "
                "over the boxes (broadcasting boxes1[:, None, :] against boxes2[None, :, :], "
                "ufuncs, axis= arguments) instead"
            )


# ----- task 1: boxes and IoU --------------------------------------------------------------------
@pytest.mark.task(1)
def test_cxcywh_to_xyxy(learner, rng):
    boxes = np.concatenate([ref_to_cxcywh(random_boxes(rng, 6)), [[5.0, 7.0, 0.0, 0.0]]])
    given = boxes.copy()
    got = as_boxes(
        call_with_inputs("cxcywh_to_xyxy(boxes)", learner.cxcywh_to_xyxy, given),
        "cxcywh_to_xyxy(boxes)",
        len(boxes),
    )
    unchanged("cxcywh_to_xyxy", {"boxes": boxes}, {"boxes": given})
    assert_array(
        got,
        ref_to_xyxy(boxes),
        name=f"cxcywh_to_xyxy(boxes) for boxes {fmt(boxes[0])}, ...",
        rtol=1e-12,
        atol=1e-9,
        mistakes={
            "the whole width subtracted from the centre (cx - w): the centre is half a width "
            "from each side, x1 = cx - w / 2": lambda: ref_to_xyxy(boxes, half=False),
            "(cx, cy) read as the top-left corner: x1 = cx - w / 2, x2 = cx + w / 2": lambda: (
                ref_to_xyxy(boxes, corner=True)
            ),
            "the input returned unchanged": boxes,
        },
    )


@pytest.mark.task(1)
def test_xyxy_to_cxcywh(learner, rng):
    boxes = np.concatenate([random_boxes(rng, 6), [[3.0, 4.0, 3.0, 9.0]]])
    given = boxes.copy()
    got = as_boxes(
        call_with_inputs("xyxy_to_cxcywh(boxes)", learner.xyxy_to_cxcywh, given),
        "xyxy_to_cxcywh(boxes)",
        len(boxes),
    )
    unchanged("xyxy_to_cxcywh", {"boxes": boxes}, {"boxes": given})
    assert_array(
        got,
        ref_to_cxcywh(boxes),
        name=f"xyxy_to_cxcywh(boxes) for boxes {fmt(boxes[0])}, ...",
        rtol=1e-12,
        atol=1e-9,
        mistakes={
            "(x1, y1, w, h): the first two columns are the centre, (x1 + x2) / 2": lambda: (
                ref_to_cxcywh(boxes, variant="corner")
            ),
            "x2 - x1 / 2 without parentheses: the centre is (x1 + x2) / 2": lambda: ref_to_cxcywh(
                boxes, variant="precedence"
            ),
            "w = x2 + x1: the width is x2 - x1": lambda: ref_to_cxcywh(boxes, variant="sum"),
            "the +1 pixel convention (w = x2 - x1 + 1): coordinates here are continuous, "
            "w = x2 - x1": lambda: ref_to_cxcywh(boxes, variant="plus_one"),
        },
    )
    back = call_with_inputs(
        "cxcywh_to_xyxy(xyxy_to_cxcywh(boxes))", learner.cxcywh_to_xyxy, got.copy()
    )
    assert_array(
        as_boxes(back, "cxcywh_to_xyxy(xyxy_to_cxcywh(boxes))", len(boxes)),
        boxes,
        name="cxcywh_to_xyxy(xyxy_to_cxcywh(boxes)), the round trip,",
        rtol=1e-12,
        atol=1e-9,
    )


def iou_sanity(got: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """NaN and out-of-range IoUs explained before any value is compared."""
    if got.shape != (len(a), len(b)) or got.dtype.kind != "f":
        return
    if got.dtype.itemsize < 8:
        fail(f"box_iou(boxes1, boxes2) has dtype {got.dtype}; expected float64")
    if np.isnan(got).any():
        i, j = (int(v) for v in np.argwhere(np.isnan(got))[0])
        fail(
            f"box_iou(boxes1, boxes2)[{i}, {j}] is nan for {a[i].tolist()} and {b[j].tolist()} "
            "(both of zero area, union 0): return 0 where the union is 0, e.g. np.divide(inter, "
            "union, out=np.zeros_like(inter), where=union > 0)"
        )
    bad = (got < -1e-12) | (got > 1 + 1e-12)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        fail(
            f"box_iou(boxes1, boxes2)[{i}, {j}] is {fmt(got[i, j])}, outside [0, 1], for "
            f"{a[i].tolist()} and {b[j].tolist()}: the intersection's width and height must be "
            "clamped at 0 before they are multiplied (boxes apart in x or y have a negative "
            "side)"
        )


HAND_A = np.array([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 4.0, 4.0], [5.0, 5.0, 5.0, 8.0]])
HAND_B = np.array(
    [[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0], [2.0, 0.0, 4.0, 2.0], [6.0, 6.0, 7.0, 7.0]]
)
# Worked by hand: [0,0,2,2] and [1,1,3,3] overlap in a 1x1 square, union 4 + 4 - 1 = 7; a box
# inside another: 4 / 16; boxes that only touch along an edge: 0; far apart: 0 (not 1: without
# the clamp, the two negative sides (-4) x (-4) would make +16); a zero-width box: 0.
HAND_IOU = np.array(
    [
        [1 / 7, 1.0, 0.0, 0.0],
        [4 / 16, 4 / 16, 4 / 16, 0.0],
        [0.0, 0.0, 0.0, 0.0],
    ]
)


@pytest.mark.task(1)
def test_box_iou_by_hand(learner):
    got = call_with_inputs("box_iou(boxes1, boxes2)", learner.box_iou, HAND_A.copy(), HAND_B.copy())
    got = as_array(got, "box_iou(boxes1, boxes2)", "the (N, M) IoU matrix")
    if got.shape == (4, 3):
        fail(
            "box_iou(boxes1, boxes2) for 3 and 4 boxes has shape (4, 3); expected (3, 4): "
            "row i is boxes1[i], column j is boxes2[j]"
        )
    iou_sanity(got, HAND_A, HAND_B)
    assert_array(
        got,
        HAND_IOU,
        name="box_iou(boxes1, boxes2) on the worked example of the README",
        rtol=1e-12,
        atol=1e-12,
        mistakes=iou_mistakes(HAND_A, HAND_B),
    )


@pytest.mark.task(1)
def test_box_iou_random(learner, rng):
    a = np.concatenate([random_boxes(rng, 6), [[20.0, 20.0, 20.0, 30.0], [50.0, 50.0, 50.0, 50.0]]])
    b = np.concatenate(
        [
            random_boxes(rng, 4),
            a[:2] + rng.normal(0, 2, size=(2, 4)).clip(-1.5, 1.5),
            [[50.0, 50.0, 50.0, 50.0], [200.0, 200.0, 230.0, 240.0]],
        ]
    )
    ga, gb = a.copy(), b.copy()
    got = call_with_inputs("box_iou(boxes1, boxes2)", learner.box_iou, ga, gb)
    got = as_array(got, f"box_iou(boxes1 {a.shape}, boxes2 {b.shape})", "the IoU matrix")
    unchanged("box_iou", {"boxes1": a, "boxes2": b}, {"boxes1": ga, "boxes2": gb})
    want = ref_iou(a, b)
    iou_sanity(got, a, b)
    assert_array(
        got,
        want,
        name=f"box_iou(boxes1 {a.shape}, boxes2 {b.shape})",
        rtol=1e-9,
        atol=1e-12,
        mistakes=iou_mistakes(a, b),
    )
    no_box_loops(learner.box_iou, name="box_iou")


@pytest.mark.task(1)
def test_box_iou_empty(learner, rng):
    b = random_boxes(rng, 3)
    got = call_with_inputs(
        "box_iou(np.zeros((0, 4)), boxes2)", learner.box_iou, np.zeros((0, 4)), b.copy()
    )
    got = as_array(got, "box_iou(np.zeros((0, 4)), boxes2 (3, 4))", "the IoU matrix")
    if got.shape != (0, 3):
        fail(
            f"box_iou(np.zeros((0, 4)), boxes2 (3, 4)) has shape {got.shape}; expected (0, 3): "
            "no boxes on one side is an empty matrix, not an error"
        )


# ----- task 2: NMS ------------------------------------------------------------------------------
def nms_mistakes(boxes, scores, t) -> dict[str, Any]:
    return {
        "suppression at IoU ≥ threshold: a box overlapping a kept one by exactly the threshold "
        "must be kept (suppress only IoU > threshold)": lambda: ref_nms(boxes, scores, t, ge=True),
        "the boxes visited in their input order, not by decreasing score: greedy NMS keeps the "
        "highest-scoring box first": lambda: ref_nms(boxes, scores, t, order="input"),
        "the boxes visited from the lowest score up: sort by -scores (decreasing)": lambda: ref_nms(
            boxes, scores, t, order="ascending"
        ),
        "the right boxes, but returned in index order: return them sorted by decreasing score "
        "(the order NMS keeps them)": lambda: ref_nms(boxes, scores, t, output="index"),
        "equal scores taken from the highest index down (np.argsort(scores)[::-1] reverses "
        "ties): the README breaks ties by the lower index first, np.argsort(-scores, "
        "kind='stable')": lambda: ref_nms(boxes, scores, t, order="reverse_ties"),
        "every higher-scoring box suppressing, even one that was itself suppressed: only the "
        "boxes already *kept* suppress (A removes B; C, which overlaps B but not A, stays)": (
            lambda: ref_nms(boxes, scores, t, by_visited=True)
        ),
    }


def explain_nms(
    got: np.ndarray, want: np.ndarray, boxes, scores, t, name: str, mistakes, labels=None
) -> None:
    if np.array_equal(got, want):
        return
    label = matching_mistake(got, mistakes)
    prefix = f"{name} looks like {label}. " if label else ""
    n = len(boxes)
    bad = [int(i) for i in got if not 0 <= int(i) < n]
    if bad:
        fail(f"{prefix}{name} returned index {bad[0]}, but there are only {n} boxes")
    if len(set(got.tolist())) != len(got):
        fail(f"{prefix}{name} returned an index twice: {got.tolist()}")
    extra = [int(i) for i in got if i not in set(want.tolist())]
    missing = [int(i) for i in want if i not in set(got.tolist())]
    if extra:
        i = extra[0]
        same = [k for k in want if labels is None or labels[k] == labels[i]]
        over = [(k, ref_iou_pair(boxes[k], boxes[i])) for k in same if scores[k] >= scores[i]]
        over = [(k, v) for k, v in over if v > t]
        why = (
            f"; it overlaps box {over[0][0]} (score {fmt(scores[over[0][0]])}, kept) with IoU "
            f"{fmt(over[0][1])} > {t}"
            if over
            else ""
        )
        fail(
            f"{prefix}{name} kept box {i} (score {fmt(scores[i])}), which should be suppressed"
            f"{why}. Expected {want.tolist()}, got {got.tolist()}"
        )
    if missing:
        i = missing[0]
        fail(
            f"{prefix}{name} dropped box {i} (score {fmt(scores[i])}), which no higher-scoring "
            f"kept box{' of its class' if labels is not None else ''} overlaps by more than {t}. Expected {want.tolist()}, got {got.tolist()}"
        )
    fail(
        f"{prefix}{name} kept the right boxes in the wrong order: {got.tolist()}; expected "
        f"{want.tolist()}, by decreasing score"
    )


@pytest.mark.task(2)
def test_nms_by_hand(learner):
    # Box 1 overlaps box 0 by exactly 0.5 (intersection 2, union 4); box 2 overlaps boxes 0 and
    # 1 by 3 / 4; box 3 is apart. The scores are not in index order.
    boxes = np.array(
        [[0.0, 0.0, 3.0, 1.0], [1.0, 0.0, 4.0, 1.0], [0.0, 0.0, 4.0, 1.0], [10.0, 10.0, 12.0, 12.0]]
    )
    scores = np.array([0.8, 0.7, 0.9, 0.95])
    # Visit 3 (0.95) keep; 2 (0.9) keep; 0 (0.8): IoU with 2 is 3/4 > 0.5, suppressed;
    # 1 (0.7): IoU with 2 is 3/4, suppressed.
    cases = [
        (boxes, scores, 0.5, [3, 2]),
        # Without box 2: 0 is kept, and 1 overlaps it by exactly 0.5, which is not > 0.5.
        (boxes[[0, 1, 3]], scores[[0, 1, 3]], 0.5, [2, 0, 1]),
        # Identical boxes (IoU 1): the lower score goes.
        (
            np.array([[2.0, 2.0, 6.0, 6.0], [2.0, 2.0, 6.0, 6.0], [2.0, 2.0, 6.0, 6.0]]),
            np.array([0.3, 0.6, 0.4]),
            0.5,
            [1],
        ),
        # Ties: equal scores go lower index first, so box 0 wins and box 1 (IoU 0.6 > 0.5) goes.
        (
            np.array([[0.0, 0.0, 5.0, 1.0], [0.0, 0.0, 3.0, 1.0]]),
            np.array([0.5, 0.5]),
            0.5,
            [0],
        ),
    ]
    for b, s, t, want in cases:
        name = f"nms(boxes, scores {s.tolist()}, {t})"
        got = as_indices(call_with_inputs(name, learner.nms, b.copy(), s.copy(), t), name)
        explain_nms(got, np.array(want), b, s, t, name, nms_mistakes(b, s, t))


@pytest.mark.task(2)
def test_nms_random(learner):
    for seed, t in ((1, 0.5), (2, 0.3), (3, 0.7)):
        boxes, scores, _ = nms_scene(seed)
        gb, gs = boxes.copy(), scores.copy()
        name = f"nms(boxes {boxes.shape}, scores, {t})"
        got = as_indices(call_with_inputs(name, learner.nms, gb, gs, t), name)
        unchanged("nms", {"boxes": boxes, "scores": scores}, {"boxes": gb, "scores": gs})
        explain_nms(
            got, ref_nms(boxes, scores, t), boxes, scores, t, name, nms_mistakes(boxes, scores, t)
        )
    name = "nms(np.zeros((0, 4)), np.zeros(0), 0.5)"
    raw = as_array(
        call_with_inputs(name, learner.nms, np.zeros((0, 4)), np.zeros(0), 0.5), name, "indices"
    )
    got = as_indices(raw, name)
    if got.shape != (0,):
        fail(f"{name} has shape {got.shape}; expected (0,), no boxes kept")
    if raw.dtype.kind not in "iu":
        fail(
            f"{name} has dtype {raw.dtype}; expected an empty int64 array (np.array([]) is "
            "float64; np.array(keep, dtype=np.int64) is not)"
        )


def batched_mistakes(boxes, scores, labels, t) -> dict[str, Any]:
    def v(**kw):
        return lambda: ref_batched_nms(boxes, scores, labels, t, **kw)

    def subset_indices():
        return np.concatenate(
            [ref_nms(boxes[labels == c], scores[labels == c], t) for c in np.unique(labels)]
        )

    return {
        "NMS over all boxes at once, ignoring the labels: a box may only suppress boxes of "
        "its own class (a dog does not hide the person it stands next to)": v(aware=False),
        "the kept boxes grouped class by class: return them all sorted by decreasing score": v(
            output="by_class"
        ),
        "the right boxes in index order: sort them by decreasing score": v(output="index"),
        "indices into each class's own subset of boxes, not into the full arrays": subset_indices,
        "suppression at IoU ≥ threshold; suppress only IoU > threshold": v(ge=True),
        "each class's boxes visited in input order, not by decreasing score": v(order="input"),
        "every higher-scoring box of the class suppressing, even one that was itself "
        "suppressed: only the boxes already *kept* suppress": v(by_visited=True),
    }


@pytest.mark.task(2)
def test_batched_nms_by_hand(learner):
    # Boxes 0 and 1 are the same box with different labels: neither suppresses the other.
    # Box 2 overlaps box 0 (same label) by exactly 0.5: kept. Box 3 overlaps box 1 by 3 / 4:
    # suppressed. Kept, by score: 1 (0.9), 0 (0.8), 2 (0.6).
    boxes = np.array(
        [[0.0, 0.0, 3.0, 1.0], [0.0, 0.0, 3.0, 1.0], [1.0, 0.0, 4.0, 1.0], [0.0, 0.0, 4.0, 1.0]]
    )
    scores = np.array([0.8, 0.9, 0.6, 0.7])
    labels = np.array([0, 1, 0, 1])
    name = f"batched_nms(boxes, scores {scores.tolist()}, labels {labels.tolist()}, 0.5)"
    got = as_indices(
        call_with_inputs(
            name, learner.batched_nms, boxes.copy(), scores.copy(), labels.copy(), 0.5
        ),
        name,
    )
    explain_nms(
        got,
        np.array([1, 0, 2]),
        boxes,
        scores,
        0.5,
        name,
        batched_mistakes(boxes, scores, labels, 0.5),
        labels,
    )


@pytest.mark.task(2)
def test_batched_nms(learner):
    for seed, t in ((4, 0.5), (5, 0.3)):
        boxes, scores, labels = nms_scene(seed)
        gb, gs, gl = boxes.copy(), scores.copy(), labels.copy()
        name = f"batched_nms(boxes {boxes.shape}, scores, labels, {t})"
        got = as_indices(call_with_inputs(name, learner.batched_nms, gb, gs, gl, t), name)
        unchanged(
            "batched_nms",
            {"boxes": boxes, "scores": scores, "labels": labels},
            {"boxes": gb, "scores": gs, "labels": gl},
        )
        want = ref_batched_nms(boxes, scores, labels, t)
        mistakes = batched_mistakes(boxes, scores, labels, t)
        explain_nms(got, want, boxes, scores, t, name, mistakes, labels)


# ----- task 3: anchor matching and box regression -----------------------------------------------
def anchor_mistakes(anchors, gt, pos, neg) -> dict[str, Any]:
    def variant(**kw):
        return lambda: ref_match_anchors(anchors, gt, pos, neg, **kw)

    return {
        "the forced match skipped for an anchor that step 1 already made positive: the forced "
        "match overrides step 1, the best anchor of GT g gets label g whatever it had": variant(
            forced="skip_positive"
        ),
        "the forced anchor given its own best GT (torchvision's low-quality matches) instead "
        "of the GT it is the best anchor for: SSD's rule sets anchor best_anchor[g] to g, for "
        "g in order": variant(forced="torchvision"),
        "the first GT keeping a shared best anchor: GTs are forced in index order, so when two "
        "share a best anchor the later one (higher index) ends up with it": variant(
            forced="first_wins"
        ),
        "no forced match: a ground-truth box whose best IoU with every anchor is below "
        "pos_threshold ends up with no anchor at all, so the detector never learns it. After "
        "the thresholds (not before them: they would overwrite it), give every GT its best anchor "
        "(iou.argmax(axis=0))": variant(forced="none"),
        "a forced match for a GT that overlaps no anchor at all (its best IoU is 0, and argmax "
        "picks anchor 0): force only where that IoU is > 0": variant(forced="zero_too"),
        "positives at IoU > pos_threshold: an anchor at exactly pos_threshold is positive "
        "(≥)": variant(pos_gt=True),
        "background at IoU ≤ neg_threshold: an anchor at exactly neg_threshold is ignored; "
        "background is strictly below (<)": variant(neg_le=True),
        "the ignored anchors labelled background (-1): between the thresholds an anchor is "
        "IGNORED (-2), it counts neither as an object nor as background": variant(
            ignored_as=BACKGROUND
        ),
        "BACKGROUND and IGNORED swapped: below neg_threshold an anchor is BACKGROUND (-1), "
        "between the thresholds IGNORED (-2)": variant(
            ignored_as=BACKGROUND, background_as=IGNORED
        ),
    }


def explain_anchors(got, want, anchors, gt, name, mistakes):
    if got.shape != want.shape:
        label = matching_mistake(got, mistakes)
        prefix = f"{name} looks like {label}. " if label else ""
        fail(f"{prefix}{name} has shape {got.shape}; expected {want.shape}, one label per anchor")
    if np.array_equal(got, want):
        return
    label = matching_mistake(got, mistakes)
    prefix = f"{name} looks like {label}. " if label else ""
    i = int(np.flatnonzero(got != want)[0])
    iou = ref_iou(anchors[i : i + 1], gt)[0] if len(gt) else np.zeros(0)
    names = {BACKGROUND: "BACKGROUND (-1)", IGNORED: "IGNORED (-2)"}
    fail(
        f"{prefix}{name}[{i}] is {names.get(int(got[i]), int(got[i]))}; expected "
        f"{names.get(int(want[i]), int(want[i]))}. Anchor {i} is {anchors[i].round(2).tolist()}, "
        f"its IoU with each GT is {np.round(iou, 4).tolist()}. {int((got != want).sum())} of "
        f"{len(want)} labels differ"
    )


# The worked example of the README (IoUs by hand, widths x heights):
HAND_ANCHORS = np.array(
    [
        [0.0, 0.0, 4.0, 4.0],  # 0: IoU 4/16 = 0.25 with GT 0 and 8/16 = 0.5 with GT 1
        [10.0, 0.0, 14.0, 4.0],  # 1: GT 2 exactly, IoU 1
        [10.0, 0.0, 18.0, 4.0],  # 2: 16/32 = 0.5 exactly with GT 2: positive (≥)
        [10.0, 0.0, 20.0, 4.0],  # 3: 16/40 = 0.4 exactly with GT 2: ignored, not background
        [20.0, 0.0, 25.0, 4.0],  # 4: 8/20 = 0.4 with GT 3: ignored, then forced to GT 3
        [100.0, 100.0, 104.0, 104.0],  # 5: overlaps nothing: background
        [10.0, 0.0, 19.0, 4.0],  # 6: 16/36 = 0.44 with GT 2: ignored
    ]
)
HAND_GT = np.array(
    [
        [0.0, 0.0, 1.0, 4.0],  # GT 0: its best anchor is 0, shared with GT 1
        [0.0, 0.0, 2.0, 4.0],  # GT 1: the later GT, so anchor 0 ends up with GT 1
        [10.0, 0.0, 14.0, 4.0],  # GT 2: best anchor 1
        [20.0, 0.0, 22.0, 4.0],  # GT 3: best anchor 4, at only 0.4
        [50.0, 50.0, 52.0, 52.0],  # GT 4: overlaps no anchor, forces nothing
    ]
)
HAND_LABELS = np.array([1, 2, 2, IGNORED, 3, BACKGROUND, IGNORED])


@pytest.mark.task(3)
def test_match_anchors_by_hand(learner):
    assert (ref_match_anchors(HAND_ANCHORS, HAND_GT) == HAND_LABELS).all()
    name = "match_anchors(anchors, gt_boxes) on the README's worked example"
    got = as_array(
        call_with_inputs(name, learner.match_anchors, HAND_ANCHORS.copy(), HAND_GT.copy()), name
    )
    if got.dtype.kind not in "iu":
        fail(f"{name} has dtype {got.dtype}; expected integers (a GT index, -1 or -2)")
    explain_anchors(
        got,
        HAND_LABELS,
        HAND_ANCHORS,
        HAND_GT,
        name,
        anchor_mistakes(HAND_ANCHORS, HAND_GT, 0.5, 0.4),
    )
    # Anchor 1 overlaps GT 0 by 12/32 = 0.375 (its best GT, below neg: background) and GT 1 by
    # 8/36; it is GT 1's best anchor, so the forced match gives it GT 1 (torchvision's rule
    # would give it its own best GT, 0).
    anchors = np.array([[0.0, 0.0, 4.0, 4.0], [1.0, 0.0, 8.0, 4.0]])
    gt = np.array([[0.0, 0.0, 4.0, 4.0], [6.0, 0.0, 10.0, 4.0]])
    assert (ref_match_anchors(anchors, gt) == [0, 1]).all()
    name = "match_anchors([[0, 0, 4, 4], [1, 0, 8, 4]], [[0, 0, 4, 4], [6, 0, 10, 4]])"
    got = as_array(call_with_inputs(name, learner.match_anchors, anchors.copy(), gt.copy()), name)
    explain_anchors(
        got, np.array([0, 1]), anchors, gt, name, anchor_mistakes(anchors, gt, 0.5, 0.4)
    )
    # GTs 1 and 0 in the other order: anchor 0 is the best anchor of both, the later GT (now
    # [0, 0, 1, 4], IoU 0.25) takes it, though the anchor overlaps the other one more.
    anchors, gt = HAND_ANCHORS[:1], HAND_GT[[1, 0]]
    name = "match_anchors([[0, 0, 4, 4]], [[0, 0, 2, 4], [0, 0, 1, 4]])"
    got = as_array(call_with_inputs(name, learner.match_anchors, anchors.copy(), gt.copy()), name)
    explain_anchors(got, np.array([1]), anchors, gt, name, anchor_mistakes(anchors, gt, 0.5, 0.4))
    name = "match_anchors(anchors, np.zeros((0, 4)))"
    got = as_array(
        call_with_inputs(name, learner.match_anchors, HAND_ANCHORS.copy(), np.zeros((0, 4))), name
    )
    if got.shape != (len(HAND_ANCHORS),) or not (got == BACKGROUND).all():
        fail(
            f"{name} is {got.tolist()}; expected every anchor BACKGROUND (-1): with no GT there "
            "is nothing to find"
        )


@pytest.mark.task(3)
def test_match_anchors_grid(learner):
    anchors = anchor_grid()
    gt = np.array(
        [
            [6.0, 10.0, 30.0, 22.0],  # a wide box
            [40.0, 30.0, 52.0, 58.0],  # a tall box
            [20.0, 44.0, 24.0, 49.0],  # tiny: every anchor's IoU with it is below 0.4
            [30.0, 6.0, 42.0, 18.0],  # exactly the 12x12 anchor centred at (36, 12)
            [33.0, 30.0, 47.0, 41.0],  # overlaps the tall box
        ]
    )
    for pos, neg in ((0.5, 0.4), (0.7, 0.3)):
        ga, gg = anchors.copy(), gt.copy()
        name = f"match_anchors(anchors {anchors.shape}, gt_boxes {gt.shape}, {pos}, {neg})"
        got = as_array(call_with_inputs(name, learner.match_anchors, ga, gg, pos, neg), name)
        unchanged(
            "match_anchors", {"anchors": anchors, "gt_boxes": gt}, {"anchors": ga, "gt_boxes": gg}
        )
        if got.dtype.kind not in "iu":
            fail(f"{name} has dtype {got.dtype}; expected integers (a GT index, -1 or -2)")
        want = ref_match_anchors(anchors, gt, pos, neg)
        explain_anchors(got, want, anchors, gt, name, anchor_mistakes(anchors, gt, pos, neg))


def encode_case(rng):
    anchors = anchor_grid()[rng.choice(len(anchor_grid()), 8, replace=False)]
    gt = np.array([jitter(rng, a, 0.25) for a in anchors])
    return gt, anchors


@pytest.mark.task(3)
def test_encode_boxes(learner, rng):
    gt, anchors = encode_case(rng)
    std = (0.1, 0.15, 0.2, 0.25)
    gg, ga = gt.copy(), anchors.copy()
    name = f"encode_boxes(gt_boxes {gt.shape}, anchors {anchors.shape}, std={std})"
    got = as_boxes(call_with_inputs(name, learner.encode_boxes, gg, ga, std), name, len(gt))
    unchanged("encode_boxes", {"gt_boxes": gt, "anchors": anchors}, {"gt_boxes": gg, "anchors": ga})

    def v(variant):
        return lambda: ref_encode(gt, anchors, std, variant=variant)

    assert_array(
        got,
        ref_encode(gt, anchors, std),
        name=name,
        rtol=1e-9,
        atol=1e-9,
        mistakes={
            "the targets not divided by std": v("no_std"),
            "the targets multiplied by std instead of divided by it": v("times_std"),
            "dw = (w - w_a) / w_a: the size targets are logs, dw = log(w / w_a)": v("no_log"),
            "dw = w / w_a without the log: dw = log(w / w_a)": v("ratio"),
            "the centre offsets divided by the GT's width and height: divide by the anchor's "
            "(w_a, h_a)": v("by_gt"),
            "dx divided by the anchor's height and dy by its width: dx / w_a, dy / h_a": v(
                "swapped"
            ),
            "offsets of the corners (x1, y1), not of the centres": v("corners"),
            "the anchor encoded relative to the GT: the target says how to move the anchor onto "
            "the GT, dx = (cx - cx_a) / w_a": v("inverted"),
        },
    )


@pytest.mark.task(3)
def test_decode_boxes(learner, rng):
    gt, anchors = encode_case(rng)
    std = (0.1, 0.15, 0.2, 0.25)
    deltas = ref_encode(gt, anchors, std) + rng.normal(0, 0.3, size=(len(gt), 4))
    gd, ga = deltas.copy(), anchors.copy()
    name = f"decode_boxes(deltas {deltas.shape}, anchors {anchors.shape}, std={std})"
    got = as_boxes(call_with_inputs(name, learner.decode_boxes, gd, ga, std), name, len(gt))
    unchanged("decode_boxes", {"deltas": deltas, "anchors": anchors}, {"deltas": gd, "anchors": ga})

    def v(variant):
        return lambda: ref_decode(deltas, anchors, std, variant=variant)

    assert_array(
        got,
        ref_decode(deltas, anchors, std),
        name=name,
        rtol=1e-9,
        atol=1e-9,
        mistakes={
            "the boxes as (cx, cy, w, h): decode_boxes returns (x1, y1, x2, y2)": v("cxcywh"),
            "the deltas divided by std: decoding undoes the encoding's division, so multiply": v(
                "divide_std"
            ),
            "the deltas used without std": v("no_std"),
            "w = w_a * (1 + dw): the size deltas are logs, w = w_a * exp(dw)": v("no_exp"),
        },
    )
    name = "decode_boxes(encode_boxes(gt_boxes, anchors), anchors)"
    enc = call_with_inputs(name, learner.encode_boxes, gt.copy(), anchors.copy())
    back = call_with_inputs(
        name, learner.decode_boxes, as_boxes(enc, name, len(gt)), anchors.copy()
    )
    assert_array(
        as_boxes(back, name, len(gt)), gt, name=name + ", the round trip,", rtol=1e-9, atol=1e-9
    )


# ----- task 4: mAP@0.5 --------------------------------------------------------------------------
def as_tp(value: Any, name: str, n: int) -> np.ndarray:
    arr = as_array(value, name, "the true-positive flags")
    if arr.shape != (n,):
        fail(
            f"{name} has shape {arr.shape}; expected {(n,)}, one flag per detection, in input order"
        )
    if arr.dtype.kind != "b":
        if arr.dtype.kind in "iu" and len(arr) and set(arr.tolist()) - {0, 1}:
            fail(
                f"{name} is {arr.tolist()}; expected booleans, one per detection in input order "
                "(not the indices of the GTs they matched)"
            )
        fail(f"{name} has dtype {arr.dtype}; expected bool")
    return arr


def match_mistakes(boxes, scores, gt, t) -> dict[str, Any]:
    def v(**kw):
        return lambda: ref_match_detections(boxes, scores, gt, t, **kw)

    return {
        "each detection matched to the best GT *not yet taken* (COCO's rule): this lab uses "
        "VOC's, the detection goes to its highest-IoU GT and is a false positive if that one "
        "is taken": v(rule="coco"),
        "a GT matched more than once: the second detection of an object already found is a "
        "duplicate, a false positive; mark the GT as taken": v(rule="duplicates"),
        "a match at IoU > 0.5: the README counts IoU ≥ iou_threshold as a match": v(strict=True),
        "the flags in score order: return one flag per detection in the *input* order, "
        "tp[i] for det_boxes[i]": lambda: ref_match_detections(boxes, scores, gt, t)[
            sorted(range(len(scores)), key=lambda i: (-scores[i], i))
        ],
        "the detections matched in their input order: visit them by decreasing score, so the "
        "best-scored detection of an object is the one that counts": v(order="input"),
        "the detections matched from the lowest score up: visit them by decreasing score": v(
            order="ascending"
        ),
    }


@pytest.mark.task(4)
def test_match_detections_by_hand(learner):
    gt = np.array([[0.0, 0.0, 10.0, 10.0], [8.0, 0.0, 18.0, 10.0]])
    det = np.array(
        [
            [0.0, 0.0, 10.0, 10.0],  # 0: GT 0 exactly, score 0.6
            [1.0, 0.0, 10.0, 10.0],  # 1: GT 0 again (IoU 0.9), score 0.9: it wins GT 0
            [9.0, 0.0, 18.0, 10.0],  # 2: GT 1 (IoU 0.9), score 0.3
            [30.0, 30.0, 40.0, 40.0],  # 3: nothing, score 0.95
            [5.0, 0.0, 15.0, 10.0],  # 4: IoU 5/15 with GT 0 and 7/13 with GT 1, score 0.2
        ]
    )
    scores = np.array([0.6, 0.9, 0.3, 0.95, 0.2])
    # By score: 3 (no overlap) FP; 1 takes GT 0; 0's best is GT 0, taken: FP; 2 takes GT 1;
    # 4's best is GT 1 (7/13 ≥ 0.5), taken: FP.
    want = np.array([False, True, True, False, False])
    name = "match_detections(det_boxes, det_scores, gt_boxes) on the README's worked example"
    got = as_tp(
        call_with_inputs(name, learner.match_detections, det.copy(), scores.copy(), gt.copy()),
        name,
        len(det),
    )
    assert_array(got, want, name=name, exact=True, mistakes=match_mistakes(det, scores, gt, 0.5))
    # IoU exactly 0.5 is a match: [0, 0, 3, 1] against [1, 0, 4, 1] is 2 / 4.
    name = "match_detections([[1, 0, 4, 1]], [0.9], [[0, 0, 3, 1]])"
    got = as_tp(
        call_with_inputs(
            name,
            learner.match_detections,
            np.array([[1.0, 0.0, 4.0, 1.0]]),
            np.array([0.9]),
            np.array([[0.0, 0.0, 3.0, 1.0]]),
        ),
        name,
        1,
    )
    if not got[0]:
        fail(f"{name} is [False]: the IoU is 2 / 4 = 0.5 exactly, and IoU ≥ 0.5 is a match")
    # Where VOC's rule and COCO's differ: the best GT is taken, another one above the threshold
    # is free. Both detections overlap GT 0 by 90/110 and GT 1 by 85/115: the second finds its
    # best GT (0) taken and is a false positive, though GT 1 is still free.
    gt3 = np.array([[0.0, 0.0, 10.0, 10.0], [2.5, 0.0, 12.5, 10.0]])
    det3 = np.array([[1.0, 0.0, 11.0, 10.0], [1.0, 0.0, 11.0, 10.0]])
    scores3 = np.array([0.9, 0.8])
    name = "match_detections(det_boxes, det_scores, gt_boxes) for two detections of two GTs"
    got = as_tp(
        call_with_inputs(name, learner.match_detections, det3.copy(), scores3.copy(), gt3.copy()),
        name,
        2,
    )
    assert_array(
        got,
        np.array([True, False]),
        name=name,
        exact=True,
        mistakes=match_mistakes(det3, scores3, gt3, 0.5),
    )
    name = "match_detections(det_boxes (2, 4), det_scores, np.zeros((0, 4)))"
    got = as_tp(
        call_with_inputs(
            name, learner.match_detections, det3.copy(), scores3.copy(), np.zeros((0, 4))
        ),
        name,
        2,
    )
    if got.any():
        fail(
            f"{name} is {got.tolist()}; expected all False: with no GT every detection is a false positive"
        )


@pytest.mark.task(4)
def test_match_detections_random(learner):
    detections, ground_truths = make_scene(7, n_classes=1)
    for (boxes, scores, _), (gt, _) in zip(detections, ground_truths, strict=True):
        name = f"match_detections(det_boxes {boxes.shape}, det_scores, gt_boxes {gt.shape})"
        gb, gs, gg = boxes.copy(), scores.copy(), gt.copy()
        got = as_tp(call_with_inputs(name, learner.match_detections, gb, gs, gg), name, len(boxes))
        unchanged(
            "match_detections",
            {"det_boxes": boxes, "det_scores": scores, "gt_boxes": gt},
            {"det_boxes": gb, "det_scores": gs, "gt_boxes": gg},
        )
        assert_array(
            got,
            ref_match_detections(boxes, scores, gt),
            name=name,
            exact=True,
            mistakes=match_mistakes(boxes, scores, gt, 0.5),
        )


def ap_mistakes(tp, scores, n_gt) -> dict[str, Any]:
    def v(**kw):
        return lambda: ref_ap(tp, scores, n_gt, **kw)

    return {
        "the precision-recall curve taken in the order the detections came (image by image), "
        "not sorted by score across all images: sort all detections by decreasing score "
        "first": v(sort="none"),
        "the detections sorted by increasing score: the curve starts at the most confident "
        "detection": v(sort="asc"),
        "the raw precision, without the envelope: VOC replaces each precision by the best "
        "precision at that recall or higher (a running maximum from the right)": v(envelope=False),
        "the 11-point interpolation (VOC 2007): this lab uses the area under the whole "
        "envelope, every recall step": v(interp="11"),
        "COCO's 101-point interpolation: this lab uses the area under the whole envelope, "
        "every recall step": v(interp="101"),
        "a trapezoid area under the raw curve (np.trapz): AP is a sum of rectangles, recall "
        "step × enveloped precision": v(interp="trapz"),
        "the envelope taken from the left (np.maximum.accumulate(precision)): the envelope is "
        "the best precision at this recall *or higher*, a running maximum from the right, "
        "np.maximum.accumulate(precision[::-1])[::-1]": v(running_max="left"),
        "precision as true positives / n_gt: precision divides by the detections so far": v(
            precision_over="n_gt"
        ),
        "recall as true positives / the true positives found: recall divides by n_gt, every "
        "object that exists, found or not": v(recall_over="found"),
        "precision as true positives / all detections: at each rank k it divides by k": v(
            precision_over="all"
        ),
        "the first recall step left out (np.diff(recall) without recall_0 = 0): AP sums "
        "(recall_k - recall_{k-1}) · envelope_k from k = 1, with recall_0 = 0, e.g. "
        "np.diff(recall, prepend=0)": v(step="no_first"),
        "recall_k · envelope_k summed: AP weights each envelope by the recall *step* "
        "recall_k - recall_{k-1}, not by the recall itself": v(step="none"),
        "the mean over ranks of recall_k · envelope_k: AP is the sum of (recall_k - "
        "recall_{k-1}) · envelope_k, an area, not a mean": v(step="mean"),
    }


def consistent_mistakes(mistakes_per_case: list[dict[str, Any]], got: list[float]):
    """The mistakes whose output equals the learner's on *every* case, so that a coincidence on
    one small case does not name a cause the learner's code does not have."""
    labels = None
    for mistakes, value in zip(mistakes_per_case, got, strict=True):
        hits = {label for label in mistakes if matching_mistake(value, {label: mistakes[label]})}
        labels = hits if labels is None else labels & hits
    return labels or set()


@pytest.mark.task(4)
def test_average_precision_by_hand(learner):
    # Ranked T F F T T with 3 GTs: precision 1, 1/2, 1/3, 1/2, 3/5 at recall 1/3, 1/3, 1/3, 2/3, 1.
    # Envelope 1, 3/5, 3/5, 3/5, 3/5: AP = 1/3 · 1 + 1/3 · 3/5 + 1/3 · 3/5 = 11/15.
    # (Raw precision would give 1/3 + 1/6 + 1/5 = 0.7; 11 points 0.745; 101 points 0.735.)
    cases = [
        # Recall stops at 1/2 (2 of 4 GTs found): AP = 1/4 · 1 + 1/4 · 2/3 = 5/12.
        (np.array([True, False, True]), np.array([0.9, 0.8, 0.7]), 4, 5 / 12),
        (
            np.array([True, False, False, True, True]),
            np.array([0.9, 0.8, 0.7, 0.6, 0.5]),
            3,
            11 / 15,
        ),
        # The same detections shuffled: average_precision sorts them by score itself.
        (
            np.array([True, True, False, True, False]),
            np.array([0.5, 0.9, 0.7, 0.6, 0.8]),
            3,
            11 / 15,
        ),
        # Nothing found: AP 0; no detections at all: 0 too.
        (np.array([False, False]), np.array([0.9, 0.8]), 2, 0.0),
        (np.zeros(0, dtype=bool), np.zeros(0), 2, 0.0),
    ]
    values = []
    for tp, scores, n_gt, want in cases:
        assert math.isclose(ref_ap(tp, scores, n_gt), want, abs_tol=1e-12)
        name = f"average_precision(tp {tp.tolist()}, scores {scores.tolist()}, n_gt={n_gt})"
        got = call_with_inputs(name, learner.average_precision, tp.copy(), scores.copy(), n_gt)
        assert_returned(got, name, what="the AP, a float")
        if not isinstance(got, float | np.floating | int):
            fail(f"{name} should be a float; got {type(got).__name__}")
        values.append(float(got))
    if all(
        math.isclose(v, want, rel_tol=1e-9, abs_tol=1e-12)
        for v, (*_, want) in zip(values, cases, strict=True)
    ):
        return
    tables = [ap_mistakes(tp, scores, n_gt) for tp, scores, n_gt, _ in cases]
    keep = consistent_mistakes(tables, values)
    for (tp, scores, n_gt, want), table, value in zip(cases, tables, values, strict=True):
        name = f"average_precision(tp {tp.tolist()}, scores {scores.tolist()}, n_gt={n_gt})"
        assert_close(
            value,
            want,
            name=name,
            rtol=1e-9,
            atol=1e-12,
            mistakes={label: f for label, f in table.items() if label in keep},
        )


@pytest.mark.task(4)
def test_average_precision_random(learner):
    detections, ground_truths = make_scene(11, n_images=8, n_classes=1)
    tps, scores, n_gt = [], [], 0
    for (boxes, s, _), (gt, _) in zip(detections, ground_truths, strict=True):
        tps.append(ref_match_detections(boxes, s, gt))
        scores.append(s)
        n_gt += len(gt)
    tp, s = np.concatenate(tps), np.concatenate(scores)
    name = f"average_precision(tp ({len(tp)},), scores ({len(s)},), n_gt={n_gt}) over 8 images"
    gt_, gs = tp.copy(), s.copy()
    got = call_with_inputs(name, learner.average_precision, gt_, gs, n_gt)
    assert_returned(got, name, what="the AP, a float")
    unchanged("average_precision", {"tp": tp, "scores": s}, {"tp": gt_, "scores": gs})
    assert_close(
        float(got),
        ref_ap(tp, s, n_gt),
        name=name,
        rtol=1e-9,
        atol=1e-12,
        mistakes=ap_mistakes(tp, s, n_gt),
    )


def weighted_map(detections, ground_truths) -> float:
    per_class = ref_map(detections, ground_truths)[1]
    counts = [sum(int((np.asarray(g) == c).sum()) for _, g in ground_truths) for c in per_class]
    return float(np.average(list(per_class.values()), weights=counts))


def map_mistakes(detections, ground_truths) -> dict[str, Any]:
    def v(**kw):
        return lambda: ref_map(detections, ground_truths, **kw)[0]

    return {
        "an average over images (each image's own mAP, then their mean): mAP averages the "
        "AP of each class, each AP computed over all images at once": v(average="images"),
        "each class's AP computed image by image and then averaged: the ranking is global, "
        "one average_precision over the class's detections of all images together": v(
            average="class_images"
        ),
        "an average weighted by each class's number of GT boxes: mAP is the plain mean over "
        "classes, each class counts the same": lambda: weighted_map(detections, ground_truths),
        "a class with detections but no ground truth counted as AP 0: classes without any GT "
        "are left out of the mean": v(empty_classes=True),
        "detections matched to GTs of any class: a detection only matches a GT with the same "
        "label": v(aware=False),
        "a GT matched more than once (duplicates counted as true positives)": v(
            match={"rule": "duplicates"}
        ),
        "the detections of each image matched in input order, not by decreasing score": v(
            match={"order": "input"}
        ),
        "each detection matched to the best GT not yet taken (COCO's rule); this lab uses VOC's": v(
            match={"rule": "coco"}
        ),
        "the precision-recall curve in image order, not sorted by score across images": v(
            ap={"sort": "none"}
        ),
        "AP without the precision envelope": v(ap={"envelope": False}),
        "11-point interpolated AP (VOC 2007); this lab uses every recall step": v(
            ap={"interp": "11"}
        ),
        "101-point interpolated AP (COCO); this lab uses every recall step": v(
            ap={"interp": "101"}
        ),
    }


@pytest.mark.task(4)
def test_mean_average_precision(learner):
    for seed in (21, 22):
        detections, ground_truths = make_scene(seed)
        given_d, given_g = copy_scene(detections), copy_scene(ground_truths)
        name = f"mean_average_precision(detections, ground_truths) on scene {seed}"
        result = call_with_inputs(name, learner.mean_average_precision, given_d, given_g)
        assert_returned(result, name, what="(mAP, {class: AP})")
        if not isinstance(result, tuple | list) or len(result) != 2:
            fail(f"{name} should return a tuple (mAP, {{class: AP}}); got {type(result).__name__}")
        got_map, got_per_class = result
        for before, after in zip(detections + ground_truths, given_d + given_g, strict=True):
            for a, b in zip(before, after, strict=True):
                if not np.array_equal(a, b):
                    fail(f"{name} changed the arrays it was given in place")
        want_map, want_per_class = ref_map(detections, ground_truths)
        if not isinstance(got_per_class, dict):
            fail(f"{name}[1] should be a dict {{class: AP}}; got {type(got_per_class).__name__}")
        odd = [k for k in got_per_class if type(k) is not int]
        if odd:
            fail(
                f"{name}[1] has a key {odd[0]!r} of type {type(odd[0]).__name__}; the README asks "
                "for the class labels as Python ints (int(c)), not NumPy integers"
            )
        keys = sorted(int(k) for k in got_per_class)
        if keys != sorted(want_per_class):
            extra = sorted(set(keys) - set(want_per_class))
            why = (
                f": class {extra[0]} has detections but no ground truth in any image; a class "
                "without GT has no AP (recall is undefined) and stays out of the dict and the mean"
                if extra
                else ": every class with at least one GT has an AP, 0 if nothing of it was found"
            )
            fail(f"{name}[1] has the classes {keys}; expected {sorted(want_per_class)}{why}")
        assert_returned(got_map, f"{name}[0]", what="the mAP")
        assert_close(
            float(got_map),
            want_map,
            name=f"{name}[0] (the mAP)",
            rtol=1e-9,
            atol=1e-12,
            mistakes=map_mistakes(detections, ground_truths),
        )
        for c, want in want_per_class.items():
            value = {int(k): v for k, v in got_per_class.items()}[c]
            assert_close(
                float(value),
                want,
                name=f"{name}[1][{c}] (the AP of class {c})",
                rtol=1e-9,
                atol=1e-12,
            )


@pytest.mark.task(4)
def test_mean_average_precision_by_hand(learner):
    # Image 0: one class-0 object, found. Image 1: a class-1 object nobody detected, and a
    # class-0 false positive far away. Class 0: T (0.9), F (0.4), 1 GT: AP 1. Class 1: no
    # detection at all, AP 0, and it stays in the mean: mAP 0.5.
    detections = [
        (np.array([[0.0, 0.0, 10.0, 10.0]]), np.array([0.9]), np.array([0])),
        (np.array([[50.0, 50.0, 60.0, 60.0]]), np.array([0.4]), np.array([0])),
    ]
    ground_truths = [
        (np.array([[0.0, 0.0, 10.0, 10.0]]), np.array([0])),
        (np.array([[20.0, 20.0, 30.0, 30.0]]), np.array([1])),
    ]
    assert ref_map(detections, ground_truths) == (0.5, {0: 1.0, 1: 0.0})
    name = "mean_average_precision(detections, ground_truths) with class 1 never detected"
    result = call_with_inputs(
        name, learner.mean_average_precision, copy_scene(detections), copy_scene(ground_truths)
    )
    assert_returned(result, name, what="(mAP, {class: AP})")
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"{name} should return a tuple (mAP, {{class: AP}}); got {fmt(result)}")
    value, per_class = result
    if not isinstance(per_class, dict):
        fail(f"{name}[1] should be a dict {{class: AP}}; got {type(per_class).__name__}")
    keys = sorted(int(k) for k in per_class)
    if keys != [0, 1]:
        fail(
            f"{name}[1] has the classes {keys}; expected [0, 1]: class 1 has a GT box but no "
            "detection at all, and its AP is 0, in the dict and in the mean, not left out"
        )
    assert_close(float(value), 0.5, name=f"{name}[0] (the mAP)", rtol=1e-9, atol=1e-12)


@pytest.mark.task(4)
def test_mean_average_precision_without_gt(learner):
    detections = [(np.array([[0.0, 0.0, 5.0, 5.0]]), np.array([0.9]), np.array([1]))]
    ground_truths = [(np.zeros((0, 4)), np.zeros(0, dtype=np.int64))]
    name = "mean_average_precision(detections, ground_truths) with no GT box in any image"
    result = call_with_inputs(name, learner.mean_average_precision, detections, ground_truths)
    assert_returned(result, name, what="(nan, {})")
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"{name} should return a tuple (nan, {{}}); got {fmt(result)}")
    value, per_class = result
    if per_class != {} or value is None or not math.isnan(float(value)):
        fail(f"{name} is {fmt(tuple(result))}; expected (nan, {{}}): no class has a GT box")
