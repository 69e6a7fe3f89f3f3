"""Table 6 per image: the maps' values at the attacked and at a random pixel, read from the attack shards."""

from cameval.io import write_csv
from cameval.logs import setup_logging
from cameval.sensitivity import sensitivity_rows

setup_logging(snakemake.log[0])
write_csv(sensitivity_rows(list(snakemake.input.shards), snakemake.params.expected), snakemake.output[0])
