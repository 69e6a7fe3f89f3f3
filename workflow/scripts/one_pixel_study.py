"""The study's one-pixel attacks replayed on this pipeline's images and model (Table 6 on its attacks)."""

from cameval.data.study import read_one_pixel_attacks
from cameval.experiments.sensitivity.compute import study_attack_rows
from cameval.io import write_csv
from cameval.logs import set_threads, setup_logging

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
p = snakemake.params
attacks = read_one_pixel_attacks(snakemake.input.attacks, size=p.crop, xy=p.xy, images=p.images)
rows = study_attack_rows(
    snakemake.input.weights,
    snakemake.input.images,
    snakemake.input.manifest,
    attacks,
    split=p.split,
    layer=p.layer,
    seed=p.seed,
    device=p.device,
    source=snakemake.input.attacks,
)
write_csv(rows, snakemake.output[0])
