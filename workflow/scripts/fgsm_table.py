"""Appendix C in numbers: FGSM accuracy and how far Grad-CAM moved."""

import pandas as pd

from cameval.logs import setup_logging
from cameval.tables import fgsm_table, write_table

setup_logging(snakemake.log[0])
rows = {model: pd.read_csv(path) for model, path in snakemake.input.items()}
eps = snakemake.params.eps
full, display = fgsm_table(rows, eps, n_boot=snakemake.params.n_boot, seed=snakemake.params.seed)
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title="Appendix C — FGSM and Grad-CAM of the true class (95 % bootstrap interval)",
    notes=[
        f"FGSM, one step of eps = {eps:.4g} in [0, 1] pixel space, clipped to the valid range.",
        "Spearman ρ between the clean and attacked Grad-CAM maps; box IoU of their 15 % boxes.",
    ],
    display=display,
    digits=3,
)
