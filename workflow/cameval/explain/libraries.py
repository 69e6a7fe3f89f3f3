"""Methods of the field's libraries by name, and your own functions, behind :func:`cameval.explain.explain`.

- ``pytorch_grad_cam:<Class>``: every CAM method pytorch-grad-cam exports (a subclass of its
  ``BaseCAM``: ``ScoreCAM``, ``LayerCAM``, ``XGradCAM``, ``HiResCAM``, ``EigenCAM`` …). Called as its
  README does, ``Class(model=model, target_layers=[layer])(input_tensor=x, targets=[
  ClassifierOutputTarget(c) for c in target])``, one call per target column. The library min-max
  normalizes every map it returns (``scale_cam_image``: ``(m - min) / (max + 1e-7)`` after subtracting
  the min, then ``cv2.resize`` to the input), which erases how strong a map is; the maps here are
  taken before that: the library's per-layer CAM (what its ``get_cam_image`` computes for the target
  layer) with its ReLU, ``[N, h, w]`` at the layer's grid — not normalized, as our own CAMs are, and
  upsampled as ours are (``explain(..., size=...)``: bilinear, ``align_corners=False``). Where the
  library has no such per-layer map — ``FullGrad`` (it scales each layer's map inside) and calls with
  ``aug_smooth=True`` (test-time augmentation averages maps of the input's size) — the maps are the
  ones it returns, ``[N, H, W]`` in [0, 1].
- ``captum:<Class>``: captum's attribution methods of the input (``Saliency``, ``DeepLift``,
  ``IntegratedGradients``, ``GuidedBackprop``, ``Occlusion`` …; ``GuidedGradCam`` and ``LayerGradCam``
  get the layer). Called as ``Class(model, **constructor params).attribute(x, target=target, **call
  params)``; the maps are what ``attribute`` returns (``[N, C, H, W]``; ``LayerGradCam``: its
  ``[N, 1, h, w]`` at the layer's grid, the channel axis dropped).
- ``package.module:function``: your own ``function(model, x, target, **params) -> maps`` with
  ``target`` a LongTensor ``[N]``; a ``layer`` argument, if it has one, receives the layer's name.

``params`` are split between the constructor and the call by their signatures (:func:`accepted_params`);
pytorch-grad-cam's ``ScoreCAM`` also takes ``batch_size`` (masked images per forward pass; the
library reads it as an attribute, default 16).

The model is left exactly as it was (:func:`preserved`): parameters' ``requires_grad`` and ``.grad``,
buffers, every module's train/eval mode (pytorch-grad-cam calls ``model.eval()``), its hooks and
attributes (what a library leaves behind on an error is removed). While a library runs, the
parameters do not require gradients, so none is accumulated in them; the gradients the methods
use (of the output with respect to the input or a layer's activations) are the same.

The libraries are imported on first use: pytorch-grad-cam's import costs seconds (it brings
torchvision and OpenCV), and a job that does not use it should not pay for it.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from cameval.errors import ConfigError
from cameval.explain._core import get_layer
from cameval.inference import logits_of
from cameval.methods import explains_layer, library, split_name

#: captum's abstract bases and wrappers that are no method of their own, and families whose
#: attributions are of a layer's or a neuron's, not maps of the input (``LayerGradCam`` excepted)
_CAPTUM_EXCLUDED = ("Attribution", "GradientAttribution", "PerturbationAttribution", "DataLoaderAttribution")
_CAPTUM_EXCLUDED_PREFIXES = ("Layer", "Neuron", "LLM", "RemoteLLM", "NoiseTunnel", "LimeBase", "InternalInfluence")
_CAPTUM_LAYER_METHODS = ("LayerGradCam",)
#: arguments the adapters pass themselves, never params
_PASSED = {
    "pytorch_grad_cam": ("self", "model", "target_layers", "input_tensor", "targets"),
    "captum": ("self", "forward_func", "model", "layer", "inputs", "target"),
    "own": ("model", "x", "target", "layer"),
}
#: extra params a library class reads as attributes (name -> annotation): ScoreCAM's batch size
_ATTRIBUTES = {"pytorch_grad_cam:ScoreCAM": {"batch_size": int}}


def _import(module: str, what: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ConfigError(f"method: {what!r}: cannot import {module!r} ({err})") from err


def pytorch_grad_cam_methods() -> list[str]:
    """The CAM classes pytorch-grad-cam exports (subclasses of ``BaseCAM``)."""
    lib = _import("pytorch_grad_cam", "pytorch_grad_cam")
    base = importlib.import_module("pytorch_grad_cam.base_cam").BaseCAM
    return sorted(n for n, v in vars(lib).items() if isinstance(v, type) and issubclass(v, base) and v is not base)


def captum_methods() -> list[str]:
    """captum's attribution methods of the input (and ``LayerGradCam``), by class name."""
    attr = _import("captum.attr", "captum")
    return sorted(
        n
        for n in attr.__all__
        if isinstance(getattr(attr, n), type)
        and issubclass(getattr(attr, n), attr.Attribution)
        and n not in _CAPTUM_EXCLUDED
        and (n in _CAPTUM_LAYER_METHODS or not n.startswith(_CAPTUM_EXCLUDED_PREFIXES))
    )


def resolve(method: str) -> Callable:
    """The class (library) or function (own) that ``method`` names; ConfigError naming the choices."""
    parts = split_name(method)
    if parts is None:
        raise ConfigError(f"method: {method!r} is not a library's or your own method (expected module:name)")
    module, name = parts
    lib = library(method)
    if lib == "pytorch_grad_cam":
        known = pytorch_grad_cam_methods()
    elif lib == "captum":
        known = captum_methods()
        module = "captum.attr"
    else:
        found = getattr(_import(module, method), name, None)
        if not callable(found):
            raise ConfigError(
                f"method: {method!r}: module {module!r} has no function {name!r} "
                "(expected package.module:function, a function (model, x, target, **params) -> maps)"
            )
        return found
    if name not in known:
        raise ConfigError(f"method: {method!r}: {lib} has no such method (expected one of {', '.join(known)})")
    return getattr(importlib.import_module(module), name)


def _signature_params(func: Callable, passed: tuple[str, ...]) -> dict[str, inspect.Parameter]:
    return {
        n: p
        for n, p in inspect.signature(func).parameters.items()
        if n not in passed and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def _parts(method: str) -> dict[str, dict[str, inspect.Parameter]]:
    """``{"init": …, "call": …, "attr": …}``: the params ``method`` takes, by where they go."""
    lib = library(method)
    target = resolve(method)
    if lib is None:
        return {"call": _signature_params(target, _PASSED["own"])}
    call = target.__call__ if lib == "pytorch_grad_cam" else target.attribute
    attrs = {
        n: inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=a)
        for n, a in _ATTRIBUTES.get(method, {}).items()
    }
    return {
        "init": _signature_params(target.__init__, _PASSED[lib]),
        "call": _signature_params(call, _PASSED[lib]),
        "attr": attrs,
    }


def accepted_params(method: str) -> dict[str, inspect.Parameter]:
    """Every keyword argument ``method`` takes as a param: its constructor's and its call's (a
    library's), or its function's (your own), less those the adapter passes itself."""
    out: dict[str, inspect.Parameter] = {}
    for part in _parts(method).values():
        out.update(part)
    return out


def needs_layer(method: str) -> bool:
    """Whether ``method`` explains a layer: every pytorch-grad-cam method, captum's that take one,
    your function if it has a ``layer`` argument."""
    known = explains_layer(method)
    return "layer" in inspect.signature(resolve(method)).parameters if known is None else known


@contextlib.contextmanager
def preserved(model: nn.Module) -> Iterator[None]:
    """Run a block with the parameters frozen, then leave ``model`` exactly as it was: parameters'
    ``requires_grad`` and ``.grad``, buffers' values, every module's mode and its hooks."""
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    grads = [p.grad for p in params]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    modes = [(m, m.training) for m in model.modules()]
    hook_dicts = (
        "_forward_hooks",
        "_forward_pre_hooks",
        "_backward_hooks",
        "_backward_pre_hooks",
        "_forward_hooks_with_kwargs",
        "_forward_pre_hooks_with_kwargs",
    )
    hooks = [(m, {d: dict(getattr(m, d)) for d in hook_dicts if hasattr(m, d)}) for m in model.modules()]
    attributes = [(m, set(vars(m))) for m in model.modules()]  # captum's DeepLift sets some on activations
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag, grad in zip(params, flags, grads, strict=True):
            p.requires_grad_(flag)
            p.grad = grad
        with torch.no_grad():
            for b, value in buffers:
                b.copy_(value)
        for m, training in modes:
            m.training = training
        for m, saved in hooks:  # a hook a library left behind on an error
            for d, entries in saved.items():
                current = getattr(m, d)
                for key in [k for k in current if k not in entries]:
                    del current[key]
        for m, names in attributes:
            for name in [n for n in vars(m) if n not in names]:
                delattr(m, name)


@contextlib.contextmanager
def _quiet_score_cam() -> Iterator[None]:
    """ScoreCAM opens a tqdm bar per image (thousands in a log): silenced while it runs."""
    score_cam = importlib.import_module("pytorch_grad_cam.score_cam")
    tqdm = score_cam.tqdm

    class Quiet:
        @staticmethod
        def tqdm(iterable, *args, **kwargs):
            return iterable

    score_cam.tqdm = Quiet
    try:
        yield
    finally:
        score_cam.tqdm = tqdm


def _split(method: str, params: dict) -> dict[str, dict]:
    parts = _parts(method)
    out = {where: {n: v for n, v in params.items() if n in names} for where, names in parts.items()}
    unknown = sorted(set(params) - set().union(*parts.values()))
    if unknown:
        raise ValueError(f"params: {method} takes no parameter {', '.join(map(repr, unknown))}")
    return out


@contextlib.contextmanager
def _per_layer_cams(cam) -> Iterator[list]:
    """Record the per-layer CAMs a pytorch-grad-cam object computes while the block runs: the
    output of its ``get_cam_image`` (``BaseCAM.compute_cam_per_layer`` calls it for each target
    layer, then applies ``np.maximum(cam, 0)`` and ``scale_cam_image``)."""
    recorded: list = []
    compute = cam.get_cam_image

    def record(*args, **kwargs):
        out = compute(*args, **kwargs)
        recorded.append(out)
        return out

    cam.get_cam_image = record
    try:
        yield recorded
    finally:
        del cam.get_cam_image


#: pytorch-grad-cam classes whose per-layer map is not ``get_cam_image``'s (scaled inside the library)
_SCALED_INSIDE = ("FullGrad",)


def raw_library_maps(method: str, params: dict) -> bool:
    """Whether ``pytorch_grad_cam:<Class>`` with ``params`` gives its per-layer CAM before the
    library's min-max scaling (see the module's notes), not the map the library returns."""
    return split_name(method)[1] not in _SCALED_INSIDE and not params.get("aug_smooth", False)


def _grad_cam_maps(model, x, targets, method, layer, params) -> tuple[torch.Tensor, torch.Tensor]:
    cls = resolve(method)
    targets_mod = importlib.import_module("pytorch_grad_cam.utils.model_targets")
    split = _split(method, params)
    cam = cls(model=model, target_layers=[get_layer(model, layer)], **split["init"])
    for name, value in split["attr"].items():
        setattr(cam, name, value)
    raw = raw_library_maps(method, params)
    maps = []
    try:
        with _quiet_score_cam(), _per_layer_cams(cam) as per_layer:
            for k in range(targets.shape[1]):
                wanted = [targets_mod.ClassifierOutputTarget(int(c)) for c in targets[:, k]]
                per_layer.clear()
                returned = cam(input_tensor=x, targets=wanted, **split["call"])
                if not raw:
                    maps.append(torch.as_tensor(returned))
                    continue
                if len(per_layer) != 1:  # one target layer, one forward pass
                    raise RuntimeError(
                        f"{method}: expected one per-layer map a call, the library computed {len(per_layer)}"
                    )
                layer_map = per_layer[0]
                layer_map = layer_map.detach().cpu().numpy() if isinstance(layer_map, torch.Tensor) else layer_map
                maps.append(torch.as_tensor(np.maximum(layer_map, 0)))
        logits = logits_of(cam.outputs).detach()
    finally:
        cam.activations_and_grads.release()
    return torch.stack(maps, dim=1).to(x.device), logits


def _captum_maps(model, x, targets, method, layer, params) -> tuple[torch.Tensor, torch.Tensor]:
    cls = resolve(method)
    split = _split(method, params)
    args = (model, get_layer(model, layer)) if needs_layer(method) else (model,)
    explainer = cls(*args, **split["init"])
    maps = []
    for k in range(targets.shape[1]):
        m = explainer.attribute(x, target=targets[:, k], **split["call"])
        if isinstance(m, tuple):  # return_convergence_delta=True: (attributions, delta)
            m = m[0]
        maps.append(m.detach()[:, 0] if split_name(method)[1] in _CAPTUM_LAYER_METHODS else m.detach())
    with torch.no_grad():
        logits = logits_of(model(x))
    return torch.stack(maps, dim=1), logits


def _own_maps(model, x, targets, method, layer, params) -> tuple[torch.Tensor, torch.Tensor]:
    func = resolve(method)
    extra = {"layer": layer} if needs_layer(method) else {}
    maps = [torch.as_tensor(func(model, x, targets[:, k], **extra, **params)).detach() for k in range(targets.shape[1])]
    with torch.no_grad():
        logits = logits_of(model(x))
    return torch.stack(maps, dim=1), logits


def library_maps(
    model: nn.Module, x: torch.Tensor, targets: torch.Tensor, method: str, layer: str | None = None, **params
) -> tuple[torch.Tensor, torch.Tensor]:
    """Maps of a library's method or your own for every column of ``targets`` ``[N, K]``:
    ``(maps [N, K, ...], logits [N, classes])``, the model left as it was (:func:`preserved`)."""
    lib = library(method)
    adapter = {"pytorch_grad_cam": _grad_cam_maps, "captum": _captum_maps}.get(lib, _own_maps)
    x = x.detach().requires_grad_(True)  # the parameters are frozen: gradients flow from the input
    with preserved(model):
        return adapter(model, x, targets, method, layer, params)
