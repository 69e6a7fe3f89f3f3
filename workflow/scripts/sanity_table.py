"""The sanity table: similarity to the unchanged model's maps, with intervals and paired differences."""

import json
import logging

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
    # a twin's check is its fit on its shuffled training labels (it is at chance on test data by design)
    if not table.twin_fits(twins[m], cfg["min_fit"]):
        logging.getLogger("cameval.sanity").warning(
            "%s's twin %s: training accuracy %s on its %s shuffled labels, below sanity.min_fit %g: its rows are no "
            "test (train it longer, or on a smaller train.subset)",
            m, cfg["shuffled"][m], twins[m].get("train_acc"), twins[m].get("n_train"), cfg["min_fit"],
        )  # fmt: skip
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
