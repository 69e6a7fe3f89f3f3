"""Appendix B: per image, the Grad-CAM overlay and the occlusion maps of each patch size."""

from __future__ import annotations

import os

import numpy as np

from cameval import metrics
from cameval.data.images import ImageSet
from cameval.data.manifest import read_manifest
from cameval.figures import colorbar, overlay, panel_grid, save, tidy_row
from cameval.store import Expect, Shard


def appendix_b(
    images: str,
    manifest: str,
    gradcam: list[str],
    occlusions: dict[str, list[str]],
    path: str | os.PathLike,
    n_images: int = 4,
    expect: dict[str, Expect] | None = None,
) -> None:
    """Appendix B: per image, Grad-CAM overlay and the occlusion maps of each patch size, all of the
    top-1 predicted class (the class Table 3's maps explain); each row names the image, its true class
    and that predicted class.

    ``occlusions`` maps a column title (e.g. ``occlusion 25×25``) to its shards. Every occlusion map has
    its own colorbar of the score drop (logit of the class, unnormalized), Grad-CAM one shared 0–1 scale.
    ``expect`` maps ``gradcam`` and each title to what its shards must have been made from
    (:class:`cameval.store.Expect`).
    """
    expect = expect or {}
    index = read_manifest(manifest).set_index("id")["index"]
    occ = {k: Shard(v[0], expect.get(k)) for k, v in occlusions.items()}
    cam = Shard(gradcam[0], expect.get("gradcam"))
    try:
        n = min(n_images, *(len(s) for s in occ.values()))
        cols = ["Grad-CAM (predicted class)", *(f"{k}: score drop" for k in occ)]
        fig, axes = panel_grid(n, len(cols), (2.5 * len(cols), 2.4 * n + 0.5))
        with ImageSet(images) as imgs:
            for r in range(n):
                image_id = next(iter(occ.values())).ids[r]
                image = imgs.uint8(np.array([index[image_id]]))[0]
                h, w = image.shape[:2]
                k = cam.ids.index(image_id)
                im = overlay(axes[r, 0], image, metrics.upsample_map(cam.maps[k, 0], (h, w)))
                true = int(np.asarray(cam.labels[k]).reshape(-1)[0])
                axes[r, 0].set_ylabel(
                    f"image {image_id.split('/')[-1]}\ntrue class {true}\npredicted {int(cam.targets[k, 0])}",
                    fontsize=8,
                )
                for c, shard in enumerate(occ.values(), start=1):
                    m = shard.maps[r, 0]
                    lim = float(np.abs(m).max()) or 1.0
                    oim = axes[r, c].imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
                    cb = fig.colorbar(oim, ax=axes[r, c], fraction=0.046, pad=0.02)
                    cb.ax.tick_params(labelsize=7)
                    cb.set_label("score drop (logit)", fontsize=7.5)
                tidy_row(axes, r, cols)
        colorbar(fig, im, axes[:, 0], "Grad-CAM, 0–1 of its max", label_size=8, location="bottom", shrink=0.8, pad=0.02)
        fig.supxlabel(
            "occlusion: the class score (logit) with the patch centred at each pixel subtracted from the clean "
            "score; red: the score falls",
            fontsize=7.5,
        )
        save(fig, path)
    finally:
        cam.close()
        for s in occ.values():
            s.close()
