"""The runner: logits of many locally changed copies of one image, from its clean activations.

The engine runs the clean image once and keeps each layer's input. For a batch of perturbed
copies it keeps, per layer, one fixed-size tile per copy (``th × tw``: the largest changed
rectangle in the batch, placed to contain that copy's rectangle and to lie inside the map). A
layer's tile is one batched ``conv2d`` / ``max_pool2d`` (padding 0) over an input window that is
read from the clean activations, zero- (or −∞-) padded, with the previous tile pasted in. From
the first layer whose tile covers its whole map the rest of the network runs as usual on the
batch. Nothing is approximated: every value is the same sum of the same products as in the full
forward pass, so the logits agree with it to float32 rounding (convolution kernels may sum in a
different order on a smaller window).

Cost model (:meth:`IncrementalRunner.macs`): multiply-accumulates of the convolutions (the
blocks' branches and projections included) and linear layers, full (every layer at its map's
size) against incremental (tiles, then full from the switch); additions, pooling and pointwise
layers are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cameval.inference.geometry import Spatial, changed_range, residual_parts, spatial_of
from cameval.inference.outputs import logits_of
from cameval.inference.plans import Plan, plan_or_say
from cameval.inference.tiles import apply_padded, batch_copies, hwc, one_thread, paste_, window


@dataclass(eq=False)
class _Leaf:
    """A conv / pool / pointwise layer as the runner applies it, with what it keeps of the clean pass."""

    module: nn.Module
    geom: Spatial | None  # None: pointwise
    k: int  # its entry in the specs of a batch (:meth:`IncrementalRunner._specs`)
    input: torch.Tensor | None = None  # conv / pool: the padded clean input [C, H+, W+], channels-last
    in_size: tuple[int, int] = (0, 0)
    out_size: tuple[int, int] = (0, 0)

    def clean_input(self) -> torch.Tensor:
        """The clean input ``[C, H, W]`` (the kept copy, padding removed)."""
        (pt, pl), (h, w) = self.geom.padding, self.in_size
        return self.input[:, pt : pt + h, pl : pl + w]


@dataclass(eq=False)
class _Block:
    """A residual block ``post(main(x) + shortcut(x))``, each branch a chain of leaves (an empty
    shortcut is the identity). It keeps both branches' clean outputs (channels-last): outside its
    own tile a branch's output is the clean one, so the block's output tile, the bounding box of
    the branches' changed rectangles, is the clean outputs with each branch's tile pasted in, added
    and activated there, as ``forward`` adds and activates every pixel."""

    module: nn.Module
    main: list[_Leaf]
    shortcut: list[_Leaf]
    post: nn.Module
    k: int
    main_out: torch.Tensor | None = None
    short_out: torch.Tensor | None = None
    out_size: tuple[int, int] = (0, 0)


class IncrementalRunner:
    """Logits of many locally changed copies of one image, from its clean activations.

    ``x``: one image ``[1, C, H, W]``. :meth:`logits` takes, per copy, the changed input rectangle
    and the copy's values on a tile containing it.

    A batch's state between layers is either tiles ``(tile [B, C, th, tw], oy, ox)`` (the origins
    as lists) or, from the switch on, whole maps ``[B, C, H, W]``.
    """

    def __init__(self, plan: Plan, x: torch.Tensor):
        if x.ndim != 4 or x.shape[0] != 1:
            raise ValueError(f"IncrementalRunner: expected one image [1, C, H, W]; got {tuple(x.shape)}")
        self.plan, self.x = plan, x
        self.leaves: list[_Leaf] = []  # every conv / pool / pointwise layer, the blocks' branches included
        self.count = 0  # nodes (leaves and blocks): the length of a batch's specs
        self.steps = [self._node(m) for m in plan.layers]
        with torch.no_grad():
            self.features = self._clean(self.steps, x)
            self.clean_logits = logits_of(plan.tail(self.features.clone()))

    def _leaf(self, m: nn.Module) -> _Leaf:
        leaf = _Leaf(m, spatial_of(m), self.count)
        self.count += 1
        self.leaves.append(leaf)
        return leaf

    def _node(self, m: nn.Module) -> _Leaf | _Block:
        parts = residual_parts(m)
        if parts is None:
            return self._leaf(m)
        main, short, post = parts
        block = _Block(m, [self._leaf(p) for p in main], [self._leaf(p) for p in short], post, self.count)
        self.count += 1
        return block

    def _clean(self, nodes: list, a: torch.Tensor) -> torch.Tensor:
        """The clean image through ``nodes``, keeping what the tiles read: each conv / pool layer's
        padded input, each block's branch outputs."""
        for node in nodes:
            if isinstance(node, _Block):
                main, short = self._clean(node.main, a), self._clean(node.shortcut, a)
                node.main_out, node.short_out = hwc(main[0]), hwc(short[0])
                a = node.post(main + short)
            else:
                node.in_size = tuple(a.shape[-2:])
                g = node.geom
                if g is not None:
                    (pt, pl), (sy, sx) = g.padding, g.stride
                    extra = (sy, sx) if g.ceil_mode else (0, 0)
                    pad = (pl, pl + extra[1], pt, pt + extra[0])
                    node.input = hwc(F.pad(a[0], pad, value=g.pad_value) if any(pad) else a[0])
                # clone for an in-place layer: it must not overwrite x or a block's input (its identity branch)
                a = node.module(a.clone() if getattr(node.module, "inplace", False) else a)
            node.out_size = tuple(a.shape[-2:])
        return a

    def _specs(self, rects: torch.Tensor) -> list:
        """Per node (by ``k``): ``(oy, ox, th, tw)`` of its output tiles (origins as lists), ``True``
        for a pointwise layer (it keeps its input's tiles), or ``None``: from the first node whose
        tile would cover its map (the switch) on, whole maps. A block's branches are listed even
        when the other branch switches (the block's output is then whole)."""
        specs: list = [None] * self.count
        self._chain_specs(self.steps, tuple(rects.unbind(1)), specs)
        return specs

    def _chain_specs(self, nodes: list, rect: tuple, specs: list) -> tuple | None:
        """Fill ``specs`` for the chain ``nodes`` given the changed rectangle ``rect`` ``(a0, a1, b0,
        b1)`` ([B] each) of its input; return its output's, or ``None`` where the chain switches."""
        for node in nodes:
            if isinstance(node, _Block):
                main, short = self._chain_specs(node.main, rect, specs), self._chain_specs(node.shortcut, rect, specs)
                if main is None or short is None:
                    return None
                rect = (
                    torch.minimum(main[0], short[0]),
                    torch.maximum(main[1], short[1]),
                    torch.minimum(main[2], short[2]),
                    torch.maximum(main[3], short[3]),
                )
            elif node.geom is None:
                specs[node.k] = True
                continue
            else:
                h, w = node.out_size
                rect = (
                    *changed_range(rect[0], rect[1], node.geom, 0, h),
                    *changed_range(rect[2], rect[3], node.geom, 1, w),
                )
            h, w = node.out_size
            th, tw = min(int((rect[1] - rect[0]).max()), h), min(int((rect[3] - rect[2]).max()), w)
            if th == h and tw == w:
                return None
            specs[node.k] = (rect[0].clamp(max=h - th).tolist(), rect[2].clamp(max=w - tw).tolist(), th, tw)
        return rect

    @torch.no_grad()
    def logits(self, rects: torch.Tensor, tile: torch.Tensor, oy, ox) -> torch.Tensor:
        """Logits ``[B, classes]`` of the copies of ``x`` that equal ``tile [B, C, th, tw]`` on the
        rectangle at ``(oy[b], ox[b])`` and ``x`` elsewhere; ``rects [B, 4]`` = ``(r0, r1, c0, c1)``
        half-open, the part of the tile that differs from ``x`` (it must contain every change)."""
        specs = self._specs(rects)
        state = (tile, torch.as_tensor(oy).tolist(), torch.as_tensor(ox).tolist())
        state = self._run(self.steps, specs, state)
        return logits_of(self.plan.tail(self._whole(state, self.features[0])))

    def _run(self, nodes: list, specs: list, state):
        """The chain ``nodes`` on a batch's ``state`` (tiles or whole maps, see the class doc)."""
        for node in nodes:
            if isinstance(state, torch.Tensor):  # whole maps: the layer or block as its forward runs it
                state = node.module(state)
            elif isinstance(node, _Block):
                state = self._block(node, specs, state)
            elif specs[node.k] is None:  # the switch: the tiles pasted into the clean input, run whole
                state = node.module(self._whole(state, node.clean_input()))
            elif node.geom is None:
                state = (node.module(state[0]), state[1], state[2])
            else:
                ny, nx, th, tw = specs[node.k]
                g = node.geom
                (sy, sx), pad = g.stride, g.padding
                wh, ww = (th - 1) * sy + g.reach(0) + 1, (tw - 1) * sx + g.reach(1) + 1
                wy, wx = [y * sy for y in ny], [x * sx for x in nx]  # window origins, padded coordinates
                state = (apply_padded(node.module, g, window(node.input, wy, wx, wh, ww, pad, state)), ny, nx)
        return state

    def _block(self, block: _Block, specs: list, state):
        main, short = self._run(block.main, specs, state), self._run(block.shortcut, specs, state)
        spec = specs[block.k]
        if spec is None:
            return block.post(self._whole(main, block.main_out) + self._whole(short, block.short_out))
        oy, ox, th, tw = spec
        main = window(block.main_out, oy, ox, th, tw, (0, 0), main)
        return block.post(main + window(block.short_out, oy, ox, th, tw, (0, 0), short)), oy, ox

    @staticmethod
    def _whole(state, clean: torch.Tensor) -> torch.Tensor:
        """Whole maps ``[B, C, H, W]``: a state's tiles pasted into copies of the clean map ``clean``."""
        if isinstance(state, torch.Tensor):
            return state
        tile, oy, ox = state
        n = len(tile)
        with one_thread():
            return paste_(batch_copies(clean, n), [0] * n, [0] * n, tile, oy, ox)

    def macs(self, rects: torch.Tensor) -> tuple[float, float]:
        """Multiply-accumulates per copy, ``(full, incremental)``, of the convolutions (tiles until
        the switch, the blocks' branches and projections included) and the tail's linear / conv
        layers; summed over the copies in ``rects``. Additions, pooling and pointwise layers are not
        counted."""
        n = len(rects)
        specs = self._specs(rects)
        full = incr = 0.0
        for leaf in self.leaves:
            m = leaf.module
            if isinstance(m, nn.Conv2d):
                (h, w), spec = leaf.out_size, specs[leaf.k]
                per = m.out_channels * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
                full += n * per * h * w
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
