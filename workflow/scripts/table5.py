"""Table 5: localization of findings per model, per finding and overall, with bootstrap intervals."""

import json

import pandas as pd

from cameval.experiments.xray import table
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
cfg = p.cfg
rows = {m: pd.read_csv(snakemake.input[m]) for m in cfg["models"]}
auroc = {
    m: json.load(open(snakemake.input[f"auroc__{m}"])).get("test_auroc")
    if f"auroc__{m}" in snakemake.input.keys()
    else None
    for m in cfg["models"]
}
full = table.table5(
    rows, p.sets, cfg["reference"], auroc=auroc, thresholds=cfg["thresholds"], n_boot=p.n_boot, seed=p.seed
)
table.write_table5(full, snakemake.output.csv, snakemake.output.md, notes=table.notes(cfg))
