"""Seeded CPU training of the networks trained here (one loop, :func:`fit`); the best validation epoch is kept."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from cameval.explain._core import logits_of

log = logging.getLogger(__name__)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> dict:
    """Mean cross-entropy and top-1 accuracy of ``model`` (put in eval mode) on ``(x, y)``."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        out = logits_of(model(x[i : i + batch_size]))
        loss += nn.functional.cross_entropy(out, y[i : i + batch_size], reduction="sum").item()
        correct += (out.argmax(1) == y[i : i + batch_size]).sum().item()
    return {"loss": loss / len(x), "acc": correct / len(x)}


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    evaluate: Callable[..., dict],
    score: str,
    correct: Callable[[torch.Tensor, torch.Tensor], int] | None = None,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    seed: int,
    progress: bool = True,
) -> tuple[nn.Module, list[dict]]:
    """The training loop of every network trained here: AdamW with a one-cycle schedule on ``loss``
    (of the logits and the targets), seeded; after each epoch ``evaluate(model, *val)`` (a dict with
    ``loss`` and ``score``), and the epoch with the best validation ``score`` is kept.

    The curve has one row per epoch: ``epoch, train_loss, [train_acc,] val_loss, val_<score>,
    seconds`` (``train_acc`` where ``correct(logits, y)`` counts the right answers of a batch).
    """
    torch.manual_seed(seed)
    x, y = train
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    best, best_score, curve = copy.deepcopy(model.state_dict()), -float("inf"), []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(x), generator=gen)
        total, right, seen = 0.0, 0, 0
        bar = tqdm(range(0, len(x), batch_size), desc=f"epoch {epoch}/{epochs}", disable=not progress, leave=False)
        for i in bar:
            idx = order[i : i + batch_size]
            out = logits_of(model(x[idx]))
            batch_loss = loss(out, y[idx])
            opt.zero_grad(set_to_none=True)
            batch_loss.backward()
            opt.step()
            sched.step()
            total += batch_loss.item() * len(idx)
            right += correct(out, y[idx]) if correct is not None else 0
            seen += len(idx)
        v = evaluate(model, *val)
        row = {"epoch": epoch, "train_loss": total / seen}
        if correct is not None:
            row["train_acc"] = right / seen
        row.update({"val_loss": v["loss"], f"val_{score}": v[score], "seconds": time.perf_counter() - start})
        curve.append(row)
        log.info(
            "epoch %d: %s (%.1f s)",
            epoch,
            ", ".join(f"{k} {row[k]:.4f}" for k in row if k not in ("epoch", "seconds")),
            row["seconds"],
        )
        if v[score] > best_score:
            best_score, best = v[score], copy.deepcopy(model.state_dict())
    model.load_state_dict(best)
    return model.eval(), curve


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
    checked against the images and ``num_classes`` first (:func:`cameval.data.images.check_manifest`)."""
    from cameval.data.images import ImageSet, check_manifest, read_manifest
    from cameval.errors import DataError

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
    from cameval.models.registry import load_model, model_digest

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
) -> dict:
    """Train ``arch`` on the train split, keep the best val epoch, report test accuracy, save.

    A multi-label dataset (a manifest with a ``labels`` column) is trained with sigmoid outputs
    and binary cross-entropy instead, reporting mean AUROC
    (:func:`cameval.models.multilabel.train_multilabel_on_dataset`).
    """
    import pandas as pd

    from cameval.data.images import read_manifest
    from cameval.data.multilabel import is_multilabel

    if is_multilabel(read_manifest(manifest)):
        from cameval.models.multilabel import train_multilabel_on_dataset

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
        )

    from cameval.io import write_csv, write_json
    from cameval.models.registry import build_model, save_model

    torch.manual_seed(seed)
    model = build_model(arch, num_classes=num_classes, **(build or {}))
    train, val, test = (split_tensors(images, manifest, s, num_classes) for s in ("train", "val", "test"))
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
    log.info("%s: test accuracy %.4f (best epoch %d)", arch, result["test_acc"], result["best_epoch"])
    write_csv(pd.DataFrame(curve), curve_out)
    write_json(result, metrics_out)
    save_model(model, weights_out, arch, build={**(build or {}), "num_classes": num_classes}, info=result)
    return result
