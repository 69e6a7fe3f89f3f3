"""The study's X-ray localization figure, from Table 5's CSV."""

import pandas as pd

from cameval.experiments.xray.figure import table5_figure
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
table5_figure(pd.read_csv(snakemake.input[0]), snakemake.output[0])
