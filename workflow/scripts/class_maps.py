"""Table 7: every class's Grad-CAM, SHAP and IG map for the first images of the evaluation split."""

from cameval.experiments.faithfulness.compute import ClassMapsJob, class_maps
from cameval.logs import set_threads, setup_logging

setup_logging(snakemake.log[0])
set_threads(snakemake.threads)
cfg, p = snakemake.params.cfg, snakemake.params
job = ClassMapsJob(
    split=p.split,
    n_images=p.images,
    methods=cfg["methods"],
    params=cfg.get("params"),
    layer=p.layer,
    background=cfg["background"],
    ig_steps=cfg["ig_steps"],
    shap_explainer=cfg["shap_explainer"],
    shap_samples=cfg["shap_samples"],
    seed=p.seed,
)
class_maps(
    snakemake.input.weights, snakemake.input.images, snakemake.input.manifest, snakemake.output[0], job, device=p.device
)
