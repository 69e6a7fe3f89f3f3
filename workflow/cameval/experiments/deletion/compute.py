"""The deletion experiment's torch work: per model, every set's maps of the first images (from the
heatmap shards) and the seeded random map, turned into deletion and insertion curves and ROAD's
MoRF / LeRF correctness. The only module of the package that imports torch.

Writes one row per (image, column) (``results/metrics/deletion/{dataset}/{model}.csv``: ``id``,
``label``, ``target``, ``set``, ``method``, ``deletion_auc``, ``insertion_auc``, ``morf_p{P}``,
``lerf_p{P}`` for each percentage P) and the curves (``….h5``: ``ids``, ``deletion/{column}`` and
``insertion/{column}`` float32 [N, steps + 1]; attributes ``columns``, ``methods``, ``step``,
``percentages``), both atomically.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass

import h5py
import numpy as np
import pandas as pd
import torch

from cameval import batches, metrics
from cameval.data.images import ImageSet
from cameval.errors import DataError
from cameval.hdf5 import open_h5
from cameval.heatmaps import GUIDED_GRADCAM, RANDOM, first_maps, input_maps, random_maps, with_guided_gradcam
from cameval.io import atomic_path, write_csv
from cameval.store import Expect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeletionJob:
    """What :func:`deletion_rows` measures: the first ``n_images`` rows of the evaluation split ``split``;
    deletion and insertion curves ``step`` pixels a step (None: the image's width); ROAD at
    ``percentages`` with imputation ``noise``; pixel maps reduced to one channel by ``reduce``
    (:func:`cameval.metrics.reduce_channels`); ``seed`` draws the random maps and ROAD's noise."""

    split: str
    n_images: int
    step: int | None = None
    percentages: tuple = (10, 20, 30, 40, 50, 60, 70, 80, 90)
    noise: float = 0.01
    reduce: str = "abs_max"
    seed: int = 0


def deletion_rows(
    weights: str,
    images: str,
    manifest: str,
    shards: dict[str, list[str]],
    specs: dict[str, dict],
    out_rows: str | os.PathLike,
    out_curves: str | os.PathLike,
    job: DeletionJob,
    *,
    device: str = "cpu",
) -> pd.DataFrame:
    """Deletion / insertion AUC and ROAD for the first images of ``job``, every set of ``shards``
    (``{set: paths}``; ``specs``: what made its shards, as they record it), Guided Grad-CAM where
    Grad-CAM and Guided Backprop are both given, and the seeded random map (module docstring)."""
    split, n_images, step, percentages, seed = job.split, job.n_images, job.step, job.percentages, job.seed
    t0 = time.perf_counter()
    found = first_maps(shards, n_images, {s: Expect(weights, specs[s], manifest) for s in shards})
    model, rows = batches.load(weights, manifest, split, 0, n_images, device=device)
    model.eval()
    if list(rows["id"]) != found["ids"]:
        raise DataError(
            f"{next(iter(shards.values()))[0]}: the shards' first images {found['ids'][:3]}… are not the first "
            f"rows of split {split!r} of {manifest} ({list(rows['id'])[:3]}…)"
        )
    index = rows["index"].to_numpy()
    with ImageSet(images) as imgs:
        x = imgs.tensor(index).to(device)
        pixels = torch.as_tensor(imgs.uint8(index), dtype=torch.float32).permute(0, 3, 1, 2).div(255).to(device)
        mean, std = list(imgs.mean[: x.shape[1]]), list(imgs.std[: x.shape[1]])
    size = tuple(int(s) for s in x.shape[-2:])
    targets = torch.as_tensor(found["targets"], dtype=torch.long, device=device)
    labels = torch.as_tensor(rows["label"].to_numpy(copy=True), dtype=torch.long, device=device)
    methods = {s: specs[s]["method"] for s in shards}
    raw = with_guided_gradcam({s: torch.as_tensor(m) for s, m in found["maps"].items()}, methods)
    maps = {c: input_maps(m, size, job.reduce) for c, m in raw.items()}
    maps[RANDOM] = random_maps(index, size, seed)
    column_methods = {**methods, GUIDED_GRADCAM: GUIDED_GRADCAM, RANDOM: RANDOM}
    out, curves = [], {}
    for column, m in maps.items():
        start = time.perf_counter()
        mt = torch.as_tensor(m, device=device)
        dc = np.asarray(metrics.deletion_curves(model, x, mt, targets, step=step))
        ic = np.asarray(metrics.insertion_curves(model, x, mt, targets, step=step))
        road = {
            order: np.asarray(
                metrics.road(
                    model,
                    pixels,
                    mt,
                    labels,
                    mean,
                    std,
                    percentages=tuple(percentages),
                    order=order,
                    noise=job.noise,
                    seed=seed,
                )
            )
            for order in ("morf", "lerf")
        }
        curves[f"deletion/{column}"], curves[f"insertion/{column}"] = dc, ic
        d_auc, i_auc = np.asarray(metrics.curve_auc(dc)), np.asarray(metrics.curve_auc(ic))
        for i, image_id in enumerate(found["ids"]):
            row = {
                "id": image_id,
                "label": int(labels[i]),
                "target": int(targets[i]),
                "set": column,
                "method": column_methods[column],
                "deletion_auc": float(d_auc[i]),
                "insertion_auc": float(i_auc[i]),
            }
            for order, correct in road.items():
                row.update({f"{order}_p{p:g}": float(correct[j, i]) for j, p in enumerate(percentages)})
            out.append(row)
        log.info(
            "%s: deletion, insertion and ROAD of %d images in %.1f s", column, len(index), time.perf_counter() - start
        )
    df = pd.DataFrame(out)
    with atomic_path(out_curves) as tmp, open_h5(tmp, "w") as fh:
        fh.create_dataset("ids", data=np.asarray(found["ids"], dtype=object), dtype=h5py.string_dtype())
        for name, arr in curves.items():
            fh.create_dataset(name, data=arr.astype(np.float32))
        fh.attrs.update(
            {
                "columns": json.dumps(list(maps)),
                "methods": json.dumps({c: column_methods[c] for c in maps}),
                "step": step if step is not None else size[1],
                "percentages": json.dumps(list(percentages)),
            }
        )
    write_csv(df, out_rows)
    log.info("%s: %d images × %d maps in %.1f s", out_rows, len(index), len(maps), time.perf_counter() - t0)
    return df
