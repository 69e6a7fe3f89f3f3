"""Rank correlation between two maps (Nagy et al., Table 3: Grad-CAM etc. against occlusion).

The study downsampled the occlusion map and each explanation to 14x14 and computed Spearman's
rho over the 196 cells. Both maps here go through the same bilinear resize
(``torch.nn.functional.interpolate``, ``align_corners=False``, ``antialias=False``), so a map
already at the target size is left as it is and a layer-grid CAM is treated like any other map.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from cameval.metrics.localization import as_array, upsample_map

REDUCTIONS = ("abs_max", "sum", "abs_sum", "norm")


def resize_map(hmap, size) -> np.ndarray:
    """``hmap`` [h, w] resized to ``size`` (int or (H, W)): bilinear, ``align_corners=False``,
    ``antialias=False`` — plain bilinear, the same for up- and downsizing (downsizing a large map
    samples the 2x2 neighbourhood of each output cell's centre, no low-pass filter first)."""
    return upsample_map(hmap, size)


def rank_correlation(a, b, size: int | tuple[int, int] | None = 14) -> float:
    """Spearman's rho between maps ``a`` and ``b`` after resizing both to ``size`` x ``size``.

    rho = Pearson correlation of the ranks (ties get their average rank), computed by
    ``scipy.stats.spearmanr`` over the flattened cells. ``size=None`` compares the maps at their
    own size (then they must have the same shape). Returns NaN when either map is constant,
    before or after resizing (rho is undefined: nothing to rank; constancy is judged on the input
    because a bilinearly resized constant map is constant only up to rounding), or holds NaN.
    """
    ma, mb = as_array(a, 2, "a"), as_array(b, 2, "b")
    if _flat(ma) or _flat(mb):  # judged before resizing: a resized constant map is constant only to ~1 ulp
        return float("nan")
    if size is not None:
        ma, mb = resize_map(ma, size), resize_map(mb, size)
    elif ma.shape != mb.shape:
        raise ValueError(f"a: shape {ma.shape}, b: shape {mb.shape}; expected the same shape with size=None")
    if _flat(ma) or _flat(mb):
        return float("nan")
    return float(stats.spearmanr(ma.ravel(), mb.ravel()).statistic)


def _flat(m: np.ndarray) -> bool:
    """True when ``m`` cannot be ranked: fewer than 2 cells, any NaN, or all cells equal."""
    return m.size < 2 or bool(np.isnan(m).any()) or float(np.ptp(m)) == 0.0


def reduce_channels(map_chw, how: str = "abs_max") -> np.ndarray:
    """A pixel-space map ``[C, H, W]`` (Guided Backprop, IG, ...) reduced to ``[H, W]``.

    ``how``:

    - ``"abs_max"`` (default): ``max_c |m_c|`` — the usual saliency-map convention (Simonyan et
      al., ICLR 2014 workshop, sec. 3.1);
    - ``"sum"``: ``sum_c m_c``; ``"abs_sum"``: ``sum_c |m_c|``;
    - ``"norm"``: ``sqrt(sum_c m_c^2)`` (L2 over channels).
    """
    m = as_array(map_chw, 3, "map_chw")
    if how == "abs_max":
        return np.abs(m).max(axis=0)
    if how == "sum":
        return m.sum(axis=0)
    if how == "abs_sum":
        return np.abs(m).sum(axis=0)
    if how == "norm":
        return np.sqrt((m * m).sum(axis=0))
    raise ValueError(f"how: {how!r} is not one of {', '.join(REDUCTIONS)}")
