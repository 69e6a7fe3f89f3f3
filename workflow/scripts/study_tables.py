"""results/tables/study/: the study's Tables 3, 4 and 5 recomputed from its raw results."""

from cameval.data.study import read_published_values
from cameval.experiments.study.figure import study_figure
from cameval.experiments.study.table import reanalysis, write
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
i, p = snakemake.input, snakemake.params
tables = reanalysis(
    p.occlusion, p.chest_xray, i.export, i.key, read_published_values(i.values), n_boot=p.n_boot, seed=p.seed
)
for name, df in tables.items():
    write(name, df, snakemake.output[f"{name}_csv"], snakemake.output[f"{name}_md"])
study_figure(tables, snakemake.output.figure)
