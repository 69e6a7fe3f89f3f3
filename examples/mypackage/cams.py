"""An own CAM method: ``heatmaps.<name>.method: "mypackage.cams:grad_x_act"`` with ``kind: cam``."""

from __future__ import annotations

import torch
from torch import nn


def grad_x_act(model: nn.Module, x: torch.Tensor, target: torch.Tensor, layer: str, power: float = 1.0) -> torch.Tensor:
    """Element-wise gradient × activation at ``layer`` (Layer-CAM's map, Jiang et al. 2021):
    ``map = sum_k ReLU(dS/dA_k) * A_k``, then ``map ** power``; ``[N, h, w]`` at the layer's grid.

    The signature is what cameval calls: ``x`` ``[N, C, H, W]`` as the model sees it, ``target`` a
    LongTensor ``[N]`` (the class explained), ``layer`` the layer's dotted name (passed because the
    function has a ``layer`` argument), and the set's ``params`` (here ``power``, checked at parse time).
    The model is left as it was found (a hook added and removed).
    """
    module = model.get_submodule(layer)
    seen = {}
    hook = module.register_forward_hook(lambda m, i, out: seen.update(a=out))
    try:
        x = x.detach().requires_grad_(True)
        scores = model(x).gather(1, target.view(-1, 1)).sum()
        (grad,) = torch.autograd.grad(scores, seen["a"])
    finally:
        hook.remove()
    cam = (grad.clamp(min=0) * seen["a"]).sum(1).clamp(min=0).detach()
    return cam**power
