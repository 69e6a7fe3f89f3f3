"""Table 2: the pointing game."""

import pandas as pd

from cameval.logs import setup_logging
from cameval.tables import table2, write_table

setup_logging(snakemake.log[0])
cfg = snakemake.params.cfg
rows = {model: pd.read_csv(path) for model, path in snakemake.input.items()}
full, display = table2(
    rows, cfg["tolerances"], cfg["reference"], n_boot=snakemake.params.n_boot, seed=snakemake.params.seed
)
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title="Table 2 — pointing game (fraction of hits, 95 % bootstrap interval)",
    notes=[
        "Accuracy: the arg-max of the ground-truth class's Grad-CAM (bilinearly upsampled to the input) "
        f"lies in a GT box, or within the tolerance (px, Euclidean); tolerances {cfg['tolerances']}.",
        f"Recall: each of the top-5 maps is kept when its peak >= {cfg['threshold']} "
        + (
            "after dividing by the largest peak of the image's top-5 maps"
            if cfg["scale"] == "image"
            else "on the unnormalized Grad-CAM scale"
        )
        + "; hit = (class present, point in its box, kept) or (class absent, rejected).",
        "The study's accuracy column is compared with ours at tolerance "
        f"{cfg['tolerances'][-1]} px (Zhang et al. used 15 px on 224² images).",
    ],
    display=display,
    digits=3,
)
