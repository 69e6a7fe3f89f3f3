"""Paper figures from cached maps: matplotlib, labelled panels, colorbars, 200 dpi PNG."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

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
    fig, axes = plt.subplots(
        len(panels), len(cols), figsize=(2.2 * len(cols), 2.2 * len(panels)), squeeze=False, layout="constrained"
    )
    name = (lambda c: class_names[c]) if class_names is not None else str
    im = None
    for r, p in enumerate(panels):
        h, w = p["image"].shape[:2]
        cam = upsample_map(p["gradcam"], (h, w))
        campp = upsample_map(p["gradcampp"], (h, w))
        import torch  # here, not at the top: the other figures never load torch

        from cameval.explain.guided import combine_guided_gradcam

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


def figure1_from_shards(
    models: dict[str, dict[str, str]], images: str, manifest: str, path: str | os.PathLike, n_images: int = 3
) -> None:
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


def appendix_b(
    images: str,
    manifest: str,
    gradcam: list[str],
    occlusions: dict[str, list[str]],
    path: str | os.PathLike,
    n_images: int = 4,
) -> None:
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
        fig, axes = plt.subplots(n, len(cols), figsize=(2.4 * len(cols), 2.3 * n), squeeze=False, layout="constrained")
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
                rows.append(
                    {k: f[k][i] for k in ("clean", "adv", "cam_clean", "cam_adv", "label", "pred_clean", "pred_adv")}
                    | {"model": model, "eps": float(f.attrs["eps"])}
                )
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


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A stored image ``[H, W, C]`` (C = 1 or 3) as ``[H, W, 3]`` for display."""
    image = np.asarray(image)
    return np.repeat(image, 3, axis=2) if image.ndim == 3 and image.shape[2] == 1 else image


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def class_names(spec: dict) -> list[str] | None:
    """Display names of a dataset's classes (a ``datasets.<name>`` config entry): ImageNet's first
    synonym per line of ``LOC_synset_mapping.txt``, CIFAR-10's names; None (numbers) otherwise."""
    kind = spec.get("kind")
    if kind == "imagenet":
        from pathlib import Path

        lines = [ln for ln in Path(spec["synsets"]).read_text().splitlines() if ln.strip()]
        return [ln.split(maxsplit=1)[1].split(",")[0] if " " in ln.strip() else ln.strip() for ln in lines]
    if kind == "torchvision" and spec.get("name") == "cifar10":
        return list(CIFAR10_CLASSES)
    return None


def appendix_f(
    attacks: dict[str, list[str]],
    path: str | os.PathLike,
    n_images: int = 3,
    class_names=None,
    expected: int | None = None,
) -> None:
    """Appendix F: per model, the first ``n_images`` successful one-pixel attacks (in split order),
    each as Grad-CAM of the label on the clean image, the attacked image with the pixel circled and
    its new colour, and Grad-CAM of the new class on the attacked image, with both predictions and
    probabilities. Where a model has fewer successes, its first failed attacks fill the rows,
    marked "attack failed" (their third column explains the best candidate's prediction).
    ``expected``: the images each model's shards must cover (:func:`cameval.sensitivity.read_attacks`)."""
    from matplotlib.patches import Circle

    from cameval.sensitivity import read_attacks

    name = (lambda c: class_names[c]) if class_names is not None else (lambda c: f"class {c}")
    rows = []
    for model, paths in attacks.items():
        a = read_attacks(paths, expected)
        ok = a["success"] & (a["pred_before"] == a["labels"])  # a clean misclassification is no success
        a["success"] = ok
        order = np.concatenate([np.flatnonzero(ok), np.flatnonzero(~ok)])
        for i in order[:n_images]:
            adv = a["clean"][i].copy()
            adv[a["pixel"][i][0], a["pixel"][i][1]] = a["colour"][i]
            p_new = a["p_new"][i] if "p_new" in a else float("nan")
            rows.append(
                {
                    "model": model,
                    "id": a["ids"][i],
                    "clean": as_rgb(a["clean"][i]),
                    "adv": as_rgb(adv),
                    "cam_before": a["cam_before"][i],
                    "cam_after": a["cam_after"][i],
                    "pixel": a["pixel"][i],
                    "colour": tuple(int(v) for v in a["colour"][i]),
                    "label": int(a["labels"][i]),
                    "before": int(a["pred_before"][i]),
                    "pred": int(a["pred_after"][i]),
                    "ok": bool(a["success"][i]),
                    "p": (float(a["p_before"][i]), float(a["p_after"][i])),
                    "p_new": float(p_new),
                }
            )
    cols = ["Grad-CAM of the label, clean", "attacked pixel (circled)", "Grad-CAM of the new class, attacked"]
    n = max(1, len(rows))
    fig, axes = plt.subplots(n, 3, figsize=(6.6, 2.35 * n + 0.6), squeeze=False, layout="constrained")
    im = None
    for r, row in enumerate(rows):
        h, w = row["clean"].shape[:2]
        im = overlay(axes[r, 0], row["clean"], upsample_map(row["cam_before"], (h, w)))
        axes[r, 1].imshow(row["adv"], interpolation="nearest")
        y, x = row["pixel"]
        colour = np.array(row["colour"] * (3 if len(row["colour"]) == 1 else 1)) / 255
        axes[r, 1].add_patch(Circle((x, y), radius=max(2.0, w / 12), fill=False, color="lime", linewidth=1.5))
        axes[r, 1].add_patch(
            plt.Rectangle(
                (0.80, 0.80),
                0.17,
                0.17,
                transform=axes[r, 1].transAxes,
                facecolor=colour,
                edgecolor="white",
                linewidth=1.0,
            )
        )
        overlay(axes[r, 2], row["adv"], upsample_map(row["cam_after"], (h, w)))
        status = "" if row["ok"] else "\nattack failed"
        axes[r, 0].set_ylabel(
            f"{row['model']}\n{row['id']}{status}", fontsize=8, color="black" if row["ok"] else "firebrick"
        )
        axes[r, 0].set_xlabel(
            f"label {name(row['label'])}; predicted {name(row['before'])}\np(label) = {row['p'][0]:.3f}", fontsize=7.5
        )
        rgb = ", ".join(str(v) for v in row["colour"])
        axes[r, 1].set_xlabel(f"pixel (row {y}, col {x}) := ({rgb})", fontsize=7.5)
        p_new = "" if np.isnan(row["p_new"]) else f"p(new) = {row['p_new']:.3f}, "
        axes[r, 2].set_xlabel(
            f"predicted {name(row['pred'])}{' (attack failed)' if not row['ok'] else ''}\n"
            f"{p_new}p(label) = {row['p'][1]:.3f}",
            fontsize=7.5,
        )
        for c in range(3):
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(cols[c], fontsize=8.5)
    if im is not None:
        fig.colorbar(
            im, ax=axes[:, [0, 2]].ravel().tolist(), location="bottom", shrink=0.6, aspect=30, pad=0.02
        ).set_label("Grad-CAM / its max (upsampled bilinearly)", fontsize=8)
    save(fig, path)


def appendix_g(
    maps: dict[str, str], path: str | os.PathLike, n_images: int = 3, class_names: dict | None = None
) -> None:
    """Appendix G: image, SHAP, Grad-CAM and Integrated Gradients of the label, per model
    (``maps[model]``: the class-map file of :func:`cameval.faithfulness.class_maps`;
    ``class_names[model]``: that model's class names, or None for numbers)."""
    import h5py

    names = class_names or {}
    order = [("shap", "SHAP"), ("gradcam", "Grad-CAM"), ("integrated_gradients", "Integrated Gradients")]
    rows = []
    for model, file in maps.items():
        with h5py.File(file, "r") as fh:
            have = [(k, t) for k, t in order if f"maps/{k}" in fh]
            for i in range(min(n_images, len(fh["labels"]))):
                label = int(fh["labels"][i])
                names_m = names.get(model)
                rows.append(
                    {
                        "model": model,
                        "image": as_rgb(fh["images"][i]),
                        "label": names_m[label] if names_m else f"class {label}",
                        "explainer": fh.attrs.get("shap_explainer", ""),
                        "maps": {t: fh[f"maps/{k}"][i, label] for k, t in have},
                    }
                )
    cols = ["image"] + [t for _, t in order]
    fig, axes = plt.subplots(
        max(1, len(rows)),
        len(cols),
        figsize=(2.2 * len(cols), 2.3 * max(1, len(rows))),
        squeeze=False,
        layout="constrained",
    )
    for r, row in enumerate(rows):
        axes[r, 0].imshow(row["image"])
        axes[r, 0].set_ylabel(f"{row['model']}\n{row['label']}", fontsize=8)
        for c, title in enumerate(cols[1:], start=1):
            m = row["maps"].get(title)
            if m is None:
                axes[r, c].axis("off")
                continue
            lim = float(np.abs(m).max()) or 1.0
            axes[r, c].imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
            if title == "SHAP" and row["explainer"]:
                axes[r, c].set_xlabel(f"shap {row['explainer']} explainer", fontsize=7)
        for c, title in enumerate(cols):
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(title, fontsize=9)
    fig.supxlabel("maps of the label, each scaled to ± its largest magnitude (red positive, blue negative)", fontsize=8)
    save(fig, path)
