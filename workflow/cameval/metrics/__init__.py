"""Metrics on heatmaps, usable on anyone's maps: numpy arrays (or torch tensors) in, Python numbers out.

Conventions: maps are 2-D arrays indexed ``[y, x]``; boxes are inclusive pixel boxes
``(x0, y0, x1, y1)`` (width ``x1 - x0 + 1``, the ILSVRC devkit's convention); ``gt_boxes`` is a
list of boxes (one box alone is accepted too). ::

    from cameval import metrics
    box = metrics.heatmap_box(hmap, threshold=0.15)    # largest 8-connected component >= 15 % of max
    metrics.loc_correct(box, gt_boxes, rule="ilsvrc")  # IoU >= 0.5, or rule="study" (eq. 3)
    metrics.pointing_hit(hmap, gt_boxes, tolerance=15)
    metrics.rank_correlation(a, b, size=14)
    mask = metrics.binarize(hmap, percentile=10)       # hmap > 10th percentile of its positive values
    metrics.contrastivity(masks, positive)             # masks [K, H, W]: mean Hamming / |union| vs the others

The field's later tests (torch models and tensors in, numpy out)::

    curves = metrics.deletion_curves(model, x, maps, target, step=None, fill=0.0)  # [N, ceil(HW/step) + 1]
    curves = metrics.insertion_curves(model, x, maps, target, step=None)           # from RISE's blur
    auc = metrics.curve_auc(curves)                    # (sum - first/2 - last/2) / (len - 1), RISE's
    filled = metrics.noisy_linear_impute(pixels, removed, noise=0.01)   # ROAD's imputer, [C, H, W]
    correct = metrics.road(model, pixels, maps, labels, mean, std, order="morf")   # [P, N] of 0/1
    for layer, randomized in metrics.randomized_models(model, mode="cascading", seed=0): ...
    for layer, maps in metrics.cascading_maps(model, x, target, "gradcam", size=64): ...  # the same maps, faster
    metrics.map_similarity(a, b, "spearman_abs")       # spearman_abs | spearman | ssim | hog
"""

from __future__ import annotations

import importlib

#: public name -> its submodule, loaded on first use: the workflow's parse reads every experiment
#: module, and those that only need a box or a hit should not pay for scipy.stats (~1 s) on import
_SUBMODULE = {
    **dict.fromkeys(("auroc", "mean_auroc"), "classification"),
    **dict.fromkeys(("binarize", "contrastivity", "fidelity", "hamming_ratio"), "fidelity"),
    **dict.fromkeys(
        (
            "as_array",
            "heatmap_box",
            "inbox_ratio",
            "iobb",
            "iou",
            "loc_correct",
            "localization_errors",
            "study_threshold",
            "upsample_map",
        ),
        "localization",
    ),
    **dict.fromkeys(("argmax_point", "pointing_hit", "recall_hit"), "pointing"),
    **dict.fromkeys(("rank_correlation", "reduce_channels"), "rankcorr"),
    **dict.fromkeys(
        ("check_step", "curve_auc", "deletion_curves", "insertion_curves", "pixel_ranks", "rise_blur", "rise_kernel"),
        "deletion",
    ),
    **dict.fromkeys(
        ("check_order", "check_percentages", "imputation_system", "noisy_linear_impute", "removal_masks", "road"),
        "road",
    ),
    **dict.fromkeys(
        (
            "check_measure",
            "check_mode",
            "map_similarities",
            "map_similarity",
            "randomizable_layers",
            "randomized_models",
            "scale_abs",
        ),
        "sanity",
    ),
    **dict.fromkeys(("cascading_maps", "randomized_steps"), "cascade"),
    **dict.fromkeys(("bootstrap_ci", "mean_ci", "paired_compare", "wilcoxon_test"), "stats"),
}


# `fidelity` is both a submodule and its function: imported here, so that the name is the function
# (a lazy import of the submodule would bind the module to it)
from cameval.metrics.fidelity import binarize, contrastivity, fidelity, hamming_ratio  # noqa: E402

# the same for `road` (numpy only on import)
from cameval.metrics.road import road  # noqa: E402


def __getattr__(name: str):
    if name not in _SUBMODULE:
        raise AttributeError(f"module 'cameval.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"cameval.metrics.{_SUBMODULE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "heatmap_box",
    "iou",
    "study_threshold",
    "loc_correct",
    "upsample_map",
    "localization_errors",
    "inbox_ratio",
    "pointing_hit",
    "recall_hit",
    "argmax_point",
    "rank_correlation",
    "reduce_channels",
    "bootstrap_ci",
    "mean_ci",
    "paired_compare",
    "wilcoxon_test",
    "contrastivity",
    "as_array",
    "binarize",
    "hamming_ratio",
    "fidelity",
    "iobb",
    "auroc",
    "mean_auroc",
    "deletion_curves",
    "insertion_curves",
    "curve_auc",
    "rise_blur",
    "rise_kernel",
    "pixel_ranks",
    "check_step",
    "noisy_linear_impute",
    "imputation_system",
    "removal_masks",
    "road",
    "check_percentages",
    "check_order",
    "randomized_models",
    "randomized_steps",
    "cascading_maps",
    "randomizable_layers",
    "map_similarity",
    "map_similarities",
    "scale_abs",
    "check_measure",
    "check_mode",
]
