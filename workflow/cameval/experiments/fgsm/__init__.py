"""Appendix C: Grad-CAM's robustness to FGSM (maps of the true class before and after the attack).

:func:`.compute.fgsm_rows` attacks and explains (the costly step; it caches images and maps for the
figure), :func:`fgsm_table` aggregates, :func:`.figure.appendix_c` draws, and the claim says whether
the maps held.

The package: :mod:`.compute` (the job's torch work), :mod:`.figure`; this module holds the table,
the claim and the record.
"""

from __future__ import annotations

import pandas as pd

from cameval.claims import FAILS, HOLDS, UNDECIDED, Claim, Context, Verdict, combine, iv
from cameval.experiments.record import Experiment, require_dataset_models, table_files
from cameval.formatting import row_interval
from cameval.paths import layout
from cameval.tables import stat_columns


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
    targets=lambda config: [*table_files(config, "fgsm"), layout(config).figure("appendix_c")],
    tables=("fgsm",),
    claims=CLAIMS,
    check=lambda config, shipped: require_dataset_models(config, "fgsm"),
)
