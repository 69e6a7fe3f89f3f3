"""Appendix C: FGSM, and Grad-CAM of the true class before and after."""

from cameval.experiments.fgsm.compute import FgsmJob, fgsm_rows
from cameval.io import write_csv
from cameval.logs import set_threads, setup_logging

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
p = snakemake.params
job = FgsmJob(split=p.split, n_images=p.images, eps=p.eps, layer=p.layer, threshold=p.threshold)
rows = fgsm_rows(snakemake.input.weights, snakemake.input.images, snakemake.input.manifest, snakemake.output.maps, job)
write_csv(rows, snakemake.output.rows)
