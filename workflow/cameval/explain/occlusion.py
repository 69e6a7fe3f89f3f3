"""Occlusion maps (Zeiler & Fergus, 2014), as the Grad-CAM study uses them for Table 3.

``map[i, j] = y^c(x) - y^c(x with a patch x patch square of `fill` centred at (i, j))``

The model sees ``x`` at its own size; the square is clipped at the border (the study padded
the input by half a patch instead). For an even ``patch`` the square spans rows
``i - patch//2 … i + patch//2 - 1``. Centres run over ``0, stride, 2·stride, …`` in both axes, so
stride 1 gives a map of the input's size. ``fill`` is in ``x``'s space (after normalization):
a scalar or one value per channel. The model is run in its current mode: put it in eval mode
(batch norm in train mode would mix the occluded copies of one image).

Exact and batched: every centre is one forward pass, ``batch_size`` of them at a time.
"""

from __future__ import annotations

import logging
import time

import torch
from torch import nn
from tqdm.auto import tqdm

from cameval.explain._core import logits_of

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
) -> tuple[torch.Tensor, torch.Tensor]:
    """Occlusion maps for every column of ``targets`` ``[N, K]``: ``([N, K, H', W'], logits)``.

    ``H' = ceil(H / stride)``; with ``stride=1`` the map has the input's size.
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
    for img in tqdm(range(n), desc=f"occlusion {patch}x{patch}", disable=not progress, unit="img"):
        start = time.perf_counter()
        for b0 in range(0, len(centres), batch_size):
            chunk = centres[b0 : b0 + batch_size]
            xb = x[img].unsqueeze(0).repeat(len(chunk), 1, 1, 1)
            for b, (i, j) in enumerate(chunk):
                r0, r1 = patch_bounds(i, patch, h)
                c0, c1 = patch_bounds(j, patch, w)
                xb[b, :, r0:r1, c0:c1] = fill_t
            scores = logits_of(model(xb))[:, targets[img]]  # [B, K]
            out[img, :, b0 : b0 + len(chunk)] = base[img][:, None] - scores.T
        log.info("occlusion %dx%d: image %d, %d forward passes in %.2f s",
                  patch, patch, img, len(centres), time.perf_counter() - start)
    return out.reshape(n, targets.shape[1], len(rows), len(cols)), logits
