"""Table 6 on the study's own one-pixel attacks, beside its printed values."""

import pandas as pd

from cameval.experiments.sensitivity.table import STUDY_TITLE, study_notes, table6_study
from cameval.logs import setup_logging
from cameval.tables import write_table

setup_logging(snakemake.log[0])
cfg = snakemake.params.cfg
rows = {model: pd.read_csv(path) for model, path in snakemake.input.items()}
full, display = table6_study(rows, cfg["reference"])
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title=STUDY_TITLE,
    notes=study_notes(cfg),
    display=display,
    digits=4,
)
