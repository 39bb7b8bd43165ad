"""Object detection's bookkeeping in NumPy: the file you edit.

Read README.md first. Boxes are float64 arrays of shape (N, 4), one row per box, in
(x1, y1, x2, y2) corner format unless a name says otherwise; coordinates are continuous, so a
box's width is x2 - x1 (no +1). Never change an array you are given.
"""

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
    """(cx, cy, w, h) → (x1, y1, x2, y2): centre and size to corners, shape (N, 4) → (N, 4).

    >>> cxcywh_to_xyxy(np.array([[5.0, 4.0, 6.0, 2.0]]))
    array([[2., 3., 8., 5.]])
    """
    # TODO: x1 = cx - w / 2, x2 = cx + w / 2, the same for y; np.stack the four columns
    raise NotImplementedError


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) → (cx, cy, w, h), shape (N, 4) → (N, 4).

    >>> xyxy_to_cxcywh(np.array([[2.0, 3.0, 8.0, 5.0]]))
    array([[5., 4., 6., 2.]])
    """
    # TODO: the centre is the corners' mean, the size their difference
    raise NotImplementedError


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union, shape (N, M): [i, j] is IoU(boxes1[i], boxes2[j]).

    Vectorised (no Python loops over the boxes): broadcast (N, 1, 2) against (1, M, 2). The
    intersection's width and height are clamped at 0; where the union is 0 (two zero-area
    boxes) the IoU is 0.
    Either side may hold no boxes: (0, 4) against (M, 4) gives shape (0, M).

    >>> box_iou(np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([[1.0, 1.0, 3.0, 3.0], [5.0, 5.0, 6.0, 6.0]]))
    array([[0.14285714, 0.        ]])
    """
    # TODO: areas; top-left = max of the x1/y1, bottom-right = min of the x2/y2; clip; divide
    raise NotImplementedError


# ----- task 2: non-maximum suppression ----------------------------------------------------------
def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS: the indices of the boxes kept, int64, sorted by decreasing score.

    Visit the boxes by decreasing score (equal scores: lower index first); keep a box unless a
    box kept before it overlaps it with IoU > iou_threshold (exactly the threshold is kept).

    >>> boxes = np.array([[0.0, 0.0, 3.0, 1.0], [1.0, 0.0, 4.0, 1.0], [0.0, 0.0, 4.0, 1.0]])
    >>> nms(boxes, np.array([0.8, 0.7, 0.9]), 0.5)
    array([2])
    >>> nms(boxes[:2], np.array([0.8, 0.7]), 0.5)  # IoU 2 / 4 = 0.5 is not > 0.5
    array([0, 1])
    """
    # TODO: order = np.argsort(-scores, kind="stable"); keep the first, drop what it overlaps
    raise NotImplementedError


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Class-aware NMS: boxes suppress only boxes of the same label. Returns the kept indices
    into the full arrays, int64, all classes together sorted by decreasing score.

    >>> boxes = np.array([[0.0, 0.0, 3.0, 1.0], [0.0, 0.0, 3.0, 1.0]])
    >>> batched_nms(boxes, np.array([0.8, 0.9]), np.array([0, 1]), 0.5)
    array([1, 0])
    """
    # TODO: nms on each label's boxes, map back to full indices, sort all kept by -score
    raise NotImplementedError


# ----- task 3: anchor matching and box regression -----------------------------------------------
def match_anchors(
    anchors: np.ndarray,
    gt_boxes: np.ndarray,
    pos_threshold: float = 0.5,
    neg_threshold: float = 0.4,
) -> np.ndarray:
    """SSD-style matching: one int64 label per anchor, shape (A,).

    With each anchor's best IoU over the GTs (first GT on ties): ≥ pos_threshold → that GT's
    index; < neg_threshold → BACKGROUND (-1); in between → IGNORED (-2). Then the forced match:
    for g = 0, 1, ..., G - 1, the anchor with the highest IoU with GT g (first anchor on ties)
    gets label g, if that IoU is > 0 (a later GT overwrites an earlier one). No GT: all
    BACKGROUND.

    >>> anchors = np.array([[0.0, 0.0, 4.0, 4.0], [10.0, 0.0, 14.0, 4.0], [20.0, 0.0, 24.0, 4.0]])
    >>> match_anchors(anchors, np.array([[0.0, 0.0, 4.0, 4.0], [10.0, 0.0, 12.0, 4.0]]), 0.7, 0.3)
    array([ 0,  1, -1])
    """
    # TODO: iou = box_iou(anchors, gt_boxes); thresholds on iou.max(axis=1); then iou.argmax(axis=0)
    raise NotImplementedError


def encode_boxes(
    gt_boxes: np.ndarray,
    anchors: np.ndarray,
    std: tuple[float, float, float, float] = (0.1, 0.1, 0.2, 0.2),
) -> np.ndarray:
    """Regression targets (dx, dy, dw, dh) of gt_boxes[i] relative to anchors[i], shape (N, 4).

    With centres and sizes: dx = (cx - cx_a) / w_a, dy = (cy - cy_a) / h_a, dw = log(w / w_a),
    dh = log(h / h_a); each column then divided by its std.

    >>> encode_boxes(np.array([[1.0, 0.0, 5.0, 8.0]]), np.array([[0.0, 0.0, 4.0, 4.0]]), (1, 1, 1, 1))
    array([[0.25      , 0.5       , 0.        , 0.69314718]])
    """
    # TODO: convert both to (cx, cy, w, h), the four formulas, / np.asarray(std)
    raise NotImplementedError


def decode_boxes(
    deltas: np.ndarray,
    anchors: np.ndarray,
    std: tuple[float, float, float, float] = (0.1, 0.1, 0.2, 0.2),
) -> np.ndarray:
    """The inverse of encode_boxes: boxes (x1, y1, x2, y2), shape (N, 4), from deltas and anchors.

    >>> decode_boxes(np.array([[0.25, 0.5, 0.0, np.log(2)]]), np.array([[0.0, 0.0, 4.0, 4.0]]), (1, 1, 1, 1))
    array([[1., 0., 5., 8.]])
    """
    # TODO: deltas * std; cx = cx_a + dx * w_a, w = w_a * exp(dw); back to corners
    raise NotImplementedError


# ----- task 4: mAP@0.5 --------------------------------------------------------------------------
def match_detections(
    det_boxes: np.ndarray,
    det_scores: np.ndarray,
    gt_boxes: np.ndarray,
    iou_threshold: float = 0.5,
) -> np.ndarray:
    """One image, one class: a bool per detection (in input order), True for a true positive.

    Visit the detections by decreasing score. Each one looks at the GT it overlaps most (first
    GT on ties): a true positive if that IoU ≥ iou_threshold and the GT is not taken yet (it
    is then taken); otherwise a false positive. No GT: all False.

    >>> gt = np.array([[0.0, 0.0, 10.0, 10.0]])
    >>> det = np.array([[0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 10.0, 10.0]])
    >>> match_detections(det, np.array([0.6, 0.9]), gt)  # the second scores higher: it wins
    array([False,  True])
    """
    # TODO: iou = box_iou(det_boxes, gt_boxes); a taken flag per GT; loop by -score
    raise NotImplementedError


def average_precision(tp: np.ndarray, scores: np.ndarray, n_gt: int) -> float:
    """VOC AP: the area under the precision envelope, all recall steps. tp and scores are the
    detections of one class from all images, in any order; n_gt ≥ 1 is that class's GT count.

    >>> average_precision(np.array([True, False, False, True, True]), np.array([0.9, 0.8, 0.7, 0.6, 0.5]), 3)
    0.7333333333333334
    """
    # TODO: sort by -scores; cumsum; precision, recall; running max from the right; Σ Δrecall · p
    raise NotImplementedError


def mean_average_precision(
    detections: Detections, ground_truths: GroundTruths, iou_threshold: float = 0.5
) -> tuple[float, dict[int, float]]:
    """mAP over the classes that have at least one GT box in some image, and {class: AP}.

    For each such class: match_detections in each image (that class's detections against that
    class's GTs), then one average_precision over all images' detections together. The mAP is
    the mean of those APs (NaN, with an empty dict, if no image has any GT).
    """
    # TODO: the class set from the GT labels; per class, per image; then the mean over classes
    raise NotImplementedError
