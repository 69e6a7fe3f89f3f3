"""Sanity checks: every method's maps on the randomized copies of a model and on its shuffled-label
twin (cached), then the similarity of each to the unchanged model's map, per image."""

from cameval.experiments.sanity.compute import SanitySpec, sanity_maps
from cameval.experiments.sanity.rows import similarity_rows
from cameval.io import write_csv
from cameval.logs import set_threads, setup_logging

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
p, cfg = snakemake.params, snakemake.params.cfg
spec = SanitySpec(
    split=p.split,
    n_images=cfg["images"],
    modes=tuple(cfg["modes"]),
    layers=cfg["layers"],
    reduce=cfg["reduce"],
    seed=p.seed,
)
sanity_maps(
    snakemake.input.weights,
    snakemake.input.images,
    snakemake.input.manifest,
    {h: snakemake.input[f"set__{h}"] for h in cfg["methods"]},
    p.specs,
    snakemake.output.maps,
    spec,
    twin=snakemake.input.get("twin"),
    twin_name=p.twin or "",
    device=p.device,
)
write_csv(similarity_rows(snakemake.output.maps, cfg["measures"], cfg["hog_cell"]), snakemake.output.rows)
