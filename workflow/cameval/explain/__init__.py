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

import inspect

import torch
from torch import nn

from cameval.explain._core import DEFAULT_LAYERS, as_targets, check_input, default_layer, get_layer, upsample
from cameval.explain.gradcam import cam_maps
from cameval.explain.guided import combine_guided_gradcam, guided_backprop, guided_gradcam, guided_relus
from cameval.explain.libraries import accepted_params, library_maps, needs_layer
from cameval.explain.occlusion import occlusion
from cameval.explain.pathint import gradient_shap, integrated_gradients
from cameval.explain.shapley import shap_all_classes, shap_maps
from cameval.inference import logits_of
from cameval.methods import explains_layer, split_name
from cameval.paramcheck import check_accepted, check_signature

CAM_METHODS = ("gradcam", "gradcampp")
PIXEL_METHODS = ("guided_backprop", "guided_gradcam", "integrated_gradients", "gradient_shap", "shap")
METHODS = CAM_METHODS + PIXEL_METHODS + ("occlusion",)

#: method -> the function whose keyword arguments are the method's ``params`` (the arguments the
#: pipeline passes itself, ``model, x, targets, layer, method``, excluded). A method added to
#: :func:`explain_targets` is added here too, so that its params are checked at parse time.
METHOD_FUNCTIONS = {
    "gradcam": cam_maps,
    "gradcampp": cam_maps,
    "guided_backprop": guided_backprop,
    "guided_gradcam": guided_gradcam,
    "occlusion": occlusion,
    "integrated_gradients": integrated_gradients,
    "gradient_shap": gradient_shap,
}
_PASSED_BY_PIPELINE = ("model", "x", "targets", "layer", "method")
#: smallest allowed value of integer params
_MINIMUM = {"patch": 1, "stride": 1, "batch_size": 1, "steps": 2, "n_samples": 1}


def is_external(method: str) -> bool:
    """Whether ``method`` is a library's (``pytorch_grad_cam:…``, ``captum:…``) or your own (``module:function``)."""
    return split_name(method) is not None


def uses_layer(method: str) -> bool:
    """Whether ``method`` explains a layer (and so takes the model's default one when none is given)."""
    known = explains_layer(method)
    return needs_layer(method) if known is None else known


def check_params(method: str, params: dict, key: str = "params") -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``params`` fit ``method``'s signature.

    Every name must be a keyword argument of the method's function (see ``METHOD_FUNCTIONS``; a
    library's method: its constructor's or its call's, see
    :func:`cameval.explain.libraries.accepted_params`), every argument without a default must be
    given, values annotated ``int`` / ``float`` / ``bool`` must have that type, and the integers of
    ``_MINIMUM`` must reach their minimum. Other native methods (``shap``) are not checked. A
    library's method is imported to read its signature; an unknown one is a ConfigError.
    """
    func = METHOD_FUNCTIONS.get(method)
    if func is None and not is_external(method):
        return
    if func is None:
        check_accepted(method, accepted_params(method), params, key, _MINIMUM)
    else:
        check_signature(method, inspect.signature(func), params, key, _PASSED_BY_PIPELINE, _MINIMUM)


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
    if method not in METHODS and not is_external(method):
        raise ValueError(
            f"method: {method!r} is not one of {', '.join(METHODS)}, pytorch_grad_cam:<Class>, captum:<Class> "
            "or package.module:function"
        )
    if uses_layer(method):
        layer = layer or default_layer(model)
    if is_external(method):
        maps, logits = library_maps(model, x, targets, method, layer=layer, **params)
        if size is not None:
            if maps.ndim != 4:  # [N, K, h, w]: one 2-D map per target, as CAMs are
                raise ValueError(f"size: only CAM methods are resized; {method} maps have the input's size")
            maps = upsample(maps, size)
        return maps, logits
    if method in CAM_METHODS:
        maps, logits = cam_maps(model, x, targets, layer, method, **params)
        return upsample(maps, size), logits
    if size is not None:
        raise ValueError(f"size: only CAM methods are resized; {method} maps have the input's size")
    if method == "guided_backprop":
        return guided_backprop(model, x, targets, **params)
    if method == "guided_gradcam":
        return guided_gradcam(model, x, targets, layer, **params)
    if method == "integrated_gradients":
        return integrated_gradients(model, x, targets, **params)
    if method == "gradient_shap":
        return gradient_shap(model, x, targets, **params)
    if method == "shap":
        return shap_maps(model, x, targets, **params)
    return occlusion(model, x, targets, **params)


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
    "check_params",
    "is_external",
    "uses_layer",
    "library_maps",
    "METHOD_FUNCTIONS",
    "METHODS",
    "CAM_METHODS",
    "PIXEL_METHODS",
    "DEFAULT_LAYERS",
    "default_layer",
    "get_layer",
    "logits_of",
    "upsample",
    "cam_maps",
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
