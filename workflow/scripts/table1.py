"""Table 1: weakly supervised localization and classification error."""

import pandas as pd

from cameval.experiments import localization
from cameval.logs import setup_logging
from cameval.tables import accuracy_note, split_accuracy, write_table

setup_logging(snakemake.log[0])
p = snakemake.params
inputs, accuracy = split_accuracy(snakemake.input)
rows = {tuple(key.split("__")): pd.read_csv(path) for key, path in inputs.items()}
full, display = localization.table1(rows, p.reference, n_boot=p.n_boot, seed=p.seed)
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title=localization.TITLE,
    notes=[*localization.notes(p.threshold, p.rule, p.reference), accuracy_note(accuracy)],
    display=display,
)
