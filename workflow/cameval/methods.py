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
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    name: str
    label: str
    kind: str  # "cam" | "pixel" | "occlusion"


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("gradcam", "Grad-CAM", "cam"),
        Method("gradcampp", "Grad-CAM++", "cam"),
        Method("guided_backprop", "Guided Backprop", "pixel"),
        Method("guided_gradcam", "Guided Grad-CAM", "pixel"),
        Method("integrated_gradients", "Integrated Gradients", "pixel"),
        Method("gradient_shap", "Gradient SHAP", "pixel"),
        Method("shap", "SHAP", "pixel"),
        Method("occlusion", "Occlusion", "occlusion"),
    )
}
#: short names some tables key their columns by (Table 6's ``ig``)
ALIASES = {"ig": "integrated_gradients"}


def label(name: str) -> str:
    """The printed label of method ``name`` (an alias resolves to its method); unknown names print
    as given, so a table never fails on a label."""
    method = METHODS.get(ALIASES.get(name, name))
    return method.label if method else name


def labels(*names: str) -> dict[str, str]:
    """``{name: label}`` for ``names``, in that order: a table's method columns."""
    return {n: label(n) for n in names}


def names_of_kind(kind: str) -> tuple[str, ...]:
    """The methods of one kind, in the table's order."""
    return tuple(n for n, m in METHODS.items() if m.kind == kind)
