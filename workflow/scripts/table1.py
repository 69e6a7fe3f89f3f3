"""Table 1: weakly supervised localization and classification error."""

import pandas as pd

from cameval.logs import setup_logging
from cameval.tables import table1, write_table

setup_logging(snakemake.log[0])
rows = {tuple(key.split("__")): pd.read_csv(path) for key, path in snakemake.input.items()}
full, display = table1(rows, snakemake.params.reference, n_boot=snakemake.params.n_boot, seed=snakemake.params.seed)
p = snakemake.params
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title="Table 1 — weakly supervised localization (error %, 95 % bootstrap interval)",
    notes=[
        f"Box: largest 8-connected component of the map >= {p.threshold:g} x max (map upsampled bilinearly to the input).",
        "Correct: "
        + (
            "IoU >= 0.5 with a GT box of the class (ILSVRC CLS-LOC rule)."
            if p.rule == "ilsvrc"
            else "IoU >= min(0.5, wh/((w+10)(h+10))) (the study's eq. 3)."
        ),
        "Maps for each of the top-5 predicted classes; 'study' = Nagy et al., 'original' = Selvaraju et al.",
    ],
    display=display,
)
