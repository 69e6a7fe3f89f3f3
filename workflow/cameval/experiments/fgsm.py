"""Appendix C: Grad-CAM's robustness to FGSM (maps of the true class before and after the attack).

:func:`fgsm_rows` attacks and explains (the costly step; it caches images and maps for the figure),
:func:`fgsm_table` aggregates, :func:`appendix_c` draws, and the claim says whether the maps held.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cameval import metrics
from cameval.claims import FAILS, HOLDS, UNDECIDED, Claim, Context, Verdict, combine, iv
from cameval.experiments.record import Experiment, require_dataset_models, table_files
from cameval.figures import colorbar, overlay, panel_grid, save, tidy_row
from cameval.formatting import row_interval
from cameval.store import Expect, provenance, read_fgsm, write_cache
from cameval.tables import stat_columns


def fgsm_rows(
    weights: str,
    images: str,
    manifest: str,
    out_h5: str,
    *,
    split: str,
    n_images: int,
    eps: float,
    layer: str | None = None,
    threshold: float = 0.15,
    size: int = 14,
    batch_size: int = 32,
) -> pd.DataFrame:
    """Appendix C, measured: FGSM on the first ``n_images`` of ``split``, Grad-CAM of the true class
    before and after, and how far the map moved.

    Per image: prediction before/after, ``rank_corr`` (Spearman of the two maps at
    ``size``×``size``) and ``box_iou`` (IoU of their ``threshold`` boxes, bilinear upsampling to
    the input). The attacked images and both maps are written to ``out_h5`` (atomically) for the
    figure.
    """
    # torch and what loads it here only: the table and figure jobs of this module start without it
    import torch  # noqa: PLC0415

    from cameval import batches  # noqa: PLC0415
    from cameval.attacks import fgsm  # noqa: PLC0415
    from cameval.explain import default_layer, explain, logits_of  # noqa: PLC0415

    model, rows = batches.load(weights, manifest, split, 0, n_images)
    layer = layer or default_layer(model)

    def step(model, batch: batches.Batch) -> dict:
        labels = torch.as_tensor(batch.rows["label"].to_numpy(copy=True), dtype=torch.long)
        adv = fgsm(model, batch.pixels, labels, eps, batch.mean, batch.std)
        x, xa = batch.normalize(batch.pixels), batch.normalize(adv)
        with torch.no_grad():
            before, after = logits_of(model(x)).argmax(1), logits_of(model(xa)).argmax(1)
        cam, cam_adv = explain(model, x, labels, layer=layer), explain(model, xa, labels, layer=layer)
        hw = tuple(x.shape[-2:])
        rank_corr, box_iou = [], []
        for a, b in zip(cam.numpy(), cam_adv.numpy(), strict=True):
            a, b = metrics.upsample_map(a, hw), metrics.upsample_map(b, hw)
            box_a, box_b = metrics.heatmap_box(a, threshold), metrics.heatmap_box(b, threshold)
            rank_corr.append(metrics.rank_correlation(a, b, size=size))
            box_iou.append(metrics.iou(box_a, box_b) if box_a and box_b else 0.0)
        return {
            "label": labels,
            "pred_clean": before,
            "pred_adv": after,
            "correct_clean": before == labels,
            "correct_adv": after == labels,
            "rank_corr": np.asarray(rank_corr, dtype=np.float64),
            "box_iou": np.asarray(box_iou, dtype=np.float64),
            "clean": batch.clean,
            "adv": (adv * 255).round().to(torch.uint8).permute(0, 2, 3, 1),
            "cam_clean": cam,
            "cam_adv": cam_adv,
        }

    got = batches.run(model, images, rows, step, batch_size=batch_size, desc="fgsm")
    columns = ("label", "pred_clean", "pred_adv", "correct_clean", "correct_adv", "rank_corr", "box_iou")
    df = pd.DataFrame({"id": rows["id"].to_numpy(), **{k: got[k] for k in columns}})
    cached = {k: got[k] for k in ("clean", "adv", "cam_clean", "cam_adv")}
    cached |= {k: df[k].to_numpy() for k in ("label", "pred_clean", "pred_adv")}
    spec = {"attack": "fgsm", "eps": eps, "layer": layer, "images": int(n_images)}
    ids = df["id"].tolist()
    write_cache(
        out_h5,
        ids,
        cached,
        {"eps": eps, "layer": layer, **provenance(weights, manifest, ids, spec), "split": split},
        compressed=("clean", "adv", "cam_clean", "cam_adv"),
    )
    return df


def fgsm_table(rows: dict[str, pd.DataFrame], eps: float, n_boot: int = 1000, seed: int = 0):
    """Appendix C in numbers: accuracy before/after FGSM and how much Grad-CAM moved."""
    full, display = [], []
    for model, df in rows.items():
        rec, shown = {"model": model, "eps": eps, "n": len(df)}, {"model": model, "eps": f"{eps:.4g}", "n": len(df)}
        stat_columns(rec, shown, "acc_clean", "accuracy clean", df["correct_clean"].astype(float), n_boot, seed)
        stat_columns(rec, shown, "acc_adv", "accuracy FGSM", df["correct_adv"].astype(float), n_boot, seed)
        stat_columns(rec, shown, "rank_corr", "Spearman ρ (before, after)", df["rank_corr"], n_boot, seed)
        stat_columns(rec, shown, "box_iou", "box IoU (before, after)", df["box_iou"], n_boot, seed)
        full.append(rec)
        display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display)


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


def claim_gradcam_robust_to_fgsm(tables: dict[str, pd.DataFrame], ctx: Context) -> Verdict:
    t = tables["fgsm"]
    parts, numbers = [], []
    for _, r in t.iterrows():
        lo, hi = iv(r, "rank_corr")
        parts.append(HOLDS if lo >= ctx.fgsm_min_rho else FAILS if hi < ctx.fgsm_min_rho else UNDECIDED)
        numbers.append(
            f"{r['model']} (ε = {r['eps']:.4g}): ρ(before, after) {row_interval(r, 'rank_corr', 3)}, "
            f"box IoU {row_interval(r, 'box_iou', 3)}, accuracy {r['acc_clean']:.2f} → {r['acc_adv']:.2f}"
        )
    return Verdict(
        combine(parts),
        "; ".join(numbers),
        f"mean Spearman ρ between the true class's Grad-CAM before and after FGSM ≥ {ctx.fgsm_min_rho:g}: "
        "interval above (holds), below (does not hold), straddling (undecided)",
    )


TITLE = "Appendix C — FGSM and Grad-CAM of the true class (95 % bootstrap interval)"


def notes(eps: float) -> list[str]:
    """What the FGSM table computed."""
    return [
        f"FGSM, one step of eps = {eps:.4g} in [0, 1] pixel space, clipped to the valid range.",
        "Spearman ρ between the clean and attacked Grad-CAM maps; box IoU of their 15 % boxes.",
    ]


CLAIMS = (
    Claim(
        "gradcam-fgsm-robust",
        "Grad-CAM maps are robust to FGSM attacks.",
        "App. C",
        ("fgsm",),
        claim_gradcam_robust_to_fgsm,
        study_gap="the study published no per-image FGSM results",
    ),
)


def box_threshold(config: dict) -> float:
    """The Grad-CAM box threshold of the FGSM localization: ``fgsm.threshold``, else Table 1's
    (``table1.threshold``) where the config has Table 1, else Table 1's default 0.15."""
    if "threshold" in config["fgsm"]:
        return config["fgsm"]["threshold"]
    return config["table1"]["threshold"] if "table1" in config else 0.15


EXPERIMENT = Experiment(
    name="fgsm",
    order=3.5,
    title="App. C — FGSM robustness",
    section="fgsm",
    targets=lambda config: [*table_files("fgsm"), "results/figures/appendix_c.png"],
    tables=("fgsm",),
    claims=CLAIMS,
    check=lambda config, shipped: require_dataset_models(config, "fgsm"),
)
