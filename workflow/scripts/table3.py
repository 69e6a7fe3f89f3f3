"""Table 3: rank correlation with occlusion."""

import pandas as pd

from cameval.logs import setup_logging
from cameval.tables import table3, write_table

REDUCE = {
    "abs_max": "max over channels of the absolute value",
    "sum": "sum over channels",
    "abs_sum": "sum over channels of the absolute value",
    "norm": "L2 norm over channels",
}

setup_logging(snakemake.log[0])
cfg = snakemake.params.cfg
rows = {tuple(k.split("__")): pd.read_csv(path) for k, path in snakemake.input.items()}
full, display = table3(
    rows, snakemake.params.patches, cfg["reference"], n_boot=snakemake.params.n_boot, seed=snakemake.params.seed
)
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title="Table 3 — Spearman rank correlation with occlusion (mean ± std [95 % bootstrap interval of the mean])",
    notes=[
        f"First {cfg['images']} images of the evaluation split, top-1 predicted class; both maps resized "
        f"bilinearly to {cfg['size']}×{cfg['size']} before ranking.",
        "Occlusion: a gray patch centred at every pixel on the stride grid (clipped at the border), "
        "map = score drop; the model sees the image at its own size.",
        f"Pixel maps (Guided Backprop, Guided Grad-CAM) reduced to one channel with '{cfg['reduce']}' "
        f"({REDUCE[cfg['reduce']]}); Guided Grad-CAM = Guided Backprop ⊙ upsampled Grad-CAM.",
    ],
    display=display,
    digits=3,
)
