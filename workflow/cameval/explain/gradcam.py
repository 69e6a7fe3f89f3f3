"""Grad-CAM and Grad-CAM++ (class activation maps weighted by gradients).

Grad-CAM (Selvaraju et al., ICCV 2017, eq. 1–2)::

    alpha_k = mean_ij  d y^c / d A^k_ij          (y^c: pre-softmax score)
    map     = ReLU( sum_k alpha_k A^k )

Grad-CAM++ (Chattopadhyay et al., WACV 2018, eq. 19 with Y^c = exp(S^c)), g = dS^c/dA^k_ij::

    a^k_ij  = g^2 / (2 g^2 + sum_ab A^k_ab g^3)       (0 where g = 0)
    w_k     = sum_ij a^k_ij ReLU(g)
    map     = ReLU( sum_k w_k A^k )

Maps are returned at the layer's grid, ReLU applied, not normalized.
"""

from __future__ import annotations

import torch
from torch import nn

from cameval.explain._core import capture, target_scores
from cameval.inference import logits_of


def _weights_gradcam(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return g.mean(dim=(2, 3))


def _weights_gradcampp(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    g2 = g * g
    denom = 2 * g2 + a.sum(dim=(2, 3), keepdim=True) * g2 * g
    alpha = torch.where(denom != 0, g2 / torch.where(denom != 0, denom, torch.ones_like(denom)), 0.0)
    return (alpha * torch.relu(g)).sum(dim=(2, 3))


_WEIGHTS = {"gradcam": _weights_gradcam, "gradcampp": _weights_gradcampp}


def cam_maps(
    model: nn.Module, x: torch.Tensor, targets: torch.Tensor, layer: str, method: str = "gradcam"
) -> tuple[torch.Tensor, torch.Tensor]:
    """CAMs for every column of ``targets`` ``[N, K]`` from one forward pass.

    Returns ``(maps [N, K, h, w], logits [N, classes])``.
    """
    x = x.detach().requires_grad_(True)
    with capture(model, layer) as store:
        logits = logits_of(model(x))
    return cams_of(store["a"], logits, targets, method), logits.detach()


def cams_of(a: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor, method: str = "gradcam") -> torch.Tensor:
    """CAMs ``[N, K, h, w]`` of the activation ``a`` ``[N, C, h, w]`` for every column of ``targets``
    ``[N, K]``, from ``logits`` computed from ``a`` with autograd on (one backward pass per column,
    down to ``a`` only): what :func:`cam_maps` does after its forward pass, and what a caller that
    runs only the part of the network above ``a`` (:mod:`cameval.metrics.cascade`) calls."""
    weights_of = _WEIGHTS[method]
    maps = []
    for k in range(targets.shape[1]):
        (g,) = torch.autograd.grad(target_scores(logits, targets, k), a, retain_graph=k + 1 < targets.shape[1])
        w = weights_of(a.detach(), g)
        maps.append(torch.relu((w[:, :, None, None] * a.detach()).sum(dim=1)))
    return torch.stack(maps, dim=1)
