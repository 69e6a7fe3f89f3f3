"""The logits of a model's output, whatever the model returns."""

from __future__ import annotations

import torch


def logits_of(output) -> torch.Tensor:
    """The logits of a model's output (GoogLeNet in train mode returns a named tuple)."""
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "logits"):
        return output.logits
    if isinstance(output, (tuple, list)):
        return output[0]
    raise TypeError(f"cannot find logits in a model output of type {type(output).__name__}")
