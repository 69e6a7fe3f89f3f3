"""How a model splits into the prefix the engine tiles and the tail run on whole maps.

Models it reasons about (:func:`plan_of`): torchvision ``VGG`` and ``AlexNet``, the embedded
default's ``SmallVGG`` and ``SmallAlexNet`` (``features`` → ``avgpool`` → flatten →
``classifier``), torchvision ``ResNet`` (the stem, then ``BasicBlock`` / ``Bottleneck`` blocks with
an identity or ``downsample`` shortcut, then ``avgpool`` → flatten → ``fc``: resnet18 … resnet152,
the ResNeXts and wide ResNets), and a plain ``nn.Sequential`` whose leading modules are spatial
or residual blocks. The tiled modules may be ``Conv2d`` (zero padding), ``MaxPool2d``,
``AvgPool2d``, eval-mode ``BatchNorm2d`` and ``Dropout`` and pointwise activations; anything else
(an inception block, a functional ReLU in a custom ``forward``, a block subclass, group norm, a
model in train mode) sends the model to the full path, logged once per architecture.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cameval.inference.geometry import residual_parts, spatial_of, tileable

log = logging.getLogger(__name__)
_SAID: set[str] = set()


@dataclass
class Plan:
    """A model split into a prefix the engine tiles (``layers``) and a ``tail`` run on full maps."""

    layers: list[nn.Module]
    tail: Callable[[torch.Tensor], torch.Tensor]
    owner: nn.Module  # the model (its tail's linear layers are counted by :meth:`IncrementalRunner.macs`)


def _features_head(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda a: model.classifier(torch.flatten(model.avgpool(a), 1))


#: architectures whose ``forward`` is ``classifier(flatten(avgpool(features(x))))`` with ``features`` an
#: ``nn.Sequential``, registered by their defining module (:func:`tiles_like_features`); exact types only
_FEATURES_HEADS: set[type] = set()


def tiles_like_features(cls: type) -> type:
    """Class decorator: ``cls`` runs ``classifier(flatten(avgpool(features(x))))`` as torchvision's
    ``VGG`` does, so :func:`plan_of` may tile its ``features`` (the embedded default's small networks
    say so where they are defined: no import of the model zoo here)."""
    _FEATURES_HEADS.add(cls)
    return cls


def _known_heads() -> tuple[type, ...]:
    heads = tuple(_FEATURES_HEADS)
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
    bad = [f"{n} ({type(m).__name__})" for n, m in named if not tileable(m)]
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
        bad = [f"features.{i} ({type(m).__name__})" for i, m in enumerate(layers) if not tileable(m)]
        if bad:
            return None, f"no exact tiling for {', '.join(bad)}"
        return Plan(layers, _features_head(model), model), ""
    tv = sys.modules.get("torchvision")
    if tv is not None and type(model) is tv.models.ResNet:
        return _resnet_plan(model)
    if type(model) is nn.Sequential:
        layers = []
        for m in model:
            if not tileable(m):
                break
            layers.append(m)
        if not any(spatial_of(m) is not None or residual_parts(m) is not None for m in layers):
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
