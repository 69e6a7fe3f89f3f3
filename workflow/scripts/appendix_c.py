"""Appendix C: Grad-CAM of the true class before and after FGSM."""

from cameval.experiments.fgsm.figure import appendix_c
from cameval.logs import setup_logging
from cameval.store import Expect

setup_logging(snakemake.log[0])
models, inp = snakemake.params.models, snakemake.input
expect = {m: Expect(w, None, inp.manifest) for m, w in zip(models, inp.weights, strict=True)}
appendix_c({m: inp[m] for m in models}, snakemake.output[0], n_images=snakemake.params.n_images, expect=expect)
