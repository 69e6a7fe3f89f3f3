"""Appendix C's figure: image and Grad-CAM of the true class, clean and after FGSM, per model (read
from the attacks :mod:`.compute` cached)."""

from __future__ import annotations

import os

from cameval import metrics
from cameval.figures import colorbar, overlay, panel_grid, save, tidy_row
from cameval.store import Expect, read_fgsm


def appendix_c(
    attacks: dict[str, str], path: str | os.PathLike, n_images: int = 3, expect: dict[str, Expect] | None = None
) -> None:
    """Appendix C: image and Grad-CAM of the true class, clean and after FGSM, per model; ``expect[model]``:
    what its file must have been made from (:class:`cameval.store.Expect`)."""
    rows = []
    for model, file in attacks.items():
        f = read_fgsm(file, (expect or {}).get(model))
        for i in range(min(n_images, len(f["ids"]))):
            rows.append(
                {k: f[k][i] for k in ("clean", "adv", "cam_clean", "cam_adv", "label", "pred_clean", "pred_adv")}
                | {"model": model, "eps": f["eps"]}
            )
    cols = ["clean", "Grad-CAM (clean)", "FGSM", "Grad-CAM (FGSM)"]
    fig, axes = panel_grid(len(rows), 4, (9, 2.3 * len(rows)))
    im = None
    for r, row in enumerate(rows):
        h, w = row["clean"].shape[:2]
        axes[r, 0].imshow(row["clean"])
        im = overlay(axes[r, 1], row["clean"], metrics.upsample_map(row["cam_clean"], (h, w)))
        axes[r, 2].imshow(row["adv"])
        overlay(axes[r, 3], row["adv"], metrics.upsample_map(row["cam_adv"], (h, w)))
        axes[r, 0].set_ylabel(f"model {row['model']}\ntrue class {row['label']}", fontsize=9.5)
        axes[r, 0].set_xlabel(f"predicted {row['pred_clean']}", fontsize=9)
        axes[r, 2].set_xlabel(f"predicted {row['pred_adv']} (ε = {row['eps']:.3g})", fontsize=9)
        tidy_row(axes, r, cols)
    colorbar(
        fig, im, axes[:, [1, 3]], "Grad-CAM of the true class, 0–1 of its max", location="bottom", shrink=0.6, pad=0.04
    )
    save(fig, path)
