"""Table 5's rows: weakly supervised localization of findings (ChestX-ray14 or digits-multi).

Per evaluation row — one (image, boxed finding) — and per heatmap set (all explain the row's
finding, read from shards; nothing is recomputed):

- CAM sets (Grad-CAM, Grad-CAM++ at some layer): the map is upsampled bilinearly to the image,
  boxed around its largest 8-connected component ``>= box_threshold · max`` (the study: 50 %);
  against the finding's ground-truth boxes (the best one counts):

  - ``loc_study``: IoU ``>= min(0.5, wh / ((w+10)(h+10)))`` (the study's eq. 3),
  - ``loc_iou50``: IoU ``>= 0.5``,
  - ``iou`` and ``iobb`` (intersection over the *predicted* box's area, Wang et al., CVPR 2017),
    from which the table forms Wang et al.'s accuracies at ``T(IoU)`` and ``T(IoBB)``;

- every set: ``inbox``, the share of the pixels ``>= inbox_threshold · max`` (85 %) that lie in
  the finding's boxes (:func:`cameval.metrics.inbox_ratio`). Pixel maps ``[C, H, W]`` (IG,
  Gradient SHAP) are first reduced to ``Σ_c |m_c|`` (``reduce``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cameval import metrics
from cameval.data.manifest import gt_boxes_of, read_manifest
from cameval.errors import DataError
from cameval.store import Expect, Shard, check_shards


def _rows_of(paths: list[str]):
    """Yield ``(shard, i)`` over the rows of several shards, in order."""
    for p in paths:
        with Shard(p) as s:
            for i in range(len(s)):
                yield s, i


def xray_rows(
    sets: dict[str, list[str]],
    manifest: str,
    classes: Sequence[str],
    *,
    box_threshold: float = 0.5,
    inbox_threshold: float = 0.85,
    reduce: str = "abs_sum",
    expected: int | None = None,
    expect: dict[str, Expect] | None = None,
) -> pd.DataFrame:
    """One row per (image, boxed finding) with the measures of the module docstring for every set.

    ``sets`` maps a heatmap-set name to its shards (covering the same rows in the same order,
    each explaining the row's finding, targets ``label``). Columns: ``id, label, finding,
    score`` (the finding's logit), then ``{set}_inbox`` for every set and ``{set}_iou``,
    ``{set}_iobb``, ``{set}_loc_study``, ``{set}_loc_iou50`` for CAM sets (2-D maps). ``expected``:
    the rows every set's shards must cover, each once (:func:`cameval.store.check_shards`);
    ``expect[set]``: what that set's shards must have been made from (:class:`cameval.store.Expect`).
    """
    for name, paths in sets.items():
        check_shards(paths, expected, (expect or {}).get(name))
    man = read_manifest(manifest).set_index("id")
    names = list(sets)
    iters = {k: _rows_of(v) for k, v in sets.items()}
    rows = []
    bar = tqdm(desc="xray rows", unit="row")
    while True:
        items = {k: next(it, None) for k, it in iters.items()}
        ended = [k for k, v in items.items() if v is None]
        if ended:
            if len(ended) != len(items):
                raise DataError(
                    f"heatmap sets {ended} end before {sorted(set(items) - set(ended))}: "
                    "expected the same evaluation rows in every set"
                )
            break
        s0, i0 = items[names[0]]
        image_id, label = s0.ids[i0], int(s0.labels[i0])
        for s, i in items.values():
            if s.ids[i] != image_id or int(s.labels[i]) != label:
                raise DataError(
                    f"{s.path}: row {i} is ({s.ids[i]}, {int(s.labels[i])}), {s0.path} has "
                    f"({image_id}, {label}): expected the same rows in every set"
                )
        gts = gt_boxes_of(man, image_id, label)
        if not gts:
            raise DataError(f"{manifest}: image {image_id} has no box of class {label}")
        size = tuple(s0.attrs["input_size"])
        unit = int(s0.targets[i0, 0])
        row = {"id": image_id, "label": label, "finding": str(classes[label]), "score": float(s0.scores[i0, unit])}
        for k, (s, i) in items.items():
            m = np.asarray(s.maps[i, 0])
            if m.ndim == 3:
                row[f"{k}_inbox"] = metrics.inbox_ratio(metrics.reduce_channels(m, reduce), gts, inbox_threshold)
                continue
            m = metrics.upsample_map(m, size)
            box = metrics.heatmap_box(m, box_threshold)
            row[f"{k}_iou"] = max(metrics.iou(box, g) for g in gts)
            row[f"{k}_iobb"] = max(metrics.iobb(box, g) for g in gts)
            row[f"{k}_loc_study"] = metrics.loc_correct(box, gts, rule="study")
            row[f"{k}_loc_iou50"] = metrics.loc_correct(box, gts, rule="ilsvrc")
            row[f"{k}_inbox"] = metrics.inbox_ratio(m, gts, inbox_threshold)
        rows.append(row)
        bar.update(1)
    bar.close()
    return pd.DataFrame(rows)
