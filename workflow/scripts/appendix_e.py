"""Appendix E: X-ray images with their box and each method's map overlaid."""

from cameval.experiments.xray.figure import appendix_e
from cameval.logs import setup_logging
from cameval.store import Expect

setup_logging(snakemake.log[0])
p = snakemake.params
models = list(p.specs)  # the models of table5, in order; their weights in the same order
weights = dict(zip(models, snakemake.input.weights, strict=True))
sets = {m: {h: list(snakemake.input[f"{m}__{h}"]) for h in p.titles} for m in models}
appendix_e(
    snakemake.input.images,
    snakemake.input.manifest,
    sets,
    p.titles,
    snakemake.output[0],
    n_images=p.n_images,
    seed=p.seed,
    reduce=p.reduce,
    expected=p.expected,
    expect={
        m: {h: Expect(weights[m], spec, snakemake.input.manifest) for h, spec in p.specs[m].items()} for m in models
    },
)
