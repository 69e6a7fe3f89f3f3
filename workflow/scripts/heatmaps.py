"""Compute the heatmap shards the job names: one shard of one set, or a model's first shards of several."""

from cameval.heatmaps import ShardJob, compute_shard
from cameval.logs import set_threads, setup_logging

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
p = snakemake.params
for job, out in zip(p.sets, snakemake.output, strict=True):
    spec = job["spec"]
    start, stop = job["rows"]
    shard = ShardJob(
        method=spec["method"],
        targets=spec["targets"],
        split=p.split,
        start=start,
        stop=stop,
        params=spec["params"],
        layer=job["layer"],
        batch_size=spec["batch_size"],
        dataset=p.dataset,
        shard=job["shard"],
        expected=p.expected,
        made_by=job["made_by"],
    )
    compute_shard(
        snakemake.input.weights,
        snakemake.input.images,
        snakemake.input.manifest,
        out,
        shard,
        device=p.device,
        model_classes=p.classes,
        model_name=p.model,
    )
