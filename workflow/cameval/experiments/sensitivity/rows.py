"""Table 6's per-image rows, read from the one-pixel attack shards (:mod:`.compute`, whose docstring gives
their layout; nothing is recomputed): per image and method, the map's value at the attacked pixel — the map
upsampled bilinearly to the input and divided by its max, as the study did for Grad-CAM — and the same at a
seeded random pixel of the image (the chance level), and the attacked pixel's percentile rank within its map.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cameval import metrics
from cameval.errors import DataError
from cameval.pixels import set_pixels
from cameval.store import ATTACK_ARRAYS, Expect, read_attacks

ARRAYS = ATTACK_ARRAYS  # the layout of .compute's shards, read by cameval.store.read_attacks


def random_pixels(seed: int, indices, h: int, w: int) -> np.ndarray:
    """A seeded uniform ``(row, col)`` per image; image ``i`` of the split uses ``(seed, 6, i)``."""
    out = np.empty((len(indices), 2), dtype=np.int64)
    for k, i in enumerate(indices):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), 6, int(i)])))
        out[k] = rng.integers(0, h), rng.integers(0, w)
    return out


def pixel_map(m: np.ndarray, size) -> np.ndarray:
    """A map as the study read it at a pixel: a CAM ``[h, w]`` upsampled bilinearly to ``size``,
    a pixel map ``[C, H, W]`` reduced to ``sum_c |m_c|``; then divided by its max (all zero stays zero)."""
    m = np.asarray(m, dtype=np.float64)
    m = np.abs(m).sum(0) if m.ndim == 3 else metrics.upsample_map(m, size)
    top = m.max()
    return m / top if top > 0 else np.zeros_like(m)


def percentile_rank(m: np.ndarray, value: float) -> float:
    """``100 * share of the map's pixels <= value`` (scipy's ``percentileofscore(kind="weak")``)."""
    return float(100.0 * np.mean(m <= value))


def attacked_pixels(a: dict) -> np.ndarray:
    """The attacked images of attack arrays ``a`` (:func:`cameval.store.read_attacks`) in pixel space
    [0, 1], float32 ``[N, C, H, W]``: the clean image with its best candidate's pixel set to its
    colour / 255 (:func:`cameval.pixels.set_pixels`), as :func:`cameval.attacks.one_pixel` left it (failed
    attacks too)."""
    pixels = np.transpose(a["clean"], (0, 3, 1, 2)).astype(np.float32) / np.float32(255)
    pixel = np.asarray(a["pixel"], dtype=np.int64).reshape(-1, 2)
    return set_pixels(pixels, pixel[:, 0], pixel[:, 1], a["colour"])


def sensitivity_rows(
    paths, expected: int | None = None, extra: dict | None = None, expect: Expect | None = None
) -> pd.DataFrame:
    """Per image: the attack's outcome (``flipped``: the prediction is not the label after the attack;
    ``success``: flipped on an image the model classified correctly before it) and, per method
    (``gradcam``, ``ig``, and each set of ``extra``: :func:`.compute.extra_attack_maps`), the normalized map
    at the attacked pixel and at the random pixel, before (label) and after (new prediction), and
    the attacked pixel's percentile rank in each map. ``expected``: the images the shards must
    cover (:func:`cameval.store.read_attacks`); ``expect``: what they must have been made from
    (:class:`cameval.store.Expect`)."""
    a = read_attacks(paths, expected, expect)
    for name, maps in (extra or {}).items():
        for when in ("before", "after"):
            if len(maps[when]) != len(a["ids"]):
                raise DataError(f"{name}: {len(maps[when])} maps {when}, the attack shards hold {len(a['ids'])} images")
            a[f"{name}_{when}"] = maps[when]
    size = a["clean"].shape[1:3]
    rows = []
    for i, image_id in enumerate(a["ids"]):
        r, c = (int(v) for v in a["pixel"][i])
        rr, rc = (int(v) for v in a["random_pixel"][i])
        row = {
            "id": image_id,
            "label": int(a["labels"][i]),
            "pred_before": int(a["pred_before"][i]),
            "pred_after": int(a["pred_after"][i]),
            "flipped": bool(a["success"][i]),
            # an image the model misclassifies before any pixel changes is no successful attack
            "success": bool(a["success"][i]) and int(a["pred_before"][i]) == int(a["labels"][i]),
            "generations": int(a["generations"][i]),
            "evaluations": int(a["evaluations"][i]),
            "p_before": float(a["p_before"][i]),
            "p_after": float(a["p_after"][i]),
            "row": r,
            "col": c,
            "random_row": rr,
            "random_col": rc,
        }
        for method, key in (("gradcam", "cam"), ("ig", "ig"), *((n, n) for n in extra or {})):
            for when in ("before", "after"):
                m = pixel_map(a[f"{key}_{when}"][i], size)
                row[f"{method}_{when}"] = float(m[r, c])
                row[f"{method}_random_{when}"] = float(m[rr, rc])
                row[f"{method}_pct_{when}"] = percentile_rank(m, m[r, c])
        rows.append(row)
    return pd.DataFrame(rows)
