"""What every network trained here shares (single- and multi-label): the job's spec (:class:`TrainRun`),
the loop (:func:`fit`, run with :class:`FitOptions` on an :class:`Objective`), :func:`evaluate`,
:func:`train_subset` and :func:`save_run`."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from cameval.errors import ConfigError
from cameval.explain import logits_of
from cameval.io import write_csv, write_json
from cameval.models.registry import save_model

log = logging.getLogger("cameval.models.train")


def train_subset(x: torch.Tensor, y: torch.Tensor, n: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of a training split drawn without replacement by a permutation seeded by
    ``seed`` (kept in the split's order), with their targets; ``n`` None: the whole split. ``n``
    must be between 1 and the split's size."""
    if n is None:
        return x, y
    if not 1 <= n <= len(x):
        raise ConfigError(f"subset: {n} images of a train split of {len(x)} (expected 1 to {len(x)})")
    gen = torch.Generator().manual_seed(int(seed))
    idx = torch.randperm(len(x), generator=gen)[:n].sort().values
    return x[idx], y[idx]


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


@dataclass(frozen=True)
class FitOptions:
    """How :func:`fit` trains: ``epochs`` passes over the train split in batches of ``batch_size``,
    AdamW at peak learning rate ``lr`` (one-cycle schedule) with ``weight_decay``, every random draw
    seeded by ``seed``; ``progress``: a progress bar per epoch."""

    epochs: int
    lr: float
    batch_size: int
    weight_decay: float = 1e-4
    seed: int = 0
    progress: bool = True


@dataclass(frozen=True)
class Objective:
    """What :func:`fit` minimizes and selects on: ``loss(logits, targets)`` of a batch;
    ``evaluate(model, x, y)`` a dict with ``loss`` and ``score`` after each epoch (the epoch with the
    best ``score`` is kept); ``correct(logits, y)`` the right answers of a batch (None: the curve has no
    ``train_acc``)."""

    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    evaluate: Callable[..., dict]
    score: str
    correct: Callable[[torch.Tensor, torch.Tensor], int] | None = None


#: the keys of a model's ``train`` config entry: the job's (its threads, set before the run), the
#: loop's (:class:`FitOptions`) and the run's own (:class:`TrainRun`)
_JOB_KEYS = ("threads",)
_FIT_KEYS = ("epochs", "lr", "batch_size", "weight_decay", "seed")
_RUN_KEYS = ("subset", "shuffle_labels")


@dataclass(frozen=True)
class TrainRun:
    """One training job: network ``arch`` with ``num_classes`` outputs (``build``: its builder's other
    keyword arguments) trained on the image set ``images`` + ``manifest`` (single- or multi-label: the
    manifest says which, :func:`cameval.models.train.train`), written to ``weights`` (safetensors),
    ``metrics`` (JSON) and ``curve`` (CSV, one row per epoch).

    ``subset``: train on that many images of the train split only (:func:`train_subset`, seeded by
    ``fit.seed``; None: all of them); ``shuffle_labels``: the data randomization test's twin, trained
    on its train labels permuted among its images (single-label sets only).
    """

    arch: str
    num_classes: int
    images: str
    manifest: str
    weights: str
    metrics: str
    curve: str
    fit: FitOptions
    build: Mapping = field(default_factory=dict)
    subset: int | None = None
    shuffle_labels: bool = False

    @classmethod
    def from_config(
        cls,
        spec: Mapping,
        *,
        images: str,
        manifest: str,
        weights: str,
        metrics: str,
        curve: str,
        seed: int = 0,
        name: str = "<name>",
    ) -> TrainRun:
        """The run of model ``name``'s config entry ``spec`` (``models.<name>``: ``arch``, ``num_classes``,
        ``build``, ``train``: ``epochs``, ``lr``, ``batch_size``, ``weight_decay``, ``seed``, ``subset``,
        ``shuffle_labels``; ``threads`` is the job's and ignored here) on the job's files; ``seed``: the
        config's seed, where ``train.seed`` is not given. The schema fills the defaults; a key it
        does not know, or a missing one, is a :class:`ConfigError` naming it."""
        train = dict(spec.get("train") or {})
        unknown = sorted(set(train) - {*_JOB_KEYS, *_FIT_KEYS, *_RUN_KEYS})
        missing = [k for k in ("epochs", "lr", "batch_size") if k not in train]
        if "num_classes" not in spec:
            missing.insert(0, "num_classes")
        if unknown or missing:
            raise ConfigError(
                f"models.{name}: train keys {unknown} unknown, keys {missing} missing (expected "
                f"num_classes and train.{{{', '.join((*_FIT_KEYS, *_RUN_KEYS, *_JOB_KEYS))}}}, "
                "epochs, lr and batch_size at least)"
            )
        options = FitOptions(**{k: train[k] for k in _FIT_KEYS if k in train} | {"seed": train.get("seed", seed)})
        return cls(
            arch=spec["arch"],
            num_classes=int(spec["num_classes"]),
            images=str(images),
            manifest=str(manifest),
            weights=str(weights),
            metrics=str(metrics),
            curve=str(curve),
            fit=options,
            build=dict(spec.get("build") or {}),
            subset=train.get("subset"),
            shuffle_labels=bool(train.get("shuffle_labels", False)),
        )


def save_run(run: TrainRun, model: nn.Module, curve: list[dict], result: dict) -> None:
    """Write a trained run's outputs: its curve (CSV), its ``result`` (JSON), and its weights with
    their builder's arguments and ``result`` as metadata (:func:`cameval.models.save_model`)."""
    write_csv(pd.DataFrame(curve), run.curve)
    write_json(result, run.metrics)
    save_model(model, run.weights, run.arch, build={**run.build, "num_classes": run.num_classes}, info=result)


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    objective: Objective,
    options: FitOptions,
) -> tuple[nn.Module, list[dict]]:
    """The training loop of every network trained here: AdamW with a one-cycle schedule on
    ``objective.loss`` (of the logits and the targets), seeded (:class:`FitOptions`); after each epoch
    ``objective.evaluate(model, *val)``, and the epoch with the best validation ``objective.score`` is kept.

    The curve has one row per epoch: ``epoch, train_loss, [train_acc,] val_loss, val_<score>,
    seconds`` (``train_acc`` where ``objective.correct`` counts the right answers of a batch).
    """
    o = options
    loss, evaluate, score, correct = objective.loss, objective.evaluate, objective.score, objective.correct
    epochs, lr, batch_size, seed = o.epochs, o.lr, o.batch_size, o.seed
    torch.manual_seed(seed)
    x, y = train
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=o.weight_decay)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    best, best_score, curve = copy.deepcopy(model.state_dict()), -float("inf"), []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(x), generator=gen)
        total, right, seen = 0.0, 0, 0
        bar = tqdm(range(0, len(x), batch_size), desc=f"epoch {epoch}/{epochs}", disable=not o.progress, leave=False)
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
