"""Compute one heatmap shard of each set the job names (one set, or Table 5's sets together)."""

from cameval.heatmaps import compute_shard
from cameval.logs import set_threads, setup_logging

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
p = snakemake.params
start, stop = p.rows
for job, out in zip(p.sets, snakemake.output, strict=True):
    spec = job["spec"]
    compute_shard(
        snakemake.input.weights,
        snakemake.input.images,
        snakemake.input.manifest,
        out,
        split=p.split,
        start=start,
        stop=stop,
        method=spec["method"],
        targets=spec["targets"],
        params=spec["params"],
        layer=job["layer"],
        batch_size=spec["batch_size"],
        dataset=snakemake.wildcards.dataset,
        shard=int(snakemake.wildcards.shard),
        device=p.device,
        expected=p.expected,
        model_classes=p.classes,
        model_name=snakemake.wildcards.model,
    )
