"""Deletion, insertion and ROAD of every method's maps of one model, per image (and the curves)."""

from cameval.experiments.deletion.compute import DeletionJob, deletion_rows
from cameval.logs import set_threads, setup_logging

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
p, cfg = snakemake.params, snakemake.params.cfg
job = DeletionJob(
    split=p.split,
    n_images=cfg["images"],
    step=cfg["step"],
    percentages=cfg["percentages"],
    noise=cfg["noise"],
    reduce=cfg["reduce"],
    seed=p.seed,
)
deletion_rows(
    snakemake.input.weights,
    snakemake.input.images,
    snakemake.input.manifest,
    {h: snakemake.input[f"set__{h}"] for h in cfg["methods"]},
    p.specs,
    snakemake.output.rows,
    snakemake.output.curves,
    job,
    device=p.device,
)
