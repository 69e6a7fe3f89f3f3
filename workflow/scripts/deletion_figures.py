"""The deletion experiment's figures: mean deletion / insertion curves, ROAD against the percentage."""

import pandas as pd

from cameval.experiments.deletion import figure
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
curves = {m: snakemake.input[f"curves__{m}"] for m in p.models}
figure.curves_figure(curves, snakemake.output.curves, n_boot=p.n_boot, seed=p.seed)
figure.road_figure(pd.read_csv(snakemake.input.table), snakemake.output.road)
