"""Figure 1's job: the panels read from the first heatmap shards and drawn, Guided Grad-CAM formed
with torch from the cached Guided Backprop and Grad-CAM. The only module of the package that imports
torch.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import torch

from cameval.data.images import ImageSet
from cameval.data.manifest import read_manifest
from cameval.explain.guided import combine_guided_gradcam
from cameval.figures import class_label, colorbar, deprocess_gradient, overlay, panel_grid, save, tidy_row
from cameval.metrics import upsample_map
from cameval.store import Expect, Shard


def figure1(panels: list[dict], path: str | os.PathLike, class_names=None, extra: dict[str, str] | None = None) -> None:
    """Figure 1 / Appendix A: image, Grad-CAM, Grad-CAM++, the CAMs of ``extra``, Guided Backprop,
    Guided Grad-CAM.

    ``panels``: one dict per row with ``model``, ``image`` uint8 ``[H, W, 3]``, ``label``,
    ``target`` (the explained class), ``gradcam`` and ``gradcampp`` (layer grid), ``gbp``
    ``[C, H, W]``, and one map per key of ``extra`` (``{set: label}``, CAM-type: a layer's grid
    or the input's), overlaid as Grad-CAM's, divided by its max, under the same colorbar. Guided
    Grad-CAM is formed here from the cached Guided Backprop and Grad-CAM.
    """
    extra = extra or {}
    cams = ["Grad-CAM", "Grad-CAM++", *extra.values()]
    cols = ["image", *cams, "Guided Backprop", "Guided Grad-CAM"]
    fig, axes = panel_grid(len(panels), len(cols), (2.2 * len(cols), 2.2 * len(panels)))

    def name(c):
        return class_label(class_names, c, "{}")

    im = None
    for r, p in enumerate(panels):
        h, w = p["image"].shape[:2]
        cam = upsample_map(p["gradcam"], (h, w))
        campp = upsample_map(p["gradcampp"], (h, w))
        ggc = combine_guided_gradcam(torch.as_tensor(p["gbp"])[None], torch.as_tensor(p["gradcam"])[None])[0].numpy()
        axes[r, 0].imshow(p["image"])
        axes[r, 0].set_ylabel(
            f"model {p['model']}\ntrue class {name(p['label'])}\nexplained: predicted {name(p['target'])}", fontsize=10
        )
        im = overlay(axes[r, 1], p["image"], cam)
        overlay(axes[r, 2], p["image"], campp)
        for c, key in enumerate(extra, start=3):
            overlay(axes[r, c], p["image"], upsample_map(p[key], (h, w)))
        axes[r, len(cams) + 1].imshow(deprocess_gradient(p["gbp"]))
        axes[r, len(cams) + 2].imshow(deprocess_gradient(ggc))
        tidy_row(axes, r, cols, fontsize=10.5)
    colorbar(
        fig,
        im,
        axes[:, 1 : len(cams) + 1],
        f"{', '.join(cams)}: 0–1 of the map's max (upsampled bilinearly)",
        label_size=10,
        shrink=0.6,
        location="bottom",
        pad=0.02,
    )
    gbp_ax, ggc_ax = axes[-1, len(cams) + 1], axes[-1, len(cams) + 2]
    gbp_ax.set_xlabel("gradient as RGB: gray = its\nmean, ± 0.1 per std", fontsize=9)
    ggc_ax.set_xlabel("Guided Backprop × Grad-CAM,\nshown the same way", fontsize=9)
    save(fig, path)


def figure1_from_shards(
    models: dict[str, dict[str, str]],
    images: str,
    manifest: str,
    path: str | os.PathLike,
    n_images: int = 3,
    extra: dict[str, str] | None = None,
    expect: dict[str, dict[str, Expect]] | None = None,
) -> None:
    """Figure 1 for the first ``n_images`` of each model's first shards.

    ``models[model]`` maps ``gradcam``, ``gradcampp``, ``guided_backprop`` and each set of
    ``extra`` (``{set: label}``: ``figure1.methods``) to shard files; the explained class is each
    shard's first target (the top-1 prediction), the same in every shard of a row.
    ``expect[model][set]``: what that shard must have been made from (:class:`cameval.store.Expect`).
    """
    extra = extra or {}
    index = read_manifest(manifest).set_index("id")["index"]
    panels = []
    with ImageSet(images) as imgs:
        for model, files in models.items():
            want = (expect or {}).get(model, {})
            with (
                contextlib.ExitStack() as stack,
                Shard(files["gradcam"], want.get("gradcam")) as cam,
                Shard(files["gradcampp"], want.get("gradcampp")) as campp,
                Shard(files["guided_backprop"], want.get("guided_backprop")) as gbp,
            ):
                others = {k: stack.enter_context(Shard(files[k], want.get(k))) for k in extra}
                for i in range(min(n_images, len(cam), len(gbp), *(len(o) for o in others.values()))):
                    if not (cam.ids[i] == campp.ids[i] == gbp.ids[i]) or any(
                        o.ids[i] != cam.ids[i] for o in others.values()
                    ):
                        raise ValueError(f"figure1: shards of {model} disagree on image {i}")
                    for k, o in others.items():
                        if int(o.targets[i, 0]) != int(cam.targets[i, 0]):
                            raise ValueError(
                                f"figure1: {files[k]} explains class {int(o.targets[i, 0])} of image {cam.ids[i]}, "
                                f"Grad-CAM class {int(cam.targets[i, 0])} (expected the top-1 class first in both)"
                            )
                    panels.append(
                        {
                            "model": model,
                            "image": imgs.uint8(np.array([index[cam.ids[i]]]))[0],
                            "label": int(cam.labels[i]),
                            "target": int(cam.targets[i, 0]),
                            "gradcam": cam.maps[i, 0],
                            "gradcampp": campp.maps[i, 0],
                            "gbp": gbp.maps[i, 0],
                            **{k: o.maps[i, 0] for k, o in others.items()},
                        }
                    )
    figure1(panels, path, extra=extra)
