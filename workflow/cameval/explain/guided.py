"""Guided Backpropagation (Springenberg et al., 2015) and Guided Grad-CAM (Selvaraju et al., 2017).

Guided Backprop replaces the backward pass of every ReLU by
``grad_in = ReLU(grad_out) * [x > 0]``: only positive gradients through active units pass.

*Every* ReLU is gated: ``nn.ReLU`` modules (in-place or not) and functional calls
(``F.relu``, ``torch.relu``, ``Tensor.relu`` and their in-place forms). torchvision's GoogLeNet
and DenseNet call ``F.relu`` in ``forward``; hook-based implementations (captum,
pytorch-grad-cam) only see ``nn.ReLU`` modules and silently return plain gradients there.
We patch the functions for the duration of the call and restore them in a ``finally`` block
(``nn.ReLU.forward`` itself calls ``F.relu``, so modules are covered by the same patch). The
patch is process-global: do not run other models in other threads meanwhile.

Guided Grad-CAM = Guided Backprop ⊙ Grad-CAM upsampled to the input (bilinear, as in the
Grad-CAM paper; captum's ``GuidedGradCam`` uses nearest by default: ``interpolate="nearest"``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from cameval.explain._core import target_scores
from cameval.explain.gradcam import cam_maps
from cameval.inference import logits_of


class _GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out.clamp(min=0) * (x > 0).to(grad_out.dtype)


class _GuidedReLUInPlace(torch.autograd.Function):
    """In place, as the call it replaces: callers may ignore the return value (``x.relu_()``)."""

    @staticmethod
    def forward(ctx, x):
        x.clamp_(min=0)
        ctx.mark_dirty(x)
        ctx.save_for_backward(x)  # the output: [out > 0] == [x > 0]
        return x

    @staticmethod
    def backward(ctx, grad_out):
        (out,) = ctx.saved_tensors
        return grad_out.clamp(min=0) * (out > 0).to(grad_out.dtype)


def _guided_relu(x, inplace: bool = False, *args, **kwargs):
    return _GuidedReLUInPlace.apply(x) if inplace else _GuidedReLU.apply(x)


def _guided_relu_(x, *args, **kwargs):
    return _GuidedReLUInPlace.apply(x)


_PATCHES = [
    (F, "relu", _guided_relu),
    (F, "relu_", _guided_relu_),
    (torch, "relu", _guided_relu),
    (torch, "relu_", _guided_relu_),
    (torch.Tensor, "relu", _guided_relu),
    (torch.Tensor, "relu_", _guided_relu_),
]
_ABSENT = object()


@contextlib.contextmanager
def guided_relus() -> Iterator[None]:
    """Within the block every ReLU, module or functional, backpropagates the guided way."""
    # vars(), not getattr(): Tensor.relu is inherited from the C base class and must stay so
    saved = [(owner, name, vars(owner).get(name, _ABSENT)) for owner, name, _ in _PATCHES]
    try:
        for owner, name, fn in _PATCHES:
            setattr(owner, name, fn)
        yield
    finally:
        for owner, name, original in saved:
            if original is _ABSENT:
                if name in vars(owner):
                    delattr(owner, name)
            else:
                setattr(owner, name, original)


def guided_backprop(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Guided Backprop for every column of ``targets`` ``[N, K]``: ``([N, K, C, H, W], logits)``."""
    x = x.detach().requires_grad_(True)
    with guided_relus():
        logits = logits_of(model(x))
        maps = []
        for k in range(targets.shape[1]):
            (g,) = torch.autograd.grad(target_scores(logits, targets, k), x, retain_graph=k + 1 < targets.shape[1])
            maps.append(g)
    return torch.stack(maps, dim=1), logits.detach()


def combine_guided_gradcam(gbp: torch.Tensor, cam: torch.Tensor, interpolate: str = "bilinear") -> torch.Tensor:
    """Guided Grad-CAM from its parts: ``gbp [..., C, H, W] * upsample(cam [..., h, w])``."""
    size = gbp.shape[-2:]
    flat = cam.reshape(-1, 1, *cam.shape[-2:])
    kwargs = {"align_corners": False} if interpolate in ("bilinear", "bicubic") else {}
    up = F.interpolate(flat, size=size, mode=interpolate, **kwargs).reshape(*cam.shape[:-2], 1, *size)
    return gbp * up


def guided_gradcam(
    model: nn.Module, x: torch.Tensor, targets: torch.Tensor, layer: str, interpolate: str = "bilinear"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Guided Grad-CAM for every column of ``targets``: ``([N, K, C, H, W], logits)``."""
    cam, logits = cam_maps(model, x, targets, layer, "gradcam")
    gbp, _ = guided_backprop(model, x, targets)
    return combine_guided_gradcam(gbp, cam, interpolate), logits
