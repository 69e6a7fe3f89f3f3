"""One-pixel attacks on one shard of the evaluation split, and the maps before and after."""

from cameval.attacks import OnePixelAttack
from cameval.experiments.sensitivity.compute import AttackShard, attack_shard
from cameval.logs import set_threads, setup_logging

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
cfg, p = snakemake.params.cfg, snakemake.params
start, stop = p.rows
attack = OnePixelAttack(population=cfg["population"], generations=cfg["generations"], f=cfg["f"], seed=p.seed)
job = AttackShard(
    split=p.split,
    start=start,
    stop=stop,
    attack=attack,
    layer=p.layer,
    ig_steps=cfg["ig_steps"],
    dataset=snakemake.wildcards.dataset,
    shard=int(snakemake.wildcards.shard),
)
attack_shard(
    snakemake.input.weights, snakemake.input.images, snakemake.input.manifest, snakemake.output[0], job, device=p.device
)
