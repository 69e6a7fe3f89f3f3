"""One-pixel attacks on one shard of the evaluation split, and the maps before and after."""

from cameval.experiments.sensitivity.compute import attack_shard
from cameval.logs import set_threads, setup_logging

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
cfg, p = snakemake.params.cfg, snakemake.params
start, stop = p.rows
attack_shard(
    snakemake.input.weights,
    snakemake.input.images,
    snakemake.input.manifest,
    snakemake.output[0],
    split=p.split,
    start=start,
    stop=stop,
    population=cfg["population"],
    generations=cfg["generations"],
    f=cfg["f"],
    seed=p.seed,
    layer=p.layer,
    ig_steps=cfg["ig_steps"],
    device=p.device,
    dataset=snakemake.wildcards.dataset,
    shard=int(snakemake.wildcards.shard),
)
