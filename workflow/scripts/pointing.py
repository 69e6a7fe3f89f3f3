"""Table 2's per-image pointing-game outcome for one model."""

from cameval.experiments.pointing import pointing_rows
from cameval.io import write_csv
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
rows = pointing_rows(
    snakemake.input.shards,
    snakemake.input.manifest,
    tolerances=p.tolerances,
    threshold=p.threshold,
    scale=p.scale,
    expected=p.expected,
)
write_csv(rows, snakemake.output[0])
