"""Figure 1: Grad-CAM, Grad-CAM++, the CAMs of figure1.methods, Guided Backprop and Guided Grad-CAM side by side."""

from collections import defaultdict

from cameval.experiments.gallery.compute import figure1_from_shards
from cameval.logs import setup_logging
from cameval.store import Expect

setup_logging(snakemake.log[0])
models = defaultdict(dict)
for key, path in snakemake.input.items():
    if "__" in key:
        model, heatmap = key.split("__")
        models[model][heatmap] = path
specs = snakemake.params.specs  # by model, in figure1.models' order: their weights' order
weights = dict(zip(specs, snakemake.input.weights, strict=True))
expect = {m: {h: Expect(weights[m], spec, snakemake.input.manifest) for h, spec in specs[m].items()} for m in specs}
figure1_from_shards(
    models,
    snakemake.input.images,
    snakemake.input.manifest,
    snakemake.output[0],
    n_images=snakemake.params.n_images,
    extra=snakemake.params.extra,
    expect=expect,
)
