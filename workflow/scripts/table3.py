"""Table 3: rank correlation with occlusion."""

import pandas as pd

from cameval.experiments.occlusion import table
from cameval.logs import setup_logging
from cameval.tables import accuracy_note, split_accuracy, write_table

setup_logging(snakemake.log[0])
cfg = snakemake.params.cfg
inputs, accuracy = split_accuracy(snakemake.input)
rows = {tuple(k.split("__")): pd.read_csv(path) for k, path in inputs.items()}
full, display = table.table3(
    rows,
    snakemake.params.patches,
    cfg["reference"],
    n_boot=snakemake.params.n_boot,
    seed=snakemake.params.seed,
    extra=snakemake.params.extra,
)
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    table.TITLE,
    [*snakemake.params.notes, accuracy_note(accuracy)],
    display=display,
    digits=3,
)
