"""Occlusion maps (Zeiler & Fergus, 2014), as the Grad-CAM study uses them for Table 3.

``map[i, j] = y^c(x) - y^c(x with a patch x patch square of `fill` centred at (i, j))``

The model sees ``x`` at its own size; the square is clipped at the border (the study padded
the input by half a patch instead). For an even ``patch`` the square spans rows
``i - patch//2 … i + patch//2 - 1``. Centres run over ``0, stride, 2·stride, …`` in both axes, so
stride 1 gives a map of the input's size. ``fill`` is in ``x``'s space (after normalization):
a scalar or one value per channel. The model is run in its current mode: put it in eval mode
(batch norm in train mode would mix the occluded copies of one image).

Exact and batched: every centre is one forward pass, ``batch_size`` of them at a time. For the
sequential conv / pool networks (VGG, AlexNet, the small VGG and AlexNet, ``nn.Sequential``) and
torchvision's ResNets each pass is incremental (:mod:`cameval.inference`): the clean
image runs once and every occluded copy recomputes only the part of each layer that its patch can
reach, with the same result to float32 rounding; ``incremental=False`` forces the full forward
passes, and any other model takes them (said once in the log). The default (``None``) is
incremental on the CPU, where the saved arithmetic is the time saved (×4.7–×7.5 on VGG-16,
×1.5–×2.4 on ResNet-18 / -50, docs/benchmarks.md), and full on a GPU, where batched full passes
are faster (an H200, VGG-16: ×0.84–×0.87 for the incremental path).
"""

from __future__ import annotations

import logging
import time

import torch
from torch import nn
from tqdm.auto import tqdm

from cameval.inference import IncrementalRunner, logits_of, patch_tiles, plan_or_say
from cameval.logs import image_name

log = logging.getLogger(__name__)


def patch_bounds(centre: int, patch: int, length: int) -> tuple[int, int]:
    """Half-open index range ``[start, stop)`` of a patch centred at ``centre``, clipped."""
    lo = patch // 2
    return max(0, centre - lo), min(length, centre - lo + patch)


def _fill_tensor(fill, x: torch.Tensor) -> torch.Tensor:
    f = torch.as_tensor(fill, dtype=x.dtype, device=x.device)
    if f.ndim == 0:
        return f
    if f.numel() != x.shape[1]:
        raise ValueError(f"fill: expected a scalar or {x.shape[1]} values (one per channel); got {f.numel()}")
    return f.reshape(-1, 1, 1)


@torch.no_grad()
def occlusion(
    model: nn.Module,
    x: torch.Tensor,
    targets: torch.Tensor,
    patch: int,
    stride: int = 1,
    fill=0.0,
    batch_size: int = 128,
    progress: bool = False,
    incremental: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Occlusion maps for every column of ``targets`` ``[N, K]``: ``([N, K, H', W'], logits)``.

    ``H' = ceil(H / stride)``; with ``stride=1`` the map has the input's size. ``incremental``:
    use the exact incremental engine where the model allows it (``False``: full passes;
    ``None``: incremental on the CPU, full on other devices).
    """
    if patch < 1 or stride < 1 or batch_size < 1:
        raise ValueError(f"occlusion: patch, stride and batch_size must be >= 1; got {patch}, {stride}, {batch_size}")
    n, _, h, w = x.shape
    fill_t = _fill_tensor(fill, x)
    logits = logits_of(model(x))
    base = logits.gather(1, targets)  # [N, K]
    rows, cols = range(0, h, stride), range(0, w, stride)
    centres = [(i, j) for i in rows for j in cols]
    out = torch.empty(n, targets.shape[1], len(rows) * len(cols), dtype=x.dtype, device=x.device)
    plan = plan_or_say(model, "occlusion", incremental, x.device)
    for img in tqdm(range(n), desc=f"occlusion {patch}x{patch}", disable=not progress, unit="img"):
        start = time.perf_counter()
        runner = IncrementalRunner(plan, x[img : img + 1]) if plan is not None else None
        for b0 in range(0, len(centres), batch_size):
            chunk = centres[b0 : b0 + batch_size]
            scores = occluded_logits(model, x[img], chunk, patch, fill_t, runner)[:, targets[img]]  # [B, K]
            out[img, :, b0 : b0 + len(chunk)] = base[img][:, None] - scores.T
        log.info(
            "occlusion %dx%d: %s, %d %s forward passes in %.2f s",
            patch,
            patch,
            image_name(img, n),
            len(centres),
            "incremental" if runner is not None else "full",
            time.perf_counter() - start,
        )
    return out.reshape(n, targets.shape[1], len(rows), len(cols)), logits


def occluded_logits(
    model: nn.Module,
    image: torch.Tensor,
    centres: list[tuple[int, int]],
    patch: int,
    fill: torch.Tensor,
    runner: IncrementalRunner | None = None,
) -> torch.Tensor:
    """Logits ``[B, classes]`` of ``image [C, H, W]`` occluded at each of ``centres`` (one batch).

    ``runner``: the incremental engine on this image (see :class:`IncrementalRunner`), or ``None``
    for one full forward pass over the batch of occluded copies.
    """
    h, w = image.shape[-2:]
    if runner is not None:
        ci = torch.tensor(centres, device=image.device).reshape(-1, 2)
        lo = patch // 2
        r0, c0 = (ci[:, 0] - lo).clamp(min=0), (ci[:, 1] - lo).clamp(min=0)
        r1, c1 = (ci[:, 0] - lo + patch).clamp(max=h), (ci[:, 1] - lo + patch).clamp(max=w)
        return runner.logits(*patch_tiles(image, r0, r1, c0, c1, fill))
    xb = image.unsqueeze(0).repeat(len(centres), 1, 1, 1)
    for b, (i, j) in enumerate(centres):
        r0, r1 = patch_bounds(i, patch, h)
        c0, c1 = patch_bounds(j, patch, w)
        xb[b, :, r0:r1, c0:c1] = fill
    return logits_of(model(xb))
