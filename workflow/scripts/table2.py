"""Table 2: the pointing game, one row per model and heatmap set."""

import pandas as pd

from cameval.experiments import pointing
from cameval.logs import setup_logging
from cameval.tables import accuracy_note, split_accuracy, write_table

setup_logging(snakemake.log[0])
cfg, p = snakemake.params.cfg, snakemake.params
inputs, accuracy = split_accuracy(snakemake.input)
rows = {tuple(k.split("__")): pd.read_csv(path) for k, path in inputs.items()}
full, display = pointing.table2(
    rows, cfg["tolerances"], cfg["reference"], n_boot=p.n_boot, seed=p.seed, methods=p.methods
)
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    pointing.TITLE,
    [*p.notes, accuracy_note(accuracy)],
    display=display,
    digits=3,
)
