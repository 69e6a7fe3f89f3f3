"""An own network for the embedded digits: a builder ``models.<name>.arch: "mypackage.nets:tiny_net"``."""

from __future__ import annotations

from torch import nn


def tiny_net(num_classes: int = 10, width: int = 16) -> nn.Module:
    """Two conv-BN-ReLU-pool stages of ``width`` and ``2 * width`` channels, one more conv-ReLU (the
    CAM layer cameval finds by itself: the last ReLU, ``features.9``), global average pooling and a
    linear classifier. cameval calls it with ``num_classes`` (the model's key) and ``build``'s keys."""
    return nn.Sequential(
        nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            nn.ReLU(),
        ),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2 * width, num_classes),
    )
