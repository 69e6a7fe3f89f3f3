"""Appendix C: Grad-CAM of the true class before and after FGSM."""

from cameval.experiments.fgsm import appendix_c
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
appendix_c(dict(snakemake.input.items()), snakemake.output[0], n_images=snakemake.params.n_images)
