"""Build one dataset (images.h5 + manifest.csv) from the config entry of its rule."""

from cameval.data.build import build_dataset
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
build_dataset(
    snakemake.params.spec,
    snakemake.output.images,
    snakemake.output.manifest,
    seed=snakemake.params.seed,
    name=snakemake.wildcards.dataset,
)
