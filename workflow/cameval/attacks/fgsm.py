"""Fast Gradient Sign Method (Goodfellow et al., ICLR 2015), for the study's Appendix C.

``x_adv = clip(x + eps * sign(d loss(f(x), y) / d x), 0, 1)`` in *pixel* space: ``eps`` is a
fraction of the [0, 1] range (8/255 is common), and the image is clipped to the valid range.
The model sees ``(x_adv - mean) / std``.
"""

from __future__ import annotations

import torch
from torch import nn

from cameval.explain import logits_of
from cameval.pixels import normalize


def fgsm(
    model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor, eps: float, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)
) -> torch.Tensor:
    """Untargeted one-step FGSM on pixel-space images ``[N, C, H, W]`` in [0, 1].

    Returns the adversarial images in pixel space, clipped to [0, 1]. The loss is the
    cross-entropy of the true ``labels``; no parameter gradient is accumulated.
    """
    if eps < 0:
        raise ValueError(f"eps: expected >= 0 (a fraction of the [0, 1] pixel range); got {eps}")
    x = pixels.detach().clone().requires_grad_(True)
    loss = nn.functional.cross_entropy(logits_of(model(normalize(x, mean, std))), labels, reduction="sum")
    (g,) = torch.autograd.grad(loss, x)
    return (pixels + eps * g.sign()).clamp(0, 1).detach()
