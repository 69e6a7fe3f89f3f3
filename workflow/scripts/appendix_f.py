"""Appendix F: Grad-CAM before, the attacked pixel, Grad-CAM after, for successful one-pixel attacks."""

from cameval.data.classes import class_names
from cameval.experiments.sensitivity import appendix_f
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
attacks = {m: [v] if isinstance(v, str) else list(v) for m, v in snakemake.input.items()}
appendix_f(
    attacks,
    snakemake.output[0],
    n_images=snakemake.params.n_images,
    class_names=class_names(snakemake.params.dataset),
    expected=snakemake.params.expected,
)
