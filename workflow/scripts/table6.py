"""Table 6: one-pixel attacks and the Grad-CAM (and IG) value at the attacked pixel."""

import pandas as pd

from cameval.logs import setup_logging
from cameval.tables import table6, write_table

setup_logging(snakemake.log[0])
cfg = snakemake.params.cfg
rows = {model: pd.read_csv(path) for model, path in snakemake.input.items()}
full, display = table6(rows, cfg["reference"], n_boot=snakemake.params.n_boot, seed=snakemake.params.seed)
write_table(
    full,
    snakemake.output.csv,
    snakemake.output.md,
    title="Table 6 — one-pixel attacks: map value (0–1) at the attacked pixel, over the successful attacks "
    "(mean ± std [min, max])",
    notes=[
        f"First {cfg['images']} images of the evaluation split of {cfg['dataset']}; differential evolution with "
        f"population {cfg['population']}, at most {cfg['generations']} generations, F = {cfg['f']}, no crossover, "
        "stopping when the best candidate is misclassified (the study: 400 × 100 on 250 ImageNet images). "
        "Successful: the prediction changed from the label on an image classified correctly before the attack "
        "(an image misclassified clean counts as attacked, not successful).",
        "Before: the map of the label on the clean image; after: the map of the new prediction on the attacked "
        "image. Grad-CAM upsampled bilinearly to the input and divided by its max; Integrated Gradients (zero "
        f"baseline, {cfg['ig_steps']} steps) as sum over channels of |IG| divided by its max — the reference row.",
        "Random pixel: one seeded uniform pixel per image, same maps (chance level); percentile rank: share of the "
        "map's pixels <= the attacked pixel's value; Wilcoxon signed-rank test (two-sided) of attacked vs random, "
        "before the attack.",
    ],
    display=display,
    digits=3,
)
