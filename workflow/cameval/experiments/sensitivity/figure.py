"""Appendix F: the one-pixel attacks and Grad-CAM before and after, read from the attack shards."""

from __future__ import annotations

import os

import numpy as np

from cameval import metrics
from cameval.figures import as_rgb, class_label, colorbar, overlay, panel_grid, pyplot, save, tidy_row
from cameval.store import Expect, read_attacks


def appendix_f(
    attacks: dict[str, list[str]],
    path: str | os.PathLike,
    n_images: int = 3,
    class_names=None,
    expected: int | None = None,
    expect: dict[str, Expect] | None = None,
) -> None:
    """Appendix F: per model, the first ``n_images`` successful one-pixel attacks (in split order),
    each as Grad-CAM of the label on the clean image, the attacked image with the pixel circled and
    its new colour, and Grad-CAM of the new class on the attacked image, with both predictions and
    probabilities. Where a model has fewer successes, its first failed attacks fill the rows,
    marked "attack failed" (their third column explains the best candidate's prediction).
    ``expected``: the images each model's shards must cover (:func:`cameval.store.read_attacks`);
    ``expect[model]``: what they must have been made from (:class:`cameval.store.Expect`)."""

    def name(c):
        return class_label(class_names, c)

    rows = []
    for model, paths in attacks.items():
        a = read_attacks(paths, expected, (expect or {}).get(model))
        ok = a["success"] & (a["pred_before"] == a["labels"])  # a clean misclassification is no success
        a["success"] = ok
        order = np.concatenate([np.flatnonzero(ok), np.flatnonzero(~ok)])
        for i in order[:n_images]:
            adv = a["clean"][i].copy()
            adv[a["pixel"][i][0], a["pixel"][i][1]] = a["colour"][i]
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
                    "p_new": float(a["p_new"][i]),
                }
            )
    cols = [
        "clean image:\nGrad-CAM of the label",
        "attacked image: pixel circled,\nsquare = its new colour",
        "attacked image:\nGrad-CAM of the new class",
    ]
    n = max(1, len(rows))
    fig, axes = panel_grid(n, 3, (7.2, 2.5 * n + 0.8))
    im = None
    for r, row in enumerate(rows):
        h, w = row["clean"].shape[:2]
        im = overlay(axes[r, 0], row["clean"], metrics.upsample_map(row["cam_before"], (h, w)))
        axes[r, 1].imshow(row["adv"], interpolation="nearest")
        y, x = row["pixel"]
        colour = np.array(row["colour"] * (3 if len(row["colour"]) == 1 else 1)) / 255
        axes[r, 1].add_patch(pyplot().Circle((x, y), radius=max(2.0, w / 12), fill=False, color="lime", linewidth=1.5))
        axes[r, 1].add_patch(
            pyplot().Rectangle(
                (0.80, 0.80),
                0.17,
                0.17,
                transform=axes[r, 1].transAxes,
                facecolor=colour,
                edgecolor="white",
                linewidth=1.0,
            )
        )
        overlay(axes[r, 2], row["adv"], metrics.upsample_map(row["cam_after"], (h, w)))
        status = "" if row["ok"] else "\nattack failed"
        axes[r, 0].set_ylabel(
            f"{row['model']}\n{row['id']}{status}", fontsize=8, color="black" if row["ok"] else "firebrick"
        )
        axes[r, 0].set_xlabel(
            f"label {name(row['label'])}; predicted {name(row['before'])}\np(label) = {row['p'][0]:.3f}", fontsize=7.5
        )
        rgb = ", ".join(str(v) for v in row["colour"])
        axes[r, 1].set_xlabel(
            f"pixel (row {y}, col {x}) set to\n{'RGB' if len(row['colour']) == 3 else 'gray'} ({rgb})", fontsize=7.5
        )
        axes[r, 2].set_xlabel(
            f"predicted {name(row['pred'])}{' (attack failed)' if not row['ok'] else ''}\n"
            f"p(new) = {row['p_new']:.3f}, p(label) = {row['p'][1]:.3f}",
            fontsize=7.5,
        )
        tidy_row(axes, r, cols, fontsize=8.5)
    if im is not None:
        colorbar(
            fig,
            im,
            axes[:, [0, 2]].ravel().tolist(),
            "Grad-CAM, 0–1 of its max (upsampled bilinearly)",
            label_size=8,
            location="bottom",
            shrink=0.6,
            aspect=30,
            pad=0.02,
        )
    save(fig, path)
