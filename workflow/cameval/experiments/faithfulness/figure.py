"""Appendix G: the image and SHAP, Grad-CAM and Integrated Gradients of the label, per model, read
from the class-map files (:mod:`.compute`)."""

from __future__ import annotations

import os
import textwrap

import numpy as np

from cameval.figures import as_rgb, class_label, colorbar, panel_grid, save, tidy_row
from cameval.store import Expect, read_class_maps


def appendix_g(
    maps: dict[str, str],
    path: str | os.PathLike,
    n_images: int = 3,
    class_names: dict | None = None,
    expect: dict[str, Expect] | None = None,
) -> None:
    """Appendix G: image, SHAP, Grad-CAM and Integrated Gradients of the label, per model
    (``maps[model]``: the class-map file of :func:`cameval.experiments.faithfulness.compute.class_maps`;
    ``class_names[model]``: that model's class names, or None for numbers; ``expect[model]``: what its
    file must have been made from, :class:`cameval.store.Expect`)."""
    names = class_names or {}
    order = [("shap", "SHAP"), ("gradcam", "Grad-CAM"), ("integrated_gradients", "Integrated Gradients")]
    rows = []
    for model, file in maps.items():
        fh = read_class_maps(file, expect=(expect or {}).get(model))
        have = [(k, t) for k, t in order if k in fh["maps"]]
        for i in range(min(n_images, len(fh["labels"]))):
            label = int(fh["labels"][i])
            rows.append(
                {
                    "model": model,
                    "image": as_rgb(fh["images"][i]),
                    "label": class_label(names.get(model) or None, label),
                    "explainer": fh["explainer"],
                    "maps": {t: fh["maps"][k][i, label] for k, t in have},
                }
            )
    cols = ["image"] + [t for _, t in order]
    fig, axes = panel_grid(max(1, len(rows)), len(cols), (2.2 * len(cols), 2.3 * max(1, len(rows)) + 0.8))
    shown = None
    for r, row in enumerate(rows):
        axes[r, 0].imshow(row["image"])
        axes[r, 0].set_ylabel(f"model {row['model']}\nlabel: {row['label']}", fontsize=10)
        for c, title in enumerate(cols[1:], start=1):
            m = row["maps"].get(title)
            if m is None:
                axes[r, c].axis("off")
                continue
            m = np.asarray(m, dtype=np.float32)
            lim = float(np.abs(m).max())
            shown = axes[r, c].imshow(m / lim if lim > 0 else m, cmap="RdBu_r", vmin=-1, vmax=1)
            if lim == 0:  # an all-zero map: say so, rather than leave a white square to guess at
                axes[r, c].text(0.5, 0.5, "all zero", transform=axes[r, c].transAxes, ha="center", fontsize=9.5)
            if title == "SHAP" and row["explainer"]:
                axes[r, c].set_xlabel(f"shap {row['explainer']} explainer", fontsize=9)
        tidy_row(axes, r, cols, fontsize=10.5)
    if shown is not None:
        colorbar(
            fig,
            shown,
            axes[:, 1:],
            "map of the label, −1…1 of its largest magnitude (red: for the class, blue: against)",
            label_size=10,
            location="bottom",
            shrink=0.7,
            pad=0.02,
        )
    fig.suptitle(textwrap.fill(GRADCAM_NOTE, 125), fontsize=8.5)
    save(fig, path)


#: what Appendix G's Grad-CAM column shows on the study's MNIST network (found by comparing with
#: pytorch-grad-cam's GradCAM on the same model, layer and images: tests/test_figures.py)
GRADCAM_NOTE = (
    "Grad-CAM = ReLU(Σ_k α_k A^k) at the last convolutional layer. The MNIST network has one (12×12 after its "
    "pool): for a thin digit such as a 1, Σ_k α_k A^k is negative on the stroke and positive beside it, so "
    "the map is 0 on the digit and lit on the background. That is the method on this network, not a bug: "
    "pytorch-grad-cam's GradCAM gives the same maps."
)
