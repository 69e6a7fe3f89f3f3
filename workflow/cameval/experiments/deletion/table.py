"""The deletion table: per (model, method) deletion and insertion AUC, ROAD accuracy per percentage
(MoRF, LeRF) and ROAD's summary, with intervals and paired differences from Grad-CAM and the random map."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cameval.methods import RANDOM_MAP, set_label
from cameval.tables import aligned, paired_columns, stat_columns

TITLE = "Deletion, insertion and ROAD (mean [95 % bootstrap interval])"

#: per-image measures of the table, their printed labels, and whether larger is better
MEASURES = {
    "deletion_auc": ("deletion AUC ↓", False),
    "insertion_auc": ("insertion AUC ↑", True),
    "road_morf": ("ROAD MoRF accuracy ↓", False),
    "road_lerf": ("ROAD LeRF accuracy ↑", True),
    "road_gap": ("ROAD LeRF − MoRF area ↑", True),
}
#: the measures paired with Grad-CAM's, and with the random map's
VS_GRADCAM = ("deletion_auc", "insertion_auc", "road_morf", "road_lerf", "road_gap")
VS_RANDOM = ("deletion_auc", "insertion_auc")


def percentages_of(df: pd.DataFrame) -> list[float]:
    """The ROAD percentages of per-image rows (their ``morf_p{P}`` columns), in order."""
    return [float(c[len("morf_p") :]) for c in df.columns if c.startswith("morf_p")]


def road_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per-image rows with ``road_morf`` / ``road_lerf`` (the accuracy averaged over the percentages) and
    ``road_gap`` (ROAD's summary: the area between the LeRF and MoRF curves, trapezoid over the fraction
    removed p / 100)."""
    ps = percentages_of(df)
    morf = df[[f"morf_p{p:g}" for p in ps]].to_numpy(dtype=float)
    lerf = df[[f"lerf_p{p:g}" for p in ps]].to_numpy(dtype=float)
    x = np.asarray(ps) / 100
    gap = lerf - morf
    area = ((gap[:, 1:] + gap[:, :-1]) / 2 * np.diff(x)).sum(axis=1) if len(ps) > 1 else gap[:, 0]
    return df.assign(road_morf=morf.mean(axis=1), road_lerf=lerf.mean(axis=1), road_gap=area)


def deletion_table(
    rows: dict[str, pd.DataFrame], n_boot: int = 1000, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per (model, set) of :func:`cameval.experiments.deletion.compute.deletion_rows`: each of
    :data:`MEASURES` and each ROAD accuracy (``morf_p{P}``, ``lerf_p{P}``) with its 95 % bootstrap
    interval over images, and the paired differences ``{measure}_minus_gradcam`` (this method minus
    the first Grad-CAM set on the same images, :data:`VS_GRADCAM`) and ``{measure}_minus_random``
    (minus the seeded random map, :data:`VS_RANDOM`), each with ``_low``, ``_high`` and ``_p``."""
    full, display = [], []
    for model, df in rows.items():
        df = road_summary(df)
        ps = percentages_of(df)
        cam_set = next((s for s, m in zip(df["set"], df["method"], strict=True) if m == "gradcam"), None)
        refs = {"gradcam": (cam_set, VS_GRADCAM, "Grad-CAM"), "random": (RANDOM_MAP, VS_RANDOM, "random map")}
        for column, g in df.groupby("set", sort=False):
            method = g["method"].iloc[0]
            rec = {"model": model, "set": column, "method": method, "n": len(g)}
            shown = {"model": model, "method": set_label(column, method), "n": len(g)}
            for key, (text, _) in MEASURES.items():
                stat_columns(rec, shown, key, text, g[key], n_boot, seed)
            for order in ("morf", "lerf"):
                for p in ps:
                    stat_columns(rec, {}, f"{order}_p{p:g}", "", g[f"{order}_p{p:g}"], n_boot, seed)
            for ref, (ref_set, keys, ref_label) in refs.items():
                other = df[df["set"] == ref_set] if ref_set is not None else df[:0]
                for key in keys:
                    col = f"{key}_minus_{ref}"
                    if column == ref_set or other.empty:
                        rec.update({col: None, f"{col}_low": None, f"{col}_high": None, f"{col}_p": None})
                        continue
                    a, b = aligned(g, other, key)
                    shown_here = {}
                    paired_columns(rec, shown_here, col, "", a, b, n_boot, seed)
                    if (ref, key) in (
                        ("gradcam", "deletion_auc"),
                        ("gradcam", "road_morf"),
                        ("random", "deletion_auc"),
                        ("random", "insertion_auc"),
                    ):
                        shown[f"{MEASURES[key][0].split(' ↓')[0].split(' ↑')[0]} − {ref_label}"] = shown_here[""]
            full.append(rec)
            display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display).fillna("–")


def notes(cfg: dict, datasets: dict[str, str], sizes: dict[str, int]) -> list[str]:
    """What the deletion table computed (``cfg``: the config's ``deletion``; per model its dataset and
    image side)."""
    step = (
        "W pixels a step (RISE's choice: H steps on a square image)"
        if cfg["step"] is None
        else f"{cfg['step']} pixels a step"
    )
    return [
        f"First {cfg['images']} images of each model's evaluation split ("
        + ", ".join(f"{m}: {d}, {sizes.get(m, '?')} px" for m, d in datasets.items())
        + "), each map explaining the image's top-1 class (the class the heatmap shards explain).",
        "Maps of the unchanged model from the heatmap shards, one channel at the input's size: CAM-type maps upsampled "
        f"bilinearly, pixel-type maps reduced with '{cfg['reduce']}' (as Table 3); Guided Grad-CAM = Guided Backprop ⊙ "
        "upsampled Grad-CAM; the random map: uniform noise seeded by the image (the floor every method has to beat).",
        f"Deletion / insertion (Petsiuk et al. 2018, cameval.metrics): pixels in descending map order, {step}, all "
        "channels together; deletion sets them to the dataset's mean (0 after normalization), insertion puts them back "
        "into RISE's blur of the image (11×11 Gaussian, σ = 5); AUC of the target's softmax probability, trapezoid on "
        "[0, 1]. Lower deletion and higher insertion AUC are better.",
        f"ROAD (Rong et al. 2022): the {', '.join(f'{p:g}' for p in cfg['percentages'])} % most (MoRF) or least (LeRF) "
        f"relevant pixels imputed by noisy linear imputation (noise {cfg['noise']:g}, seeded), accuracy against the "
        "label; MoRF / LeRF columns average the percentages; 'LeRF − MoRF area' is ROAD's summary, the area "
        "between the "
        "two curves (trapezoid over the fraction removed). Lower MoRF, higher LeRF and a larger area are better.",
        "Paired differences (method − Grad-CAM, method − random map): on the same images, 95 % paired-bootstrap "
        "interval "
        "and Wilcoxon signed-rank p (cameval.metrics.stats); the CSV holds them for every measure and the accuracy per "
        "percentage (morf_p*, lerf_p*).",
    ]
