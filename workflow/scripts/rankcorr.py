"""Table 3's per-image rank correlation between occlusion and the other maps, for one patch size."""

from cameval.experiments.occlusion.compute import rankcorr_rows
from cameval.io import write_csv
from cameval.logs import setup_logging
from cameval.store import Expect

setup_logging(snakemake.log[0])
p = snakemake.params
rows = rankcorr_rows(
    snakemake.input.occlusion,
    {k: list(snakemake.input[k]) for k in p.specs if k != "occlusion"},  # gradcam, guided_backprop, table3.methods
    n_images=p.images,
    size=p.size,
    reduce=p.reduce,
    expected=p.expected,
    expect={k: Expect(snakemake.input.weights, spec, snakemake.input.manifest) for k, spec in p.specs.items()},
)
write_csv(rows, snakemake.output[0])
