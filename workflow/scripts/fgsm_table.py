"""Appendix C in numbers: FGSM accuracy and how far Grad-CAM moved."""

import pandas as pd

from cameval.experiments import fgsm
from cameval.logs import setup_logging
from cameval.tables import accuracy_note, split_accuracy, write_table

setup_logging(snakemake.log[0])
inputs, accuracy = split_accuracy(snakemake.input)
rows = {model: pd.read_csv(path) for model, path in inputs.items()}
eps = snakemake.params.eps
full, display = fgsm.fgsm_table(rows, eps, n_boot=snakemake.params.n_boot, seed=snakemake.params.seed)
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    fgsm.TITLE,
    [*fgsm.notes(eps), accuracy_note(accuracy)],
    display=display,
    digits=3,
)
