"""Table 3: mean ± std Spearman ρ with occlusion per model, patch size and method, with intervals and
paired differences on the same images, and its notes."""

from __future__ import annotations

import pandas as pd

from cameval.formatting import fmt
from cameval.methods import kind, labels
from cameval.methods import label as method_label
from cameval.tables import paired_columns, paired_key, stat_columns

TABLE3_METHODS = labels("guided_backprop", "gradcam", "guided_gradcam")


#: the paired comparisons of Table 3, on the same images
TABLE3_PAIRS = (("gradcam", "guided_backprop"), ("guided_gradcam", "guided_backprop"), ("guided_gradcam", "gradcam"))


def table3(
    rows: dict[tuple[str, str], pd.DataFrame],
    patches: dict[str, int],
    reference: dict | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    extra: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 3: mean ± std Spearman rho with occlusion, per model, patch size and method, and the
    paired differences of :data:`TABLE3_PAIRS` on the same images (:func:`_paired_columns`).

    ``extra`` maps further columns of the rows (heatmap sets of ``table3.methods``) to their
    labels: each gets its mean ± std and its paired difference from Grad-CAM
    (``{set}_minus_gradcam``), in columns after the study's (the others keep their places).

    ``reference[source]`` (``source``: ``study``, ``original``) = ``{method: mean}`` or
    ``{method: {mean, std}}``, with optional ``patch`` and ``n`` (what the values were computed
    on). They are shown as rows of their own in the display, and in the CSV as columns
    ``{source}_{method}`` (and ``{source}_{method}_std``) on the rows of that patch size (every
    row where ``patch`` is not given).
    """
    reference = reference or {}

    def ref(source: str, key: str) -> tuple:
        v = (reference.get(source) or {}).get(key)
        return (v.get("mean"), v.get("std")) if isinstance(v, dict) else (v, None)

    full, display = [], []
    for (model, occlusion), df in rows.items():
        rec = {"model": model, "occlusion": occlusion, "patch": patches[occlusion], "n": len(df)}
        shown = {"model": model, "patch": f"{patches[occlusion]}×{patches[occlusion]}", "n": len(df)}
        for key, label in TABLE3_METHODS.items():
            stat_columns(rec, shown, key, label, df[key], n_boot, seed, std=True)
        for a, b in TABLE3_PAIRS:
            paired_columns(
                rec, shown, paired_key(a, b), f"{TABLE3_METHODS[a]} − {TABLE3_METHODS[b]}", df[a], df[b], n_boot, seed
            )
        for source in ("study", "original"):
            values = reference.get(source) or {}
            applies = bool(values) and values.get("patch") in (None, patches[occlusion])
            for key in TABLE3_METHODS:
                mean, std = ref(source, key) if applies else (None, None)
                rec[f"{source}_{key}"], rec[f"{source}_{key}_std"] = mean, std
        for key, label in (extra or {}).items():
            stat_columns(rec, shown, key, label, df[key], n_boot, seed, std=True)
            paired_columns(
                rec, shown, paired_key(key, "gradcam"), f"{label} − Grad-CAM", df[key], df["gradcam"], n_boot, seed
            )
        full.append(rec)
        display.append(shown)
    for source in ("original", "study"):
        values = reference.get(source)
        if values:
            patch = values.get("patch")
            cells = {}
            for key, label in TABLE3_METHODS.items():
                mean, std = ref(source, key)
                cells[label] = fmt(mean, 4) + (f" ± {fmt(std, 4)}" if std is not None else "")
            display.append(
                {
                    "model": f"({source})",
                    "patch": f"{patch}×{patch}" if patch else "–",
                    "n": values.get("n", "–"),
                    **cells,
                }
            )
    return pd.DataFrame(full), pd.DataFrame(display)


REDUCE = {
    "abs_max": "max over channels of the absolute value",
    "sum": "sum over channels",
    "abs_sum": "sum over channels of the absolute value",
    "norm": "L2 norm over channels",
}
TITLE = "Table 3 — Spearman rank correlation with occlusion (mean ± std [95 % bootstrap interval of the mean])"


def notes(cfg: dict, heatmaps: dict | None = None) -> list[str]:
    """What Table 3 computed (``cfg``: the config's ``table3``; ``heatmaps``: the config's heatmap
    sets, to name the methods of ``table3.methods``)."""
    out = [
        f"First {cfg['images']} images of the evaluation split, top-1 predicted class; both maps resized "
        f"bilinearly to {cfg['size']}×{cfg['size']} before ranking.",
        "Occlusion: a gray patch centred at every pixel on the stride grid (clipped at the border), "
        "map = score drop; the model sees the image at its own size.",
        f"Pixel maps (Guided Backprop, Guided Grad-CAM) reduced to one channel with '{cfg['reduce']}' "
        f"({REDUCE[cfg['reduce']]}); Guided Grad-CAM = Guided Backprop ⊙ upsampled Grad-CAM.",
    ]
    if cfg.get("methods") and heatmaps:
        sets = "; ".join(
            f"{h}: {method_label(heatmaps[h]['method'])} ({kind(heatmaps[h]['method'], heatmaps[h].get('kind'))}-type)"
            for h in cfg["methods"]
        )
        out.append(
            f"Further heatmap sets, each its top-1 map, pixel-type ones reduced as above: {sets}; "
            "each paired with Grad-CAM on the same images."
        )
    return out
