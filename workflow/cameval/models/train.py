"""Seeded CPU training of the networks trained here: the one entry point :func:`train` runs a
:class:`TrainRun` (single-label here, multi-label in :mod:`cameval.models.multilabel`, as its manifest
says) with the one loop (:func:`cameval.models.loop.fit`); the best validation epoch is kept."""

from __future__ import annotations

import logging

import torch
from torch import nn

from cameval.data.images import ImageSet
from cameval.data.manifest import check_manifest, read_manifest
from cameval.data.multilabel import is_multilabel
from cameval.errors import ConfigError, DataError
from cameval.models.loop import FitOptions, Objective, TrainRun, evaluate, fit, save_run, train_subset
from cameval.models.multilabel import train_multilabel
from cameval.models.registry import build_model, load_model, model_digest

log = logging.getLogger(__name__)

#: softmax outputs on cross-entropy, the epoch of the best validation accuracy kept
CROSS_ENTROPY = Objective(
    loss=nn.functional.cross_entropy,
    evaluate=evaluate,
    score="acc",
    correct=lambda out, y: (out.argmax(1) == y).sum().item(),
)


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
    options = FitOptions(
        epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay, seed=seed, progress=progress
    )
    return fit(model, train, val, CROSS_ENTROPY, options)


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


def train(run: TrainRun) -> dict:
    """Train, evaluate and save one :class:`TrainRun`; its manifest decides how. Returns the metrics
    written to ``run.metrics``.

    A single-label set: softmax outputs on cross-entropy, the best validation accuracy's epoch kept,
    the test accuracy reported (:func:`train_single_label`). A multi-label set (a manifest with a
    ``labels`` column): sigmoid outputs on binary cross-entropy, the best validation mean AUROC's
    epoch kept, the test mean AUROC reported (:func:`cameval.models.multilabel.train_multilabel`).
    """

    if is_multilabel(read_manifest(run.manifest)):
        if run.shuffle_labels:
            raise DataError(
                f"{run.manifest}: shuffle_labels on a multi-label set (expected a single-label set: the data "
                "randomization test permutes one label per image)"
            )
        return train_multilabel(run)
    return train_single_label(run)


def train_single_label(run: TrainRun) -> dict:
    """Train ``run.arch`` on a single-label set's train split, keep the best val epoch, report test
    accuracy, save (:func:`cameval.models.loop.save_run`).

    ``run.shuffle_labels``: the data randomization test's twin (Adebayo et al., NeurIPS 2018, sec. 4):
    the train split's labels permuted among its images (:func:`shuffled_labels`, seeded by the run's
    seed), the epoch that fits them best kept (the validation labels say nothing about such a
    network), and its accuracy on those shuffled training labels reported as ``train_acc`` — a
    network that did not fit them is no test. Such a twin is at chance on test data by design: its
    check is ``train_acc``, never its ``test_acc``.

    ``run.subset``: train on that many images of the train split only (:func:`cameval.models.loop.train_subset`,
    seeded by the run's seed; None: all of them) — with ``shuffle_labels``, the labels are permuted among
    those images, so that a small network can memorize them in a few seconds. ``n_train`` reports it.
    """

    seed, classes = run.fit.seed, run.num_classes
    torch.manual_seed(seed)
    model = build_model(run.arch, num_classes=classes, **run.build)
    train, val, test = (split_tensors(run.images, run.manifest, s, classes) for s in ("train", "val", "test"))
    train = train_subset(*train, run.subset, seed)
    if run.shuffle_labels:
        train = (train[0], shuffled_labels(train[1], seed))
        val = train  # the epoch that fits the shuffled labels best
    model, curve = fit(model, train, val, CROSS_ENTROPY, run.fit)
    result = {
        "arch": run.arch,
        "test_acc": evaluate(model, *test)["acc"],
        "val_acc": max(r["val_acc"] for r in curve),
        "best_epoch": max(curve, key=lambda r: r["val_acc"])["epoch"],
        "epochs": run.fit.epochs,
        "seconds": sum(r["seconds"] for r in curve),
        "n_train": len(train[0]),
        "n_val": len(val[0]),
        "n_test": len(test[0]),
    }
    if run.shuffle_labels:
        counts = torch.bincount(train[1], minlength=classes)
        result.update(
            shuffle_labels=True,
            train_acc=evaluate(model, *train)["acc"],
            chance=float(counts.max()) / len(train[1]),
        )
        log.info(
            "%s on shuffled labels: training accuracy %.4f (chance %.4f)",
            run.arch,
            result["train_acc"],
            result["chance"],
        )
    log.info("%s: test accuracy %.4f (best epoch %d)", run.arch, result["test_acc"], result["best_epoch"])
    save_run(run, model, curve, result)
    return result
