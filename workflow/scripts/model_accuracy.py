"""A model's top-1 accuracy on its dataset's whole evaluation split."""

from cameval.io import write_json
from cameval.logs import set_threads, setup_logging
from cameval.models.train import split_accuracy

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
write_json(
    split_accuracy(
        snakemake.input.weights,
        snakemake.input.images,
        snakemake.input.manifest,
        snakemake.params.split,
        device=snakemake.params.device,
    ),
    snakemake.output[0],
)
