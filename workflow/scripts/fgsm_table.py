"""Appendix C in numbers: FGSM accuracy and how far Grad-CAM moved."""

import pandas as pd

from cameval.experiments import fgsm
from cameval.logs import setup_logging
from cameval.tables import write_table

setup_logging(snakemake.log[0])
rows = {model: pd.read_csv(path) for model, path in snakemake.input.items()}
eps = snakemake.params.eps
full, display = fgsm.fgsm_table(rows, eps, n_boot=snakemake.params.n_boot, seed=snakemake.params.seed)
write_table(full, snakemake.output.csv, snakemake.output.md, fgsm.TITLE, fgsm.notes(eps), display=display, digits=3)
