"""Explainers behind one call, :func:`explain`.

```python
maps = explain(model, x, target, method="gradcam", layer="features.29", size=None)
```
``x``: float ``[N, C, H, W]``; ``target``: int, ``[N]`` or ``[N, K]`` (K maps per image).
CAM methods (``gradcam``, ``gradcampp``) return ``[N, h, w]`` at the layer's grid (ReLU applied,
not normalized) or at ``size`` (bilinear, align_corners=False); pixel methods
(``guided_backprop``, ``guided_gradcam``, ``integrated_gradients``, ``gradient_shap``, ``shap``) return
``[N, C, H, W]``; ``occlusion`` returns ``[N, H, W]`` of score drops. With a ``[N, K]`` target a
K axis follows N. ``layer=None`` is the study's default (see :func:`default_layer`).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from cameval.explain._core import DEFAULT_LAYERS, as_targets, check_input, default_layer, get_layer, upsample
from cameval.explain.gradcam import cam_maps, cams_of
from cameval.explain.guided import combine_guided_gradcam, guided_backprop, guided_gradcam, guided_relus
from cameval.explain.libraries import accepted_params, library_maps, needs_layer
from cameval.explain.occlusion import occlusion
from cameval.explain.pathint import gradient_shap, integrated_gradients
from cameval.explain.shapley import shap_all_classes, shap_maps
from cameval.inference import logits_of
from cameval.methods import ALIASES, METHODS, explains_layer, split_name
from cameval.paramcheck import check_params as _check_params

#: method -> its function, called ``f(model, x, targets, layer, **params)`` for a method that explains
#: a layer (:data:`cameval.methods.METHODS` says which) and ``f(model, x, targets, **params)`` otherwise;
#: its keyword arguments are the method's ``params``, declared in the method table (a test keeps the
#: two equal). A method added here is added there.
METHOD_FUNCTIONS = {
    "gradcam": functools.partial(cam_maps, method="gradcam"),
    "gradcampp": functools.partial(cam_maps, method="gradcampp"),
    "guided_backprop": guided_backprop,
    "guided_gradcam": guided_gradcam,
    "integrated_gradients": integrated_gradients,
    "gradient_shap": gradient_shap,
    "shap": shap_maps,
    "occlusion": occlusion,
}


def is_external(method: str) -> bool:
    """Whether ``method`` is a library's (``pytorch_grad_cam:…``, ``captum:…``) or your own (``module:function``)."""
    return split_name(method) is not None


def uses_layer(method: str) -> bool:
    """Whether ``method`` explains a layer (and so takes the model's default one when none is given)."""
    known = explains_layer(method)
    return needs_layer(method) if known is None else known


def check_params(method: str, params: dict, key: str = "params") -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``params`` fit ``method``'s parameters: the
    one check, :func:`cameval.paramcheck.check_params`, with a library's or your own method imported
    to read the keyword arguments it takes (:func:`cameval.explain.libraries.accepted_params`; an
    unknown one is a ConfigError)."""
    _check_params(method, params, key, accepted_params(method) if is_external(method) else None)


def explain_targets(
    model: nn.Module,
    x: torch.Tensor,
    targets: torch.Tensor,
    method: str = "gradcam",
    layer: str | None = None,
    size=None,
    **params,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Maps for every column of ``targets`` ``[N, K]`` from one forward pass where the method
    allows: ``(maps [N, K, ...], logits [N, classes])``. This is what the pipeline calls."""
    check_input(x)
    method = ALIASES.get(method, method)
    if method not in METHODS and not is_external(method):
        raise ValueError(
            f"method: {method!r} is not one of {', '.join(METHODS)}, pytorch_grad_cam:<Class>, captum:<Class> "
            "or package.module:function"
        )
    if uses_layer(method):
        layer = layer or default_layer(model)
    if is_external(method):
        maps, logits = library_maps(model, x, targets, method, layer=layer, **params)
        cam = maps.ndim == 4  # [N, K, h, w]: one 2-D map per target, as CAMs are
    else:
        spec, func = METHODS[method], METHOD_FUNCTIONS[method]
        maps, logits = func(model, x, targets, layer, **params) if spec.layer else func(model, x, targets, **params)
        cam = spec.kind == "cam"
    if size is not None:
        if not cam:
            raise ValueError(f"size: only CAM methods are resized; {method} maps have the input's size")
        maps = upsample(maps, size)
    return maps, logits


def explain(
    model: nn.Module,
    x: torch.Tensor,
    target,
    method: str = "gradcam",
    layer: str | None = None,
    size=None,
    **params,
) -> torch.Tensor:
    """The public entry point; see the module docstring for shapes and conventions."""
    check_input(x)
    targets = as_targets(target, x.shape[0], x.device)
    maps, _ = explain_targets(model, x, targets, method, layer=layer, size=size, **params)
    single = torch.as_tensor(target).ndim < 2  # int or [N]; [N, K] as a tensor, array or nested list keeps K
    return maps[:, 0] if single else maps


__all__ = [
    "explain",
    "explain_targets",
    "as_targets",
    "check_params",
    "is_external",
    "uses_layer",
    "library_maps",
    "METHOD_FUNCTIONS",
    "DEFAULT_LAYERS",
    "default_layer",
    "get_layer",
    "logits_of",
    "upsample",
    "cam_maps",
    "cams_of",
    "guided_backprop",
    "guided_gradcam",
    "combine_guided_gradcam",
    "guided_relus",
    "occlusion",
    "integrated_gradients",
    "gradient_shap",
    "shap_maps",
    "shap_all_classes",
]
