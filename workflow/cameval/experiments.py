"""Per-image evaluation rows of each experiment, read from heatmap shards (nothing recomputed).

Every function returns a DataFrame with one row per image; the tables aggregate them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cameval import metrics
from cameval.data.images import read_manifest
from cameval.errors import DataError
from cameval.store import Shard


def gt_boxes_of(manifest: pd.DataFrame, image_id: str, cls: int) -> list[tuple]:
    """The ground-truth boxes ``(x0, y0, x1, y1)`` of class ``cls`` in image ``image_id``."""
    return [tuple(b[1:5]) for b in manifest.at[image_id, "boxes"] if int(b[0]) == int(cls)]


def localization_rows(shards: list[str], manifest: str, threshold: float = 0.15, rule: str = "ilsvrc",
                      topk: int = 5) -> pd.DataFrame:
    """Table 1's per-image outcome (ILSVRC CLS-LOC protocol) from top-k CAM shards.

    Each of the top-k maps is upsampled to the input (bilinear), binarized at ``threshold`` of
    its max, boxed around its largest connected component and compared with the GT boxes of
    its class (``rule``: ``ilsvrc`` IoU >= 0.5, or the study's eq. 3).
    """
    man = read_manifest(manifest).set_index("id")
    rows = []
    for path in tqdm(shards, desc="localization", unit="shard"):
        with Shard(path) as s:
            if s.targets.shape[1] < topk:
                raise DataError(f"{path}: holds {s.targets.shape[1]} maps per image, need the top-{topk}")
            size = tuple(s.attrs["input_size"])
            for i, image_id in enumerate(s.ids):
                label, targets = int(s.labels[i]), [int(t) for t in s.targets[i, :topk]]
                maps = [metrics.upsample_map(m, size) for m in s.maps[i, :topk]]
                out = metrics.localization_errors(targets, label, gt_boxes_of(man, image_id, label), maps,
                                                  threshold=threshold, rule=rule)
                rows.append({"id": image_id, "label": label, "top1": targets[0], **out})
    return pd.DataFrame(rows)
