"""Table 3's per-image rank correlation between occlusion and the other maps, for one patch size."""

from cameval.experiments.occlusion import rankcorr_rows
from cameval.io import write_csv
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
rows = rankcorr_rows(
    snakemake.input.occlusion,
    {k: list(v) for k, v in snakemake.input.items() if k != "occlusion"},  # gradcam, guided_backprop, table3.methods
    n_images=p.images,
    size=p.size,
    reduce=p.reduce,
    expected=p.expected,
)
write_csv(rows, snakemake.output[0])
