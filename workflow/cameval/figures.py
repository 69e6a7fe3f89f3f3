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
    fig, axes = plt.subplots(len(panels), len(cols), figsize=(2.2 * len(cols), 2.2 * len(panels)), squeeze=False,
                             layout="constrained")
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


def appendix_b(images: str, manifest: str, gradcam: list[str], occlusions: dict[str, list[str]],
               path: str | os.PathLike, n_images: int = 4) -> None:
    """Appendix B: per image, Grad-CAM overlay and the occlusion maps of each patch size.

    ``occlusions`` maps a column title (e.g. ``occlusion 25×25``) to its shards.
    """
    from cameval.data.images import ImageSet, read_manifest
    from cameval.store import Shard

    index = read_manifest(manifest).set_index("id")["index"]
    occ = {k: Shard(v[0]) for k, v in occlusions.items()}
    cam = Shard(gradcam[0])
    try:
        n = min(n_images, *(len(s) for s in occ.values()))
        cols = ["Grad-CAM", *occ]
        fig, axes = plt.subplots(n, len(cols), figsize=(2.4 * len(cols), 2.3 * n), squeeze=False,
                                 layout="constrained")
        with ImageSet(images) as imgs:
            for r in range(n):
                image_id = next(iter(occ.values())).ids[r]
                image = imgs.uint8(np.array([index[image_id]]))[0]
                h, w = image.shape[:2]
                k = cam.ids.index(image_id)
                im = overlay(axes[r, 0], image, upsample_map(cam.maps[k, 0], (h, w)))
                axes[r, 0].set_ylabel(f"{image_id.split('/')[-1]}\nclass {int(cam.targets[k, 0])}", fontsize=8)
                for c, (title, shard) in enumerate(occ.items(), start=1):
                    m = shard.maps[r, 0]
                    lim = float(np.abs(m).max()) or 1.0
                    oim = axes[r, c].imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
                    cb = fig.colorbar(oim, ax=axes[r, c], fraction=0.046, pad=0.02)
                    cb.ax.tick_params(labelsize=6)
                    if r == n - 1:
                        cb.set_label("score drop", fontsize=7)
                for c, title in enumerate(cols):
                    axes[r, c].set_xticks([])
                    axes[r, c].set_yticks([])
                    if r == 0:
                        axes[r, c].set_title(title, fontsize=9)
        cbar = fig.colorbar(im, ax=axes[:, 0], location="bottom", shrink=0.8, pad=0.02)
        cbar.set_label("Grad-CAM / max")
        save(fig, path)
    finally:
        cam.close()
        for s in occ.values():
            s.close()


def appendix_c(attacks: dict[str, str], path: str | os.PathLike, n_images: int = 3) -> None:
    """Appendix C: image and Grad-CAM of the true class, clean and after FGSM, per model."""
    import h5py

    rows = []
    for model, file in attacks.items():
        with h5py.File(file, "r") as f:
            for i in range(min(n_images, len(f["ids"]))):
                rows.append({k: f[k][i] for k in ("clean", "adv", "cam_clean", "cam_adv", "label", "pred_clean", "pred_adv")}
                            | {"model": model, "eps": float(f.attrs["eps"])})
    cols = ["clean", "Grad-CAM (clean)", "FGSM", "Grad-CAM (FGSM)"]
    fig, axes = plt.subplots(len(rows), 4, figsize=(9, 2.3 * len(rows)), squeeze=False, layout="constrained")
    im = None
    for r, row in enumerate(rows):
        h, w = row["clean"].shape[:2]
        axes[r, 0].imshow(row["clean"])
        im = overlay(axes[r, 1], row["clean"], upsample_map(row["cam_clean"], (h, w)))
        axes[r, 2].imshow(row["adv"])
        overlay(axes[r, 3], row["adv"], upsample_map(row["cam_adv"], (h, w)))
        axes[r, 0].set_ylabel(f"{row['model']}\nlabel {row['label']}", fontsize=8)
        axes[r, 0].set_xlabel(f"predicted {row['pred_clean']}", fontsize=8)
        axes[r, 2].set_xlabel(f"predicted {row['pred_adv']} (ε = {row['eps']:.3g})", fontsize=8)
        for c in range(4):
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(cols[c], fontsize=9)
    cbar = fig.colorbar(im, ax=axes[:, [1, 3]], location="bottom", shrink=0.6, pad=0.04)
    cbar.set_label("Grad-CAM of the true class / max")
    save(fig, path)
