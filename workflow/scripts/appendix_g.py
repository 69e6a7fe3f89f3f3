"""Appendix G: image, SHAP, Grad-CAM and Integrated Gradients of the label."""

from cameval.data.classes import class_names
from cameval.experiments.faithfulness import appendix_g
from cameval.logs import setup_logging

setup_logging(snakemake.log[0])
appendix_g(
    dict(snakemake.input.items()),
    snakemake.output[0],
    n_images=snakemake.params.n_images,
    class_names={m: class_names(spec) for m, spec in snakemake.params.datasets.items()},
)
