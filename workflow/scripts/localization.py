"""Table 1's per-image localization and classification outcome for one model, every CAM method."""

from cameval.experiments.localization import localization_rows
from cameval.io import write_csv
from cameval.logs import setup_logging
from cameval.store import Expect

setup_logging(snakemake.log[0])
for method, expected, out in zip(snakemake.params.methods, snakemake.params.expected, snakemake.output, strict=True):
    rows = localization_rows(
        snakemake.input[method],
        snakemake.input.manifest,
        threshold=snakemake.params.threshold,
        rule=snakemake.params.rule,
        expected=expected,
        expect=Expect(snakemake.input.weights, snakemake.params.specs[method], snakemake.input.manifest),
    )
    write_csv(rows, out)
