"""Exact incremental inference for local input changes: occlusion patches and one-pixel edits.

Nothing is approximated: logits agree with full forward passes to float32 rounding. Used by
:mod:`cameval.explain` (occlusion) and :mod:`cameval.attacks` (one-pixel scoring). The package's
layers, each importing only the ones before it:

- :mod:`~cameval.inference.outputs`: the logits of a model's output;
- :mod:`~cameval.inference.geometry`: how far a changed rectangle reaches through a layer;
- :mod:`~cameval.inference.plans`: which models the engine can tile, and where their tail starts;
- :mod:`~cameval.inference.tiles`: crops and pastes of channels-last tiles;
- :mod:`~cameval.inference.pooling`: exact max pooling by shifted views, without autograd;
- :mod:`~cameval.inference.runner`: :class:`IncrementalRunner` and :func:`pixel_logits`.
"""

from cameval.inference.outputs import logits_of
from cameval.inference.plans import Plan, plan_of, plan_or_say, tiles_like_features
from cameval.inference.pooling import shifted_max_pool
from cameval.inference.runner import IncrementalRunner, pixel_logits
from cameval.inference.tiles import patch_tiles

__all__ = [
    "IncrementalRunner",
    "Plan",
    "logits_of",
    "patch_tiles",
    "pixel_logits",
    "plan_of",
    "plan_or_say",
    "shifted_max_pool",
    "tiles_like_features",
]
