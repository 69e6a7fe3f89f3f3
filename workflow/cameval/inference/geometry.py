"""Where a local input change can reach, layer by layer.

A patch (or a single pixel) changes the input only inside a rectangle. Through a convolution or a
pooling layer with kernel ``k``, stride ``s``, padding ``p`` and dilation ``d`` the rows an output
can differ in are exactly those whose window meets the changed input rows ``[a, b)``:

    a' = ceil((a + p - d·(k-1)) / s),   b' = floor((b - 1 + p) / s) + 1   (clipped to the map)

(the same for columns); pointwise layers (ReLU, eval-mode batch norm, …) keep the rectangle. So
the rectangle grows by the kernel's reach and shrinks with the stride at every layer, and every
activation outside it equals the clean image's.

A residual block ``relu(main(x) + shortcut(x))`` changes its output where either branch does:
its rectangle is the bounding box of the main branch's (grown and strided by each of its convs as
above) and the shortcut's (the input rectangle for the identity, mapped through the 1×1
strided conv of a projection). Each branch runs on its own tiles as above; the block keeps both
branches' clean outputs, and its output tile is those with each branch's tile pasted in, added
and activated: the same addition and ReLU as ``forward`` applies at every pixel. If either branch
switches to whole maps, the block's output is whole.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from torch import nn

#: modules applied elementwise (keep the changed rectangle); batch norm and dropout only in eval mode
POINTWISE = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Hardtanh,
    nn.Identity,
    nn.BatchNorm2d,
    nn.Dropout,
    nn.Dropout2d,
)


@dataclass(frozen=True)
class Spatial:
    """Geometry of one conv / pool layer along both axes (``(rows, cols)`` pairs)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    pad_value: float  # 0 for convolutions and average pools, -inf for max pools
    ceil_mode: bool

    def reach(self, axis: int) -> int:
        """``d·(k-1)``: how far a window extends past its first input index."""
        return self.dilation[axis] * (self.kernel[axis] - 1)


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def spatial_of(m: nn.Module) -> Spatial | None:
    """The geometry of ``m`` if the engine can tile it exactly, else ``None``."""
    if type(m) is nn.Conv2d:
        if isinstance(m.padding, str) or m.padding_mode != "zeros":
            return None
        return Spatial(_pair(m.kernel_size), _pair(m.stride), _pair(m.padding), _pair(m.dilation), 0.0, False)
    if type(m) is nn.MaxPool2d:
        if m.return_indices:
            return None
        stride = m.stride if m.stride is not None else m.kernel_size
        return Spatial(
            _pair(m.kernel_size), _pair(stride), _pair(m.padding), _pair(m.dilation), float("-inf"), bool(m.ceil_mode)
        )
    if type(m) is nn.AvgPool2d:
        pad = _pair(m.padding)
        if m.ceil_mode or (any(pad) and not m.count_include_pad):
            return None  # partial windows would divide by a window-dependent count
        stride = m.stride if m.stride is not None else m.kernel_size
        return Spatial(_pair(m.kernel_size), _pair(stride), pad, (1, 1), 0.0, False)
    return None


def pointwise(m: nn.Module) -> bool:
    if not isinstance(m, POINTWISE):
        return False
    if isinstance(m, nn.BatchNorm2d):
        return not m.training and m.track_running_stats and m.running_mean is not None
    if isinstance(m, (nn.Dropout, nn.Dropout2d)):
        return not m.training
    return True


def residual_parts(m: nn.Module) -> tuple[list[nn.Module], list[nn.Module], nn.Module] | None:
    """``(main branch, shortcut, activation)`` of a torchvision ``BasicBlock`` or ``Bottleneck``, whose
    ``forward`` is ``relu(main(x) + shortcut(x))``, else ``None``.

    The branches list the modules in the order ``forward`` applies them: BasicBlock conv1 (3×3,
    the block's stride) → bn1 → relu → conv2 (3×3) → bn2; Bottleneck conv1 (1×1) → bn1 → relu →
    conv2 (3×3, the stride) → bn2 → relu → conv3 (1×1) → bn3. Each conv's own geometry carries the
    stride, so where it sits needs no special case. The shortcut is empty (the identity) or
    ``downsample``'s modules (a 1×1 conv of the block's stride and a batch norm); a ``downsample``
    that is not a plain ``nn.Sequential`` may do anything in its ``forward``, so it is not read.
    """
    tv = sys.modules.get("torchvision")
    if tv is None:  # no model here can be torchvision's
        return None
    res = tv.models.resnet
    if type(m) is res.BasicBlock:
        main = [m.conv1, m.bn1, m.relu, m.conv2, m.bn2]
    elif type(m) is res.Bottleneck:
        main = [m.conv1, m.bn1, m.relu, m.conv2, m.bn2, m.relu, m.conv3, m.bn3]
    else:
        return None
    if m.downsample is None:
        return main, [], m.relu
    if type(m.downsample) is not nn.Sequential:
        return None
    return main, list(m.downsample), m.relu


def _leaf_ok(m: nn.Module) -> bool:
    return spatial_of(m) is not None or pointwise(m)


def tileable(m: nn.Module) -> bool:
    """A conv / pool layer, a pointwise layer, or a residual block made of them."""
    if _leaf_ok(m):
        return True
    parts = residual_parts(m)
    return parts is not None and all(_leaf_ok(p) for p in [*parts[0], *parts[1], parts[2]])


def changed_range(a: torch.Tensor, b: torch.Tensor, g: Spatial, axis: int, out_len: int):
    """Output range ``[a', b')`` a layer can change given changed input ``[a, b)`` (see module doc)."""
    s, p, r = g.stride[axis], g.padding[axis], g.reach(axis)
    lo = torch.div(a + p - r + s - 1, s, rounding_mode="floor").clamp(0, out_len - 1)
    hi = (torch.div(b - 1 + p, s, rounding_mode="floor") + 1).clamp(max=out_len)
    return lo, torch.maximum(hi, lo + 1)  # a change no window reads leaves a 1-wide clean tile
