"""Appendix G: image, SHAP, Grad-CAM and Integrated Gradients of the label."""

from cameval.data.kinds import class_names
from cameval.experiments.faithfulness.figure import appendix_g
from cameval.logs import setup_logging
from cameval.store import Expect

setup_logging(snakemake.log[0])
models, inp = snakemake.params.models, snakemake.input
expect = {m: Expect(w, None, man) for m, w, man in zip(models, inp.weights, inp.manifests, strict=True)}
appendix_g(
    {m: inp[m] for m in models},
    snakemake.output[0],
    n_images=snakemake.params.n_images,
    class_names={m: class_names(spec) for m, spec in snakemake.params.datasets.items()},
    expect=expect,
)
