"""The training loop every classifier here shares (single- and multi-label): :func:`fit`, :func:`evaluate`,
:func:`train_subset`."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from cameval.errors import ConfigError
from cameval.explain import logits_of

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
