"""Table 6 on the study's own one-pixel attacks, beside its printed values."""

import pandas as pd

from cameval.logs import setup_logging
from cameval.tables import table6_study, write_table

setup_logging(snakemake.log[0])
cfg = snakemake.params.cfg
rows = {model: pd.read_csv(path) for model, path in snakemake.input.items()}
full, display = table6_study(rows, cfg["reference"])
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title="Table 6 on the study's own attacks — Grad-CAM (0–1) at the attacked pixel (mean ± std [min, max])",
    notes=[
        f"The study's successful one-pixel attacks ({', '.join(f'{m}: {p}' for m, p in cfg['study_attacks'].items())}), "
        f"pixel [x, y] read as {cfg['study_xy']} (the study's code indexes [row, col] = [x, y]), replayed on the first "
        f"{cfg['images']} images of the evaluation split of {cfg['dataset']} as this pipeline preprocesses them (the "
        "study resized to 224×224 without cropping): the pixel set to (r, g, b) / 255 in pixel space.",
        "Before: Grad-CAM of the clean image's top-1 class (what the study's code explained and attacked) and of the "
        "label; after: of the attacked image's top-1 class. Upsampled bilinearly to the input and divided by its max, "
        "as in Table 6. 'Successful here': the attack still changes the top-1 class.",
        "Random pixel: one seeded uniform pixel per image, same maps (chance level); Wilcoxon signed-rank test "
        "(two-sided) of attacked vs random, before. The study's printed values (its Table 6) on the first row of each model.",
    ],
    display=display,
    digits=4,
)
