"""Train one model of the config on its dataset (single- or multi-label: its manifest says which)."""

from cameval.logs import set_threads, setup_logging
from cameval.models.train import TrainRun, train

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)  # the job's threads (train.threads): TrainRun ignores them
run = TrainRun.from_config(
    snakemake.params.spec,
    images=snakemake.input.images,
    manifest=snakemake.input.manifest,
    weights=snakemake.output.weights,
    metrics=snakemake.output.metrics,
    curve=snakemake.output.curve,
    seed=snakemake.params.seed,  # the config's seed, where the model's train.seed is not given
    name=snakemake.wildcards.model,
)
train(run)
