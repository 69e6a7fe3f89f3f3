"""Crops and pastes of channels-last tiles: what the runner copies between layers, as one gather or one
scatter for a whole batch of copies."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cameval.inference.geometry import Spatial


def hwc(a: torch.Tensor) -> torch.Tensor:
    """``[C, H, W]`` stored channels-last (``[H, W, C]`` contiguous): a crop is then ``h`` runs of
    ``w·C`` contiguous values, and convolutions take it without reordering."""
    return a.permute(1, 2, 0).contiguous().permute(2, 0, 1)


class one_thread:
    """Copy kernels on one thread: the crops and pastes are many small copies, and splitting each
    over OpenMP threads costs more than it saves (×10 slower when other jobs share the cores)."""

    def __enter__(self):
        self.threads = torch.get_num_threads()
        if self.threads > 1:
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        if self.threads > 1:
            torch.set_num_threads(self.threads)


def crops(src: torch.Tensor, ys: list[int], xs: list[int], h: int, w: int) -> torch.Tensor:
    """``[B, C, h, w]`` (channels-last): the ``h × w`` crops of ``src [C, H, W]`` (channels-last,
    see :func:`hwc`) at ``(ys[b], xs[b])``; one gather for all ``B`` (a loop of ``B`` slice copies
    cost a population's scoring more than its convolutions)."""
    hwc = src.permute(1, 2, 0)
    rows = torch.as_tensor(ys, device=src.device)[:, None] + torch.arange(h, device=src.device)
    cols = torch.as_tensor(xs, device=src.device)[:, None] + torch.arange(w, device=src.device)
    return hwc[rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def batch_copies(a: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` channels-last copies ``[n, C, H, W]`` of ``a [C, H, W]``."""
    return a.expand(n, -1, -1, -1).contiguous(memory_format=torch.channels_last)


def paste_(dst: torch.Tensor, dy: list[int], dx: list[int], tile: torch.Tensor, oy: list[int], ox: list[int]):
    """Write ``tile [B, C, th, tw]`` (copy b at map origin ``(oy[b], ox[b])``) into ``dst [B, C, h, w]``
    (copy b's pixel (0, 0) is the map's ``(dy[b], dx[b])``) where they overlap; in place, as one
    scatter of the overlapping pixels of all ``B`` copies (each lands on its own pixel: a copy)."""
    th, tw = tile.shape[-2:]
    h, w = dst.shape[-2:]
    dev = dst.device
    rows = (
        torch.as_tensor(oy, device=dev)[:, None]
        - torch.as_tensor(dy, device=dev)[:, None]
        + torch.arange(th, device=dev)
    )
    cols = (
        torch.as_tensor(ox, device=dev)[:, None]
        - torch.as_tensor(dx, device=dev)[:, None]
        + torch.arange(tw, device=dev)
    )
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # [B, th, tw]
    b, i, j = inside.nonzero(as_tuple=True)
    dst_hwc, tile_hwc = dst.permute(0, 2, 3, 1), tile.permute(0, 2, 3, 1)
    dst_hwc[b, rows[b, i], cols[b, j]] = tile_hwc[b, i, j]
    return dst


def window(
    src: torch.Tensor, ys: list[int], xs: list[int], h: int, w: int, pad: tuple[int, int], state
) -> torch.Tensor:
    """``[B, C, h, w]``: the crops of the clean map ``src`` (channels-last, padded by ``pad``) at
    ``(ys[b], xs[b])`` (padded coordinates) with the tile of ``state`` (``(tile, oy, ox)``) pasted
    in; the tile itself where it is exactly that window (the input of a 1×1 stride-1 convolution,
    the main branch of a block whose output tile is the main branch's): nothing to copy."""
    tile, oy, ox = state
    my, mx = [y - pad[0] for y in ys], [x - pad[1] for x in xs]
    if tuple(tile.shape[-2:]) == (h, w) and my == oy and mx == ox:
        return tile
    with one_thread():
        return paste_(crops(src, ys, xs, h, w), my, mx, tile, oy, ox)


def apply_padded(m: nn.Module, g: Spatial, win: torch.Tensor) -> torch.Tensor:
    """Layer ``m`` on windows that already hold its padding (so padding 0 here)."""
    if isinstance(m, nn.Conv2d):
        return F.conv2d(win, m.weight, m.bias, m.stride, 0, m.dilation, m.groups)
    if isinstance(m, nn.MaxPool2d):
        return F.max_pool2d(win, g.kernel, g.stride, 0, g.dilation, ceil_mode=False)
    return F.avg_pool2d(
        win, g.kernel, g.stride, 0, ceil_mode=False, count_include_pad=True, divisor_override=m.divisor_override
    )


def patch_tiles(
    x: torch.Tensor, r0: torch.Tensor, r1: torch.Tensor, c0: torch.Tensor, c1: torch.Tensor, fill: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, list[int], list[int]]:
    """Input tiles of copies of ``x [C, H, W]`` with ``fill`` on rows ``[r0, r1)`` × cols ``[c0, c1)``
    (``[B]`` each, clipped): ``(rects [B, 4], tiles [B, C, th, tw], oy, ox)`` for :meth:`IncrementalRunner.logits`."""
    h, w = x.shape[-2:]
    th, tw = int((r1 - r0).max()), int((c1 - c0).max())
    oy, ox = r0.clamp(max=h - th).tolist(), c0.clamp(max=w - tw).tolist()
    with one_thread():
        tiles = crops(hwc(x), oy, ox, th, tw)
    for b, (y, xx, a0, a1, b0, b1) in enumerate(
        zip(oy, ox, r0.tolist(), r1.tolist(), c0.tolist(), c1.tolist(), strict=True)
    ):
        tiles[b, :, a0 - y : a1 - y, b0 - xx : b1 - xx] = fill
    return torch.stack([r0, r1, c0, c1], 1), tiles, oy, ox
