"""Table 1's per-image localization and classification outcome for one model and CAM method."""

from cameval.experiments.localization import localization_rows
from cameval.io import write_csv
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
rows = localization_rows(
    snakemake.input.shards,
    snakemake.input.manifest,
    threshold=snakemake.params.threshold,
    rule=snakemake.params.rule,
    expected=snakemake.params.expected,
)
write_csv(rows, snakemake.output[0])
