"""Seeded CPU training of multi-label networks (sigmoid outputs, binary cross-entropy), CheXNet-style.

The network outputs one logit per class; the loss is the mean binary cross-entropy of
``sigmoid(logit_c)`` against the multi-hot target (``BCEWithLogitsLoss``); the epoch with the best
validation mean AUROC is kept, and the test mean AUROC reported (the figure CheXNet papers give).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from cameval.data.images import ImageSet
from cameval.data.manifest import read_manifest
from cameval.data.multilabel import multi_hot
from cameval.errors import DataError
from cameval.explain import logits_of
from cameval.metrics.classification import mean_auroc
from cameval.models.loop import Objective, TrainRun, fit, save_run, train_subset
from cameval.models.registry import build_model

log = logging.getLogger(__name__)


@torch.no_grad()
def evaluate_multilabel(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> dict:
    """Mean BCE, mean AUROC and per-class AUROC of ``model`` (eval mode) on ``(x, y)``."""
    model.eval()
    logits = torch.cat([logits_of(model(x[i : i + batch_size])) for i in range(0, len(x), batch_size)])
    loss = nn.functional.binary_cross_entropy_with_logits(logits, y).item()
    mean, per = mean_auroc(logits.numpy(), y.numpy())
    return {"loss": loss, "auroc": mean, "auroc_per_class": per}


def multilabel_tensors(images: str, manifest, split: str, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of ``split`` (one row per image) as normalized tensors with multi-hot targets."""

    rows = manifest[manifest["split"] == split]
    if rows.empty:
        raise DataError(f"no rows with split {split!r} in the manifest (expected train, val and test rows)")
    with ImageSet(images) as imgs:
        x = imgs.tensor(rows["index"].to_numpy())
    return x, torch.from_numpy(multi_hot(rows, n_classes))


#: sigmoid outputs on binary cross-entropy, the epoch of the best validation mean AUROC kept
BCE = Objective(loss=nn.functional.binary_cross_entropy_with_logits, evaluate=evaluate_multilabel, score="auroc")


def train_multilabel(run: TrainRun) -> dict:
    """Train ``run.arch`` on a multi-label set's train split (``run.subset``: on that many of its images
    only, :func:`cameval.models.loop.train_subset`), keep the best val epoch, report the test mean AUROC
    (and per class), save weights, metrics JSON and the curve (:func:`cameval.models.loop.save_run`)."""

    seed = run.fit.seed
    torch.manual_seed(seed)
    man = read_manifest(run.manifest)
    model = build_model(run.arch, num_classes=run.num_classes, **run.build)
    train, val, test = (multilabel_tensors(run.images, man, s, run.num_classes) for s in ("train", "val", "test"))
    train = train_subset(*train, run.subset, seed)
    model, curve = fit(model, train, val, BCE, run.fit)
    t = evaluate_multilabel(model, *test)
    result = {
        "arch": run.arch,
        "loss": "bce",
        "test_auroc": t["auroc"],
        "test_auroc_per_class": [None if np.isnan(a) else a for a in t["auroc_per_class"]],
        "val_auroc": max(r["val_auroc"] for r in curve),
        "best_epoch": max(curve, key=lambda r: r["val_auroc"])["epoch"],
        "epochs": run.fit.epochs,
        "seed": seed,
        "seconds": sum(r["seconds"] for r in curve),
        "n_train": len(train[0]),
        "n_val": len(val[0]),
        "n_test": len(test[0]),
    }
    log.info("%s: test mean AUROC %.4f (best epoch %d)", run.arch, result["test_auroc"], result["best_epoch"])
    save_run(run, model, curve, result)
    return result
