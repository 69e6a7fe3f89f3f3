"""Table 2: the pointing game."""

import pandas as pd

from cameval.experiments import pointing
from cameval.logs import setup_logging
from cameval.tables import write_table

setup_logging(snakemake.log[0])
cfg = snakemake.params.cfg
rows = {model: pd.read_csv(path) for model, path in snakemake.input.items()}
full, display = pointing.table2(
    rows, cfg["tolerances"], cfg["reference"], n_boot=snakemake.params.n_boot, seed=snakemake.params.seed
)
write_table(
    full, snakemake.output.csv, snakemake.output.md, pointing.TITLE, pointing.notes(cfg), display=display, digits=3
)
