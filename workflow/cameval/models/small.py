"""Small VGG-, AlexNet-, GoogLeNet-, DenseNet- and ResNet-style networks for the embedded default.

They keep the traits of their ImageNet namesakes that matter to the study — VGG's stacked 3×3
convolutions with a fully connected head, AlexNet's large first filters and no batch norm,
GoogLeNet's inception blocks with *functional* ReLUs and a global-average-pool head, DenseNet's
dense blocks — at a size that trains on one CPU core in one to two minutes on 64×64 canvases. Module
names follow torchvision (``features``, ``classifier``, ``inception4b``, ``fc``) and each
network names its Grad-CAM layer in ``cameval_default_layer``: the last convolutional feature
map after its ReLU, as the study does (8×8 on a 64×64 input). The ResNet-style network does not:
the config builds it as an own builder (``arch: "cameval.models.small:small_resnet"``) and its layer
is found from its structure (:func:`cameval.explain.default_layer`: the last ``layerN``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cameval.inference import shifted_max_pool, tiles_like_features
from cameval.models.densenet import CamDenseNet


@tiles_like_features
class SmallVGG(nn.Module):
    """conv3-16, pool, conv3-32, pool, conv3-64 ×2, pool, conv3-64 ×2, pool → FC 256 → classes.

    With batch norm (as VGG-16-BN). The last ReLU sits before the last pool, like VGG-16's
    ``features.29``: an 8×8 grid on a 64×64 input (VGG-16: 14×14 on 224×224).
    """

    def __init__(self, num_classes: int = 10, width: int = 16):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c, repeat in ((width, 1), (width * 2, 1), (width * 4, 2), (width * 4, 2)):
            for _ in range(repeat):
                layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
                c_in = c
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.cameval_default_layer = f"features.{len(layers) - 2}"
        self.avgpool = nn.AdaptiveAvgPool2d(4)
        self.classifier = nn.Sequential(
            nn.Linear(c_in * 16, 256), nn.ReLU(inplace=True), nn.Dropout(0.3), nn.Linear(256, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


@tiles_like_features
class SmallAlexNet(nn.Module):
    """conv5/2-32, pool, conv3-64, pool, conv3-96, conv3-96, conv3-64, pool → FC 256 ×2 → classes.

    No batch norm, a strided large first filter, dropout in the head — AlexNet's traits. The
    default layer ``features.11`` is the last ReLU (as in AlexNet): 8×8 on a 64×64 input.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 5, stride=2, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 96, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(96, 96, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(96, 64, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.cameval_default_layer = "features.11"
        self.avgpool = nn.AdaptiveAvgPool2d(4)
        self.classifier = nn.Sequential(
            nn.Dropout(0.3),
            nn.Linear(64 * 16, 256),
            nn.ReLU(inplace=True),
            nn.Dropout(0.3),
            nn.Linear(256, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class ShiftMaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d``, whose values without autograd come from a maximum of shifted views
    (:func:`cameval.inference.shifted_max_pool`: PyTorch's values to the bit, ×5–7 faster on the
    CPU for the 2×2 stride-2 and 3×3 stride-1 pools, which took ~60 % of the small GoogLeNet's
    forward pass at 32×32 — the one-pixel attack scores ~2,000 candidates an image that way). Where
    the input needs a gradient (training, gradient maps), PyTorch's own kernel runs, and so does its
    backward, which routes each gradient to the window's first maximum; other geometries run it too.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = shifted_max_pool(self, x)
        return super().forward(x) if out is None else out


class BasicConv2d(nn.Module):
    """Convolution (no bias), batch norm, then a *functional* ReLU, as torchvision's GoogLeNet block:
    no ``nn.ReLU`` module exists for a hook to find."""

    def __init__(self, c_in: int, c_out: int, **conv):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, bias=False, **conv)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    """GoogLeNet's inception block with torchvision's layout: 1×1 | 1×1→3×3 | 1×1→3×3 (torchvision
    uses 3×3 where the paper has 5×5) | 3×3 max-pool→1×1, concatenated."""

    def __init__(self, c_in: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int, pool_proj: int):
        super().__init__()
        self.branch1 = BasicConv2d(c_in, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(c_in, ch3x3red, kernel_size=1), BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1)
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(c_in, ch5x5red, kernel_size=1), BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1)
        )
        self.branch4 = nn.Sequential(
            ShiftMaxPool2d(3, stride=1, padding=1, ceil_mode=True), BasicConv2d(c_in, pool_proj, kernel_size=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class SmallGoogLeNet(nn.Module):
    """Stem, two inception stages, global average pool, FC.

    Its ``BasicConv2d`` applies ``F.relu`` in ``forward``, as torchvision's does — the case where
    hook-based Guided Backprop silently degrades — so the small network exercises it too. The
    blocks are written here rather than imported from torchvision, whose import costs every job
    ≈2.5 s (it pulls in ``torch._dynamo``).
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = BasicConv2d(3, 16, kernel_size=3, padding=1)
        self.maxpool1 = ShiftMaxPool2d(2)
        self.conv2 = BasicConv2d(16, 32, kernel_size=3, padding=1)
        self.maxpool2 = ShiftMaxPool2d(2)
        self.inception3a = Inception(32, 16, 16, 24, 4, 8, 8)  # -> 56
        self.inception3b = Inception(56, 24, 24, 32, 6, 12, 12)  # -> 80
        self.maxpool3 = ShiftMaxPool2d(2)
        self.inception4a = Inception(80, 32, 24, 48, 6, 16, 16)  # -> 112
        self.inception4b = Inception(112, 32, 32, 48, 8, 16, 16)  # -> 112
        self.cameval_default_layer = "inception4b"
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(112, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool2(self.conv2(self.maxpool1(self.conv1(x))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4b(self.inception4a(x))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


def small_densenet(num_classes: int = 10) -> nn.Module:
    """DenseNet at growth 12, blocks (6, 6): CheXNet's architecture in small (8×8 grid on 64×64).

    A :class:`~cameval.models.densenet.CamDenseNet`: the final ReLU is the module ``features_relu``;
    the last dense layer's convolution is ``features.denseblock2.denselayer6.conv2`` (12 channels).
    """
    return CamDenseNet(growth_rate=12, block_config=(6, 6), num_init_features=32, num_classes=num_classes)


class MnistNet(nn.Module):
    """The study's three-layer MNIST network (Table 7): Conv 5×5×20 → MaxPool 2 → ReLU → FC 50 →
    ReLU → FC 10, on one-channel 28×28 images. Module ReLUs, out of place (SHAP's DeepExplainer
    handles them exactly). Grad-CAM layer: the ReLU after the pool, 12×12 on a 28×28 input.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, size: int = 28):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(in_channels, 20, 5), nn.MaxPool2d(2), nn.ReLU())
        self.cameval_default_layer = "features.2"
        side = (size - 4) // 2
        self.classifier = nn.Sequential(nn.Linear(20 * side * side, 50), nn.ReLU(), nn.Linear(50, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class BasicBlock(nn.Module):
    """ResNet's basic block (He et al., CVPR 2016): two 3×3 convolutions with batch norm, added to
    the input (through a 1×1 convolution where the shape changes), then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class SmallResNet(nn.Module):
    """conv3-w, pool, then three stages of basic blocks (w, 2w, 4w channels; the last two halve the
    grid) → global average pool → FC: torchvision's ResNet layout (``conv1``, ``layer1``…, ``fc``)
    in small, 8×8 at ``layer3`` on a 64×64 input."""

    def __init__(self, num_classes: int = 10, width: int = 16, blocks: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(2)
        c_in = width
        for i, c in enumerate((width, 2 * width, 4 * width)):
            stages = [BasicBlock(c_in if b == 0 else c, c, stride=1 if i == 0 or b else 2) for b in range(blocks)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stages))
            c_in = c
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def small_resnet(num_classes: int = 10, width: int = 16, blocks: int = 1) -> nn.Module:
    """A :class:`SmallResNet`: ``blocks`` basic blocks per stage, ``width`` channels in the first."""
    return SmallResNet(num_classes, width, blocks)
