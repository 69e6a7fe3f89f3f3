"""The sanity table: per (model, method, mode, layer, measure) the mean similarity of the randomized
model's maps to the unchanged model's, with its interval and the paired difference from Grad-CAM."""

from __future__ import annotations

import pandas as pd

from cameval.experiments.sanity.rows import DATA
from cameval.formatting import fmt
from cameval.methods import set_label as column_label
from cameval.tables import aligned, paired_columns, stat_columns

TITLE = "Sanity checks — similarity to the unchanged model's maps (mean [95 % bootstrap interval])"

#: the measures as the table prints them
MEASURE_LABELS = {
    "spearman_abs": "Spearman (abs.)",
    "spearman": "Spearman",
    "ssim": "SSIM",
    "hog": "HOG (Spearman)",
}


def twin_fits(record: dict | None, min_fit: float) -> bool:
    """Whether a twin's training record says it fit its shuffled labels (training accuracy ≥ ``min_fit``)."""
    return bool(record) and float(record.get("train_acc", 0.0)) >= min_fit


def sanity_table(
    rows: dict[str, pd.DataFrame],
    twins: dict[str, dict] | None = None,
    *,
    min_fit: float,
    bound: float,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per (model, set, mode, step, measure) of :func:`cameval.experiments.sanity.rows.similarity_rows`:
    ``similarity`` with ``_low``/``_high`` (95 % bootstrap interval over images; a constant map, whose
    ranks are undefined, is left out and ``n`` counts the rest), and where the model has a Grad-CAM
    column, the paired difference ``minus_gradcam`` (``_low``, ``_high``, ``_p``: this method's
    similarity minus Grad-CAM's on the same images, same mode, layer and measure). Rows of mode
    ``data`` carry the twin (``twin``, ``twin_train_acc`` on its shuffled labels, ``twin_n_train`` the
    training images they were shuffled among, ``twin_chance``, ``twin_fit`` against ``min_fit``) and the
    data randomization claim's ``bound``."""
    twins = twins or {}
    full, display = [], []
    for model, df in rows.items():
        keys = ["set", "mode", "step", "layer", "measure"]
        cam_set = next((s for s, m in zip(df["set"], df["method"], strict=True) if m == "gradcam"), None)
        for (column, mode, step, layer, measure), g in df.groupby(keys, sort=False):
            g = g.dropna(subset=["value"])
            rec = {
                "model": model,
                "set": column,
                "method": g["method"].iloc[0] if len(g) else "",
                "mode": mode,
                "step": int(step),
                "layer": layer,
                "last_conv": bool(g["last_conv"].any()) if len(g) else False,
                "measure": measure,
                "n": len(g),
            }
            shown = {
                "model": model,
                "method": column_label(column, rec["method"]),
                "mode": mode,
                "step": int(step) if mode != DATA else "–",
                "layer randomized": layer + (" (last conv.)" if rec["last_conv"] else ""),
                "measure": MEASURE_LABELS.get(measure, measure),
                "n": len(g),
            }
            stat_columns(rec, shown, "similarity", "similarity", g["value"], n_boot, seed)
            if cam_set is not None and column != cam_set:
                cam = df[
                    (df["set"] == cam_set) & (df["mode"] == mode) & (df["step"] == step) & (df["measure"] == measure)
                ]
                a, b = aligned(g, cam.dropna(subset=["value"]), "value")
                paired_columns(rec, shown, "minus_gradcam", "− Grad-CAM (paired)", a, b, n_boot, seed)
            else:
                rec.update(
                    {
                        "minus_gradcam": None,
                        "minus_gradcam_low": None,
                        "minus_gradcam_high": None,
                        "minus_gradcam_p": None,
                    }
                )
                shown["− Grad-CAM (paired)"] = "–"
            if mode == DATA:
                record = twins.get(model) or {}
                rec.update(
                    twin=layer,
                    twin_train_acc=record.get("train_acc"),
                    twin_n_train=record.get("n_train"),
                    twin_chance=record.get("chance"),
                    twin_fit=twin_fits(record, min_fit),
                    bound=bound,
                )
                fit = "fit" if rec["twin_fit"] else "did NOT fit: no test"
                shown["layer randomized"] = (
                    f"labels (twin {layer}: training accuracy {fmt(rec['twin_train_acc'], 3)} "
                    f"on {fmt(rec['twin_n_train'], 0)} shuffled labels, {fit})"
                )
            full.append(rec)
            display.append(shown)
    full = pd.DataFrame(full)
    if "twin_n_train" in full:  # a count (blank on the randomization rows)
        full["twin_n_train"] = full["twin_n_train"].astype("Int64")
    return full, pd.DataFrame(display)


def notes(cfg: dict, models: list[str], twins: dict[str, dict], dataset: str, seed: int) -> list[str]:
    """What the sanity table computed (``cfg``: the config's ``sanity``; ``twins``: each twin's training record)."""
    twin_text = "; ".join(
        f"{m}: {cfg['shuffled'][m]}, training accuracy {fmt(r.get('train_acc'), 3)} on its shuffled labels "
        f"({fmt(r.get('n_train'), 0)} training images) "
        f"(chance {fmt(r.get('chance'), 3)}, test accuracy {fmt(r.get('test_acc'), 3)})"
        + (
            ""
            if twin_fits(r, cfg["min_fit"])
            else f" — below {cfg['min_fit']:g}: it did not fit them, so its rows are no test"
        )
        for m, r in twins.items()
    )
    layers = (
        "every layer with parameters" if cfg["layers"] is None else f"the first {cfg['layers']} layers with parameters"
    )
    return [
        f"First {cfg['images']} images of {dataset}'s evaluation split, each explained for its top-1 class (the class "
        f"the heatmap shards explain) on models {', '.join(models)}.",
        "Model randomization (Adebayo et al., NeurIPS 2018): the modules with parameters of their own re-initialized "
        f"by their reset_parameters() under seed {seed}, from the output down: cascading (cumulative) and "
        f"independent (one at a time), over {layers} "
        "(cameval.metrics.randomized_models); step k randomizes the k-th of them; 'last conv.' marks the cascade's "
        "step where the last convolution (with everything above it) is randomized: the first convolution in the "
        "reverse of named_modules() order (in a ResNet block the shortcut's 1×1 convolution).",
        "Maps of the unchanged model are the heatmap shards'; each randomized copy's are computed with the same "
        "method, parameters, layer and class. Guided Grad-CAM = Guided Backprop ⊙ upsampled Grad-CAM (as Table 3).",
        f"Every map is one channel at the input's size: CAM-type maps upsampled bilinearly, pixel-type maps reduced "
        f"with '{cfg['reduce']}' (as Table 3) — with abs_max the signed Spearman of a pixel map equals its |map| one.",
        "Similarity (cameval.metrics.map_similarity): Spearman ρ of |maps| and signed, SSIM of the maps scaled to "
        "[0, 1] "
        f"by their largest |value|, Spearman ρ of their HOG vectors ({cfg['hog_cell']} px cells, 2×2-cell blocks). A "
        "constant map (e.g. a CAM a randomized layer zeroes) has no ranks: its Spearman is undefined and left out (n).",
        "The seeded random map: uniform noise, a new draw at every step — its similarity is the floor of a map "
        "that has nothing in common with the original.",
        f"Data randomization: each model's twin of the same architecture trained in the workflow on the training "
        f"labels permuted among the images (seeded): {twin_text or 'none configured'}. A twin fits when its training "
        f"accuracy on those labels is at least sanity.min_fit = {cfg['min_fit']:g}.",
        "Paired differences (− Grad-CAM): on the same images, mode, layer and measure; 95 % paired-bootstrap "
        "interval and Wilcoxon signed-rank p (cameval.metrics.stats).",
    ]
