"""DenseNets for the X-ray experiment: CheXNet checkpoints, CAM layers, class order by name.

- :class:`CamDenseNet` is torchvision's ``DenseNet`` (same modules and names) with the ReLU that ``forward`` applies
  functionally after ``features`` exposed as the module ``features_relu`` (same parameters, same
  outputs), so a CAM can be taken at the dense block's output *after* its ReLU — what
  CheXNet-style CAMs use — as well as at ``features`` (``norm5``, before the ReLU).
- :func:`remap_chexnet` maps CheXNet's checkpoint layout (``module.densenet121.features…`` with
  the old torchvision names ``norm.1``, ``relu.1``, ``conv.1``, ``norm.2``, ``conv.2``; head
  ``classifier.0`` = Linear(1024, 14) followed by a Sigmoid) onto torchvision's ``densenet121``
  keys. The sigmoid is dropped: cameval explains the pre-sigmoid score (the logit), as it
  explains the pre-softmax score of single-label models; the sigmoid is monotone, so rankings
  and AUROC do not change.
- :func:`class_map` matches a dataset's findings to a model's output units *by name*.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cameval.errors import ConfigError

#: Symbolic CAM layers of a DenseNet, resolved per architecture by :func:`resolve_layer`.
LAYER_ALIASES = {
    "last_dense_conv": "the last convolution (conv2) of the last dense layer of the last block "
    "(densenet121: features.denseblock4.denselayer16.conv2, 32 channels)",
    "block_relu": "the last dense block's output after norm5 and its ReLU (module features_relu)",
}


class _DenseLayer(nn.Module):
    """BN-ReLU-Conv1×1 (``bn_size × growth`` channels), BN-ReLU-Conv3×3 (``growth``), on the
    concatenation of every earlier feature map of the block."""

    def __init__(self, c_in: int, growth_rate: int, bn_size: int):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(c_in)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(c_in, bn_size * growth_rate, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        return self.conv2(self.relu2(self.norm2(x)))


class _DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers: int, c_in: int, growth_rate: int, bn_size: int):
        super().__init__(
            {f"denselayer{i + 1}": _DenseLayer(c_in + i * growth_rate, growth_rate, bn_size) for i in range(num_layers)}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class CamDenseNet(nn.Module):
    """DenseNet-BC (Huang et al.) with torchvision's module names, so torchvision's and CheXNet's
    state dicts load as they are, and with the ReLU that torchvision's ``forward`` applies
    functionally after ``features`` exposed as the module ``features_relu``.

    ``forward``: ``classifier(flatten(avgpool(features_relu(features(x)))))`` — torchvision's
    DenseNet exactly (``tests/test_xray.py`` compares the two on one state dict). A ReLU has no
    parameters, so the state dict is torchvision's. The study's default layer stays ``features``
    (``norm5``, before the ReLU), as for torchvision's DenseNet. Written here rather than
    subclassed from torchvision, whose import costs every job ≈2.5 s.
    """

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: Sequence[int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        num_classes: int = 1000,
    ):
        super().__init__()
        layers = [
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]
        c = num_init_features
        for i, n in enumerate(block_config):
            layers.append((f"denseblock{i + 1}", _DenseBlock(n, c, growth_rate, bn_size)))
            c += n * growth_rate
            if i != len(block_config) - 1:
                transition = nn.Sequential(
                    OrderedDict(
                        norm=nn.BatchNorm2d(c),
                        relu=nn.ReLU(inplace=True),
                        conv=nn.Conv2d(c, c // 2, kernel_size=1, bias=False),
                        pool=nn.AvgPool2d(kernel_size=2, stride=2),
                    )
                )
                layers.append((f"transition{i + 1}", transition))
                c //= 2
        layers.append(("norm5", nn.BatchNorm2d(c)))
        self.features = nn.Sequential(OrderedDict(layers))
        self.features_relu = nn.ReLU()
        self.classifier = nn.Linear(c, num_classes)
        self.cameval_default_layer = "features"
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.features_relu(self.features(x))
        out = F.adaptive_avg_pool2d(out, (1, 1))
        return self.classifier(torch.flatten(out, 1))


def densenet121(num_classes: int = 1000) -> CamDenseNet:
    """torchvision's ``densenet121`` architecture (growth 32, blocks 6-12-24-16) as a CamDenseNet."""
    return CamDenseNet(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, num_classes=num_classes)


def resolve_layer(model: nn.Module, layer: str | None) -> str | None:
    """A dotted module name for ``layer``: aliases of :data:`LAYER_ALIASES` are resolved on
    ``model``; anything else is returned as given."""
    if layer not in LAYER_ALIASES:
        return layer
    names = [n for n, _ in model.named_modules()]
    if layer == "last_dense_conv":
        convs = [n for n in names if re.search(r"\.denselayer\d+\.conv2$", n)]
        if not convs:
            raise ConfigError(
                f"layer 'last_dense_conv': {type(model).__name__} has no dense layer "
                "(expected a DenseNet with modules features.denseblockN.denselayerM.conv2)"
            )
        return convs[-1]
    if "features_relu" not in names:
        raise ConfigError(
            f"layer 'block_relu': {type(model).__name__} has no module features_relu "
            "(expected a cameval DenseNet: arch densenet121 or small_densenet)"
        )
    return "features_relu"


_OLD_NAME = re.compile(r"\.(norm|relu|conv)\.(\d+)\.")


def remap_chexnet(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CheXNet's state-dict keys as torchvision ``densenet121`` keys; other keys pass unchanged.

    ``module.`` (DataParallel) and ``densenet121.`` (CheXNet's wrapper attribute) prefixes are
    removed, ``norm.1`` → ``norm1`` (likewise ``relu.1``, ``conv.1``, ``norm.2``, ``relu.2``,
    ``conv.2``: the names of torchvision < 0.3, inside dense layers), and — in a checkpoint with
    CheXNet's ``densenet121.`` prefix — ``classifier.0.`` → ``classifier.``. Other models' keys
    (VGG's ``classifier.0`` is a real layer) pass unchanged.
    """
    stripped = {key.removeprefix("module."): value for key, value in state.items()}
    chexnet = any(k.startswith("densenet121.") for k in stripped)
    out = {}
    for key, value in stripped.items():
        k = key.removeprefix("densenet121.")
        if ".denselayer" in k:
            k = _OLD_NAME.sub(lambda m: f".{m[1]}{m[2]}.", k)
        if chexnet and k.startswith("classifier.0."):  # CheXNet's Sequential(Linear, Sigmoid) head
            k = "classifier." + k[len("classifier.0.") :]
        out[k] = value
    return out


def class_map(dataset_classes: Sequence[str], model_classes: Sequence[str] | None, where: str = "model") -> np.ndarray:
    """``map[d]`` = the output unit of ``model_classes`` named like dataset class ``d``; ``-1``
    where the model has no such class. ``model_classes=None`` means the model was trained on
    this dataset: the identity.

    The study indexed both X-ray models with one class order taken from another project's CSV;
    matching names rules that out. Repeated model class names are an error.
    """
    dataset_classes = [str(c) for c in dataset_classes]
    if model_classes is None:
        return np.arange(len(dataset_classes))
    model_classes = [str(c) for c in model_classes]
    if len(set(model_classes)) != len(model_classes):
        raise ConfigError(f"{where}.classes: repeated names in {model_classes}")
    unit = {c: i for i, c in enumerate(model_classes)}
    return np.array([unit.get(c, -1) for c in dataset_classes], dtype=np.int64)


def map_labels(
    labels: np.ndarray,
    mapping: np.ndarray,
    dataset_classes: Sequence[str],
    model_classes: Sequence[str] | None,
    where: str = "model",
) -> np.ndarray:
    """Dataset class indices → model output units; a finding the model lacks is a ConfigError."""
    labels = np.asarray(labels, dtype=np.int64)
    units = mapping[labels]
    if np.any(units < 0):
        absent = sorted({dataset_classes[c] for c in labels[units < 0]})
        raise ConfigError(
            f"{where}.classes: finding(s) {absent} of the dataset are not among the model's "
            f"classes {list(model_classes or [])} (expected every evaluated finding to be an output)"
        )
    return units
