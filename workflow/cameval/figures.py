"""Paper figures from cached maps: matplotlib, labelled panels, colorbars, 200 dpi PNG."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cameval.explain.guided import combine_guided_gradcam  # noqa: E402
from cameval.io import atomic_path  # noqa: E402
from cameval.metrics import upsample_map  # noqa: E402

CMAP = "jet"


def normalize(m: np.ndarray) -> np.ndarray:
    """Scale a map to [0, 1] by its max (CAMs are non-negative); an all-zero map stays zero."""
    m = np.asarray(m, dtype=np.float32)
    top = m.max()
    return m / top if top > 0 else np.zeros_like(m)


def deprocess_gradient(g: np.ndarray) -> np.ndarray:
    """A pixel-space gradient ``[C, H, W]`` as a displayable RGB image ``[H, W, C]`` in [0, 1]
    (zero-mean, 0.1 std around gray: the convention of the Guided Backprop and Grad-CAM code)."""
    g = np.asarray(g, dtype=np.float32).transpose(1, 2, 0)
    g = (g - g.mean()) / (g.std() + 1e-8) * 0.1 + 0.5
    return np.clip(g, 0, 1)


def overlay(ax, image: np.ndarray, hmap: np.ndarray, alpha: float = 0.5):
    ax.imshow(image)
    return ax.imshow(normalize(hmap), cmap=CMAP, alpha=alpha, vmin=0, vmax=1)


def save(fig, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=200, bbox_inches="tight", format=os.path.splitext(str(path))[1][1:] or "png")
    plt.close(fig)


def figure1(panels: list[dict], path: str | os.PathLike, class_names=None) -> None:
    """Figure 1 / Appendix A: image, Grad-CAM, Grad-CAM++, Guided Backprop, Guided Grad-CAM.

    ``panels``: one dict per row with ``model``, ``image`` uint8 ``[H, W, 3]``, ``label``,
    ``target`` (the explained class), ``gradcam`` and ``gradcampp`` (layer grid), ``gbp``
    ``[C, H, W]``. Guided Grad-CAM is formed here from the cached Guided Backprop and Grad-CAM.
    """
    cols = ["image", "Grad-CAM", "Grad-CAM++", "Guided Backprop", "Guided Grad-CAM"]
    fig, axes = plt.subplots(len(panels), len(cols), figsize=(2.2 * len(cols), 2.2 * len(panels)), squeeze=False)
    name = (lambda c: class_names[c]) if class_names is not None else str
    im = None
    for r, p in enumerate(panels):
        h, w = p["image"].shape[:2]
        cam = upsample_map(p["gradcam"], (h, w))
        campp = upsample_map(p["gradcampp"], (h, w))
        import torch

        ggc = combine_guided_gradcam(torch.as_tensor(p["gbp"])[None], torch.as_tensor(p["gradcam"])[None])[0].numpy()
        axes[r, 0].imshow(p["image"])
        axes[r, 0].set_ylabel(f"{p['model']}\nlabel {name(p['label'])}\nexplained {name(p['target'])}", fontsize=8)
        im = overlay(axes[r, 1], p["image"], cam)
        overlay(axes[r, 2], p["image"], campp)
        axes[r, 3].imshow(deprocess_gradient(p["gbp"]))
        axes[r, 4].imshow(deprocess_gradient(ggc))
        for c, title in enumerate(cols):
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(title, fontsize=9)
    cbar = fig.colorbar(im, ax=axes[:, 1:3], shrink=0.6, location="bottom", pad=0.02)
    cbar.set_label("map / max (Grad-CAM, Grad-CAM++)")
    save(fig, path)


def figure1_from_shards(models: dict[str, dict[str, str]], images: str, manifest: str,
                        path: str | os.PathLike, n_images: int = 3) -> None:
    """Figure 1 for the first ``n_images`` of each model's first shards.

    ``models[model]`` maps ``gradcam``, ``gradcampp`` and ``guided_backprop`` to shard files;
    the explained class is each shard's first target (the top-1 prediction).
    """
    from cameval.data.images import ImageSet, read_manifest
    from cameval.store import Shard

    index = read_manifest(manifest).set_index("id")["index"]
    panels = []
    with ImageSet(images) as imgs:
        for model, files in models.items():
            with Shard(files["gradcam"]) as cam, Shard(files["gradcampp"]) as campp, \
                    Shard(files["guided_backprop"]) as gbp:
                for i in range(min(n_images, len(cam), len(gbp))):
                    if not (cam.ids[i] == campp.ids[i] == gbp.ids[i]):
                        raise ValueError(f"figure1: shards of {model} disagree on image {i}")
                    panels.append({
                        "model": model, "image": imgs.uint8(np.array([index[cam.ids[i]]]))[0],
                        "label": int(cam.labels[i]), "target": int(cam.targets[i, 0]),
                        "gradcam": cam.maps[i, 0], "gradcampp": campp.maps[i, 0], "gbp": gbp.maps[i, 0],
                    })
    figure1(panels, path)
