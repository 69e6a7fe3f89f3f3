"""Table 5's per-(image, finding) localization measures for one model."""

from cameval.data.images import ImageSet
from cameval.experiments.xray.rows import xray_rows
from cameval.io import write_csv
from cameval.logs import setup_logging
from cameval.store import Expect

setup_logging(snakemake.log[0])
p = snakemake.params
with ImageSet(snakemake.input.images) as imgs:
    classes = imgs.attrs["classes"]
rows = xray_rows(
    {h: list(snakemake.input[h]) for h in p.sets},
    snakemake.input.manifest,
    classes,
    box_threshold=p.box_threshold,
    inbox_threshold=p.inbox_threshold,
    reduce=p.reduce,
    expected=p.expected,
    expect={h: Expect(snakemake.input.weights, spec, snakemake.input.manifest) for h, spec in p.specs.items()},
)
write_csv(rows, snakemake.output[0])
