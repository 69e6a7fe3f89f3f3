"""Table 7 per image: contrastivity and fidelity of the binarized maps, read from the class maps."""

from cameval.experiments.faithfulness.compute import fidelity_rows
from cameval.io import write_csv
from cameval.logs import set_threads, setup_logging

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
rows = fidelity_rows(
    snakemake.input.maps,
    snakemake.input.weights,
    snakemake.input.images,
    snakemake.input.manifest,
    percentiles=snakemake.params.percentiles,
    device=snakemake.params.device,
    expected=snakemake.params.expected,
)
write_csv(rows, snakemake.output[0])
