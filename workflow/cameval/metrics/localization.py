"""Weakly supervised localization: a box from a heatmap, IoU, and the ILSVRC CLS-LOC rule.

Conventions, kept by every function in :mod:`cameval.metrics`:

- a map is a 2-D array indexed ``[y, x]`` (numpy or torch; tensors are converted);
- a box is ``(x0, y0, x1, y1)`` in *inclusive* pixel coordinates, so its width is
  ``x1 - x0 + 1`` (the ILSVRC devkit's convention);
- ``gt_boxes`` is a list of such boxes (one box alone is accepted too); a pixel or point is
  "in" the ground truth when it is in any of them.

The protocol is the Grad-CAM paper's (Selvaraju et al., ICCV 2017, sec. 4.1) as reproduced by
Nagy, Nimara & Qian ("Analysis and Evaluation of Grad-CAM Explanations", Table 1): each of the
top-5 maps is upsampled to the image, binarized at 15 % of its maximum, and the box around the
largest connected component is the prediction; it is correct if its IoU with a ground-truth box
of the predicted class is >= 0.5 (ILSVRC CLS-LOC, Russakovsky et al., IJCV 2015). The study also
used a size-dependent threshold (its eq. 3), available as ``rule="study"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

Box = tuple[int, int, int, int]

RULES = ("ilsvrc", "study")


def as_array(x, ndim: int | None = None, name: str = "map") -> np.ndarray:
    """``x`` (numpy array, torch tensor or nested lists) as a float64 numpy array.

    With ``ndim``, a ValueError names the shape when it has another number of dimensions.
    """
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        expected = {2: "[H, W]", 3: "[C, H, W]"}.get(ndim, f"{ndim}-D")
        raise ValueError(f"{name}: shape {arr.shape}, expected a {ndim}-D array {expected}")
    return arr


def as_boxes(boxes) -> list[Box]:
    """``boxes`` (one box, or a list of boxes) as a list of inclusive ``(x0, y0, x1, y1)`` tuples."""
    if boxes is None:
        return []
    if hasattr(boxes, "detach"):
        boxes = boxes.detach().cpu().numpy()
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return []
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes: shape {arr.shape}, expected (x0, y0, x1, y1) or a list of such boxes")
    out = []
    for x0, y0, x1, y1 in arr.tolist():
        if x1 < x0 or y1 < y0:
            raise ValueError(f"box {(x0, y0, x1, y1)}: expected x0 <= x1 and y0 <= y1 (inclusive pixels)")
        out.append(tuple(int(round(v)) for v in (x0, y0, x1, y1)))
    return out


def heatmap_box(hmap, threshold: float = 0.15) -> Box | None:
    """The box around the largest 8-connected component of ``hmap >= threshold * max(hmap)``.

    Grad-CAM paper, sec. 4.1 ("we binarize ... at 15 % of the max intensity ... and draw a
    bounding box around the single largest segment"). Components are 8-connected (diagonal
    neighbours join; ``scipy.ndimage.label`` with a 3x3 structure of ones).

    Ties: among components of the same, largest size, the one holding the map's arg-max (first
    maximum in row-major order) wins; if none of them holds it, the first in row-major order of
    its top-left-most pixel (scipy's label order).

    Returns inclusive ``(x0, y0, x1, y1)`` as Python ints, or ``None`` when the map's maximum is
    not positive or not finite (an all-zero CAM localizes nothing). A ``None`` box is never
    correct (:func:`loc_correct` returns False, :func:`iou` gives 0). NaN pixels never pass.
    """
    m = as_array(hmap, 2, "hmap")
    if m.size == 0:
        return None
    finite = np.where(np.isnan(m), -np.inf, m)
    peak = finite.max()
    if not np.isfinite(peak) or peak <= 0:
        return None
    mask = finite >= threshold * peak
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=int))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    largest = np.flatnonzero(sizes == sizes.max()) + 1
    at_peak = labels.flat[int(np.argmax(finite))]
    chosen = at_peak if at_peak in largest else largest[0]
    ys, xs = np.nonzero(labels == chosen)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def iou(a: Sequence[int] | None, b: Sequence[int] | None) -> float:
    """Intersection over union of two inclusive pixel boxes (ILSVRC devkit convention).

    ``w = x1 - x0 + 1``, ``h = y1 - y0 + 1``; IoU = |a ∩ b| / (|a| + |b| - |a ∩ b|), counted in
    pixels. Disjoint boxes give 0.0, and so does a ``None`` box.
    """
    if a is None or b is None:
        return 0.0
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = as_boxes(a)[0], as_boxes(b)[0]
    iw = min(ax1, bx1) - max(ax0, bx0) + 1
    ih = min(ay1, by1) - max(ay0, by0) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (ax1 - ax0 + 1) * (ay1 - ay0 + 1) + (bx1 - bx0 + 1) * (by1 - by0 + 1) - inter
    return float(inter / union)


def study_threshold(w: float, h: float) -> float:
    """The study's size-dependent IoU threshold (Nagy et al., eq. 3): ``min(0.5, wh / ((w+10)(h+10)))``.

    ``w`` and ``h`` are the ground-truth box's inclusive width and height in pixels; small boxes
    get a threshold below 0.5 (a 10x10 box: 100/400 = 0.25).
    """
    return float(min(0.5, (w * h) / ((w + 10.0) * (h + 10.0))))


def loc_correct(box: Sequence[int] | None, gt_boxes, rule: str = "ilsvrc") -> bool:
    """Whether a predicted box localizes any of ``gt_boxes``.

    ``rule="ilsvrc"``: IoU >= 0.5 with some GT box (ILSVRC CLS-LOC); ``rule="study"``: IoU >=
    :func:`study_threshold` of that GT box's width and height (Nagy et al., eq. 3). A ``None``
    box, or no GT boxes, is never correct.
    """
    if rule not in RULES:
        raise ValueError(f"rule: {rule!r} is not one of {', '.join(RULES)}")
    if box is None:
        return False
    for gt in as_boxes(gt_boxes):
        if rule == "ilsvrc":
            need = 0.5
        else:
            need = study_threshold(gt[2] - gt[0] + 1, gt[3] - gt[1] + 1)
        if iou(box, gt) >= need:
            return True
    return False


def upsample_map(hmap, size) -> np.ndarray:
    """``hmap`` [h, w] resized to ``size`` = (H, W) (or an int for a square) by bilinear interpolation.

    Same as ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False,
    antialias=False)`` — what the Grad-CAM reference code does to bring a layer-grid CAM to the
    image. Returns a float64 numpy array [H, W]; a map already at ``size`` is returned unchanged
    (as a copy).
    """
    import torch  # noqa: PLC0415  # cameval.metrics is read by the table jobs, which start without torch
    import torch.nn.functional as F  # noqa: PLC0415  # as above

    m = as_array(hmap, 2, "hmap")
    out_size = (int(size), int(size)) if np.isscalar(size) else tuple(int(s) for s in size)
    if len(out_size) != 2:
        raise ValueError(f"size: {size!r}, expected (H, W) or an int")
    if m.shape == out_size:
        return m.copy()
    t = torch.from_numpy(np.ascontiguousarray(m))[None, None]
    return F.interpolate(t, size=out_size, mode="bilinear", align_corners=False, antialias=False)[0, 0].numpy()


def localization_errors(
    targets: Sequence[int], label: int, gt_boxes, maps: Sequence, *, threshold: float = 0.15, rule: str = "ilsvrc"
) -> dict:
    """One image's outcome under the ILSVRC CLS-LOC protocol (Russakovsky et al., 2015, sec. 4.1).

    ``targets``: the top-k predicted classes, best first; ``label``: the true class; ``gt_boxes``:
    the GT boxes of ``label``; ``maps[k]``: the map explaining ``targets[k]``, already at the
    image's size (see :func:`upsample_map`). The box of each map is :func:`heatmap_box` at
    ``threshold``, judged by :func:`loc_correct` with ``rule``.

    Returns Python values:

    - ``cls_top1``: ``targets[0] == label``; ``cls_top5``: ``label`` in ``targets[:5]``;
    - ``loc_top1``: ``targets[0] == label`` and its box is correct;
    - ``loc_top5``: some ``k < 5`` with ``targets[k] == label`` and a correct box;
    - ``iou_top1``: the best IoU of the top-1 map's box with ``gt_boxes`` (whatever the top-1
      class; 0.0 for a ``None`` box or no GT boxes).

    Error rates are ``1 - mean`` of these over images.
    """
    targets = [int(t) for t in targets]
    if not targets:
        raise ValueError("targets: empty, expected the top-k predicted classes")
    if len(maps) < min(len(targets), 5):
        raise ValueError(f"maps: {len(maps)} maps for {len(targets)} targets, expected one per target")
    gts = as_boxes(gt_boxes)
    label = int(label)
    boxes: dict[int, Box | None] = {}

    def box_of(k: int) -> Box | None:
        if k not in boxes:
            boxes[k] = heatmap_box(maps[k], threshold)
        return boxes[k]

    top5 = targets[:5]
    loc = [k for k, t in enumerate(top5) if t == label and loc_correct(box_of(k), gts, rule)]
    best = max((iou(box_of(0), g) for g in gts), default=0.0)
    return {
        "cls_top1": targets[0] == label,
        "cls_top5": label in top5,
        "loc_top1": 0 in loc,
        "loc_top5": bool(loc),
        "iou_top1": float(best),
    }


def inbox_ratio(hmap, box, threshold: float = 0.85) -> float:
    """Share of the pixels at or above ``threshold * max(hmap)`` that lie inside ``box``.

    The study's in-box measure for the X-ray maps (Nagy et al., Table 5, 85 % of the max):
    ``|{p : hmap[p] >= t·max} ∩ box| / |{p : hmap[p] >= t·max}|``. ``box`` is one inclusive box
    or a list of them (inside any); parts of a box outside the image are ignored. A map whose
    maximum is not positive highlights nothing: the ratio is 0.0 (counted as a miss, like a
    ``None`` box in :func:`heatmap_box`). NaN pixels never pass.
    """
    m = as_array(hmap, 2, "hmap")
    finite = np.where(np.isnan(m), -np.inf, m)
    peak = finite.max() if m.size else -np.inf
    if not np.isfinite(peak) or peak <= 0:
        return 0.0
    high = finite >= threshold * peak
    inside = np.zeros_like(high)
    for x0, y0, x1, y1 in as_boxes(box):
        inside[max(y0, 0) : max(y1 + 1, 0), max(x0, 0) : max(x1 + 1, 0)] = True
    return float(np.count_nonzero(high & inside) / np.count_nonzero(high))


def iobb(pred: Sequence[int] | None, gt: Sequence[int] | None) -> float:
    """Intersection over the *predicted* box's area (Wang et al., ChestX-ray8, CVPR 2017, sec. 5.2):
    ``|pred ∩ gt| / |pred|`` in inclusive pixels. 1.0 when the predicted box lies inside the
    ground truth, however small; 0.0 for disjoint boxes or a ``None`` box."""
    if pred is None or gt is None:
        return 0.0
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = as_boxes(pred)[0], as_boxes(gt)[0]
    iw = min(ax1, bx1) - max(ax0, bx0) + 1
    ih = min(ay1, by1) - max(ay0, by0) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    return float(iw * ih / ((ax1 - ax0 + 1) * (ay1 - ay0 + 1)))
