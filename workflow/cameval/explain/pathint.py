"""Path-integral attributions: Integrated Gradients and Gradient SHAP.

Integrated Gradients (Sundararajan et al., 2017), trapezoidal rule on ``steps`` points::

    IG(x) = (x - b) * sum_s w_s dy^c/dx (b + a_s (x - b)),  a_s = s/(steps-1), w = trapezoid weights

Gradient SHAP (Lundberg & Lee, 2017; captum's form): the expectation over baselines ``b`` drawn
from ``baselines``, ``a ~ U(0, 1)`` and Gaussian input noise of ``stdev`` of
``dy^c/dx (b + a (x' - b)) * (x' - b)`` with ``x' = x + noise``, estimated with ``n_samples``
draws per image from a generator seeded with ``seed``; every target column reuses the same draws.
"""

from __future__ import annotations

import torch
from torch import nn

from cameval.inference import logits_of


def _grad(model: nn.Module, points: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    points = points.detach().requires_grad_(True)
    score = logits_of(model(points)).gather(1, target[:, None]).sum()
    (g,) = torch.autograd.grad(score, points)
    return g


def integrated_gradients(
    model: nn.Module, x: torch.Tensor, targets: torch.Tensor, baseline=0.0, steps: int = 50
) -> tuple[torch.Tensor, torch.Tensor]:
    """IG for every column of ``targets`` ``[N, K]``: ``([N, K, C, H, W], logits)``."""
    if steps < 2:
        raise ValueError(f"integrated_gradients: steps must be >= 2; got {steps}")
    b = torch.as_tensor(baseline, dtype=x.dtype, device=x.device).expand_as(x)
    alphas = torch.linspace(0, 1, steps, dtype=x.dtype, device=x.device)
    weights = torch.full((steps,), 1.0 / (steps - 1), dtype=x.dtype, device=x.device)
    weights[0] /= 2
    weights[-1] /= 2
    with torch.no_grad():
        logits = logits_of(model(x))
    # one forward pass per step for every target column, one backward pass per column: the same
    # gradients as a forward pass per column (the same inputs through the same graph), summed over
    # the steps in the same order
    totals = [torch.zeros_like(x) for _ in range(targets.shape[1])]
    for a, wgt in zip(alphas, weights, strict=True):
        points = (b + a * (x - b)).detach().requires_grad_(True)
        out = logits_of(model(points))
        for k, total in enumerate(totals):
            score = out.gather(1, targets[:, k, None]).sum()
            (g,) = torch.autograd.grad(score, points, retain_graph=k < len(totals) - 1)
            total += wgt * g
    return torch.stack([total * (x - b) for total in totals], dim=1), logits


def gradient_shap(
    model: nn.Module,
    x: torch.Tensor,
    targets: torch.Tensor,
    baselines: torch.Tensor | None = None,
    n_samples: int = 20,
    stdev: float = 0.0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient SHAP for every column of ``targets``: ``([N, K, C, H, W], logits)``.

    ``baselines``: ``[B, C, H, W]`` reference inputs (default: one all-zero input).
    """
    if baselines is None:
        baselines = torch.zeros_like(x[:1])
    with torch.no_grad():
        logits = logits_of(model(x))
    maps = []
    for k in range(targets.shape[1]):
        # the same draws for every column: the map of a class does not depend on the others asked for
        gen = torch.Generator(device="cpu").manual_seed(seed)
        total = torch.zeros_like(x)
        for _ in range(n_samples):
            idx = torch.randint(len(baselines), (x.shape[0],), generator=gen)
            b = baselines[idx].to(x)
            alpha = torch.rand(x.shape[0], 1, 1, 1, generator=gen).to(x)
            noisy = x + stdev * torch.randn(x.shape, generator=gen).to(x)
            total += _grad(model, b + alpha * (noisy - b), targets[:, k]) * (noisy - b)
        maps.append(total / n_samples)
    return torch.stack(maps, dim=1), logits
