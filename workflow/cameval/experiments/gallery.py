"""Figure 1 / Appendix A: the methods side by side (Grad-CAM, Grad-CAM++, Guided Backprop, Guided Grad-CAM)."""

from __future__ import annotations

import os

import numpy as np

from cameval.data.images import ImageSet, read_manifest
from cameval.experiments.record import Experiment, require_dataset_models
from cameval.figures import class_label, colorbar, deprocess_gradient, overlay, panel_grid, save, tidy_row
from cameval.metrics import upsample_map
from cameval.store import Shard


def figure1(panels: list[dict], path: str | os.PathLike, class_names=None) -> None:
    """Figure 1 / Appendix A: image, Grad-CAM, Grad-CAM++, Guided Backprop, Guided Grad-CAM.

    ``panels``: one dict per row with ``model``, ``image`` uint8 ``[H, W, 3]``, ``label``,
    ``target`` (the explained class), ``gradcam`` and ``gradcampp`` (layer grid), ``gbp``
    ``[C, H, W]``. Guided Grad-CAM is formed here from the cached Guided Backprop and Grad-CAM.
    """
    cols = ["image", "Grad-CAM", "Grad-CAM++", "Guided Backprop", "Guided Grad-CAM"]
    fig, axes = panel_grid(len(panels), len(cols), (2.2 * len(cols), 2.2 * len(panels)))

    def name(c):
        return class_label(class_names, c, "{}")

    im = None
    for r, p in enumerate(panels):
        h, w = p["image"].shape[:2]
        cam = upsample_map(p["gradcam"], (h, w))
        campp = upsample_map(p["gradcampp"], (h, w))
        import torch  # noqa: PLC0415  # here, not at the top: the other jobs of the experiments never load torch

        from cameval.explain.guided import combine_guided_gradcam  # noqa: PLC0415  # loads torch (as above)

        ggc = combine_guided_gradcam(torch.as_tensor(p["gbp"])[None], torch.as_tensor(p["gradcam"])[None])[0].numpy()
        axes[r, 0].imshow(p["image"])
        axes[r, 0].set_ylabel(f"{p['model']}\nlabel {name(p['label'])}\nexplained {name(p['target'])}", fontsize=8)
        im = overlay(axes[r, 1], p["image"], cam)
        overlay(axes[r, 2], p["image"], campp)
        axes[r, 3].imshow(deprocess_gradient(p["gbp"]))
        axes[r, 4].imshow(deprocess_gradient(ggc))
        tidy_row(axes, r, cols)
    colorbar(fig, im, axes[:, 1:3], "map / max (Grad-CAM, Grad-CAM++)", shrink=0.6, location="bottom", pad=0.02)
    save(fig, path)


def figure1_from_shards(
    models: dict[str, dict[str, str]], images: str, manifest: str, path: str | os.PathLike, n_images: int = 3
) -> None:
    """Figure 1 for the first ``n_images`` of each model's first shards.

    ``models[model]`` maps ``gradcam``, ``gradcampp`` and ``guided_backprop`` to shard files;
    the explained class is each shard's first target (the top-1 prediction).
    """
    index = read_manifest(manifest).set_index("id")["index"]
    panels = []
    with ImageSet(images) as imgs:
        for model, files in models.items():
            with (
                Shard(files["gradcam"]) as cam,
                Shard(files["gradcampp"]) as campp,
                Shard(files["guided_backprop"]) as gbp,
            ):
                for i in range(min(n_images, len(cam), len(gbp))):
                    if not (cam.ids[i] == campp.ids[i] == gbp.ids[i]):
                        raise ValueError(f"figure1: shards of {model} disagree on image {i}")
                    panels.append(
                        {
                            "model": model,
                            "image": imgs.uint8(np.array([index[cam.ids[i]]]))[0],
                            "label": int(cam.labels[i]),
                            "target": int(cam.targets[i, 0]),
                            "gradcam": cam.maps[i, 0],
                            "gradcampp": campp.maps[i, 0],
                            "gbp": gbp.maps[i, 0],
                        }
                    )
    figure1(panels, path)


HEATMAPS = ("gradcam", "gradcampp", "guided_backprop")


def figure_inputs(config: dict) -> dict[str, str]:
    """The first shard of each model's Grad-CAM, Grad-CAM++ and Guided Backprop: ``{model}__{heatmap}``."""
    f = config["figure1"]
    return {
        f"{model}__{heatmap}": f"results/heatmaps/{f['dataset']}/{model}/{heatmap}/shard-0.h5"
        for model in f["models"]
        for heatmap in HEATMAPS
    }


EXPERIMENT = Experiment(
    name="gallery",
    order=0,
    title="Figure 1 / App. A — the methods side by side",
    section="figure1",
    targets=lambda config: ["results/figures/figure1.png"],
    check=lambda config, shipped: require_dataset_models(config, "figure1"),
)
