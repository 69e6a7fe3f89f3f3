"""The deletion table: deletion / insertion AUC and ROAD per model and method, with paired differences."""

import pandas as pd

from cameval.experiments.deletion import table
from cameval.logs import setup_logging
from cameval.tables import write_table

setup_logging(snakemake.log[0])
p, cfg = snakemake.params, snakemake.params.cfg
rows = {m: pd.read_csv(snakemake.input[m], keep_default_na=False, na_values=[""]) for m in cfg["models"]}
full, display = table.deletion_table(rows, n_boot=p.n_boot, seed=p.seed)
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title=table.TITLE,
    notes=table.notes(cfg, p.datasets, p.sizes),
    display=display,
    digits=3,
)
