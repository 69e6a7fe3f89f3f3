"""The one table of explanation methods: the name a config uses, the label tables and figures print,
and the kind of map the method returns.

Kinds decide which experiments take a method's maps:

- ``cam``: one map per image at a layer's grid, upsampled to the image (Grad-CAM, Grad-CAM++);
  the study's localization (Table 1), pointing game (2), occlusion (3), X-rays (5) and
  sensitivity (6) evaluate them.
- ``pixel``: one value per input pixel and channel (Guided Backprop, Integrated Gradients, SHAP, …);
  occlusion (3), X-rays (5) and faithfulness (7) evaluate them.
- ``occlusion``: the reference maps of Table 3 (score drops under a sliding patch).

A method added to :mod:`cameval.explain` is added here, with its label and kind; every table,
figure and claim reads its label from :func:`label`.

Beyond :data:`METHODS`, a method may be named from a library or from your own code (:func:`method`):

- ``pytorch_grad_cam:<Class>``: a CAM method of pytorch-grad-cam (``ScoreCAM``, ``LayerCAM`` …), kind
  ``cam``, labelled as its paper spells it (``Score-CAM``, ``Layer-CAM``);
- ``captum:<Class>``: an attribution method of captum (``Saliency``, ``DeepLift`` …), kind ``pixel``
  (``LayerGradCam``, whose maps lie at a layer's grid: ``cam``);
- ``package.module:function``: your own ``(model, x, target, **params) -> maps``; its kind is
  declared where it is used (a heatmap set's ``kind:``), its label is the function's name.

Kinds, labels, whether a method explains a layer and the parameters of the built-in methods are
data here (:data:`METHODS`): nothing is imported, so a config is checked cheaply and without torch
(:mod:`cameval.paramcheck`), and :func:`cameval.explain.explain` dispatches from the same table;
``tests/test_paramcheck.py`` keeps each declared parameter list equal to its function's signature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cameval.errors import ConfigError

#: the default of a parameter that must be given
REQUIRED = object()
#: the values a parameter's ``type`` may take: what its function's annotation says (``any``: none, a
#: number or a tensor, not checked)
PARAM_TYPES = ("int", "float", "bool", "bool | None", "str", "any")


@dataclass(frozen=True)
class Param:
    """A keyword argument of a built-in method's function that a config may set (a heatmap set's
    ``params``): its name, type (one of :data:`PARAM_TYPES`), default (:data:`REQUIRED`: none) and,
    for integers, the smallest allowed value."""

    name: str
    type: str
    default: object = REQUIRED
    minimum: int | None = None


@dataclass(frozen=True)
class Method:
    """A method as the jobs pass it on: its config name, printed label and kind; for the built-in
    ones whether it explains a layer and its parameters (``params=None``: a library's or your own
    method, whose parameters are read from its signature when it is imported)."""

    name: str
    label: str
    kind: str  # "cam" | "pixel" | "occlusion"
    layer: bool | None = False  # explains a layer (None: your own function, its signature says)
    params: tuple[Param, ...] | None = None


#: the arguments the pipeline passes itself (never a config's ``params``)
PASSED_BY_PIPELINE = ("model", "x", "targets", "layer", "method")

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("gradcam", "Grad-CAM", "cam", layer=True, params=()),
        Method("gradcampp", "Grad-CAM++", "cam", layer=True, params=()),
        Method("guided_backprop", "Guided Backprop", "pixel", params=()),
        Method(
            "guided_gradcam", "Guided Grad-CAM", "pixel", layer=True, params=(Param("interpolate", "str", "bilinear"),)
        ),
        Method(
            "integrated_gradients",
            "Integrated Gradients",
            "pixel",
            params=(Param("baseline", "any", 0.0), Param("steps", "int", 50, minimum=2)),
        ),
        Method(
            "gradient_shap",
            "Gradient SHAP",
            "pixel",
            params=(
                Param("baselines", "any", None),
                Param("n_samples", "int", 20, minimum=1),
                Param("stdev", "float", 0.0),
                Param("seed", "int", 0),
            ),
        ),
        Method(
            "shap",
            "SHAP",
            "pixel",
            params=(
                Param("background", "any", None),
                Param("explainer", "str", "auto"),
                Param("n_samples", "int", 200, minimum=1),
                Param("seed", "int", 0),
            ),
        ),
        Method(
            "occlusion",
            "Occlusion",
            "occlusion",
            params=(
                Param("patch", "int", minimum=1),
                Param("stride", "int", 1, minimum=1),
                Param("fill", "any", 0.0),
                Param("batch_size", "int", 128, minimum=1),
                Param("progress", "bool", False),
                Param("incremental", "bool | None", None),
            ),
        ),
    )
}
#: short names some tables key their columns by (Table 6's ``ig``)
ALIASES = {"ig": "integrated_gradients"}


#: libraries whose methods are named ``<module>:<Class>``: module -> the name the labels print
LIBRARIES = {"pytorch_grad_cam": "pytorch-grad-cam", "captum": "captum"}
KINDS = ("cam", "pixel")
#: how the papers spell the library methods whose class names do not follow the rules of :func:`_derived_label`
SPELLINGS = {
    "HiResCAM": "HiResCAM",
    "KPCA_CAM": "KPCA-CAM",
    "GradCAMElementWise": "Grad-CAM element-wise",
    "FullGrad": "FullGrad",
    "FEM": "FEM",
    "SESS": "SESS",
    "DeepLift": "DeepLIFT",
    "DeepLiftShap": "DeepLIFT SHAP",
    "GradientShap": "Gradient SHAP",
    "KernelShap": "Kernel SHAP",
    "InputXGradient": "Input × Gradient",
    "LayerGradCam": "Grad-CAM",
    "GuidedGradCam": "Guided Grad-CAM",
    "Lime": "LIME",
    "LRP": "LRP",
}
#: captum's classes whose maps lie at a layer's grid (CAMs); every other captum method is pixel-type
CAPTUM_CAMS = ("LayerGradCam",)
#: captum's methods that explain a layer (and take the model's default one); every pytorch-grad-cam
#: method does too, and ours say so in :data:`METHODS`
CAPTUM_LAYER_METHODS = ("LayerGradCam", "GuidedGradCam")
_NAME = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_]\w*)$")


def split_name(name: str) -> tuple[str, str] | None:
    """``'package.module:function'`` -> ``('package.module', 'function')``; None for a plain name."""
    m = _NAME.match(name)
    return (m["module"], m["attr"]) if m else None


def library(name: str) -> str | None:
    """The library module (``pytorch_grad_cam``, ``captum``) a method name comes from, else None."""
    parts = split_name(name)
    return parts[0] if parts and parts[0] in LIBRARIES else None


def explains_layer(name: str) -> bool | None:
    """Whether method ``name`` explains a layer: known from the name for ours and the libraries'; None
    for your own function (its signature says: a ``layer`` argument, :func:`cameval.explain.uses_layer`)."""
    if lib := library(name):
        return lib == "pytorch_grad_cam" or split_name(name)[1] in CAPTUM_LAYER_METHODS
    if split_name(name) is not None:
        return None
    found = METHODS.get(ALIASES.get(name, name))
    return bool(found and found.layer)


def _derived_label(lib: str, cls: str) -> str:
    """``ScoreCAM`` -> ``Score-CAM``, ``GradCAMPlusPlus`` -> ``Grad-CAM++``, ``FeatureAblation`` ->
    ``Feature Ablation``; a label a native method already prints gets the library's name after it."""
    text = SPELLINGS.get(cls)
    if text is None:
        text = cls.replace("PlusPlus", "++")
        if lib == "pytorch_grad_cam":
            text = re.sub(r"^(.+?)CAM(\+\+)?$", r"\1-CAM\2", text)
        else:
            text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    native = {m.label for m in METHODS.values()}
    return f"{text} ({LIBRARIES[lib]})" if text in native else text


def method(name: str, kind: str | None = None) -> Method:
    """The :class:`Method` of ``name``: one of :data:`METHODS`, a library's (``pytorch_grad_cam:<Class>``,
    ``captum:<Class>``) or your own ``package.module:function``, whose ``kind`` (``cam`` or ``pixel``)
    must be given. A ``kind`` given for a native or library method must be its own."""
    name = ALIASES.get(name, name)
    if name in METHODS:
        found = METHODS[name]
    elif lib := library(name):
        cls = split_name(name)[1]
        cam = lib == "pytorch_grad_cam" or cls in CAPTUM_CAMS
        found = Method(name, _derived_label(lib, cls), "cam" if cam else "pixel")
    elif parts := split_name(name):
        if kind not in KINDS:
            raise ConfigError(
                f"kind: {kind!r} for method {name!r} (expected cam or pixel: whether your function's maps "
                "lie at a layer's grid, [N, h, w], or give a value per input pixel, [N, C, H, W])"
            )
        return Method(name, parts[1], kind)
    else:
        raise ConfigError(
            f"method: {name!r} is not one of {', '.join(METHODS)}, pytorch_grad_cam:<Class>, captum:<Class> "
            "or package.module:function"
        )
    if kind is not None and kind != found.kind:
        raise ConfigError(f"kind: {kind!r} for method {name!r}, whose maps are of kind {found.kind!r}")
    return found


def kind(name: str, declared: str | None = None) -> str:
    """The kind of method ``name`` (``declared``: a heatmap set's ``kind:``, needed for own functions)."""
    return method(name, declared).kind


def label(name: str) -> str:
    """The printed label of method ``name`` (an alias resolves to its method; a library's method is
    labelled as its paper spells it, your own function by its name); unknown names print as given,
    so a table never fails on a label."""
    try:
        return method(name, "pixel" if split_name(name) and not library(name) else None).label
    except ConfigError:
        return name


def labels(*names: str) -> dict[str, str]:
    """``{name: label}`` for ``names``, in that order: a table's method columns."""
    return {n: label(n) for n in names}


#: the column of a seeded random map (the sanity and deletion experiments' floor)
RANDOM_MAP = "random"


def set_label(heatmap: str, name: str) -> str:
    """The printed label of heatmap set ``heatmap`` of method ``name``: the method's label, with the
    set's name after it where a set of one of ours is named otherwise (``xr_gradcam_conv``); the
    seeded random map (:data:`RANDOM_MAP`) prints as ``random map``."""
    if name == RANDOM_MAP:
        return "random map"
    text = label(name)
    return text if heatmap == name or split_name(name) else f"{text} ({heatmap})"
