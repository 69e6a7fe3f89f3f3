"""Appendix B: Grad-CAM beside the occlusion maps of each patch size."""

from cameval.experiments.occlusion.figure import appendix_b
from cameval.logs import setup_logging
from cameval.store import Expect

setup_logging(snakemake.log[0])
titles, specs = snakemake.params.titles, snakemake.params.specs
inp = snakemake.input
expect = {titles.get(k, k): Expect(inp.weights, spec, inp.manifest) for k, spec in specs.items()}
appendix_b(
    snakemake.input.images,
    snakemake.input.manifest,
    snakemake.input.gradcam,
    {titles[k]: snakemake.input[k] for k in titles},
    snakemake.output[0],
    n_images=snakemake.params.n_images,
    expect=expect,
)
