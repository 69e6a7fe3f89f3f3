"""Appendix C's torch work: FGSM on the first images, Grad-CAM of the true class before and after,
and how far the map moved. The only module of the package that imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from cameval import batches, metrics
from cameval.attacks import fgsm
from cameval.explain import default_layer, explain, logits_of
from cameval.store import provenance, write_cache


@dataclass(frozen=True)
class FgsmJob:
    """What :func:`fgsm_rows` measures: FGSM with ``eps`` (a fraction of the [0, 1] pixel range) on the
    first ``n_images`` rows of the evaluation split ``split``; Grad-CAM at ``layer`` (None: the model's
    default); the maps compared by Spearman at ``size``×``size`` and by the IoU of their boxes at
    ``threshold`` of the max; ``batch_size`` images at a time."""

    split: str
    n_images: int
    eps: float
    layer: str | None = None
    threshold: float = 0.15
    size: int = 14
    batch_size: int = 32


def fgsm_rows(weights: str, images: str, manifest: str, out_h5: str, job: FgsmJob) -> pd.DataFrame:
    """Appendix C, measured: FGSM on the first images of ``job``, Grad-CAM of the true class before and
    after, and how far the map moved.

    Per image: prediction before/after, ``rank_corr`` (Spearman of the two maps at
    ``job.size``×``job.size``) and ``box_iou`` (IoU of their ``job.threshold`` boxes, bilinear
    upsampling to the input). The attacked images and both maps are written to ``out_h5`` (atomically)
    for the figure.
    """
    split, n_images, eps, threshold, size = job.split, job.n_images, job.eps, job.threshold, job.size
    model, rows = batches.load(weights, manifest, split, 0, n_images)
    layer = job.layer or default_layer(model)

    def step(model, batch: batches.Batch) -> dict:
        labels = torch.as_tensor(batch.rows["label"].to_numpy(copy=True), dtype=torch.long)
        adv = fgsm(model, batch.pixels, labels, eps, batch.mean, batch.std)
        x, xa = batch.normalize(batch.pixels), batch.normalize(adv)
        with torch.no_grad():
            before, after = logits_of(model(x)).argmax(1), logits_of(model(xa)).argmax(1)
        cam, cam_adv = explain(model, x, labels, layer=layer), explain(model, xa, labels, layer=layer)
        hw = tuple(x.shape[-2:])
        rank_corr, box_iou = [], []
        for a, b in zip(cam.numpy(), cam_adv.numpy(), strict=True):
            a, b = metrics.upsample_map(a, hw), metrics.upsample_map(b, hw)
            box_a, box_b = metrics.heatmap_box(a, threshold), metrics.heatmap_box(b, threshold)
            rank_corr.append(metrics.rank_correlation(a, b, size=size))
            box_iou.append(metrics.iou(box_a, box_b) if box_a and box_b else 0.0)
        return {
            "label": labels,
            "pred_clean": before,
            "pred_adv": after,
            "correct_clean": before == labels,
            "correct_adv": after == labels,
            "rank_corr": np.asarray(rank_corr, dtype=np.float64),
            "box_iou": np.asarray(box_iou, dtype=np.float64),
            "clean": batch.clean,
            "adv": (adv * 255).round().to(torch.uint8).permute(0, 2, 3, 1),
            "cam_clean": cam,
            "cam_adv": cam_adv,
        }

    got = batches.run(model, images, rows, step, batch_size=job.batch_size, desc="fgsm")
    columns = ("label", "pred_clean", "pred_adv", "correct_clean", "correct_adv", "rank_corr", "box_iou")
    df = pd.DataFrame({"id": rows["id"].to_numpy(), **{k: got[k] for k in columns}})
    cached = {k: got[k] for k in ("clean", "adv", "cam_clean", "cam_adv")}
    cached |= {k: df[k].to_numpy() for k in ("label", "pred_clean", "pred_adv")}
    spec = {"attack": "fgsm", "eps": eps, "layer": layer, "images": int(n_images)}
    ids = df["id"].tolist()
    write_cache(
        out_h5,
        ids,
        cached,
        {"eps": eps, "layer": layer, **provenance(weights, manifest, ids, spec), "split": split},
        compressed=("clean", "adv", "cam_clean", "cam_adv"),
    )
    return df
