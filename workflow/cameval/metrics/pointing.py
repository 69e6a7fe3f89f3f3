"""The pointing game: accuracy (Zhang et al., ECCV 2016) and the Grad-CAM paper's recall.

Maps are indexed ``[y, x]``; boxes are inclusive ``(x0, y0, x1, y1)`` (see
:mod:`cameval.metrics.localization`). Accuracy: the map's maximum point must fall in a
ground-truth box of the explained class, with a tolerance of ``tolerance`` pixels (Zhang et al.
use 15). Recall (Selvaraju et al., ICCV 2017, sec. 6; Nagy et al., Table 2): each of the top-5
maps is either kept or rejected by its peak value, and scores a hit when it is kept and points
into a box of a class present in the image, or rejected and its class is absent.
"""

from __future__ import annotations

import math

import numpy as np

from cameval.metrics.localization import as_array, as_boxes


def argmax_point(hmap) -> tuple[int, int]:
    """The map's maximum as ``(x, y)``: the first maximum in row-major order (smallest ``y``, then
    smallest ``x``) when several pixels share it; NaN pixels are ignored."""
    m = as_array(hmap, 2, "hmap")
    if m.size == 0:
        raise ValueError("hmap: empty map, expected at least one pixel")
    flat = np.where(np.isnan(m), -np.inf, m).ravel()
    y, x = divmod(int(np.argmax(flat)), m.shape[1])
    return x, y


def point_box_distance(x: float, y: float, box) -> float:
    """Euclidean distance in pixels from point ``(x, y)`` to the nearest pixel of inclusive ``box``
    (0 inside it)."""
    x0, y0, x1, y1 = as_boxes(box)[0]
    dx = max(x0 - x, 0, x - x1)
    dy = max(y0 - y, 0, y - y1)
    return math.hypot(dx, dy)


def pointing_hit(hmap, gt_boxes, tolerance: float = 0) -> bool:
    """Whether the map's maximum lies in one of ``gt_boxes`` or within ``tolerance`` px of one.

    Pointing game (Zhang et al., "Top-down Neural Attention by Excitation Backprop", ECCV 2016):
    the point is :func:`argmax_point` (the *first* maximum in row-major order on ties, so a
    constant map points at ``(0, 0)``); a hit when its Euclidean distance to the nearest pixel of
    some box is <= ``tolerance`` (0: inside the box). No boxes: False.
    """
    boxes = as_boxes(gt_boxes)
    if not boxes:
        return False
    x, y = argmax_point(hmap)
    return any(point_box_distance(x, y, b) <= tolerance for b in boxes)


def recall_hit(point_hit: bool, peak: float, present: bool, threshold: float = 0.5) -> bool:
    """One top-k map's outcome in the pointing game's recall (Grad-CAM paper, sec. 6).

    The map is *kept* when ``peak >= threshold`` (``peak``: the map's maximum on whatever scale
    the caller chose — raw, or divided by the largest peak of the image's maps — the caller says
    which), otherwise *rejected*. Hit = (``present`` and kept and ``point_hit``) or (not
    ``present`` and rejected). ``point_hit`` is :func:`pointing_hit` of the map on the boxes of
    its class; ``present`` whether that class has boxes in the image.
    """
    kept = bool(peak >= threshold)
    return bool((present and kept and point_hit) or (not present and not kept))
