"""Exact incremental inference for local input changes: occlusion patches and one-pixel edits.

A patch (or a single pixel) changes the input only inside a rectangle. Through a convolution or a
pooling layer with kernel ``k``, stride ``s``, padding ``p`` and dilation ``d`` the rows an output
can differ in are exactly those whose window meets the changed input rows ``[a, b)``:

    a' = ceil((a + p - d·(k-1)) / s),   b' = floor((b - 1 + p) / s) + 1   (clipped to the map)

(the same for columns); pointwise layers (ReLU, eval-mode batch norm, …) keep the rectangle. So
the rectangle grows by the kernel's reach and shrinks with the stride at every layer, and every
activation outside it equals the clean image's.

The engine runs the clean image once and keeps each layer's input. For a batch of perturbed
copies it keeps, per layer, one fixed-size tile per copy (``th × tw``: the largest changed
rectangle in the batch, placed to contain that copy's rectangle and to lie inside the map). A
layer's tile is one batched ``conv2d`` / ``max_pool2d`` (padding 0) over an input window that is
read from the clean activations, zero- (or −∞-) padded, with the previous tile pasted in. From
the first layer whose tile covers its whole map the rest of the network runs as usual on the
batch. Nothing is approximated: every value is the same sum of the same products as in the full
forward pass, so the logits agree with it to float32 rounding (convolution kernels may sum in a
different order on a smaller window).

Models it reasons about (:func:`plan_of`): torchvision ``VGG`` and ``AlexNet``, the embedded
default's ``SmallVGG`` and ``SmallAlexNet`` (``features`` → ``avgpool`` → flatten →
``classifier``), and a plain ``nn.Sequential`` whose leading modules are spatial. ``features``
may hold ``Conv2d`` (zero padding), ``MaxPool2d``, ``AvgPool2d``, eval-mode ``BatchNorm2d`` and
``Dropout`` and pointwise activations; anything else (an inception block, a functional ReLU in a
custom ``forward``, a model in train mode) sends the model to the full path, logged once per
architecture.

Cost model (:meth:`IncrementalRunner.macs`): multiply-accumulates of the convolutions and linear
layers, full (every layer at its map's size) against incremental (tiles, then full from the
switch layer); pooling and pointwise layers are not counted.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cameval.explain._core import logits_of

log = logging.getLogger(__name__)

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
_SAID: set[str] = set()


@dataclass(frozen=True)
class _Spatial:
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


def _spatial(m: nn.Module) -> _Spatial | None:
    """The geometry of ``m`` if the engine can tile it exactly, else ``None``."""
    if type(m) is nn.Conv2d:
        if isinstance(m.padding, str) or m.padding_mode != "zeros":
            return None
        return _Spatial(_pair(m.kernel_size), _pair(m.stride), _pair(m.padding), _pair(m.dilation), 0.0, False)
    if type(m) is nn.MaxPool2d:
        if m.return_indices:
            return None
        stride = m.stride if m.stride is not None else m.kernel_size
        return _Spatial(
            _pair(m.kernel_size), _pair(stride), _pair(m.padding), _pair(m.dilation), float("-inf"), bool(m.ceil_mode)
        )
    if type(m) is nn.AvgPool2d:
        pad = _pair(m.padding)
        if m.ceil_mode or (any(pad) and not m.count_include_pad):
            return None  # partial windows would divide by a window-dependent count
        stride = m.stride if m.stride is not None else m.kernel_size
        return _Spatial(_pair(m.kernel_size), _pair(stride), pad, (1, 1), 0.0, False)
    return None


def _pointwise(m: nn.Module) -> bool:
    if not isinstance(m, POINTWISE):
        return False
    if isinstance(m, nn.BatchNorm2d):
        return not m.training and m.track_running_stats and m.running_mean is not None
    if isinstance(m, (nn.Dropout, nn.Dropout2d)):
        return not m.training
    return True


@dataclass
class Plan:
    """A model split into a prefix the engine tiles (``layers``) and a ``tail`` run on full maps."""

    layers: list[nn.Module]
    tail: Callable[[torch.Tensor], torch.Tensor]
    owner: nn.Module  # the model (its tail's linear layers are counted by :meth:`IncrementalRunner.macs`)


def _features_head(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda a: model.classifier(torch.flatten(model.avgpool(a), 1))


def _known_heads() -> tuple[type, ...]:
    from cameval.models.small import SmallAlexNet, SmallVGG

    heads: tuple[type, ...] = (SmallVGG, SmallAlexNet)
    if "torchvision" in sys.modules:  # else no model here can be torchvision's: no need to pay its import
        tv = sys.modules["torchvision"].models
        heads += (tv.VGG, tv.AlexNet)
    return heads


def plan_of(model: nn.Module) -> tuple[Plan | None, str]:
    """Split ``model`` for the engine, or ``(None, why not)``.

    Exact types only: a subclass may override ``forward``. For the ``features`` architectures
    every module of ``features`` must be tileable; for an ``nn.Sequential`` the tiled prefix is its
    leading run of tileable modules and the rest is the tail.
    """
    if any(m.training for m in model.modules()):
        return None, "the model is in train mode (batch norm / dropout would differ per copy)"
    if type(model) in _known_heads():
        layers = list(model.features)
        bad = [
            f"features.{i} ({type(m).__name__})"
            for i, m in enumerate(layers)
            if _spatial(m) is None and not _pointwise(m)
        ]
        if bad:
            return None, f"no exact tiling for {', '.join(bad)}"
        return Plan(layers, _features_head(model), model), ""
    if type(model) is nn.Sequential:
        layers = []
        for m in model:
            if _spatial(m) is None and not _pointwise(m):
                break
            layers.append(m)
        if not any(_spatial(m) for m in layers):
            return None, "its first module is not a convolution or pooling layer"
        return Plan(layers, nn.Sequential(*list(model)[len(layers) :]), model), ""
    return None, f"{type(model).__name__} is not a features/avgpool/classifier network or an nn.Sequential"


def plan_or_say(model: nn.Module, purpose: str, incremental: bool | None, device: torch.device) -> Plan | None:
    """:func:`plan_of` where ``incremental`` asks for it, else None (full forward passes); logs once
    per architecture and purpose when the model takes the full path. ``incremental=None``: on the
    CPU only, where the saved arithmetic is the time saved; on a GPU batched full passes are faster
    (docs/benchmarks.md)."""
    if incremental is None:
        incremental = device.type == "cpu"
    if not incremental:
        return None
    plan, why = plan_of(model)
    if plan is None:
        key = f"{purpose}:{type(model).__qualname__}:{why}"
        if key not in _SAID:
            _SAID.add(key)
            log.info("%s: full forward passes for %s: %s", purpose, type(model).__name__, why)
    return plan


def _changed(a: torch.Tensor, b: torch.Tensor, g: _Spatial, axis: int, out_len: int):
    """Output range ``[a', b')`` a layer can change given changed input ``[a, b)`` (see module doc)."""
    s, p, r = g.stride[axis], g.padding[axis], g.reach(axis)
    lo = torch.div(a + p - r + s - 1, s, rounding_mode="floor").clamp(0, out_len - 1)
    hi = (torch.div(b - 1 + p, s, rounding_mode="floor") + 1).clamp(max=out_len)
    return lo, torch.maximum(hi, lo + 1)  # a change no window reads leaves a 1-wide clean tile


def _hwc(a: torch.Tensor) -> torch.Tensor:
    """``[C, H, W]`` stored channels-last (``[H, W, C]`` contiguous): a crop is then ``h`` runs of
    ``w·C`` contiguous values, and convolutions take it without reordering."""
    return a.permute(1, 2, 0).contiguous().permute(2, 0, 1)


class _one_thread:
    """Copy kernels on one thread: the crops and pastes are many small copies, and splitting each
    over OpenMP threads costs more than it saves (×10 slower when other jobs share the cores)."""

    def __enter__(self):
        self.threads = torch.get_num_threads()
        if self.threads > 1:
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        if self.threads > 1:
            torch.set_num_threads(self.threads)


def _crops(src: torch.Tensor, ys: list[int], xs: list[int], h: int, w: int) -> torch.Tensor:
    """``[B, C, h, w]`` (channels-last): the ``h × w`` crops of ``src [C, H, W]`` (channels-last,
    see :func:`_hwc`) at ``(ys[b], xs[b])``."""
    hwc = src.permute(1, 2, 0)
    out = torch.empty(len(ys), h, w, src.shape[0], dtype=src.dtype, device=src.device)
    for b, (y, x) in enumerate(zip(ys, xs)):
        out[b] = hwc[y : y + h, x : x + w]
    return out.permute(0, 3, 1, 2)


def _batch(a: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` channels-last copies ``[n, C, H, W]`` of ``a [C, H, W]``."""
    return a.expand(n, -1, -1, -1).contiguous(memory_format=torch.channels_last)


def _paste_(dst: torch.Tensor, dy: list[int], dx: list[int], tile: torch.Tensor, oy: list[int], ox: list[int]):
    """Write ``tile [B, C, th, tw]`` (copy b at map origin ``(oy[b], ox[b])``) into ``dst [B, C, h, w]``
    (copy b's pixel (0, 0) is the map's ``(dy[b], dx[b])``) where they overlap; in place."""
    th, tw = tile.shape[-2:]
    h, w = dst.shape[-2:]
    for b, (y0, x0, ty, tx) in enumerate(zip(dy, dx, oy, ox)):
        r0, r1, c0, c1 = max(ty, y0), min(ty + th, y0 + h), max(tx, x0), min(tx + tw, x0 + w)
        if r0 < r1 and c0 < c1:
            dst[b, :, r0 - y0 : r1 - y0, c0 - x0 : c1 - x0] = tile[b, :, r0 - ty : r1 - ty, c0 - tx : c1 - tx]
    return dst


class IncrementalRunner:
    """Logits of many locally changed copies of one image, from its clean activations.

    ``x``: one image ``[1, C, H, W]``. :meth:`logits` takes, per copy, the changed input rectangle
    and the copy's values on a tile containing it.
    """

    def __init__(self, plan: Plan, x: torch.Tensor):
        if x.ndim != 4 or x.shape[0] != 1:
            raise ValueError(f"IncrementalRunner: expected one image [1, C, H, W]; got {tuple(x.shape)}")
        self.plan, self.x = plan, x
        self.geom = [_spatial(m) for m in plan.layers]
        self.inputs: list[
            torch.Tensor | None
        ] = []  # padded clean input of each spatial layer, [C, H+, W+] channels-last
        self.sizes: list[tuple[int, int]] = []  # output map size of each layer
        self.in_sizes: list[tuple[int, int]] = []
        a = x
        with torch.no_grad():
            for m, g in zip(plan.layers, self.geom):
                self.in_sizes.append(tuple(a.shape[-2:]))
                if g is None:
                    self.inputs.append(None)
                else:
                    (pt, pl), (sy, sx) = g.padding, g.stride
                    extra = (sy, sx) if g.ceil_mode else (0, 0)
                    self.inputs.append(_hwc(F.pad(a[0], (pl, pl + extra[1], pt, pt + extra[0]), value=g.pad_value)))
                a = m(a.clone())  # clone: an in-place ReLU must not overwrite a kept input
                self.sizes.append(tuple(a.shape[-2:]))
            self.features = a
            self.clean_logits = logits_of(plan.tail(a.clone()))

    def _tiles(self, rects: torch.Tensor):
        """Per layer: ``(oy, ox, th, tw)`` of the output tiles (origins as lists), or ``None`` at the
        switch layer (where the tile would cover the map), after which nothing is listed."""
        a0, a1, b0, b1 = rects.unbind(1)
        out = []
        for g, (h, w) in zip(self.geom, self.sizes):
            if g is not None:
                a0, a1 = _changed(a0, a1, g, 0, h)
                b0, b1 = _changed(b0, b1, g, 1, w)
            th, tw = min(int((a1 - a0).max()), h), min(int((b1 - b0).max()), w)
            if th == h and tw == w:
                out.append(None)
                break
            out.append((a0.clamp(max=h - th).tolist(), b0.clamp(max=w - tw).tolist(), th, tw))
        return out

    @torch.no_grad()
    def logits(self, rects: torch.Tensor, tile: torch.Tensor, oy, ox) -> torch.Tensor:
        """Logits ``[B, classes]`` of the copies of ``x`` that equal ``tile [B, C, th, tw]`` on the
        rectangle at ``(oy[b], ox[b])`` and ``x`` elsewhere; ``rects [B, 4]`` = ``(r0, r1, c0, c1)``
        half-open, the part of the tile that differs from ``x`` (it must contain every change)."""
        tiles = self._tiles(rects)
        oy, ox = torch.as_tensor(oy).tolist(), torch.as_tensor(ox).tolist()
        n = len(tile)
        for li, (m, g) in enumerate(zip(self.plan.layers, self.geom)):
            spec = tiles[li] if li < len(tiles) else None
            if spec is None:  # the switch layer: paste the tile into the clean input, run the rest whole
                clean = self.x[0] if li == 0 else self._clean_input(li)
                with _one_thread():
                    a = _paste_(_batch(clean, n), [0] * n, [0] * n, tile, oy, ox)
                for rest in self.plan.layers[li:]:
                    a = rest(a)
                return logits_of(self.plan.tail(a))
            ny, nx, th, tw = spec
            if g is None:
                tile = m(tile)
            else:
                (sy, sx), (pt, pl) = g.stride, g.padding
                wh, ww = (th - 1) * sy + g.reach(0) + 1, (tw - 1) * sx + g.reach(1) + 1
                wy, wx = [y * sy for y in ny], [x * sx for x in nx]  # window origins, padded coordinates
                with _one_thread():
                    win = _crops(self.inputs[li], wy, wx, wh, ww)
                    _paste_(win, [y - pt for y in wy], [x - pl for x in wx], tile, oy, ox)
                tile = self._apply(m, g, win)
            oy, ox = ny, nx
        with _one_thread():
            full = _paste_(_batch(self.features[0], n), [0] * n, [0] * n, tile, oy, ox)
        return logits_of(self.plan.tail(full))

    def _clean_input(self, li: int) -> torch.Tensor:
        """The clean input ``[C, H, W]`` of spatial layer ``li`` (its kept copy, padding removed)."""
        (pt, pl), (h, w) = self.geom[li].padding, self.in_sizes[li]
        return self.inputs[li][:, pt : pt + h, pl : pl + w]

    @staticmethod
    def _apply(m: nn.Module, g: _Spatial, win: torch.Tensor) -> torch.Tensor:
        if isinstance(m, nn.Conv2d):
            return F.conv2d(win, m.weight, m.bias, m.stride, 0, m.dilation, m.groups)
        if isinstance(m, nn.MaxPool2d):
            return F.max_pool2d(win, g.kernel, g.stride, 0, g.dilation, ceil_mode=False)
        return F.avg_pool2d(
            win, g.kernel, g.stride, 0, ceil_mode=False, count_include_pad=True, divisor_override=m.divisor_override
        )

    def macs(self, rects: torch.Tensor) -> tuple[float, float]:
        """Multiply-accumulates per copy, ``(full, incremental)``, of the convolutions (tiles until
        the switch layer) and the tail's linear / conv layers; summed over the copies in ``rects``."""
        n = len(rects)
        tiles = self._tiles(rects)
        full = incr = 0.0
        for li, (m, (h, w)) in enumerate(zip(self.plan.layers, self.sizes)):
            if isinstance(m, nn.Conv2d):
                per = m.out_channels * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
                full += n * per * h * w
                spec = tiles[li] if li < len(tiles) else None
                incr += n * per * (h * w if spec is None else spec[2] * spec[3])
        tail = n * _tail_macs(self.plan, self.features)
        return full + tail, incr + tail


def _tail_macs(plan: Plan, features: torch.Tensor) -> float:
    """MACs of the linear and conv layers the tail runs on one map (counted with forward hooks)."""
    total = [0.0]

    def hook(m, inp, out):
        if isinstance(m, nn.Linear):
            total[0] += m.in_features * m.out_features
        else:
            total[0] += (
                out.shape[-1]
                * out.shape[-2]
                * m.out_channels
                * (m.in_channels // m.groups)
                * m.kernel_size[0]
                * m.kernel_size[1]
            )

    handles = [m.register_forward_hook(hook) for m in plan.owner.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    try:
        with torch.no_grad():
            plan.tail(features.clone())
    finally:
        for h in handles:
            h.remove()
    return total[0]


def patch_tiles(
    x: torch.Tensor, r0: torch.Tensor, r1: torch.Tensor, c0: torch.Tensor, c1: torch.Tensor, fill: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, list[int], list[int]]:
    """Input tiles of copies of ``x [C, H, W]`` with ``fill`` on rows ``[r0, r1)`` × cols ``[c0, c1)``
    (``[B]`` each, clipped): ``(rects [B, 4], tiles [B, C, th, tw], oy, ox)`` for :meth:`IncrementalRunner.logits`."""
    h, w = x.shape[-2:]
    th, tw = int((r1 - r0).max()), int((c1 - c0).max())
    oy, ox = r0.clamp(max=h - th).tolist(), c0.clamp(max=w - tw).tolist()
    with _one_thread():
        tiles = _crops(_hwc(x), oy, ox, th, tw)
    for b, (y, xx, a0, a1, b0, b1) in enumerate(zip(oy, ox, r0.tolist(), r1.tolist(), c0.tolist(), c1.tolist())):
        tiles[b, :, a0 - y : a1 - y, b0 - xx : b1 - xx] = fill
    return torch.stack([r0, r1, c0, c1], 1), tiles, oy, ox


@torch.no_grad()
def pixel_logits(
    model: nn.Module,
    x: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    values: torch.Tensor,
    *,
    batch_size: int = 100,
    incremental: bool | None = None,
) -> torch.Tensor:
    """Logits ``[P, classes]`` of ``P`` copies of one image ``x [C, H, W]`` (model space), copy ``p``
    with pixel ``(rows[p], cols[p])`` set to ``values[p] [C]`` — what a one-pixel attack scores.

    Exact: equal to ``model(stack of the edited copies)`` to float32 rounding. Incremental
    (:class:`IncrementalRunner`, one clean forward pass per call) where :func:`plan_of` allows and
    ``incremental``; otherwise full forward passes, ``batch_size`` copies at a time. ``incremental=None``
    (the default): incremental on the CPU, full on a GPU (where batched full passes are as fast).
    """
    if x.ndim != 3:
        raise ValueError(f"pixel_logits: x must be one image [C, H, W]; got {tuple(x.shape)}")
    rows, cols = torch.as_tensor(rows, device=x.device).long(), torch.as_tensor(cols, device=x.device).long()
    values = torch.as_tensor(values, dtype=x.dtype, device=x.device)
    if values.shape != (len(rows), x.shape[0]) or cols.shape != rows.shape:
        raise ValueError(
            f"pixel_logits: expected rows, cols [P] and values [P, {x.shape[0]}]; got "
            f"{tuple(rows.shape)}, {tuple(cols.shape)}, {tuple(values.shape)}"
        )
    plan = plan_or_say(model, "one-pixel scoring", incremental, x.device)
    out = []
    if plan is not None:
        runner = IncrementalRunner(plan, x[None])
        for b0 in range(0, len(rows), batch_size):
            r, c = rows[b0 : b0 + batch_size], cols[b0 : b0 + batch_size]
            rects = torch.stack([r, r + 1, c, c + 1], 1)
            tile = values[b0 : b0 + batch_size, :, None, None]
            out.append(runner.logits(rects, tile, r, c))
    else:
        for b0 in range(0, len(rows), batch_size):
            r, c = rows[b0 : b0 + batch_size], cols[b0 : b0 + batch_size]
            xb = x.expand(len(r), -1, -1, -1).clone()
            xb[torch.arange(len(r), device=x.device), :, r, c] = values[b0 : b0 + batch_size]
            out.append(logits_of(model(xb)))
    return torch.cat(out) if out else torch.empty(0, 0, dtype=x.dtype, device=x.device)
