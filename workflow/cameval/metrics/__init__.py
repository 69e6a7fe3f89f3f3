"""Metrics on heatmaps, usable on anyone's maps: numpy arrays (or torch tensors) in, Python numbers out.

Conventions: maps are 2-D arrays indexed ``[y, x]``; boxes are inclusive pixel boxes
``(x0, y0, x1, y1)`` (width ``x1 - x0 + 1``, the ILSVRC devkit's convention); ``gt_boxes`` is a
list of boxes (one box alone is accepted too). ::

    from cameval import metrics
    box = metrics.heatmap_box(hmap, threshold=0.15)    # largest 8-connected component >= 15 % of max
    metrics.loc_correct(box, gt_boxes, rule="ilsvrc")  # IoU >= 0.5, or rule="study" (eq. 3)
    metrics.pointing_hit(hmap, gt_boxes, tolerance=15)
    metrics.rank_correlation(a, b, size=14)
"""

from __future__ import annotations

import numpy as np

from cameval.metrics.classification import auroc, mean_auroc
from cameval.metrics.localization import (
    as_array,
    heatmap_box,
    inbox_ratio,
    iobb,
    iou,
    loc_correct,
    localization_errors,
    study_threshold,
    upsample_map,
)
from cameval.metrics.pointing import argmax_point, pointing_hit, recall_hit
from cameval.metrics.rankcorr import rank_correlation, reduce_channels
from cameval.metrics.stats import bootstrap_ci, mean_ci


def contrastivity(mask_a, mask_b) -> float:
    """Normalized Hamming distance of two binary masks: ``|a XOR b| / |a OR b|``.

    Pope et al., "Explainability Methods for Graph Convolutional Neural Networks" (CVPR 2019),
    as used by Nagy et al. (Table 7) on maps binarized for the true class and another class:
    1 when the masks share no pixel, 0 when they are equal. Nonzero entries count as set. Two
    empty masks give 0.0 (nothing highlighted, nothing differs).
    """
    a, b = as_array(mask_a, name="mask_a") != 0, as_array(mask_b, name="mask_b") != 0
    if a.shape != b.shape:
        raise ValueError(f"mask_a: shape {a.shape}, mask_b: shape {b.shape}; expected the same shape")
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a ^ b) / union) if union else 0.0


__all__ = [
    "heatmap_box", "iou", "study_threshold", "loc_correct", "upsample_map", "localization_errors",
    "inbox_ratio", "pointing_hit", "recall_hit", "argmax_point", "rank_correlation", "reduce_channels",
    "bootstrap_ci", "mean_ci", "contrastivity", "as_array", "iobb", "auroc", "mean_auroc",
]
