"""Train one of the embedded default's models on its dataset."""

from cameval.logs import set_threads, setup_logging
from cameval.models.train import train_on_dataset

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
spec = snakemake.params.spec
train = dict(spec["train"])
seed = train.pop("seed", snakemake.params.seed)  # a model's own seed, else the config's
train.pop("threads")  # the job's threads, already applied by set_threads
train_on_dataset(
    spec["arch"],
    spec["num_classes"],
    snakemake.input.images,
    snakemake.input.manifest,
    snakemake.output.weights,
    snakemake.output.metrics,
    snakemake.output.curve,
    seed=seed,
    build=spec.get("build"),
    **train,
)
