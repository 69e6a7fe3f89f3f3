"""The sanity experiment's figures: the cascade of maps, the similarity against the randomized layer."""

import pandas as pd

from cameval.experiments.sanity import figure
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
figure.cascade_figure(snakemake.input.maps, snakemake.output.cascade, n_images=p.n_images, model=p.model)
figure.curves_figure(pd.read_csv(snakemake.input.table), snakemake.output.curves)
