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

A residual block ``relu(main(x) + shortcut(x))`` changes its output where either branch does:
its rectangle is the bounding box of the main branch's (grown and strided by each of its convs as
above) and the shortcut's (the input rectangle for the identity, mapped through the 1×1
strided conv of a projection). Each branch runs on its own tiles as above; the block keeps both
branches' clean outputs, and its output tile is those with each branch's tile pasted in, added
and activated: the same addition and ReLU as ``forward`` applies at every pixel. If either branch
switches to whole maps, the block's output is whole.

Models it reasons about (:func:`plan_of`): torchvision ``VGG`` and ``AlexNet``, the embedded
default's ``SmallVGG`` and ``SmallAlexNet`` (``features`` → ``avgpool`` → flatten →
``classifier``), torchvision ``ResNet`` (the stem, then ``BasicBlock`` / ``Bottleneck`` blocks with
an identity or ``downsample`` shortcut, then ``avgpool`` → flatten → ``fc``: resnet18 … resnet152,
the ResNeXts and wide ResNets), and a plain ``nn.Sequential`` whose leading modules are spatial
or residual blocks. The tiled modules may be ``Conv2d`` (zero padding), ``MaxPool2d``,
``AvgPool2d``, eval-mode ``BatchNorm2d`` and ``Dropout`` and pointwise activations; anything else
(an inception block, a functional ReLU in a custom ``forward``, a block subclass, group norm, a
model in train mode) sends the model to the full path, logged once per architecture.

Cost model (:meth:`IncrementalRunner.macs`): multiply-accumulates of the convolutions (the
blocks' branches and projections included) and linear layers, full (every layer at its map's
size) against incremental (tiles, then full from the switch); additions, pooling and pointwise
layers are not counted.
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


def _residual(m: nn.Module) -> tuple[list[nn.Module], list[nn.Module], nn.Module] | None:
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
    return _spatial(m) is not None or _pointwise(m)


def _tileable(m: nn.Module) -> bool:
    """A conv / pool layer, a pointwise layer, or a residual block made of them."""
    if _leaf_ok(m):
        return True
    parts = _residual(m)
    return parts is not None and all(_leaf_ok(p) for p in [*parts[0], *parts[1], parts[2]])


@dataclass
class Plan:
    """A model split into a prefix the engine tiles (``layers``) and a ``tail`` run on full maps."""

    layers: list[nn.Module]
    tail: Callable[[torch.Tensor], torch.Tensor]
    owner: nn.Module  # the model (its tail's linear layers are counted by :meth:`IncrementalRunner.macs`)


def _features_head(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda a: model.classifier(torch.flatten(model.avgpool(a), 1))


def _known_heads() -> tuple[type, ...]:
    from cameval.models.small import SmallAlexNet, SmallVGG  # noqa: PLC0415  # import cycle: cameval.models imports cameval.explain

    heads: tuple[type, ...] = (SmallVGG, SmallAlexNet)
    if "torchvision" in sys.modules:  # else no model here can be torchvision's: no need to pay its import
        tv = sys.modules["torchvision"].models
        heads += (tv.VGG, tv.AlexNet)
    return heads


def _resnet_plan(model: nn.Module) -> tuple[Plan | None, str]:
    """torchvision ``ResNet`` as its ``_forward_impl`` runs it: the stem (conv1, bn1, relu, maxpool),
    the blocks of ``layer1`` … ``layer4`` in order, then the tail ``avgpool`` → flatten → ``fc``."""
    named = [(n, getattr(model, n)) for n in ("conv1", "bn1", "relu", "maxpool")]
    for n in ("layer1", "layer2", "layer3", "layer4"):
        stage = getattr(model, n)
        if type(stage) is not nn.Sequential:
            return None, f"{n} ({type(stage).__name__}) is not an nn.Sequential"
        named += [(f"{n}.{i}", block) for i, block in enumerate(stage)]
    bad = [f"{n} ({type(m).__name__})" for n, m in named if not _tileable(m)]
    if bad:
        return None, f"no exact tiling for {', '.join(bad)}"
    return Plan([m for _, m in named], lambda a: model.fc(torch.flatten(model.avgpool(a), 1)), model), ""


def plan_of(model: nn.Module) -> tuple[Plan | None, str]:
    """Split ``model`` for the engine, or ``(None, why not)``.

    Exact types only: a subclass may override ``forward``. For the ``features`` architectures
    every module of ``features`` must be tileable, for a ``ResNet`` the stem and every block; for
    an ``nn.Sequential`` the tiled prefix is its leading run of tileable modules (residual blocks
    included) and the rest is the tail.
    """
    if any(m.training for m in model.modules()):
        return None, "the model is in train mode (batch norm / dropout would differ per copy)"
    if type(model) in _known_heads():
        layers = list(model.features)
        bad = [f"features.{i} ({type(m).__name__})" for i, m in enumerate(layers) if not _tileable(m)]
        if bad:
            return None, f"no exact tiling for {', '.join(bad)}"
        return Plan(layers, _features_head(model), model), ""
    tv = sys.modules.get("torchvision")
    if tv is not None and type(model) is tv.models.ResNet:
        return _resnet_plan(model)
    if type(model) is nn.Sequential:
        layers = []
        for m in model:
            if not _tileable(m):
                break
            layers.append(m)
        if not any(_spatial(m) is not None or _residual(m) is not None for m in layers):
            return None, "its first module is not a convolution, pooling layer or residual block"
        return Plan(layers, nn.Sequential(*list(model)[len(layers) :]), model), ""
    return None, f"{type(model).__name__} is not a features/avgpool/classifier network, a ResNet or an nn.Sequential"


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
    see :func:`_hwc`) at ``(ys[b], xs[b])``; one gather for all ``B`` (a loop of ``B`` slice copies
    cost a population's scoring more than its convolutions)."""
    hwc = src.permute(1, 2, 0)
    rows = torch.as_tensor(ys, device=src.device)[:, None] + torch.arange(h, device=src.device)
    cols = torch.as_tensor(xs, device=src.device)[:, None] + torch.arange(w, device=src.device)
    return hwc[rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def _batch(a: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` channels-last copies ``[n, C, H, W]`` of ``a [C, H, W]``."""
    return a.expand(n, -1, -1, -1).contiguous(memory_format=torch.channels_last)


def _paste_(dst: torch.Tensor, dy: list[int], dx: list[int], tile: torch.Tensor, oy: list[int], ox: list[int]):
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


def _window(
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
    with _one_thread():
        return _paste_(_crops(src, ys, xs, h, w), my, mx, tile, oy, ox)


def _apply(m: nn.Module, g: _Spatial, win: torch.Tensor) -> torch.Tensor:
    """Layer ``m`` on windows that already hold its padding (so padding 0 here)."""
    if isinstance(m, nn.Conv2d):
        return F.conv2d(win, m.weight, m.bias, m.stride, 0, m.dilation, m.groups)
    if isinstance(m, nn.MaxPool2d):
        return F.max_pool2d(win, g.kernel, g.stride, 0, g.dilation, ceil_mode=False)
    return F.avg_pool2d(
        win, g.kernel, g.stride, 0, ceil_mode=False, count_include_pad=True, divisor_override=m.divisor_override
    )


@dataclass(eq=False)
class _Leaf:
    """A conv / pool / pointwise layer as the runner applies it, with what it keeps of the clean pass."""

    module: nn.Module
    geom: _Spatial | None  # None: pointwise
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
        leaf = _Leaf(m, _spatial(m), self.count)
        self.count += 1
        self.leaves.append(leaf)
        return leaf

    def _node(self, m: nn.Module) -> _Leaf | _Block:
        parts = _residual(m)
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
                node.main_out, node.short_out = _hwc(main[0]), _hwc(short[0])
                a = node.post(main + short)
            else:
                node.in_size = tuple(a.shape[-2:])
                g = node.geom
                if g is not None:
                    (pt, pl), (sy, sx) = g.padding, g.stride
                    extra = (sy, sx) if g.ceil_mode else (0, 0)
                    pad = (pl, pl + extra[1], pt, pt + extra[0])
                    node.input = _hwc(F.pad(a[0], pad, value=g.pad_value) if any(pad) else a[0])
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
                rect = (*_changed(rect[0], rect[1], node.geom, 0, h), *_changed(rect[2], rect[3], node.geom, 1, w))
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
                state = (_apply(node.module, g, _window(node.input, wy, wx, wh, ww, pad, state)), ny, nx)
        return state

    def _block(self, block: _Block, specs: list, state):
        main, short = self._run(block.main, specs, state), self._run(block.shortcut, specs, state)
        spec = specs[block.k]
        if spec is None:
            return block.post(self._whole(main, block.main_out) + self._whole(short, block.short_out))
        oy, ox, th, tw = spec
        main = _window(block.main_out, oy, ox, th, tw, (0, 0), main)
        return block.post(main + _window(block.short_out, oy, ox, th, tw, (0, 0), short)), oy, ox

    @staticmethod
    def _whole(state, clean: torch.Tensor) -> torch.Tensor:
        """Whole maps ``[B, C, H, W]``: a state's tiles pasted into copies of the clean map ``clean``."""
        if isinstance(state, torch.Tensor):
            return state
        tile, oy, ox = state
        n = len(tile)
        with _one_thread():
            return _paste_(_batch(clean, n), [0] * n, [0] * n, tile, oy, ox)

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
    for b, (y, xx, a0, a1, b0, b1) in enumerate(
        zip(oy, ox, r0.tolist(), r1.tolist(), c0.tolist(), c1.tolist(), strict=True)
    ):
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
