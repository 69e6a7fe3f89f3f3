"""Appendix F: Grad-CAM before, the attacked pixel, Grad-CAM after, for successful one-pixel attacks."""

from cameval.data.kinds import class_names
from cameval.experiments.sensitivity.figure import appendix_f
from cameval.logs import setup_logging
from cameval.store import Expect

setup_logging(snakemake.log[0])
models, inp = snakemake.params.models, snakemake.input
attacks = {m: [inp[m]] if isinstance(inp[m], str) else list(inp[m]) for m in models}
expect = {m: Expect(w, None, inp.manifest) for m, w in zip(models, inp.weights, strict=True)}
appendix_f(
    attacks,
    snakemake.output[0],
    n_images=snakemake.params.n_images,
    class_names=class_names(snakemake.params.dataset),
    expected=snakemake.params.expected,
    expect=expect,
)
