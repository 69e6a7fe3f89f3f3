"""Shared machinery of the explainers: layer lookup, activation capture, target handling.

Conventions kept by every explainer:
- ``x`` is a float tensor ``[N, C, H, W]`` in the model's input space (after normalization);
- the score of class c is the pre-softmax logit ``y^c``;
- the model is left exactly as it was: hooks are removed and patches undone in ``finally``
  blocks, its mode (train/eval) is not changed, and no parameter's ``.grad`` is touched
  (gradients are taken with ``torch.autograd.grad`` with respect to activations or inputs only).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import torch
from torch import nn

from cameval.errors import ConfigError

#: The default Grad-CAM layer per architecture (class name): the last spatial feature map of the
#: convolutional trunk. The study's: VGG (the last ReLU of ``features``), AlexNet, GoogLeNet — the last
#: convolutional feature map after its ReLU. DenseNet: the final feature block (``norm5``'s output),
#: i.e. *before* the ReLU that torchvision applies functionally in ``forward`` and that no module
#: exposes; its activations can be negative (pytorch-grad-cam's DenseNet examples use the same
#: layer). The others are the block whose output the head pools (ResNet, ResNeXt and Wide ResNet
#: ``layer4``, Inception v3 ``Mixed_7c``, RegNet ``trunk_output``, ShuffleNet v2 ``conv5``, MNASNet
#: ``layers``); ConvNeXt, EfficientNet, MobileNet and SqueezeNet are found from their ``features``.
DEFAULT_LAYERS = {
    "VGG": None,  # last ReLU of ``features``: features.29 for VGG-16, features.42 for VGG-16-BN
    "AlexNet": "features.11",
    "GoogLeNet": "inception5b",
    "DenseNet": "features",
    "ResNet": "layer4",
    "Inception3": "Mixed_7c",
    "RegNet": "trunk_output",
    "ShuffleNetV2": "conv5",
    "MNASNet": "layers",
}
#: architectures without a convolutional trunk whose last feature map a CAM could weigh: tokens
#: (ViT, Swin's channels-last stages) or a ModuleList of stages (MaxViT); they need ``layer:``
NO_DEFAULT_LAYER = ("VisionTransformer", "SwinTransformer", "MaxVit")
_STAGE = re.compile(r"^layer(\d+)$")


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """Return the submodule called ``name`` (a dotted path such as ``features.29``)."""
    modules = dict(model.named_modules())
    if name not in modules:
        some = [n for n in modules if n][-8:]
        raise ConfigError(
            f"layer {name!r}: no such module in {type(model).__name__} "
            f"(expected a dotted module name; the last ones are {some})"
        )
    return modules[name]


def default_layer(model: nn.Module) -> str:
    """The default Grad-CAM layer of ``model``: the last spatial feature map of its convolutional trunk.

    In this order: a ``cameval_default_layer`` attribute (the small networks of the embedded default
    state theirs); ``DEFAULT_LAYERS`` by class name (for VGG the last ReLU of ``features`` is found
    by type, so VGG-16 gives ``features.29`` and VGG-16-BN ``features.42``); the last block of a
    ``features`` ``nn.Sequential`` (ConvNeXt ``features.7``, EfficientNet-B0 ``features.8``,
    MobileNet v2 ``features.18``, SqueezeNet ``features.12``); the last of the children ``layer1``,
    ``layer2`` … (ResNet-style networks); the last ``nn.ReLU`` or, failing that, the last
    ``nn.Conv2d`` in module order. ``NO_DEFAULT_LAYER`` architectures (transformers) and models
    without any of these raise :class:`ConfigError` asking for ``layer``.
    """
    own = getattr(model, "cameval_default_layer", None)
    if own:
        return own
    kind = type(model).__name__
    if kind in NO_DEFAULT_LAYER:
        raise ConfigError(
            f"{kind}: no convolutional feature map to explain by default (a transformer's blocks hold "
            "tokens, not a spatial map); give the layer to explain (layer: a dotted module name)"
        )
    if DEFAULT_LAYERS.get(kind):
        return DEFAULT_LAYERS[kind]
    named = list(model.named_modules())
    if kind == "VGG":
        named = [(n, m) for n, m in named if n.startswith("features.")]
    else:
        features = getattr(model, "features", None)
        if isinstance(features, nn.Sequential) and len(features):
            return f"features.{list(features._modules)[-1]}"
        stages = sorted((int(m[1]), n) for n in model._modules if (m := _STAGE.match(n)))
        if stages:
            return stages[-1][1]
    for cls in (nn.ReLU, nn.Conv2d):
        found = [n for n, m in named if isinstance(m, cls)]
        if found:
            return found[-1]
    raise ConfigError(
        f"{kind}: no ReLU or Conv2d layer to explain by default; give the layer to explain "
        "(layer: a dotted module name)"
    )


def as_targets(target, n: int, device) -> torch.Tensor:
    """``target`` (int, sequence or tensor ``[N]`` or ``[N, K]``) as a LongTensor ``[N, K]``."""
    t = torch.as_tensor(target, dtype=torch.long, device=device)
    if t.ndim == 0:
        t = t.expand(n)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2 or t.shape[0] != n:
        raise ValueError(f"target: expected an int, [N] or [N, K] with N={n}; got shape {tuple(t.shape)}")
    return t


def check_input(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x: expected a float tensor [N, C, H, W]; got {shape}")


@contextlib.contextmanager
def capture(model: nn.Module, layer: str) -> Iterator[dict]:
    """Record the output of ``layer`` during a forward pass as ``store["a"]``.

    Downstream modules receive a clone, so an in-place operation after the layer cannot alter
    the recorded activation or invalidate the gradient taken with respect to it.
    """
    module = get_layer(model, layer)
    store: dict = {}

    def hook(_module, _inputs, output):
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"layer {layer!r} returns {type(output).__name__}, expected a tensor")
        store["a"] = output
        return output.clone()

    handle = module.register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def target_scores(logits: torch.Tensor, targets: torch.Tensor, k: int) -> torch.Tensor:
    """Sum over the batch of the logit of column ``k`` of ``targets`` (images are independent)."""
    return logits.gather(1, targets[:, k : k + 1]).sum()


def upsample(maps: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize of ``[..., h, w]`` maps to ``size`` (align_corners=False)."""
    if size is None:
        return maps
    size = (size, size) if isinstance(size, int) else tuple(size)
    lead = maps.shape[:-2]
    flat = maps.reshape(-1, 1, *maps.shape[-2:])
    out = torch.nn.functional.interpolate(flat, size=size, mode="bilinear", align_corners=False)
    return out.reshape(*lead, *size)
