"""Table 7: fidelity and contrastivity of Grad-CAM, SHAP and Integrated Gradients."""

import json

import pandas as pd

from cameval.experiments.faithfulness import table
from cameval.logs import setup_logging
from cameval.tables import write_table

setup_logging(snakemake.log[0])
p = snakemake.params
cfg = p.cfg
models = list(p.datasets)
rows = {m: pd.read_csv(snakemake.input[m], keep_default_na=False, na_values=[""]) for m in models}
accuracy = {}
for m in models:
    with open(snakemake.input[f"accuracy__{m}"]) as f:
        accuracy[m] = json.load(f)
full, display = table.table7(rows, cfg["reference"], n_boot=p.n_boot, seed=p.seed, accuracy=accuracy)
used = {m: sorted(set(df.loc[df["method"] == "shap", "explainer"].dropna())) for m, df in rows.items()}
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title=table.TITLE,
    notes=table.notes(cfg, p.images, p.datasets, p.kinds, accuracy, used),
    display=display,
    digits=3,
)
