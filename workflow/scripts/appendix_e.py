"""Appendix E: X-ray images with their box and each method's map overlaid."""

from cameval.experiments.xray import appendix_e
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
models = dict.fromkeys(k.split("__")[0] for k in snakemake.input.keys() if "__" in k)
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
)
