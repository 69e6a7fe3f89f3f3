"""Table 6: one-pixel attacks and the Grad-CAM (and IG) value at the attacked pixel."""

import pandas as pd

from cameval.experiments.sensitivity.table import TITLE, notes, table6
from cameval.logs import setup_logging
from cameval.tables import accuracy_note, split_accuracy, write_table

setup_logging(snakemake.log[0])
cfg = snakemake.params.cfg
inputs, accuracy = split_accuracy(snakemake.input)
rows = {model: pd.read_csv(path) for model, path in inputs.items()}
full, display = table6(
    rows, cfg["reference"], n_boot=snakemake.params.n_boot, seed=snakemake.params.seed, extra=snakemake.params.extra
)
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title=TITLE,
    notes=[*notes(cfg), accuracy_note(accuracy)],
    display=display,
    digits=3,
)
