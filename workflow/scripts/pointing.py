"""Table 2's per-image pointing-game outcome for one model, every heatmap set of Table 2."""

from cameval.experiments.pointing import pointing_rows
from cameval.io import write_csv
from cameval.logs import setup_logging
from cameval.store import Expect

setup_logging(snakemake.log[0])
p = snakemake.params
for heatmap, expected, out in zip(p.heatmaps, p.expected, snakemake.output, strict=True):
    rows = pointing_rows(
        snakemake.input[heatmap],
        snakemake.input.manifest,
        tolerances=p.tolerances,
        threshold=p.threshold,
        scale=p.scale,
        expected=expected,
        expect=Expect(snakemake.input.weights, p.specs[heatmap], snakemake.input.manifest),
    )
    write_csv(rows, out)
