"""Compute one heatmap shard."""

from cameval.heatmaps import compute_shard
from cameval.logs import set_threads, setup_logging

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
spec = snakemake.params.spec
start, stop = snakemake.params.rows
compute_shard(
    snakemake.input.weights,
    snakemake.input.images,
    snakemake.input.manifest,
    snakemake.output[0],
    split=snakemake.params.split,
    start=start,
    stop=stop,
    method=spec["method"],
    targets=spec["targets"],
    params=spec["params"],
    layer=snakemake.params.layer,
    batch_size=spec["batch_size"],
    dataset=snakemake.wildcards.dataset,
    shard=int(snakemake.wildcards.shard),
    device=snakemake.params.device,
    expected=snakemake.params.expected,
    model_classes=snakemake.params.classes,
    model_name=snakemake.wildcards.model,
)
