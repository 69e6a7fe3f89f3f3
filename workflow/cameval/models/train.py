"""Seeded CPU training of the networks trained here (one loop, :func:`fit`); the best validation epoch is kept."""

from __future__ import annotations

import logging

import pandas as pd
import torch
from torch import nn

from cameval.data.images import ImageSet
from cameval.data.manifest import check_manifest, read_manifest
from cameval.data.multilabel import is_multilabel
from cameval.errors import ConfigError, DataError
from cameval.io import write_csv, write_json
from cameval.models.loop import evaluate, fit, train_subset
from cameval.models.multilabel import train_multilabel_on_dataset
from cameval.models.registry import build_model, load_model, model_digest, save_model

log = logging.getLogger(__name__)


def train_classifier(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    epochs: int = 6,
    lr: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 1e-4,
    seed: int = 0,
    progress: bool = True,
) -> tuple[nn.Module, list[dict]]:
    """Train on cross-entropy (:func:`fit`); return the best-validation-accuracy model and the curve
    (``epoch, train_loss, train_acc, val_loss, val_acc, seconds``)."""
    return fit(
        model,
        train,
        val,
        loss=nn.functional.cross_entropy,
        evaluate=evaluate,
        score="acc",
        correct=lambda out, y: (out.argmax(1) == y).sum().item(),
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        weight_decay=weight_decay,
        seed=seed,
        progress=progress,
    )


def split_tensors(
    images: str, manifest: str, split: str, num_classes: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of ``split`` as normalized float tensors with their labels; the manifest is
    checked against the images and ``num_classes`` first (:func:`cameval.data.manifest.check_manifest`)."""

    rows = read_manifest(manifest)
    with ImageSet(images) as imgs:
        check_manifest(rows, manifest, images=imgs, num_classes=num_classes)
        rows = rows[rows["split"] == split]
        if rows.empty:
            raise DataError(f"{manifest}: no rows with split {split!r} (expected train, val and test rows)")
        x = imgs.tensor(rows["index"].to_numpy())
    return x, torch.as_tensor(rows["label"].to_numpy(copy=True), dtype=torch.long)


def split_accuracy(
    weights: str, images: str, manifest: str, split: str, batch_size: int = 256, device: str = "cpu"
) -> dict:
    """Top-1 accuracy of the saved model ``weights`` on every image of ``split``:
    ``{"split", "n", "correct", "acc", "loss"}`` (``acc`` = correct / n, ``loss`` the mean cross-entropy)."""

    model = load_model(weights).to(device)
    x, y = split_tensors(images, manifest, split)
    result = evaluate(model, x.to(device), y.to(device), batch_size)
    out = {
        "split": split,
        "n": len(y),
        "correct": int(round(result["acc"] * len(y))),
        "acc": result["acc"],
        "loss": result["loss"],
        "model_digest": model_digest(weights),
    }
    log.info("%s: %d of %d %s images right (%.2f %%)", weights, out["correct"], out["n"], split, 100 * out["acc"])
    return out


def shuffled_labels(labels: torch.Tensor, seed: int) -> torch.Tensor:
    """``labels`` permuted among their images by a permutation seeded by ``seed`` (the class counts
    stay those of the split)."""
    gen = torch.Generator().manual_seed(int(seed))
    return labels[torch.randperm(len(labels), generator=gen)]


def check_accuracy(result: dict, model: str, floor: float, dataset: str = "its dataset", default: bool = True) -> None:
    """Stop the run where model ``model`` did not learn: its top-1 accuracy ``result["acc"]`` on the
    evaluation split (:func:`split_accuracy`) below ``floor``, the config's ``models.<model>.min_accuracy``
    (``default``: not given, twice chance). A network at chance level gives maps and tables that look
    like results; the message names the accuracy and the key that lowers the floor."""
    if result["acc"] >= floor:
        return
    given = "(default: twice chance, 2 / classes)" if default else "(as set)"
    raise ConfigError(
        f"models.{model}: top-1 accuracy {100 * result['acc']:.1f} % ({result['correct']} of the {result['n']} "
        f"{result['split']} images of {dataset}) is below models.{model}.min_accuracy = {floor:.3g} {given}: the model "
        "did not learn, and maps of it would say nothing (expected a trained model: train it longer, e.g. "
        f"models.{model}.train.epochs, check its weights, or set models.{model}.min_accuracy lower to go on anyway)"
    )


def train_on_dataset(
    arch: str,
    num_classes: int,
    images: str,
    manifest: str,
    weights_out: str,
    metrics_out: str,
    curve_out: str,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float = 1e-4,
    seed: int = 0,
    build: dict | None = None,
    shuffle_labels: bool = False,
    subset: int | None = None,
) -> dict:
    """Train ``arch`` on the train split, keep the best val epoch, report test accuracy, save.

    A multi-label dataset (a manifest with a ``labels`` column) is trained with sigmoid outputs
    and binary cross-entropy instead, reporting mean AUROC
    (:func:`cameval.models.multilabel.train_multilabel_on_dataset`).

    ``shuffle_labels``: the data randomization test's twin (Adebayo et al., NeurIPS 2018, sec. 4):
    the train split's labels permuted among its images (:func:`shuffled_labels`, seeded by
    ``seed``), the epoch that fits them best kept (the validation labels say nothing about such a
    network), and its accuracy on those shuffled training labels reported as ``train_acc`` — a
    network that did not fit them is no test. Such a twin is at chance on test data by design: its
    check is ``train_acc``, never its ``test_acc``.

    ``subset``: train on ``subset`` images of the train split only (:func:`cameval.models.loop.train_subset`,
    seeded by ``seed``; None: all of them) — with ``shuffle_labels``, the labels are permuted among
    those images, so that a small network can memorize them in a few seconds. ``n_train`` reports it.
    """

    if shuffle_labels and is_multilabel(read_manifest(manifest)):
        raise DataError(
            f"{manifest}: shuffle_labels on a multi-label set (expected a single-label set: the data "
            "randomization test permutes one label per image)"
        )
    if is_multilabel(read_manifest(manifest)):
        return train_multilabel_on_dataset(
            arch,
            num_classes,
            images,
            manifest,
            weights_out,
            metrics_out,
            curve_out,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            weight_decay=weight_decay,
            seed=seed,
            build=build,
            subset=subset,
        )

    torch.manual_seed(seed)
    model = build_model(arch, num_classes=num_classes, **(build or {}))
    train, val, test = (split_tensors(images, manifest, s, num_classes) for s in ("train", "val", "test"))
    train = train_subset(*train, subset, seed)
    if shuffle_labels:
        train = (train[0], shuffled_labels(train[1], seed))
        val = train  # the epoch that fits the shuffled labels best
    model, curve = train_classifier(
        model, train, val, epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay, seed=seed
    )
    result = {
        "arch": arch,
        "test_acc": evaluate(model, *test)["acc"],
        "val_acc": max(r["val_acc"] for r in curve),
        "best_epoch": max(curve, key=lambda r: r["val_acc"])["epoch"],
        "epochs": epochs,
        "seconds": sum(r["seconds"] for r in curve),
        "n_train": len(train[0]),
        "n_val": len(val[0]),
        "n_test": len(test[0]),
    }
    if shuffle_labels:
        counts = torch.bincount(train[1], minlength=num_classes)
        result.update(
            shuffle_labels=True,
            train_acc=evaluate(model, *train)["acc"],
            chance=float(counts.max()) / len(train[1]),
        )
        log.info(
            "%s on shuffled labels: training accuracy %.4f (chance %.4f)", arch, result["train_acc"], result["chance"]
        )
    log.info("%s: test accuracy %.4f (best epoch %d)", arch, result["test_acc"], result["best_epoch"])
    write_csv(pd.DataFrame(curve), curve_out)
    write_json(result, metrics_out)
    save_model(model, weights_out, arch, build={**(build or {}), "num_classes": num_classes}, info=result)
    return result
