"""The sanity table: similarity to the unchanged model's maps, with intervals and paired differences."""

import json

import pandas as pd

from cameval.experiments.sanity import table
from cameval.logs import setup_logging
from cameval.tables import write_table

setup_logging(snakemake.log[0])
p, cfg = snakemake.params, snakemake.params.cfg
rows = {m: pd.read_csv(snakemake.input[m], keep_default_na=False, na_values=[""]) for m in cfg["models"]}
twins = {}
for m in cfg["shuffled"]:
    with open(snakemake.input[f"twin__{m}"]) as f:
        twins[m] = json.load(f)
full, display = table.sanity_table(
    rows, twins, min_fit=cfg["min_fit"], bound=cfg["data_bound"], n_boot=p.n_boot, seed=p.seed
)
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title=table.TITLE,
    notes=table.notes(cfg, cfg["models"], twins, cfg["dataset"], p.seed),
    display=display,
    digits=3,
)
