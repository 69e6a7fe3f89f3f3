"""The occlusion experiment's torch work: Table 3's per-image Spearman ρ of each map with the occlusion
map, read from cached shards (Guided Grad-CAM formed from Guided Backprop and Grad-CAM). The only module
of the package that imports torch."""

from __future__ import annotations

import pandas as pd
import torch

from cameval import metrics
from cameval.errors import DataError
from cameval.explain.guided import combine_guided_gradcam
from cameval.store import Expect, Shard, check_shards


def rankcorr_rows(
    occlusion: list[str],
    others: dict[str, list[str]],
    n_images: int,
    size: int = 14,
    reduce: str = "abs_max",
    expected: dict[str, int] | None = None,
    expect: dict[str, Expect] | None = None,
) -> pd.DataFrame:
    """Table 3's per-image Spearman rho between an occlusion map and each other map.

    ``others`` maps a method name (``guided_backprop``, ``gradcam``) or the name of any other
    CAM- or pixel-type heatmap set (``table3.methods``: ``layercam``, ``saliency``) to shards
    covering the same first images, whose first map is the top-1 class's; ``guided_gradcam`` is
    formed from ``guided_backprop`` and ``gradcam`` (Guided Backprop ⊙ upsampled Grad-CAM) when
    both are given. Pixel maps are reduced to one channel with ``reduce``
    (see :func:`cameval.metrics.reduce_channels`); all maps are explained for the top-1 class.
    ``expected`` maps ``occlusion`` and each key of ``others`` to the rows its shards must cover,
    each once (:func:`cameval.store.check_shards`; a missing key is not checked), ``expect`` each to
    what its shards must have been made from (:class:`cameval.store.Expect`; a missing key: not checked).
    """
    expected, expect = expected or {}, expect or {}
    for name, paths in {"occlusion": occlusion, **others}.items():
        check_shards(paths, expected.get(name), expect.get(name))

    occ = [Shard(p) for p in occlusion]
    other = {k: [Shard(p) for p in v] for k, v in others.items()}
    try:
        rows = []
        for o in occ:
            for i, image_id in enumerate(o.ids):
                if len(rows) >= n_images:
                    break
                row = {"id": image_id, "class": int(o.targets[i, 0])}
                occ_map = o.maps[i, 0]
                maps = {}
                for name, shard_list in other.items():
                    shard = _find(shard_list, image_id)
                    k = shard.ids.index(image_id)
                    if int(shard.targets[k, 0]) != row["class"]:
                        raise DataError(
                            f"{shard.path}: image {image_id} explains class "
                            f"{int(shard.targets[k, 0])}, occlusion explains {row['class']}"
                        )
                    maps[name] = shard.maps[k, 0]
                if "guided_backprop" in maps and "gradcam" in maps:
                    maps["guided_gradcam"] = combine_guided_gradcam(
                        torch.as_tensor(maps["guided_backprop"])[None], torch.as_tensor(maps["gradcam"])[None]
                    )[0].numpy()
                for name, m in maps.items():
                    flat = metrics.reduce_channels(m, reduce) if m.ndim == 3 else m
                    row[name] = metrics.rank_correlation(occ_map, flat, size=size)
                rows.append(row)
        if len(rows) < n_images:
            raise DataError(f"occlusion shards hold {len(rows)} images, {n_images} were asked for")
        return pd.DataFrame(rows)
    finally:
        for s in occ + [s for v in other.values() for s in v]:
            s.close()


def _find(shards: list[Shard], image_id: str) -> Shard:
    for s in shards:
        if image_id in s.ids:
            return s
    raise DataError(f"image {image_id} is in none of {[str(s.path) for s in shards]}")
