"""Table 6 per image: the maps' values at the attacked and at a random pixel, read from the attack shards."""

from cameval.experiments.sensitivity import sensitivity_rows
from cameval.io import write_csv
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
write_csv(sensitivity_rows(list(snakemake.input.shards), snakemake.params.expected), snakemake.output[0])
